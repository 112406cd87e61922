"""gradflow.io._torch: torch.save files read without torch and without running pickled code.

Files are written by torch itself (skipped where torch is missing); the reader never needs it.
Every array is compared bit for bit with ``tensor.numpy()`` (bfloat16 through float32).
"""

import builtins
import os
import pickle
import pickletools
import subprocess
import sys
import time
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from gradflow.errors import WeightFileError
from gradflow.io._torch import is_torch_legacy, is_torch_zip, is_torchscript, read_torch

REPO = Path(__file__).resolve().parents[1]
LEGACY = {"_use_new_zipfile_serialization": False}


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    return torch


def numpy_of(tensor):
    import torch

    tensor = tensor.detach().resolve_conj().resolve_neg()
    return (tensor.float() if tensor.dtype == torch.bfloat16 else tensor).numpy()


def assert_same(got, want, where="top"):
    """``got`` (read_torch) equals ``want`` (the saved object), bit for bit, structure and all."""
    import torch

    if isinstance(want, torch.Tensor):
        expected = numpy_of(want)
        assert isinstance(got, np.ndarray), where
        assert (got.dtype, got.shape) == (expected.dtype, expected.shape), where
        assert got.tobytes() == np.ascontiguousarray(expected).tobytes(), where
        assert got.flags.c_contiguous and got.flags.writeable, where
    elif isinstance(want, dict):
        assert type(got) is type(want) and list(got) == list(want), where
        for key in want:
            assert_same(got[key], want[key], f"{where}/{key}")
        if hasattr(want, "_metadata"):
            assert got._metadata == want._metadata, where
    elif isinstance(want, (list, tuple)):
        assert type(got) is (tuple if isinstance(want, tuple) else list), where
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{where}/{i}")
    else:
        assert type(got) is type(want) and got == want, where


def save(torch, obj, path, legacy=False, **kwargs):
    torch.save(obj, path, **(LEGACY if legacy else {}), **kwargs)
    return path


def rnn_modules(torch):
    nn = torch.nn
    return {
        "rnn": nn.RNN(5, 7, num_layers=2, bidirectional=True, nonlinearity="relu"),
        "lstm": nn.LSTM(5, 7, num_layers=2, bidirectional=True),
        "gru": nn.GRU(5, 7, num_layers=3, bidirectional=True, bias=False),
        "lstm_proj": nn.LSTM(4, 6, num_layers=2, proj_size=3),
    }


