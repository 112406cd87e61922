"""gradflow.io._arrays: .npy, .npz and .safetensors readers, their bounds checks and fuzzing."""

import contextlib
import json
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest

from gradflow.errors import WeightFileError
from gradflow.io import load
from gradflow.io._arrays import bf16_to_float32, read_npy, read_npz, read_safetensors


def _safetensors_bytes(tensors: dict, metadata=None, *, header=None) -> bytes:
    """A safetensors file written by hand: ``tensors`` maps name -> (dtype name, shape, bytes)."""
    entries, data = {}, b""
    for name, (dtype, shape, raw) in tensors.items():
        entries[name] = {
            "dtype": dtype,
            "shape": list(shape),
            "data_offsets": [len(data), len(data) + len(raw)],
        }
        data += raw
    if metadata is not None:
        entries["__metadata__"] = metadata
    text = json.dumps(entries if header is None else header).encode()
    return struct.pack("<Q", len(text)) + text + data


def _write(path, raw: bytes):
    path.write_bytes(raw)
    return path


def _materialise(mapping):
    return {name: np.array(mapping[name]) for name in mapping}


# -- .npy -------------------------------------------------------------------------------------
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, ">f8"])
def test_npy_round_trip_memory_mapped(tmp_path, order, dtype):
    W = np.asarray(np.random.default_rng(0).normal(size=(5, 3)), dtype=dtype, order=order)
    np.save(tmp_path / "w.npy", W)
    out = read_npy(tmp_path / "w.npy")
    np.testing.assert_array_equal(out, W)
    assert out.dtype == W.dtype and not out.flags.writeable and not out.flags.owndata


def test_npy_refuses_pickled_objects(tmp_path):
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(WeightFileError, match=r"o\.npy: array: holds Python objects"):
        read_npy(tmp_path / "o.npy")


def test_npy_size_must_match_header(tmp_path):
    np.save(tmp_path / "w.npy", np.eye(4))
    raw = (tmp_path / "w.npy").read_bytes()
    _write(tmp_path / "short.npy", raw[:-8])
    _write(tmp_path / "long.npy", raw + b"\0" * 8)
    for name in ("short.npy", "long.npy"):
        with pytest.raises(WeightFileError, match=r"claims shape \(4, 4\).*128 bytes"):
            read_npy(tmp_path / name)


# -- .npz -------------------------------------------------------------------------------------
@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_npz_lazy_round_trip(tmp_path, save):
    rng = np.random.default_rng(1)
    arrays = {
        "rnn.weight_hh_l0": rng.normal(size=(4, 4)),
        "b": rng.normal(size=4).astype("f2"),
        "F": np.asfortranarray(rng.normal(size=(2, 3))),
        "empty": np.zeros((0, 3)),
    }
    save(tmp_path / "a.npz", **arrays)
    out = read_npz(tmp_path / "a.npz")
    assert list(out) == list(arrays) and out.shape_of("F") == (2, 3)
    for name, value in arrays.items():
        np.testing.assert_array_equal(out[name], value)
        assert out[name].dtype == value.dtype
    if save is np.savez:  # stored entries are mapped from the file, not read into memory
        assert not out["rnn.weight_hh_l0"].flags.owndata


def test_npz_refuses_object_entries(tmp_path):
    np.savez(tmp_path / "o.npz", ok=np.eye(2), bad=np.array([None, 1], dtype=object))
    with pytest.raises(WeightFileError, match=r"o\.npz: bad\.npy: holds Python objects"):
        read_npz(tmp_path / "o.npz")


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_npz_crc_catches_flipped_data(tmp_path, save):
    W = np.arange(4096.0).reshape(64, 64)  # big enough that reading the header stops early
    save(tmp_path / "a.npz", W=W)
    raw = bytearray((tmp_path / "a.npz").read_bytes())
    with zipfile.ZipFile(tmp_path / "a.npz") as zf:
        info = zf.getinfo("W.npy")
    name_len, extra_len = struct.unpack(
        "<HH", raw[info.header_offset + 26 : info.header_offset + 30]
    )
    end = info.header_offset + 30 + name_len + extra_len + info.compress_size
    raw[end - 3] ^= 0x01  # in the last bytes of the (stored or deflated) array data
    _write(tmp_path / "b.npz", bytes(raw))
    out = read_npz(tmp_path / "b.npz")  # headers are fine
    with pytest.raises(WeightFileError, match=r"b\.npz: W\.npy: .*(CRC|corrupt)"):
        out["W"]


