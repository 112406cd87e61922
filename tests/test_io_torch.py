"""gradflow.io._torch: torch.save files read without torch and without running pickled code.

Files are written by torch itself (skipped where torch is missing); the reader never needs it.
Every array is compared bit for bit with ``tensor.numpy()`` (bfloat16 through float32). The
restricted unpickler the reader uses (the private ``gradflow.io._unpickle`` and
``gradflow.io._unpickle_types``) is tested here, through the reader.
"""

import builtins
import os
import pickle
import pickletools
import re
import struct
import subprocess
import sys
import time
import zipfile
from collections import Counter, OrderedDict
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
    ckpt = {**torch.nn.LSTM(3, 4).state_dict(), **checkpoint_values(torch)}  # NumPy values too
    paths = [save(torch, ckpt, tmp_path / f"sd{legacy}.pt", legacy) for legacy in (False, True)]
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
    obj.update(g=bytearray(b"a\xffb"), j=[1j, complex(-0.5, 2)], k=Counter(x=2))
    got = read_torch(write_zip(tmp_path / "p.pt", pickle.dumps(obj, protocol)))
    assert got == obj and type(got["b"]) is OrderedDict and type(got["g"]) is bytearray
    assert type(got["k"]) is Counter and type(got["j"][1]) is complex
    for refused, shown in ((range(3), "builtins.range"), (slice(1, 2), "builtins.slice")):
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


# -- small values beside tensors: NumPy, devices, layouts, complex ----------------------------


def checkpoint_values(torch):
    """What training checkpoints keep beside the weights."""
    return {
        "best_loss": np.float64(0.12),
        "lr": np.float32(1e-3),
        "epoch": np.int64(3),
        "best": np.bool_(True),
        "stale": np.bool_(False),
        "step": np.uint8(200),
        "half": np.float16(1.5),
        "phase": np.complex64(1 - 2j),
        "history": np.linspace(0.0, 1.0, 7),
        "big_endian": np.arange(-3, 3, dtype=">i4").reshape(2, 3),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3) * 1.5),
        "mask": np.array([True, False, True]),
        "empty": np.zeros((0, 3), np.float32),
        "zero_d": np.array(2.5),
        "device": torch.device("cuda:0"),
        "cpu": torch.device("cpu"),
        "z": complex(1.5, -2.0),
    }


def assert_value(got, want, where):
    """A value read back: NumPy scalars as themselves, arrays native and C-ordered, devices as
    their string."""
    if isinstance(want, np.ndarray):
        assert type(got) is np.ndarray and got.dtype == want.dtype.newbyteorder("="), where
        assert got.shape == want.shape and np.array_equal(got, want), where
        assert got.flags.c_contiguous and got.flags.writeable and got.flags.owndata, where
    elif type(want).__module__ == "torch":  # torch.device
        assert type(got) is str and got == str(want), where
    else:
        assert type(got) is type(want) and got == want, where


@pytest.mark.parametrize("fmt", ["zip", "legacy", "zip-protocol-4", "zip-protocol-5"])
def test_numpy_scalars_arrays_devices_and_complex(torch, tmp_path, fmt):
    values = checkpoint_values(torch)
    ckpt = {"model": torch.nn.LSTM(3, 4).state_dict(), **values, "again": values["big_endian"]}
    kwargs = {"pickle_protocol": int(fmt[-1])} if "protocol" in fmt else {}
    path = save(torch, ckpt, tmp_path / "ckpt.pt", fmt == "legacy", **kwargs)
    got = read_torch(path)
    assert list(got) == list(ckpt)
    assert_same(got["model"], ckpt["model"])
    for key in values:
        assert_value(got[key], values[key], key)
    assert_value(got["again"], values["big_endian"], "again")
    assert got["again"] is got["big_endian"]  # one array saved twice is one array read
    assert got["history"].dtype == np.float64 and got["big_endian"].tolist()[0] == [-3, -2, -1]
    if fmt == "zip":  # what torch's own restricted reader refuses by default
        with pytest.raises(pickle.UnpicklingError, match="numpy"):
            torch.load(path, weights_only=True)


def test_numpy_1_module_names(torch, tmp_path):
    """NumPy 1 pickles its scalars and arrays through numpy.core, NumPy 2 through numpy._core."""
    values = checkpoint_values(torch)
    src = save(torch, {"sd": torch.nn.GRU(2, 3).state_dict(), **values}, tmp_path / "np2.pt")
    change = lambda n, d: d.replace(b"numpy._core.", b"numpy.core.") if n.endswith(".pkl") else d  # noqa: E731
    dst = _rewrite_zip(src, tmp_path / "np1.pt", change)
    with zipfile.ZipFile(dst) as z:
        pickled = z.read("np2/data.pkl")
    assert b"numpy.core.multiarray\nscalar" in pickled and b"numpy._core" not in pickled
    got = read_torch(dst)
    for key, want in values.items():
        assert_value(got[key], want, key)


