"""Checkpoint values that are not tensors, and the check that the result is plain data.

``torch.load(weights_only=True)`` (PyTorch 2.13, ``torch/_weights_only_unpickler.py``) allows a
few small values beside tensors: ``builtins.complex``, ``builtins.bytearray``,
``collections.Counter``, ``torch.device``, ``torch.serialization._get_layout`` (how a layout such
as ``torch.strided`` pickles), the quantization schemes and legacy tensor-type classes. It
refuses NumPy unless told to trust it, yet training checkpoints often hold NumPy scalars
(``"best_loss": np.float64(0.12)``) and small arrays. This module answers all of these with
functions of its own; nothing named in a file is imported or called:

* ``numpy.dtype(code, align, copy)`` and its ``BUILD`` state ``(3, order, None, None, None, -1,
  -1, 0)`` give a :class:`numpy.dtype`, for the codes of :data:`NUMPY_CODES` only (bool and the
  fixed-size integer, float and complex types); object, string, void, datetime and
  platform-dependent (``f16``) dtypes are refused, and the byte order must be ``<`` or ``>``
  (``|`` for one-byte types).
* ``numpy.core.multiarray.scalar(dtype, data)`` (``numpy._core`` in NumPy 2) gives a NumPy
  scalar from exactly ``dtype.itemsize`` bytes.
* ``numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b"b")`` and its ``BUILD`` state
  ``([1,] shape, dtype, is_fortran, data)``, or ``numpy.core.numeric._frombuffer(data, dtype,
  shape, order)`` (pickle protocol 5), give a new C-ordered, native-byte-order array: at most 32
  dimensions, and exactly ``prod(shape) * itemsize`` bytes, checked before anything is allocated.
* ``torch.device(type[, index])`` reads as its string (``"cuda:0"``, ``"cpu"``); a layout, memory
  format, quantization scheme or tensor-type class reads as its name (``"torch.strided"``).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import partial

import numpy as np

from ._unpickle_types import Global, Pending, Refused, Token, UnpickleError, describe

__all__ = [
    *("NAMES", "NUMPY_CODES", "PLAIN", "VALUES"),
    *("alias", "check_structure", "short", "value_calls"),
]

#: NumPy dtype codes read (as ``numpy.dtype`` pickles them: kind and itemsize).
NUMPY_CODES = ("b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16")
_LAYOUTS = ("strided", "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc")
_LAYOUTS = tuple(f"torch.{n}" for n in (*_LAYOUTS, "_mkldnn", "jagged"))
_FORMATS = ("contiguous_format", "channels_last", "channels_last_3d", "preserve_format")
_FORMATS = tuple(f"torch.{n}" for n in _FORMATS)
_QSCHEMES = ("per_tensor_affine", "per_tensor_symmetric", "per_channel_affine")
_QSCHEMES = (*_QSCHEMES, "per_channel_symmetric", "per_channel_affine_float_qparams")
_TYPES = ("Double", "Float", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool")
_NUMPY = ("numpy.core", "numpy._core")  # NumPy 1 and 2 spell the module differently
_DEVICE = re.compile(r"[a-z][a-z0-9_]{0,31}")
_BIG = 2**62  # no dimension of a real array comes near this

#: Allowed globals that are names only (read as :class:`Token` strings).
NAMES: dict[str, str] = {
    **{name: "a tensor layout (a name only)" for name in _LAYOUTS},
    **{name: "a memory format (a name only)" for name in _FORMATS},
    **{f"torch.{q}": "a quantization scheme (a name only)" for q in _QSCHEMES},
    **{
        f"torch.{where}{t}Tensor": "a legacy tensor type (a name only)"
        for where in ("", "cuda.", "sparse.", "cuda.sparse.")
        for t in _TYPES
        if not (where.endswith("sparse.") and t == "Bool")
    },
    "torch.storage.TypedStorage": "a storage class (a name only)",
    "numpy.ndarray": "the NumPy array class (a name only, as _reconstruct's argument)",
}
#: Allowed globals that build a value (with this module's functions).
VALUES: dict[str, str] = {
    "builtins.complex": "a complex number from its real and imaginary parts",
    "builtins.bytearray": "a bytearray from bytes or latin-1 text (never from a length)",
    "collections.Counter": "a Counter from a dict",
    "torch.device": "a device, read as its string ('cuda:0', 'cpu')",
    "torch.serialization._get_layout": "a tensor layout, read as its name ('torch.strided')",
    "numpy.dtype": "a bool, integer, float or complex NumPy dtype, completed by BUILD",
    **{f"{m}.multiarray.scalar": "a NumPy scalar, from its bytes" for m in _NUMPY},
    **{f"{m}.multiarray._reconstruct": "a NumPy array, completed by BUILD" for m in _NUMPY},
    **{f"{m}.numeric._frombuffer": "a NumPy array (pickle protocol 5)" for m in _NUMPY},
}


def value_calls(owner) -> dict:
    """The functions behind :data:`VALUES`; arrays ask ``owner`` (``dry``, ``charge(nbytes)``)."""
    calls = {
        "builtins.complex": _complex,
        "builtins.bytearray": _bytearray,
        "collections.Counter": _counter,
        "torch.device": _device,
        "torch.serialization._get_layout": _layout,
        "numpy.dtype": _Dtype,
    }
    numpy = {"multiarray.scalar": _scalar, "multiarray._reconstruct": _Array}
    numpy["numeric._frombuffer"] = _frombuffer
    for m in _NUMPY:
        for name, func in numpy.items():
            calls[f"{m}.{name}"] = partial(func, f"{m}.{name}", owner)
    return calls


def alias(module: str, name: str) -> str | None:
    """What a memory format pickled at protocol 4 or 5 names: ``torch.contiguous_format`` is
    written as the attribute path ``torch.contiguous_format`` of whichever torch module pickle
    found first (``torch._utils``, say)."""
    if name in _FORMATS and (module == "torch" or module.startswith("torch.")):
        return name
    return None


def short(value) -> str:
    """A value read from a file, shown in at most 60 characters."""
    text = repr(value) if not isinstance(value, np.ndarray) else "an array"
    return text if len(text) <= 60 else text[:57] + "..."


def _corrupt(qualname: str, value, part: str = "") -> UnpickleError:
    """The error for a record of the global ``qualname`` whose ``part`` is ``value``."""
    detail = f"{part} {short(value)}" if part else short(value)
    return UnpickleError(f"corrupt {qualname} record ({detail})")


def _complex(real=0.0, imag=0.0):
    if not all(type(x) in (int, float, bool) for x in (real, imag)):
        raise _corrupt("builtins.complex", (real, imag))
    return complex(real, imag)


def _bytearray(data=b"", encoding=None):
    if isinstance(data, (bytes, bytearray)) and encoding is None:
        return bytearray(data)
    if isinstance(data, str) and encoding in ("latin1", "latin-1"):
        return bytearray(data.encode("latin-1"))
    raise _corrupt("builtins.bytearray", (data, encoding))


def _counter(counts=None):
    if counts is None:
        return Counter()
    if not isinstance(counts, dict):
        raise _corrupt("collections.Counter", counts)
    return Counter(counts)


def _device(*args):
    kind, index = (*args, None)[:2] if 1 <= len(args) <= 2 else (None, None)
    if isinstance(kind, str) and index is None and ":" in kind:
        kind, _, text = kind.partition(":")
        index = int(text) if text.isascii() and text.isdigit() and len(text) <= 5 else -1
    if not (isinstance(kind, str) and _DEVICE.fullmatch(kind)) or not (
        index is None or (type(index) is int and 0 <= index < 2**16)
    ):
        raise _corrupt("torch.device", args)
    return str(kind) if index is None else f"{kind}:{index}"


def _layout(name):
    if type(name) is not str or name not in _LAYOUTS:
        raise _corrupt("torch.serialization._get_layout", name)
    return Token(name)


class _Dtype(Pending):
    """``numpy.dtype(code, align, copy)``, waiting for its state (the byte order)."""

    __slots__ = ("code",)
    what = "a numpy.dtype record"

    def __init__(self, code, align=False, copy=True):
        super().__init__()
        if not (type(code) is str and code in NUMPY_CODES):
            raise Refused(
                f"refused the NumPy dtype {short(code)} of numpy.dtype (only bool and "
                "fixed-size integer, float and complex dtypes are read)"
            )
        if type(align) not in (bool, int) or align or type(copy) not in (bool, int):
            raise _corrupt("numpy.dtype", (code, align, copy))
        self.code = code

    def finish(self, state):
        plain = (None, None, None, -1, -1, 0)
        if not (type(state) is tuple and len(state) == 8 and state[0] == 3 and state[2:] == plain):
            raise _corrupt("numpy.dtype", state, f"state of {self.code!r}:")
        orders = ("<", ">", "|") if self.code in ("b1", "i1", "u1") else ("<", ">")
        if state[1] not in orders:
            raise _corrupt("numpy.dtype", state[1], f"byte order of {self.code!r}:")
        return np.dtype(state[1] + self.code)


def _dtype(dtype, qualname: str) -> np.dtype:
    if isinstance(dtype, _Dtype):
        raise UnpickleError(f"corrupt {qualname} record (its numpy.dtype has no state)")
    if not isinstance(dtype, np.dtype) or dtype.kind not in "biufc" or dtype.hasobject:
        raise _corrupt(qualname, dtype, "dtype")  # not one numpy.dtype made
    return dtype


def _bytes(data, qualname: str) -> bytes:
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if isinstance(data, str):  # a Python 2 str, as NumPy reads it
        return data.encode("latin-1")
    raise _corrupt(qualname, data, "data")


def _scalar(qualname: str, owner, dtype, data=None):
    dtype, raw = _dtype(dtype, qualname), _bytes(data, qualname)
    if len(raw) != dtype.itemsize:
        raise UnpickleError(
            f"corrupt {qualname} record (a {dtype.name} takes {dtype.itemsize} bytes, the file "
            f"has {len(raw)})"
        )
    if dtype.kind == "b":
        return np.bool_(raw[0] != 0)
    return np.frombuffer(raw, dtype).astype(dtype.newbyteorder("="))[0]


class _Array(Pending):
    """``_reconstruct(numpy.ndarray, (0,), b"b")``, waiting for its state."""

    __slots__ = ("owner", "qualname")
    what = "a NumPy array record"

    def __init__(self, qualname: str, owner, cls, shape, code):
        super().__init__()
        if not (isinstance(cls, Token) and cls == "numpy.ndarray"):
            raise Refused(f"refused {qualname} of {describe(cls)} (only numpy.ndarray is read)")
        if shape != (0,) or code not in (b"b", "b"):
            raise _corrupt(qualname, (shape, code))
        self.qualname, self.owner = qualname, owner

    def finish(self, state):
        if type(state) is tuple and len(state) == 5 and state[0] == 1:
            state = state[1:]  # the version; NumPy 1.0 wrote the state without it
        if not (type(state) is tuple and len(state) == 4 and state[2] in (False, True)):
            raise _corrupt(self.qualname, state, "state")
        shape, dtype, fortran, data = state
        return _array(self.qualname, self.owner, data, dtype, shape, "F" if fortran else "C")


def _frombuffer(qualname: str, owner, data, dtype, shape, order):
    if order not in ("C", "F"):
        raise _corrupt(qualname, order, "order")
    return _array(qualname, owner, data, dtype, shape, order)


def _array(qualname: str, owner, data, dtype, shape, order: str):
    """A new C-ordered native array of ``shape`` from ``data`` laid out in ``order``."""
    dtype, raw = _dtype(dtype, qualname), _bytes(data, qualname)
    if not (type(shape) is tuple and len(shape) <= 32):
        raise _corrupt(qualname, shape, "shape")
    if not all(type(n) is int and 0 <= n < _BIG for n in shape):
        raise _corrupt(qualname, shape, "shape")
    need = math.prod(shape) * dtype.itemsize
    if need != len(raw):
        raise UnpickleError(
            f"corrupt {qualname} record (a {dtype.name} array of shape {short(shape)} takes "
            f"{need} bytes, the file has {len(raw)})"
        )
    if owner.dry:
        return None
    owner.charge(need)
    stored = np.dtype("u1") if dtype.kind == "b" else dtype
    view = np.frombuffer(raw, stored).reshape(shape, order=order)
    if dtype.kind == "b":
        return np.not_equal(view, 0, order="C")
    return np.array(view, dtype.newbyteorder("="), order="C")


_END = object()  # end-of-children marker of check_structure
#: Types check_structure accepts as leaves.
PLAIN = (str, bytes, bytearray, int, float, complex, type(None), np.ndarray, np.bool_, np.number)
PLAIN = (*PLAIN, np.dtype)


def check_structure(obj, *, max_depth: int = 200, max_nodes: int = 10_000_000) -> None:
    """Check that ``obj`` is a finite tree of plain containers with plain leaves.

    A consumer may walk the result recursively: a cycle would make it loop, deep nesting would
    overflow its stack, and a shared-reference "diamond" chain makes a tree walk exponential, so
    all three are refused, as is any leaf that is not a plain value, a NumPy scalar or dtype, or
    an array.

    Raises
    ------
    UnpickleError
        Naming what was found.
    """
    finished: dict[int, int] = {}  # id of a container -> nodes a tree walk of it visits
    on_path: set[int] = set()
    frames: list[list] = []

    def enter(node) -> int | None:
        """Count a leaf, or push a container; return its node count if already known."""
        if isinstance(node, (dict, list, tuple, set, frozenset)):
            if id(node) in finished:
                return finished[id(node)]
            if id(node) in on_path:
                raise UnpickleError("the pickle's containers hold themselves (a cycle)")
            if len(frames) >= max_depth:
                raise UnpickleError(f"the pickle's containers nest deeper than {max_depth}")
            on_path.add(id(node))
            items = node.items() if isinstance(node, dict) else node
            children = (x for pair in items for x in pair) if isinstance(node, dict) else items
            frames.append([node, iter(children), 1])
            return None
        if isinstance(node, PLAIN):
            return 1
        if isinstance(node, Global):
            raise UnpickleError(f"the pickle stores the function '{node.qualname}' as data")
        if isinstance(node, Pending):
            raise UnpickleError(f"the pickle holds {node.what} without its BUILD")
        raise UnpickleError(f"the pickle holds {describe(node)}, not a plain value")

    total = enter(obj)
    while frames:
        frame = frames[-1]
        child = next(frame[1], _END)
        if child is _END:
            frames.pop()
            on_path.discard(id(frame[0]))
            finished[id(frame[0])] = count = frame[2]
            if frames:
                frames[-1][2] += count
            else:
                total = count
        else:
            count = enter(child)
            if count is not None:
                frame[2] += count
        if frames and frames[-1][2] > max_nodes:
            raise UnpickleError(f"the pickle's containers hold more than {max_nodes} items")
    if total is not None and total > max_nodes:
        raise UnpickleError(f"the pickle's containers hold more than {max_nodes} items")
