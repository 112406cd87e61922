"""The allow-list of the PyTorch reader, the rebuilding of tensors, and the check of the result.

:class:`Rebuilder` resolves the pickle globals a state dict or a plain checkpoint uses (see
:data:`ALLOWED`), answers the pickle's persistent ids (``("storage", storage_type, key, location,
numel)``) with :class:`Storage` records, and rebuilds each tensor as a NumPy array copied out of
its storage with the tensor's offset, shape and strides, after checking that every element it
reads lies inside the storage. Where the storage bytes sit is the file format's business: the
format reader passes an ``attach(storage)`` callback that fills in ``Storage.buf`` and
``Storage.start``. Semantics follow ``torch._utils._rebuild_tensor_v2`` and friends, as described
in PyTorch's ``torch/serialization.py``; this is an independent implementation. Values that are
not tensors (NumPy scalars and arrays, devices, complex numbers), and the check that the result
is plain data, live in :mod:`._torch_values`.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np

from ._torch_values import NAMES, VALUES, alias, value_calls
from ._torch_values import short as _short
from ._unpickle_types import Global, Refused, Token, UnpickleError, py3_name, refusal

__all__ = ["ALLOWED", "DTYPES", "Rebuilder", "Storage", "itemsize"]

#: torch dtype name -> NumPy type code of the stored bytes (little-endian code; the byte order
#: is the file's). bfloat16 is read as its 16 bits and widened exactly to float32.
DTYPES = {
    "float64": "f8",
    "float32": "f4",
    "float16": "f2",
    "bfloat16": "u2",
    "int64": "i8",
    "int32": "i4",
    "int16": "i2",
    "int8": "i1",
    "uint8": "u1",
    "uint16": "u2",
    "uint32": "u4",
    "uint64": "u8",
    "bool": "u1",
    "complex64": "c8",
    "complex128": "c16",
}
#: dtypes torch has and NumPy lacks: named in messages instead of refused as unknown globals.
_NO_NUMPY = [
    *("complex32", "qint8", "quint8", "qint32", "quint4x2", "quint2x4"),
    *("float8_e5m2", "float8_e4m3fn", "float8_e5m2fnuz", "float8_e4m3fnuz", "float8_e8m0fnu"),
    *("float4_e2m1fn_x2", "bits8", "bits16", "bits1x8", "bits2x4", "bits4x2"),
    *(f"{u}int{bits}" for u in ("", "u") for bits in range(1, 8)),  # torch.int1 ... uint7
]
#: legacy storage class -> dtype (UntypedStorage holds bytes).
_STORAGES = {
    "DoubleStorage": "float64",
    "FloatStorage": "float32",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
    "ComplexHalfStorage": "complex32",
    "QInt8Storage": "qint8",
    "QUInt8Storage": "quint8",
    "QInt32Storage": "qint32",
    "QUInt4x2Storage": "quint4x2",
    "QUInt2x4Storage": "quint2x4",
    "UntypedStorage": "uint8",
}
_TENSOR_TYPES = ("torch.Tensor", "torch.nn.parameter.Parameter")
_BIG = 2**62  # no size, stride, offset or element count in a real file comes near this

#: Every pickle global the reader resolves: qualified name -> what it stands for. Names-only
#: entries (dtypes, storage and tensor classes, layouts, memory formats, quantization schemes)
#: become :class:`Token` strings; the rest are the reader's own functions, never PyTorch's or
#: NumPy's. Beside tensors, this covers what ``torch.load(weights_only=True)`` of PyTorch 2.13
#: reads as plain values (``complex``, ``bytearray``, ``Counter``, ``torch.device`` as its
#: string, ``_get_layout`` as the layout's name) and, which torch refuses by default, NumPy
#: scalars, dtypes and arrays of bool, integer, float and complex types, rebuilt from their
#: bytes with strict checks (see :mod:`._torch_values`; object, string, void and datetime
#: dtypes are refused). A memory format pickled at protocol 4 reads as its name too.
ALLOWED: dict[str, str] = {
    "collections.OrderedDict": "an empty or filled OrderedDict",
    "torch._utils._rebuild_tensor": "a tensor (oldest form)",
    "torch._utils._rebuild_tensor_v2": "a tensor",
    "torch._utils._rebuild_tensor_v3": "a tensor of a dtype stored as bytes",
    "torch._utils._rebuild_parameter": "an nn.Parameter (read as its tensor)",
    "torch._utils._rebuild_parameter_with_state": "an nn.Parameter with attributes",
    "torch._tensor._rebuild_from_type_v2": "a tensor or Parameter with attributes",
    "torch.Size": "a tuple of ints",
    "_codecs.encode": "bytes (latin-1 text, pickle protocol 2)",
    "builtins.bytes": "empty bytes",
    "builtins.set": "a set",
    "builtins.frozenset": "a frozenset",
    **{name: "a tensor class (a name only)" for name in _TENSOR_TYPES},
    **{f"torch.{d}": "a dtype (a name only)" for d in [*DTYPES, *_NO_NUMPY]},
    **{
        f"{m}.{s}": "a storage class (a name only)"
        for s in _STORAGES
        for m in ("torch", "torch.cuda")
    },
    "torch.storage.UntypedStorage": "a storage class (a name only)",
    **NAMES,
    **VALUES,
}


class Storage:
    """One storage of a file: its dtype and size from the pickle, its bytes from the format."""

    __slots__ = ("buf", "dtype", "key", "nbytes", "start")

    def __init__(self, key: str, dtype: str, nbytes: int):
        self.key, self.dtype, self.nbytes = key, dtype, nbytes
        self.buf = None  # bytes-like holding the storage at buf[start : start + nbytes]
        self.start = 0


class Rebuilder:
    """Allow-list, persistent ids and tensor rebuilding for one file.

    Parameters
    ----------
    attach : callable
        ``attach(storage)`` is called once per storage key, when first seen; it may fill in
        ``storage.buf``/``storage.start`` or leave them for later (the legacy format).
    byteorder : {"little", "big"}
    budget : int
        Most bytes all rebuilt arrays together may take (views of one storage are copied each).
    """

    def __init__(self, attach, byteorder: str, budget: int):
        self.attach, self.order, self.budget = attach, "<" if byteorder == "little" else ">", budget
        self.storages: dict[str, Storage] = {}
        self.dry = False  # True: check everything but return None for tensors (legacy pass 1)
        calls = {
            "collections.OrderedDict": _ordered_dict,
            "torch._utils._rebuild_tensor": self._v1,
            "torch._utils._rebuild_tensor_v2": self._v2,
            "torch._utils._rebuild_tensor_v3": self._v3,
            "torch._utils._rebuild_parameter": _parameter,
            "torch._utils._rebuild_parameter_with_state": _parameter,
            "torch._tensor._rebuild_from_type_v2": _from_type,
            "torch.Size": _size,
            "_codecs.encode": _encode,
            "builtins.bytes": _bytes,
            "builtins.set": lambda items=(): set(_seq(items, "set")),
            "builtins.frozenset": lambda items=(): frozenset(_seq(items, "frozenset")),
            **value_calls(self),
        }
        self.globals = {name: Global(name, call) for name, call in calls.items()}

    def lookup(self, module, name):
        """Resolve a pickle global from :data:`ALLOWED`, or raise :class:`Refused`."""
        qualname = alias(module, name) or ".".join(py3_name(module, name))
        if qualname not in ALLOWED:
            raise refusal(module, name)
        return self.globals.get(qualname) or Token(qualname)

    def persistent_load(self, pid):
        """Answer ``("storage", type, key, location, numel[, view])`` with a :class:`Storage`."""
        if not isinstance(pid, tuple) or not pid:
            raise UnpickleError(f"corrupt pickle (persistent id {_short(pid)})")
        tag = _text(pid[0])
        if tag == "module":
            raise Refused("refused a pickled nn.Module class (only state dicts are read)")
        if tag != "storage" or len(pid) not in (5, 6) or (len(pid) == 6 and pid[5] is not None):
            raise UnpickleError(f"unsupported persistent id {_short(pid)}")
        _, stype, key, location, numel = pid[:5]
        dtype = _storage_dtype(stype)
        key, _ = _text(key), _text(location)  # a location ("cpu", "cuda:0") changes nothing
        nbytes = _count(numel, "storage size") * itemsize(dtype)
        storage = self.storages.get(key)
        if storage is None:
            storage = self.storages[key] = Storage(key, dtype, nbytes)
            self.attach(storage)
        elif (storage.dtype, storage.nbytes) != (dtype, nbytes):
            raise UnpickleError(f"storage {key!r} is described two different ways")
        return storage

    # -- the rebuild functions ---------------------------------------------------------------
    def _v1(self, storage, offset, size, stride):
        return self.tensor(storage, offset, size, stride, None, None)

    def _v2(self, storage, offset, size, stride, requires_grad, hooks, metadata=None):
        return self.tensor(storage, offset, size, stride, None, metadata)

    def _v3(self, storage, offset, size, stride, requires_grad, hooks, dtype, metadata=None):
        if not isinstance(dtype, Token) or not dtype.startswith("torch."):
            raise UnpickleError(f"corrupt tensor record (dtype {_short(dtype)})")
        return self.tensor(storage, offset, size, stride, dtype[6:], metadata)

    def tensor(self, storage, offset, size, stride, dtype, metadata):
        """A tensor's values as a C-ordered NumPy array, copied out of its storage."""
        if not isinstance(storage, Storage):
            raise UnpickleError(f"corrupt tensor record (storage {_short(storage)})")
        dtype = storage.dtype if dtype is None else dtype
        if dtype not in DTYPES:
            raise UnpickleError(f"a tensor of dtype torch.{dtype} has no NumPy equivalent")
        code = np.dtype(self.order + DTYPES[dtype])
        offset = _count(offset, "storage offset")
        if not (isinstance(size, tuple) and isinstance(stride, tuple) and len(size) == len(stride)):
            raise UnpickleError("corrupt tensor record (size and stride)")
        if len(size) > 32:
            raise UnpickleError(f"a tensor with {len(size)} dimensions (at most 32 are read)")
        size = tuple(_count(n, "tensor size") for n in size)
        stride = tuple(_count(s, "tensor stride") for s in stride)
        numel = math.prod(size)
        out = np.dtype(_native(dtype))
        if numel == 0:
            return None if self.dry else np.zeros(size, out)
        capacity = storage.nbytes // code.itemsize
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= capacity:
            raise UnpickleError(
                f"a tensor of shape {size} at offset {offset} reads element {last} of storage "
                f"{storage.key!r}, which holds {capacity} (storage and tensor disagree)"
            )
        if self.dry:
            return None
        self.charge(numel * out.itemsize)
        if storage.buf is None:  # pragma: no cover - every format attaches before rebuilding
            raise UnpickleError(f"storage {storage.key!r} has no data")
        base = np.frombuffer(storage.buf, code, capacity, storage.start)
        view = np.lib.stride_tricks.as_strided(
            base[offset:], size, [s * code.itemsize for s in stride], writeable=False
        )
        if dtype == "bfloat16":  # the top half of a float32: widening is exact
            array = view.astype(np.uint32, order="C")
            array <<= 16
            array = array.view(np.float32)
        elif dtype == "bool":
            array = np.not_equal(view, 0, order="C")
        else:
            array = view.astype(out, order="C")
        del view, base  # nothing may keep a view of the file's buffer
        return _apply_metadata(array, metadata)

    def charge(self, nbytes: int) -> None:
        """Count ``nbytes`` more of rebuilt arrays against the budget."""
        self.budget -= nbytes
        if self.budget < 0:
            raise UnpickleError(
                "the arrays would take far more memory than the file's size "
                "(broadcast or many overlapping views)"
            )