def test_what_torch_weights_only_reads(torch, tmp_path):
    """Every plain value torch.load(weights_only=True) reads, read without torch."""
    values = {
        "device": torch.device("cuda", 1),
        "meta": torch.device("meta"),
        "z": complex(-0.5, 2),
        "layout": torch.strided,
        "coo": torch.sparse_coo,
        "counts": Counter(a=2, b=1),
        "raw": bytearray(b"\x00ab"),
        "qscheme": torch.per_channel_affine,
        "int4": torch.int4,
        "tensor_type": torch.FloatTensor,
        "sd": torch.nn.GRU(2, 3).state_dict(),
    }
    for legacy in (False, True):
        path = save(torch, values, tmp_path / f"plain{legacy}.pt", legacy)
        loaded = torch.load(path, weights_only=True)
        got = read_torch(path)
        assert list(loaded) == list(got) == list(values)
        assert (got["device"], got["meta"], got["z"]) == ("cuda:1", "meta", complex(-0.5, 2))
        assert (got["layout"], got["coo"], got["qscheme"]) == (
            "torch.strided",
            "torch.sparse_coo",
            "torch.per_channel_affine",
        )
        assert (got["int4"], got["tensor_type"]) == ("torch.int4", "torch.FloatTensor")
        assert type(got["counts"]) is Counter and got["counts"] == loaded["counts"]
        assert type(got["raw"]) is bytearray and got["raw"] == loaded["raw"]
        assert_same(got["sd"], values["sd"])


def test_memory_formats(torch, tmp_path):
    """A memory format pickles (at protocol 4 or 5 only) as a dotted path in some torch module."""
    path = save(torch, {"fmt": torch.channels_last, "x": torch.ones(2)}, tmp_path / "m.pt",
                pickle_protocol=4)  # fmt: skip
    assert read_torch(path)["fmt"] == "torch.channels_last"
    pickled = b"\x80\x04\x8c\x02os\x8c\x17torch.contiguous_format\x93."
    with pytest.raises(WeightFileError, match=r"global 'os\.torch\.contiguous_format'"):
        read_torch(write_zip(tmp_path / "os.pt", pickled))


DTYPE_STATE = (3, "<", None, None, None, -1, -1, 0)  # as NumPy writes it for "f8"


def dtype_ops(code, order="<", state=None, align=False):
    """The opcodes that push numpy.dtype(code, align, True) and BUILD it as NumPy does."""
    state = (3, order, *DTYPE_STATE[2:]) if state is None else state
    return b"cnumpy\ndtype\n" + _ops((code, align, True)) + b"R" + _ops(state) + b"b"


def scalar_pickle(code, raw, order="<", dtype=None):
    """A pickle of numpy._core.multiarray.scalar(dtype, raw)."""
    dtype = dtype_ops(code, order) if dtype is None else dtype
    return b"\x80\x02cnumpy._core.multiarray\nscalar\n" + dtype + _ops(raw) + b"\x86R."


def array_ops(cls=b"numpy\nndarray"):
    """The opcodes that push _reconstruct(cls, (0,), b"b"), the array BUILD completes."""
    head = b"cnumpy._core.multiarray\n_reconstruct\nc" + cls + b"\n"
    return head + _ops((0,)) + _ops(b"b") + b"\x87R"


def array_pickle(shape, code, raw, order="<", fortran=False):
    """A pickle of an array as ndarray.__reduce__ writes it: _reconstruct, then BUILD."""
    state = b"(" + _ops(1) + _ops(tuple(shape)) + dtype_ops(code, order)
    state += (b"\x88" if fortran else b"\x89") + _ops(raw) + b"tb"
    return b"\x80\x02" + array_ops() + state + b"."


def test_hand_made_numpy_records(tmp_path):
    """Hand-made records decode as NumPy itself decodes them (pickle.loads is the reference)."""
    cases = [
        scalar_pickle("f8", struct.pack(">d", 0.12), ">"),
        scalar_pickle("f8", struct.pack("<d", -7.25)),
        scalar_pickle("i2", struct.pack(">h", -300), ">"),
        scalar_pickle("b1", b"\x01", "|"),
        scalar_pickle("c16", struct.pack("<dd", 1.0, -2.0)),
        array_pickle((2, 3), "u2", struct.pack(">6H", *range(6)), ">", fortran=True),
        array_pickle((3,), "f4", struct.pack("<3f", 0.5, 1.5, -2.0)),
        array_pickle((), "i8", struct.pack("<q", -(2**40))),
    ]
    for pickled in cases:
        want = pickle.loads(pickled)
        got = read_torch(write_zip(tmp_path / "h.pt", pickled))
        assert_value(got, want, repr(want))
    big = read_torch(write_zip(tmp_path / "b.pt", cases[5]))
    assert big.tolist() == [[0, 2, 4], [1, 3, 5]] and big.dtype == np.dtype("=u2")
    bools = array_pickle((4,), "b1", bytes([0, 1, 2, 255]), "|")
    assert read_torch(write_zip(tmp_path / "bool.pt", bools)).tolist() == [False, True, True, True]
    assert read_torch(write_zip(tmp_path / "bs.pt", scalar_pickle("b1", b"\x07", "|"))) is np.True_