# -- .safetensors -----------------------------------------------------------------------------
def test_safetensors_numpy_files_round_trip(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    rng = np.random.default_rng(2)
    arrays = {
        "a": rng.normal(size=(3, 4)),
        "b": rng.normal(size=5).astype(np.float32),
        "c": rng.normal(size=(2, 2)).astype(np.float16),
        "i": np.arange(6, dtype=np.int32),
        "z": np.zeros((0, 4), np.float32),
        "s": np.array(1.5),
    }
    st.save_file(arrays, tmp_path / "x.safetensors", metadata={"format": "np"})
    out = read_safetensors(tmp_path / "x.safetensors")
    assert sorted(out) == sorted(arrays) and out.shape_of("a") == (3, 4)
    for name, value in arrays.items():
        np.testing.assert_array_equal(out[name], value)
        assert out[name].dtype == value.dtype and out[name].shape == value.shape
    assert not out["a"].flags.owndata and not out["a"].flags.writeable


def test_bf16_is_exact_for_every_bit_pattern():
    torch = pytest.importorskip("torch")
    words = np.arange(1 << 16, dtype=np.uint16)
    ours = bf16_to_float32(words)
    theirs = torch.from_numpy(words.view(np.int16)).view(torch.bfloat16).float().numpy()
    np.testing.assert_array_equal(ours.view(np.uint32), theirs.view(np.uint32))


def test_safetensors_torch_bf16_and_f16_read_exactly(tmp_path):
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    gen = torch.Generator().manual_seed(3)
    tensors = {
        "bf": torch.randn(6, 2, generator=gen).bfloat16(),
        "h": torch.randn(4, generator=gen).half(),
        "f": torch.randn(3, generator=gen),
    }
    st.save_file(tensors, tmp_path / "t.safetensors")
    out = read_safetensors(tmp_path / "t.safetensors")
    assert out["bf"].dtype == np.float32 and out["h"].dtype == np.float16
    for name, tensor in tensors.items():
        np.testing.assert_array_equal(out[name], tensor.float().numpy())


def _good(**extra) -> dict:
    return {"a": ("F64", (2, 2), np.eye(2).tobytes()), "b": ("F32", (3,), b"\0" * 12), **extra}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda h: h["a"].update(data_offsets=[0, 40]), r"'a': shape \(2, 2\) of F64 needs 32"),
        (lambda h: h["b"].update(data_offsets=[30, 45]), r"'b'.*\[30, 45\] lie outside the 44"),
        (lambda h: h["b"].update(data_offsets=[28, 40]), r"'a' and 'b' overlap"),
        (lambda h: h["b"].update(data_offsets=[31, 43]), r"'a' and 'b' overlap"),  # one byte
        (lambda h: h["b"].update(data_offsets=[-4, 8]), r"'b'.*\[-4, 8\] lie outside"),
        (lambda h: h["b"].update(data_offsets=[32]), r"'b' has invalid data_offsets"),
        (lambda h: h["b"].update(data_offsets=[32.0, 44]), r"'b' has invalid data_offsets"),
        (lambda h: h["b"].update(shape=[3, -1]), r"'b' has an invalid shape"),
        (lambda h: h["b"].update(dtype="F8_E4M3"), r"'b' has dtype F8_E4M3, which numpy cannot"),
        (lambda h: h["b"].update(dtype="Q7"), r"'b' has unknown dtype 'Q7'"),
        (lambda h: h["b"].update(dtype=["F32"]), r"'b' has no dtype name"),
        (lambda h: h.update(c=[1, 2]), r"entry 'c' is not an object"),
        (lambda h: h.update(__metadata__=[1]), r"__metadata__ is not a JSON object"),
    ],
)
def test_safetensors_header_checks(tmp_path, mutate, message):
    raw = _safetensors_bytes(_good())
    length = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + length])
    mutate(header)
    text = json.dumps(header).encode()
    path = _write(tmp_path / "bad", struct.pack("<Q", len(text)) + text + raw[8 + length :])
    with pytest.raises(WeightFileError, match=message) as info:
        read_safetensors(path)
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)