def _apply_metadata(array, metadata):
    if metadata is None:
        return array
    if not isinstance(metadata, dict) or not set(metadata) <= {"conj", "neg"}:
        raise UnpickleError(f"unsupported tensor metadata {_short(metadata)}")
    if metadata.get("conj"):
        np.conjugate(array, out=array)
    if metadata.get("neg"):
        np.negative(array, out=array)
    return array


def itemsize(dtype: str) -> int:
    """Bytes per element of a torch dtype name."""
    if dtype in DTYPES:
        return np.dtype(DTYPES[dtype]).itemsize
    return {"complex32": 4, "qint32": 4, "bits16": 2}.get(dtype, 1)


def _native(dtype: str) -> str:
    return {"bfloat16": "f4", "bool": "?"}.get(dtype, DTYPES[dtype])


def _storage_dtype(stype) -> str:
    if isinstance(stype, Token):
        name = stype.rsplit(".", 1)[-1]
        if name in _STORAGES:
            return _STORAGES[name]
        if name in DTYPES or name in _NO_NUMPY:  # a dtype tag in place of a storage class
            return name
    raise UnpickleError(f"corrupt persistent id (storage type {_short(stype)})")


def _count(value, what: str) -> int:
    if type(value) is not int or not 0 <= value < _BIG:
        raise UnpickleError(f"corrupt tensor record ({what} {_short(value)})")
    return value