_NO_STATE = b"cnumpy\ndtype\n" + _ops(("f8", False, True)) + b"R"
OBJECT_FLAGS = dtype_ops("f8", state=(*DTYPE_STATE[:-1], 63))  # the flags of an object dtype
_TORCH_CALL = {  # a call of an allowed global: name, arguments
    "device": lambda *args: b"\x80\x02ctorch\ndevice\n" + _ops(args) + b"R.",
    "layout": lambda *args: b"\x80\x02ctorch.serialization\n_get_layout\n" + _ops(args) + b"R.",
    "complex": lambda *args: b"\x80\x02c__builtin__\ncomplex\n" + _ops(args) + b"R.",
    "bytearray": lambda *args: b"\x80\x02c__builtin__\nbytearray\n" + _ops(args) + b"R.",
    "counter": lambda *args: b"\x80\x02ccollections\nCounter\n" + _ops(args) + b"R.",
}


@pytest.mark.parametrize(
    ("pickled", "match"),
    [
        (scalar_pickle("O", bytes(8)), "refused the NumPy dtype 'O' of numpy.dtype"),
        (pickle.dumps({"d": np.dtype(object)}, 2), "refused the NumPy dtype 'O8' of numpy.dtype"),
        (pickle.dumps([np.array([{}, 1], dtype=object)], 2), "refused the NumPy dtype 'O8'"),
        (pickle.dumps(np.str_("hello"), 2), "refused the NumPy dtype 'U5'"),
        (pickle.dumps(np.void(bytes(10)), 2), "refused the NumPy dtype 'V10'"),
        (pickle.dumps(np.datetime64("2024-01-01"), 2), "refused the NumPy dtype 'M8'"),
        (scalar_pickle("f16", bytes(16)), "refused the NumPy dtype 'f16'"),
        (b"\x80\x02" + array_ops(b"numpy\nmatrix") + b".", "global 'numpy.matrix'"),
        (scalar_pickle("f8", bytes(7)), r"scalar record \(a float64 takes 8 bytes, the file has 7"),
        (scalar_pickle("f8", bytes(9)), "a float64 takes 8 bytes, the file has 9"),
        (scalar_pickle("f8", bytes(16)), "a float64 takes 8 bytes, the file has 16"),
        (scalar_pickle("i4", [1, 2]), r"scalar record \(data \[1, 2\]\)"),
        (scalar_pickle("f8", bytes(8), "="), r"numpy.dtype record \(byte order of 'f8': '='\)"),
        (scalar_pickle("f8", bytes(8), "|"), "byte order of 'f8': '|'"),
        (scalar_pickle("f8", bytes(8), dtype=OBJECT_FLAGS), r"numpy.dtype record \(state of 'f8'"),
        (scalar_pickle("f8", bytes(8), dtype=dtype_ops("f8", align=True)), "numpy.dtype record"),
        (scalar_pickle("f8", bytes(8), dtype=_NO_STATE), "its numpy.dtype has no state"),
        (scalar_pickle("f8", bytes(8), dtype=_ops(8)), r"scalar record \(dtype 8\)"),
        (
            array_pickle((2**40, 2**40), "f8", bytes(24)),
            r"_reconstruct record \(a float64 array of shape \(1099511627776, 1099511627776\) "
            r"takes 9671406556917033397649408 bytes, the file has 24\)",
        ),
        (array_pickle((4,), "f4", bytes(15)), "takes 16 bytes, the file has 15"),
        (array_pickle((-1, 3), "f4", bytes(12)), r"_reconstruct record \(shape \(-1, 3\)\)"),
        (array_pickle((1,) * 33, "f4", bytes(4)), r"_reconstruct record \(shape \(1, 1,"),
        (array_pickle((3.0,), "f4", bytes(12)), r"record \(shape \(3.0,\)\)"),
        (array_pickle((3,), "f8", [1.0, 2.0, 3.0]), r"record \(data \[1.0, 2.0, 3.0\]\)"),
        (b"\x80\x02" + array_ops() + b".", "holds a NumPy array record without its BUILD"),
        (
            b"\x80\x02" + array_ops(b"torch\nTensor") + b".",
            r"_reconstruct of 'torch.Tensor' \(only",
        ),
        (
            b"\x80\x02" + _NO_STATE + b"2" + _ops(DTYPE_STATE) + b"b0" + _ops(DTYPE_STATE) + b"b.",
            "refused to set the state of a numpy.dtype record twice",
        ),
        (
            b"\x80\x02cnumpy._core.numeric\n_frombuffer\n("
            + _ops(bytes(8))
            + dtype_ops("f8")
            + _ops((1,))
            + _ops("K")
            + b"tR.",
            r"numpy._core.numeric._frombuffer record \(order 'K'\)",
        ),
        (_TORCH_CALL["device"]("cuda", -1), r"corrupt torch.device record \(\('cuda', -1\)\)"),
        (_TORCH_CALL["device"]("cuda:x"), r"torch.device record \(\('cuda:x',\)\)"),
        (_TORCH_CALL["device"]("../etc"), "corrupt torch.device record"),
        (_TORCH_CALL["device"](3), "corrupt torch.device record"),
        (_TORCH_CALL["device"]("cuda", 0, 1), "corrupt torch.device record"),
        (_TORCH_CALL["layout"]("os.system"), r"_get_layout record \('os.system'\)"),
        (_TORCH_CALL["complex"]("1+2j"), "corrupt builtins.complex record"),
        (_TORCH_CALL["bytearray"](10**12), r"corrupt builtins.bytearray record \(\(1000000000000,"),
        (_TORCH_CALL["counter"](["a", "a"]), "corrupt collections.Counter record"),
    ],
    ids=lambda v: re.sub(r"\W+", "_", v)[:48] if isinstance(v, str) else "",
)
def test_abused_value_records(tmp_path, pickled, match):
    path = write_zip(tmp_path / "bad.pt", pickled)
    with pytest.raises(WeightFileError, match=match) as err:
        read_torch(path)
    assert "\n" not in str(err.value) and str(err.value).startswith(f"{path}: ")