def test_safetensors_offsets_may_reach_the_last_byte_but_not_past(tmp_path):
    raw = _safetensors_bytes(_good())
    read_safetensors(_write(tmp_path / "ok", raw))  # b ends exactly at the end of the file
    with pytest.raises(WeightFileError, match=r"lie outside the 43 bytes"):
        read_safetensors(_write(tmp_path / "short", raw[:-1]))


def test_safetensors_header_length_and_json(tmp_path):
    raw = _safetensors_bytes(_good())
    (length,) = struct.unpack("<Q", raw[:8])
    past = _write(tmp_path / "past", struct.pack("<Q", len(raw) - 7) + raw[8:])
    with pytest.raises(WeightFileError, match=rf"header length {len(raw) - 7} points past"):
        read_safetensors(past)
    # a length that reaches exactly the end is in bounds (the data are then missing)
    exact = _write(tmp_path / "exact", struct.pack("<Q", len(raw) - 8) + raw[8:])
    with pytest.raises(WeightFileError, match="not valid JSON"):
        read_safetensors(exact)
    huge = _write(tmp_path / "huge", struct.pack("<Q", 2**64 - 1) + raw[8:])
    with pytest.raises(WeightFileError, match="points past the end"):
        read_safetensors(huge)
    dup = b'{"a": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}, "a": {}}'
    with pytest.raises(WeightFileError, match="duplicate key 'a'"):
        read_safetensors(_write(tmp_path / "dup", struct.pack("<Q", len(dup)) + dup + b"\0" * 4))
    for text in (b"[1, 2]", b"{" * 100_000, b"\xff{}"):
        path = _write(tmp_path / "j", struct.pack("<Q", len(text)) + text)
        with pytest.raises(WeightFileError, match=r"not (valid JSON|a JSON object)"):
            read_safetensors(path)
    assert length < len(raw)
    with pytest.raises(WeightFileError, match="truncated safetensors file"):
        read_safetensors(_write(tmp_path / "tiny", raw[:5]))


def test_safetensors_zero_sized_tensors_do_not_overlap(tmp_path):
    header = {
        "e": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]},
        "f": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
        "g": {"dtype": "F32", "shape": [0, 2], "data_offsets": [4, 4]},
    }
    text = json.dumps(header).encode()
    out = read_safetensors(_write(tmp_path / "z", struct.pack("<Q", len(text)) + text + b"\0" * 4))
    assert out["e"].shape == (0,) and out["g"].shape == (0, 2) and out["f"].tolist() == [0.0]


# -- memory -----------------------------------------------------------------------------------
def test_reading_a_big_checkpoint_maps_instead_of_copying(tmp_path):
    """Peak Python-heap memory of load() against the file size (tracemalloc sees numpy)."""
    rng = np.random.default_rng(4)
    big = rng.normal(size=(1 << 20,)).astype(np.float32)  # 4 MB of unrelated weights
    W = rng.normal(size=(512, 512))  # a 2 MB float64 Elman layer
    tensors = {f"emb{i}": ("F32", big.shape, big.tobytes()) for i in range(4)}
    tensors["rnn.weight_hh_l0"] = ("F64", W.shape, W.tobytes())
    path = _write(tmp_path / "big.safetensors", _safetensors_bytes(tensors))
    size = path.stat().st_size
    tracemalloc.start()
    try:
        [layer] = load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(layer.cell.W_hh, W)
    assert peak < W.nbytes + size // 8  # the layer's float64 copy, not the file
    # a file that is all recurrent weights: at most 1.5x its size
    only = _write(
        tmp_path / "only.safetensors", _safetensors_bytes({"W_hh": tensors["rnn.weight_hh_l0"]})
    )
    tracemalloc.start()
    try:
        load(only)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= 1.5 * only.stat().st_size