# -- what torch.save writes, read back --------------------------------------------------------


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru", "lstm_proj"])
def test_rnn_state_dicts(torch, tmp_path, kind, legacy):
    sd = rnn_modules(torch)[kind].state_dict()
    got = read_torch(save(torch, sd, tmp_path / f"{kind}.pt", legacy))
    assert_same(got, sd)
    assert "weight_hh_l1" in got and type(got) is OrderedDict


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_nested_checkpoint_with_optimizer(torch, tmp_path, legacy):
    model = torch.nn.LSTM(3, 4, num_layers=2)
    sgd = torch.nn.GRU(3, 4)
    opts = [torch.optim.Adam(model.parameters()), torch.optim.SGD(sgd.parameters(), momentum=0.9)]
    for _ in range(2):
        for opt, net in zip(opts, (model, sgd)):
            net(torch.randn(5, 2, 3))[0].pow(2).sum().backward()
            opt.step()
    ckpt = {
        "model": model.state_dict(),
        "optimizer": opts[0].state_dict(),
        "epoch": 3,
        "sgd": [sgd.state_dict(), opts[1].state_dict()],
        "loss": 0.25,
        "note": None,
        "shape": torch.Size([4, 3]),
        "dtype": torch.float32,
        "blob": b"\x00\xffab",
    }
    got = read_torch(save(torch, ckpt, tmp_path / "ckpt", legacy))  # no extension
    assert got["shape"] == (4, 3) and got["dtype"] == "torch.float32" and got["blob"] == b"\0\xffab"
    for key in ("shape", "dtype", "blob"):
        del got[key], ckpt[key]
    assert_same(got, ckpt)
    assert got["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)


def test_module_prefixes_parameters_and_attributes(torch, tmp_path):
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(nn.Linear(3, 5), nn.GRU(5, 6, batch_first=True))
            self.head = nn.LSTM(6, 2)

    net = Net()
    tagged = torch.ones(3)
    tagged.note = "python attribute"  # saved through torch._tensor._rebuild_from_type_v2
    param = nn.Parameter(torch.randn(2, 2))
    param.tag = 7  # saved through torch._utils._rebuild_parameter_with_state
    obj = {"sd": net.state_dict(), "params": dict(net.named_parameters()), "t": tagged, "p": param}
    for legacy in (False, True):
        got = read_torch(save(torch, obj, tmp_path / f"net{legacy}", legacy))
        assert_same(got, obj)
        assert "encoder.1.weight_hh_l0" in got["sd"] and "head.weight_ih_l0" in got["params"]


DTYPES = [
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "int64",
    "int32",
    "int16",
    "int8",
    "uint8",
    "bool",
    "complex64",
    "complex128",
]


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("name", DTYPES)
def test_dtypes(torch, tmp_path, name, legacy):
    dtype = getattr(torch, name)
    base = torch.randn(4, 6, dtype=torch.float64) * 50
    base = (torch.complex(base, base.flip(0)) if name.startswith("complex") else base).to(dtype)
    obj = {"x": base, "t": base.T, "col": base[1:, 3], "none": base[:0]}
    if base.is_complex():
        obj.update(conj=base.conj(), neg=torch._neg_view(base))
    got = read_torch(save(torch, obj, tmp_path / f"{name}.pt", legacy))
    assert_same(got, obj)
    assert got["x"].dtype == (np.float32 if name == "bfloat16" else numpy_of(base).dtype)


@pytest.mark.parametrize("name", ["uint16", "uint32", "uint64"])
def test_bits_dtypes_saved_as_bytes(torch, tmp_path, name):
    """uint16/32/64 go through _rebuild_tensor_v3 with an untyped storage and a dtype global."""
    x = torch.tensor([[0, 1, 2], [3, 60000, 7]], dtype=torch.int64).to(getattr(torch, name))
    for legacy in (False, True):
        got = read_torch(save(torch, {"x": x, "t": x.T}, tmp_path / f"{name}{legacy}", legacy))
        np.testing.assert_array_equal(got["t"], x.T.numpy())
        assert got["x"].dtype == np.dtype(name) and got["t"].flags.c_contiguous


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_views_offsets_strides_and_shared_storage(torch, tmp_path, legacy):
    big = torch.arange(200, dtype=torch.float32).reshape(10, 20)
    alone = torch.randn(50, 4)[30:37, 1:]  # saved without its base: offset 121, strides (4, 1)
    obj = {
        "base": big,
        "t": big.T,
        "slice": big[2:7, 3::4],
        "row": big[9],
        "col": big[:, 19],
        "expand": big[3:4, :5].expand(6, 5),
        "alone": alone,
        "scalar": big[4, 4],
        "empty": big[:, 3:3],
        "lstm": torch.nn.LSTM(3, 4).state_dict(),
    }
    got = read_torch(save(torch, obj, tmp_path / "views.pt", legacy))
    assert_same(got, obj)
    assert not np.shares_memory(got["base"], got["t"])
    assert got["scalar"].shape == () and got["empty"].shape == (10, 0)


def _rewrite_zip(src, dst, change, deflate=()):
    """Copy a zip, entry by entry, through change(name, data) -> new data or None (drop)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = change(info.filename, zin.read(info))
            if data is not None:
                method = zipfile.ZIP_DEFLATED if info.filename in deflate else zipfile.ZIP_STORED
                zout.writestr(info.filename, data, compress_type=method)
    return dst


def test_storage_saved_on_a_gpu(torch, tmp_path):
    # No CUDA here, so a real CPU file is rewritten: the location string of every storage
    # (BINUNICODE 'cpu', memoized once and fetched by BINGET after) becomes 'cuda:0', length
    # prefix included. Memo references are by index, not offset, and protocol 2 has no frames,
    # so the pickle stays valid; torch.load(map_location="cpu") proves it. The legacy stream is
    # the same edit (the storages follow the pickles, located by reading, not by offset).
    cpu, cuda = b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0"
    sd = torch.nn.GRU(3, 4, num_layers=2).state_dict()
    src = save(torch, sd, tmp_path / "cpu.pt")
    dst = _rewrite_zip(src, tmp_path / "gpu.pt", lambda n, d: d.replace(cpu, cuda, 1))
    legacy = tmp_path / "gpu_legacy.pt"
    raw = save(torch, sd, tmp_path / "cpu_legacy.pt", legacy=True).read_bytes()
    legacy.write_bytes(raw.replace(cpu, cuda, 1))
    for path in (dst, legacy):
        assert cuda in Path(path).read_bytes()
        loaded = torch.load(path, map_location="cpu", weights_only=True)
        assert list(loaded) == list(sd) and all(torch.equal(loaded[k], sd[k]) for k in sd)
        assert_same(read_torch(path), sd)


def test_sniffers(torch, tmp_path):
    zpath = save(torch, {"a": torch.ones(2)}, tmp_path / "z.pt")
    lpath = save(torch, {"a": torch.ones(2)}, tmp_path / "l.pt", legacy=True)
    script = tmp_path / "script.pt"
    torch.jit.save(torch.jit.script(torch.nn.LSTM(3, 4)), script)
    with zipfile.ZipFile(zpath) as z, zipfile.ZipFile(script) as s:
        assert (is_torch_zip(z), is_torchscript(z), is_torch_zip(s), is_torchscript(s)) == (
            True,
            False,
            True,
            True,
        )
    assert is_torch_legacy(lpath.read_bytes()[:64]) and not is_torch_legacy(zpath.read_bytes())
    npz = tmp_path / "a.npz"
    np.savez(npz, a=np.ones(2))
    with zipfile.ZipFile(npz) as z:
        assert not is_torch_zip(z)


def test_never_imports_torch(torch, tmp_path):
    paths = [
        save(torch, torch.nn.LSTM(3, 4).state_dict(), tmp_path / "sd.pt", legacy=legacy)
        for legacy in (False, True)
    ]
    code = (
        "import sys; from gradflow.io._torch import read_torch\n"
        f"for p in {[str(p) for p in paths]!r}:\n"
        "    assert read_torch(p)['weight_hh_l0'].shape == (16, 4)\n"
        "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)\n"
        "print('ok')"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


# -- files that carry code --------------------------------------------------------------------


class Payload:
    """Unpickling this runs ``func(*args)``."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def payloads(marker):
    write = f"open({str(marker)!r}, 'w').close()"
    return {
        "os.system": (os.system, (f"touch {marker}",), "posix.system"),
        "eval": (eval, (write,), "builtins.eval"),
        "subprocess.call": (subprocess.call, (["touch", str(marker)],), "subprocess.call"),
        "builtins.exec": (builtins.exec, (write,), "builtins.exec"),
    }


@pytest.mark.parametrize("fmt", ["zip", "zip-protocol-4", "legacy"])
@pytest.mark.parametrize("attack", ["os.system", "eval", "subprocess.call", "builtins.exec"])
def test_code_carrying_files_are_refused(torch, tmp_path, attack, fmt):
    marker = tmp_path / "MARKER"
    func, args, shown = payloads(marker)[attack]
    if os.name != "posix" and attack == "os.system":  # pragma: no cover
        shown = f"{os.system.__module__}.system"
    obj = {"model": torch.nn.RNN(2, 3).state_dict(), "extra": [Payload(func, args)]}
    kwargs = {"pickle_protocol": 4} if fmt == "zip-protocol-4" else {}
    path = save(torch, obj, tmp_path / "evil.pt", fmt == "legacy", **kwargs)
    with pytest.raises(WeightFileError) as err:
        read_torch(path)
    message = str(err.value)
    assert message == (
        f"{path}: refused to load the pickle global '{shown}' "
        "(only tensors and plain containers are read)"
    )
    assert not marker.exists()


def test_payloads_are_real(torch, tmp_path):
    """The control: an unrestricted load of the same file does run the code."""
    marker = tmp_path / "MARKER"
    func, args, _ = payloads(marker)["subprocess.call"]
    path = save(torch, {"x": Payload(func, args)}, tmp_path / "evil.pt")
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_torchscript_and_whole_modules_are_refused(torch, tmp_path):
    script = tmp_path / "script.pt"
    torch.jit.save(torch.jit.script(torch.nn.LSTM(3, 4)), script)
    with pytest.raises(WeightFileError, match=r"script\.pt: a TorchScript archive .* carries code"):
        read_torch(script)
    for legacy in (False, True):
        path = save(torch, torch.nn.LSTM(3, 4), tmp_path / f"module{legacy}.pt", legacy)
        with pytest.raises(WeightFileError, match=r"refused to load the pickle global 'torch\.nn"):
            read_torch(path)


# -- hand-made pickles (no torch needed) ------------------------------------------------------


def _ops(value):
    """Pickle opcodes for a plain value, without PROTO and STOP."""
    return pickle.dumps(value, protocol=2)[2:-1]


def tensor_pickle(size, stride, offset=0, numel=12, storage=b"FloatStorage", func=b"v2"):
    """A data.pkl holding one tensor, written opcode by opcode as torch.save would."""
    return b"\x80\x02" + tensor_ops(size, stride, offset, numel, storage, func) + b"."


def tensor_ops(size, stride, offset=0, numel=12, storage=b"FloatStorage", func=b"v2"):
    """The opcodes that push one tensor (storage key '0')."""
    pid = b"(" + _ops("storage") + b"ctorch\n" + storage + b"\n" + _ops("0") + _ops("cpu")
    pid += _ops(numel) + b"tQ"
    return (
        b"ctorch._utils\n_rebuild_tensor_"
        + func
        + b"\n("
        + pid
        + _ops(offset)
        + _ops(tuple(size))
        + _ops(tuple(stride))
        + b"\x89ccollections\nOrderedDict\n)RtR"
    )


def write_zip(path, pickled, data=None, **extra):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", pickled)
        zf.writestr("archive/byteorder", extra.pop("byteorder", "little"))
        if data is not None:
            zf.writestr("archive/data/0", data)
        for name, value in extra.items():
            zf.writestr(f"archive/{name}", value)
    return path


def test_bool_storage_bytes_are_normalised(tmp_path):
    path = write_zip(tmp_path / "b.pt", tensor_pickle((4,), (1,), numel=4, storage=b"BoolStorage"),
                     bytes([0, 1, 2, 255]))  # fmt: skip
    got = read_torch(path)
    assert got.dtype == bool and got.view(np.uint8).tolist() == [0, 1, 1, 1]


def test_hand_made_tensor_and_byte_order(tmp_path):
    values = np.arange(12, dtype=np.float32)
    for order, data in (("little", values.astype("<f4")), ("big", values.astype(">f4"))):
        path = write_zip(
            tmp_path / order,
            tensor_pickle((3, 2), (1, 3), offset=2),
            data.tobytes(),
            byteorder=order,
        )
        got = read_torch(path)
        np.testing.assert_array_equal(
            got, np.lib.stride_tricks.as_strided(values[2:], (3, 2), (4, 12))
        )
        assert got.dtype.isnative


@pytest.mark.parametrize(
    ("size", "stride", "offset", "numel", "match"),
    [
        ((4, 3), (3, 1), 1, 12, "reads element 12 of storage '0', which holds 12"),
        ((12,), (1,), 12, 12, "reads element 23"),
        ((3, 4), (5, 1), 0, 12, "reads element 13"),
        ((2,), (-1,), 5, 12, "corrupt tensor record"),
        ((2**70,), (1,), 0, 12, "corrupt tensor record"),
        ((10**6, 10**6), (0, 0), 0, 12, "far more memory than the file"),
        ((12,), (1,), 0, 13, "holds 48 bytes, but its tensors' record says 52"),
        ((12,), (1,), 0, 2**40, "holds 48 bytes"),
        ((11,), (1,), 0, 11, "holds 48 bytes, but its tensors' record says 44"),
    ],
)
def test_tensor_outside_its_storage(tmp_path, size, stride, offset, numel, match):
    path = write_zip(tmp_path / "bad.pt", tensor_pickle(size, stride, offset, numel), bytes(48))
    with pytest.raises(WeightFileError, match=match):
        read_torch(path)


@pytest.mark.parametrize(
    ("pickled", "data", "match"),
    [
        (tensor_pickle((12,), (1,)), None, "the storage entry 'archive/data/0' is missing"),
        (tensor_pickle((4,), (1,), storage=b"Float8Storage"), bytes(48), "global 'torch.Float8"),
        (tensor_pickle((4,), (1,), storage=b"QInt8Storage"), bytes(12), "torch.qint8 has no NumPy"),
        (tensor_pickle((4,), (1,), func=b"v9"), bytes(48), "'torch._utils._rebuild_tensor_v9'"),
        (b"\x80\x02cgradflow.io._torch\nread_torch\n.", None, "global 'gradflow.io._torch.read"),
        (b"\x80\x02ccollections\nOrderedDict\n.", None, "stores the function 'collections.Ord"),
        (b"\x80\x02]q\x00h\x00a.", None, "hold themselves"),
        (b"\x80\x02" + b"]" * 300 + b"a" * 299 + b".", None, "nest deeper than 200"),
        (b"\x80\x02]q\x000" + b"h\x00h\x00\x86q\x000" * 40 + b"h\x00.", None, "more than 10000"),
        (b"\x80\x02]\x82\x01.", None, "extension-registry"),
        (b"\x80\x02}]b.", None, "refused to set the state of a dict"),
        (b"\x80\x02]}b.", None, "refused to set the state of a list"),
        (b"\x80\x02" + tensor_ops((4,), (1,)) + b"}b.", bytes(48), "state of a ndarray"),
        (
            b"\x80\x02ccollections\nOrderedDict\n)R}X\x09\x00\x00\x00__class__K\x01sb.",
            None,
            "refused to set the attribute '__class__'",
        ),
        (
            b"\x80\x02ctorch._tensor\n_rebuild_from_type_v2\n(ccollections\nOrderedDict\n"
            b"ctorch\nTensor\n)}tR.",
            None,
            "refused to rebuild a tensor with <pickle global coll",
        ),
        (
            b"\x80\x02("
            + tensor_ops((12,), (1,))
            + tensor_ops((6,), (1,), 0, 6, b"DoubleStorage")
            + b"l.",
            bytes(48),
            "storage '0' is described two different ways",
        ),
        (b"\x80\x02]X\x05\x00\x00\x00.", None, "truncated pickle"),
        (b"\x80\x02\xff.", None, "unknown opcode 0xff"),
        (b"\x80\x02X\xff\xff\xff\x7f.", None, "truncated pickle"),
        (b"\x80\x02\x8e\xff\xff\xff\xff\xff\xff\xff\x7f.", None, "truncated pickle"),
        (b"\x80\x02K\x01K\x02.", None, "STOP with a malformed stack"),
        (b"\x80\x02(]a.", None, "needs a list|malformed"),
    ],
)
def test_hand_made_bad_pickles(tmp_path, pickled, data, match):
    path = write_zip(tmp_path / "bad.pt", pickled, data)
    with pytest.raises(WeightFileError, match=match) as err:
        read_torch(path)
    assert "\n" not in str(err.value) and str(err.value).startswith(f"{path}: ")


@pytest.mark.parametrize("protocol", range(6))
def test_plain_data_in_every_protocol(tmp_path, protocol):
    obj = {
        "a": [1, -2, 2**40, -(2**70), 2.5, "x\u00e9\n", None, True, False, (1, (2, 3))],
        "b": OrderedDict(k=[]),
        "c": {3: "z"},
        "d": b"\x00\x01" * 3,
        "e": {1, 2},
        "f": frozenset({"q"}),
        "h": (),
        "i": b"",
    }
    if protocol == 5:
        obj["g"] = bytearray(b"ab")
    got = read_torch(write_zip(tmp_path / "p.pt", pickle.dumps(obj, protocol)))
    assert got == obj and type(got["b"]) is OrderedDict
    for refused, shown in ((1j, "builtins.complex"), (range(3), "builtins.range")):
        with pytest.raises(WeightFileError, match=f"global '{shown}'"):
            read_torch(write_zip(tmp_path / "p.pt", pickle.dumps([refused], protocol)))


@pytest.mark.parametrize("protocol", range(6))
def test_code_in_every_protocol_is_refused(tmp_path, protocol):
    marker = tmp_path / "MARKER"
    for _, (func, args, shown) in payloads(marker).items():
        pickled = pickle.dumps({"x": [Payload(func, args)]}, protocol)
        with pytest.raises(WeightFileError, match=f"global '{shown}'"):
            read_torch(write_zip(tmp_path / "e.pt", pickled))
    assert not marker.exists()


# -- broken files -----------------------------------------------------------------------------


def test_not_torch_files(tmp_path):
    cases = {"empty": b"", "text": b"hello", "pickle": pickle.dumps([1, 2], 2), "tar": None}
    for name, content in cases.items():
        path = tmp_path / name
        if content is None:
            content = bytes(257) + b"ustar" + bytes(300)
        path.write_bytes(content)
        with pytest.raises(WeightFileError, match=f"^{path}: ") as err:
            read_torch(path)
        assert "\n" not in str(err.value)
    with pytest.raises(WeightFileError, match="cannot be opened"):
        read_torch(tmp_path / "missing.pt")
    with pytest.raises(WeightFileError, match=r"cannot be opened \(Is a directory"):
        read_torch(tmp_path)
    with pytest.raises(TypeError, match="path: expected"):
        read_torch(3)


def test_zip_damage(torch, tmp_path):
    src = save(torch, torch.nn.LSTM(3, 4).state_dict(), tmp_path / "sd.pt")
    cases = {
        "no data entry": (lambda n, d: None if n == "sd/data/2" else d, "'sd/data/2' is missing"),
        "short storage": (lambda n, d: d[:-4] if n == "sd/data/1" else d, "holds 252 bytes"),
        "byteorder": (lambda n, d: b"middle" if n == "sd/byteorder" else d, "unknown byte order"),
        "version": (lambda n, d: b"x" if n == "sd/version" else d, "corrupt sd/version"),
        "no data.pkl": (lambda n, d: None if n == "sd/data.pkl" else d, "without the one"),
    }
    for name, (change, match) in cases.items():
        with pytest.raises(WeightFileError, match=match):
            read_torch(_rewrite_zip(src, tmp_path / name, change))
    keep = lambda n, d: d  # noqa: E731
    deflated = _rewrite_zip(src, tmp_path / "deflated", keep, deflate={"sd/data.pkl"})
    assert_same(read_torch(deflated), torch.load(src))
    packed = _rewrite_zip(src, tmp_path / "packed", keep, deflate={"sd/data/1"})
    with pytest.raises(WeightFileError, match="'sd/data/1' is compressed"):
        read_torch(packed)
    raw = bytearray(src.read_bytes())
    local = bytearray(raw)
    local[30 + 5] ^= 0x20  # the name in the first local header, data.pkl's: 'sd/dAta.pkl'
    (tmp_path / "local").write_bytes(local)
    with pytest.raises(WeightFileError, match=r"'sd/data\.pkl' has a damaged local header"):
        read_torch(tmp_path / "local")
    raw[raw.index(torch.load(src)["weight_ih_l0"].numpy().tobytes()) + 100] ^= 0x01
    (tmp_path / "flip").write_bytes(raw)
    with pytest.raises(WeightFileError, match="'sd/data/0' fails its CRC-32 check"):
        read_torch(tmp_path / "flip")


def test_zip_without_crc(torch, tmp_path):
    """torch.serialization.set_crc32_options(False) writes 0 for every CRC; torch reads it."""
    sd = torch.nn.GRU(3, 4).state_dict()
    torch.serialization.set_crc32_options(False)
    try:
        path = save(torch, sd, tmp_path / "nocrc.pt")
    finally:
        torch.serialization.set_crc32_options(True)
    with zipfile.ZipFile(path) as zf:
        assert {info.CRC for info in zf.infolist()} == {0}
    assert_same(read_torch(path), sd)


def _legacy_layout(raw):
    """Offsets of the five pickles' ends in a legacy stream."""
    ends, pos = [], 0
    for _ in range(5):
        for op, _arg, at in pickletools.genops(raw[pos:]):
            if op.name == "STOP":
                pos += at + 1
                break
        ends.append(pos)
    return ends


def test_legacy_damage(torch, tmp_path):
    x = torch.arange(6, dtype=torch.float64)
    raw = save(torch, {"x": x}, tmp_path / "l.pt", legacy=True).read_bytes()
    header = _legacy_layout(raw)[-1]
    assert int.from_bytes(raw[header : header + 8], "little") == 6
    for count, match in (
        (7, "holds 7 elements, but its tensors' record says 6"),
        (5, "holds 5 elements"),
        (2**62, "holds 4611686018427387904"),
        (48, "holds 48 elements"),  # the header counts elements, not bytes
    ):
        bad = raw[:header] + count.to_bytes(8, "little") + raw[header + 8 :]
        (tmp_path / "bad").write_bytes(bad)
        with pytest.raises(WeightFileError, match=match):
            read_torch(tmp_path / "bad")
    (tmp_path / "long").write_bytes(raw + b"\0" * 8)  # trailing bytes are ignored, as by torch
    np.testing.assert_array_equal(read_torch(tmp_path / "long")["x"], x.numpy())
    ends = _legacy_layout(raw)
    keys = pickle.loads(raw[ends[3] : ends[4]])
    for wrong in ([*keys, "999"], []):
        (tmp_path / "keys").write_bytes(raw[: ends[3]] + pickle.dumps(wrong, 2) + raw[ends[4] :])
        with pytest.raises(WeightFileError, match="storage keys disagree with its tensors"):
            read_torch(tmp_path / "keys")
    (tmp_path / "cut").write_bytes(raw[:-4])
    with pytest.raises(WeightFileError, match=r"truncated legacy stream \(storage .* cut short"):
        read_torch(tmp_path / "cut")
    swapped = raw.replace(_ops(1001), _ops(1002), 1)
    (tmp_path / "proto").write_bytes(swapped)
    with pytest.raises(WeightFileError, match="protocol 1002, not 1001"):
        read_torch(tmp_path / "proto")


# -- fuzzing ----------------------------------------------------------------------------------


def _fuzz(path, variants):
    """Read every variant; each must succeed or raise a one-line WeightFileError, quickly."""
    outcomes = {"ok": 0, "error": 0}
    slowest = 0.0
    for data in variants:
        path.write_bytes(data)
        start = time.perf_counter()
        try:
            read_torch(path)
            outcomes["ok"] += 1
        except WeightFileError as exc:
            assert "\n" not in str(exc) and str(exc).startswith(f"{path}: "), str(exc)
            outcomes["error"] += 1
        slowest = max(slowest, time.perf_counter() - start)
    assert slowest < 2.0
    return outcomes


def _fuzz_files(torch, tmp_path):
    model = torch.nn.LSTM(4, 8, num_layers=2)
    opt = torch.optim.Adam(model.parameters())
    model(torch.randn(3, 1, 4))[0].sum().backward()
    opt.step()
    ckpt = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "epoch": 3,
        "t": model.weight_hh_l0.detach().T,
        "h": torch.ones(3, dtype=torch.bfloat16),
    }
    return {
        fmt: save(torch, ckpt, tmp_path / f"src_{fmt}", fmt == "legacy").read_bytes()
        for fmt in ("zip", "legacy")
    }


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_fuzz_truncation(torch, tmp_path, fmt):
    raw = _fuzz_files(torch, tmp_path)[fmt]
    n = len(raw)
    lengths = sorted({*range(65), *range(n - 64, n), *(n * i // 50 for i in range(50))})
    outcomes = _fuzz(tmp_path / "cut", [raw[:k] for k in lengths])
    assert outcomes == {"ok": 0, "error": len(lengths)}


@pytest.mark.parametrize("fmt", ["zip", "legacy", "data.pkl"])
def test_fuzz_flipped_bytes(torch, tmp_path, fmt):
    files = _fuzz_files(torch, tmp_path)
    rng = np.random.default_rng(20240601)
    raw = files["zip" if fmt == "data.pkl" else fmt]
    if fmt == "data.pkl":  # flips inside the pickle, re-zipped with a valid CRC: the VM's turn
        src = tmp_path / "src_zip"
        with zipfile.ZipFile(src) as z:
            pickled = z.read("src_zip/data.pkl")
    variants = []
    for _ in range(300):
        data = bytearray(pickled if fmt == "data.pkl" else raw)
        for at in rng.integers(0, len(data), size=rng.integers(1, 4)):
            data[at] ^= int(rng.integers(1, 256))
        if fmt == "data.pkl":
            change = lambda n, d, new=bytes(data): new if n.endswith("data.pkl") else d  # noqa: E731
            data = _rewrite_zip(src, tmp_path / "re.zip", change).read_bytes()
        variants.append(bytes(data))
    outcomes = _fuzz(tmp_path / "flip", variants)
    assert outcomes["error"] > 50, outcomes