def _text(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii")
    if not isinstance(value, str):
        raise UnpickleError(f"corrupt persistent id (field {_short(value)})")
    return value


def _seq(items, what):
    if not isinstance(items, (list, tuple, set, frozenset)):
        raise UnpickleError(f"corrupt pickle ({what} of {_short(items)})")
    return items


def _ordered_dict(items=()):
    if isinstance(items, dict):
        return OrderedDict(items)
    pairs = _seq(items, "OrderedDict")
    if not all(isinstance(p, (tuple, list)) and len(p) == 2 for p in pairs):
        raise UnpickleError("corrupt pickle (OrderedDict of non-pairs)")
    return OrderedDict(pairs)


def _parameter(data, requires_grad, hooks, state=None):
    if not (data is None or isinstance(data, np.ndarray)):
        raise UnpickleError(f"corrupt Parameter record (data {_short(data)})")
    return data


def _from_type(func, new_type, args, state):
    if not (isinstance(func, Global) and func.qualname.startswith("torch._utils._rebuild_")):
        raise Refused(f"refused to rebuild a tensor with {_short(func)}")
    if not isinstance(new_type, Token) or new_type not in _TENSOR_TYPES:
        raise Refused(f"refused the tensor subclass {_short(new_type)}")
    if not isinstance(args, tuple):
        raise UnpickleError("corrupt tensor record (arguments)")
    return func.call(*args)


def _size(dims=()):
    dims = tuple(_seq(dims, "torch.Size"))
    if not all(type(d) is int for d in dims):
        raise UnpickleError("corrupt pickle (torch.Size of non-integers)")
    return dims


def _encode(text, encoding="utf-8"):
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnpickleError("corrupt pickle (bytes record)")
    return text.encode("latin-1")


def _bytes(*args):
    if args:
        raise Refused("refused builtins.bytes with arguments")
    return b""