# -- fuzzing ----------------------------------------------------------------------------------
def _fuzz_sources(tmp_path):
    rng = np.random.default_rng(5)
    arrays = {
        "rnn.weight_hh_l0": rng.normal(size=(8, 2)),
        "rnn.weight_ih_l0": rng.normal(size=(8, 3)),
        "rnn.bias_ih_l0": rng.normal(size=8),
        "rnn.bias_hh_l0": rng.normal(size=8),
    }
    tensors = {k: ("F64", v.shape, v.tobytes()) for k, v in arrays.items()}
    tensors["half"] = ("BF16", (4,), b"\x80\x3f" * 4)
    np.savez(tmp_path / "s.npz", **arrays)
    np.savez_compressed(tmp_path / "c.npz", **arrays)
    return {
        "safetensors": _safetensors_bytes(tensors, {"format": "pt"}),
        "npz": (tmp_path / "s.npz").read_bytes(),
        "npz-compressed": (tmp_path / "c.npz").read_bytes(),
    }


def _outcome(path):
    """'ok' or 'refused'; anything but a WeightFileError propagates and fails the test."""
    try:
        layers = load(path)
    except WeightFileError as exc:
        message = str(exc)
        assert message.startswith(f"{path}: ") and "\n" not in message, message
        return "refused"
    assert layers and all(np.isfinite(la.cell.W_hh).all() for la in layers)
    return "ok"


@pytest.mark.parametrize("kind", ["safetensors", "npz", "npz-compressed"])
def test_fuzz_truncations(tmp_path, kind):
    raw = _fuzz_sources(tmp_path)[kind]
    path = tmp_path / "fuzz"
    assert _outcome(_write(path, raw)) == "ok"
    outcomes = {
        _outcome(_write(path, raw[:n])) for n in range(0, len(raw), max(1, len(raw) // 300))
    }
    assert outcomes == {"refused"}  # every strict prefix lacks bytes a reader needs


@pytest.mark.parametrize("kind", ["safetensors", "npz", "npz-compressed"])
def test_fuzz_byte_flips(tmp_path, kind):
    raw = _fuzz_sources(tmp_path)[kind]
    rng = np.random.default_rng(6)
    path = tmp_path / "fuzz"
    seen = {"ok": 0, "refused": 0}
    for _ in range(400):
        flipped = bytearray(raw)
        for at in rng.integers(0, len(raw), size=rng.integers(1, 4)):
            flipped[at] ^= 1 << int(rng.integers(0, 8))
        seen[_outcome(_write(path, bytes(flipped)))] += 1
    assert seen["refused"] > 0
    if kind == "safetensors":  # flips in the data only change numbers
        assert seen["ok"] > 0


@pytest.mark.parametrize("kind", ["safetensors", "npz"])
def test_fuzz_readers_materialise_or_refuse(tmp_path, kind):
    """The raw readers too: reading every array either works or is a WeightFileError."""
    raw = _fuzz_sources(tmp_path)[kind]
    reader = read_safetensors if kind == "safetensors" else read_npz
    rng = np.random.default_rng(7)
    path = tmp_path / "fuzz"
    for trial in range(300):
        data = bytearray(raw)
        if trial % 2:
            data = data[: int(rng.integers(0, len(raw)))]
        else:
            data[int(rng.integers(0, len(raw)))] = int(rng.integers(0, 256))
        _write(path, bytes(data))
        with contextlib.suppress(WeightFileError):
            _materialise(reader(path))