def test_numpy_arrays_count_against_the_memory_budget(tmp_path, monkeypatch):
    """One memoized buffer named by many arrays: each array is a copy, and copies are counted."""
    memo = (1000).to_bytes(4, "little")  # LONG_BINPUT/LONG_BINGET index, clear of _ops's
    one = b"(" + _ops(1) + _ops((1000,)) + dtype_ops("f8") + b"\x89j" + memo + b"tb"
    arrays = b"".join([array_ops() + one] * 50)
    pickled = b"\x80\x02(" + _ops(bytes(8000)) + b"r" + memo + arrays + b"l."
    path = write_zip(tmp_path / "many.pt", pickled)
    assert len(read_torch(path)) == 51
    monkeypatch.setattr("gradflow.io._torch._budget", lambda size: 100_000)
    with pytest.raises(WeightFileError, match="far more memory than the file's size"):
        read_torch(path)


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


@pytest.mark.parametrize("fmt", ["legacy", "data.pkl"])
def test_fuzz_numpy_values(torch, tmp_path, fmt):
    """Flips and cuts inside the NumPy, device and complex records (a zip's CRC would catch a
    flip in data.pkl, so flipped pickles are re-zipped; the legacy stream has no CRC)."""
    ckpt = {"model": torch.nn.GRU(2, 3).state_dict(), **checkpoint_values(torch)}
    src = save(torch, ckpt, tmp_path / "src_np", fmt == "legacy")
    if fmt == "legacy":
        data, end = src.read_bytes(), _legacy_layout(src.read_bytes())[3]
    else:
        with zipfile.ZipFile(src) as z:
            data = z.read("src_np/data.pkl")
        end = len(data)
    start = data.index(b"numpy")
    for name in (b"multiarray\nscalar", b"multiarray\n_reconstruct", b"torch\ndevice"):
        assert name in data[start:end]

    def pack(variant):
        if fmt == "legacy":
            return variant
        change = lambda n, d: variant if n.endswith("data.pkl") else d  # noqa: E731
        return _rewrite_zip(src, tmp_path / "re.zip", change).read_bytes()

    rng = np.random.default_rng(20240602)
    variants = []
    for _ in range(300):
        flipped = bytearray(data)
        for at in rng.integers(start, end, size=rng.integers(1, 4)):
            flipped[at] ^= int(rng.integers(1, 256))
        variants.append(pack(bytes(flipped)))
    outcomes = _fuzz(tmp_path / "flip", variants)
    assert outcomes["error"] > 100 and outcomes["ok"] > 0, outcomes
    cuts = [pack(data[:k] + data[end:]) for k in range(start, end, max(1, (end - start) // 60))]
    assert _fuzz(tmp_path / "cut", cuts)["ok"] == 0
