"""Readers of plain array files: ``.npy``, ``.npz`` and ``.safetensors``.

Nothing here unpickles, imports a framework or trusts a size the file claims: every header is
parsed by hand and bounds-checked against the file before a byte of data is touched. Data are
memory-mapped where the bytes lie uncompressed in the file (``.npy``, ``.safetensors``, the
stored entries of an ``.npz``), and :class:`ArrayFile` reads an array only when it is asked for,
so a reader's peak memory is that of the arrays used, not of the file. Every failure is a
one-line :class:`~gradflow.errors.WeightFileError` that starts with the file's path.
"""

from __future__ import annotations

import itertools
import json
import math
import mmap
import os
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping

import numpy as np

from ..errors import WeightFileError

__all__ = ["ArrayFile", "bf16_to_float32", "read_npy", "read_npz", "read_safetensors"]

#: safetensors dtype names numpy holds, and their little-endian numpy dtypes (BF16 is read as
#: raw 16-bit words and widened by :func:`bf16_to_float32`).
SAFETENSORS_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "C64": "<c8",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?",
}  # fmt: skip
#: safetensors dtypes that exist but that numpy cannot hold.
UNHOLDABLE = ("F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4")
MAX_HEADER = 100_000_000  # bytes; the limit safetensors itself applies
#: What parsing untrusted bytes with the standard library and numpy may raise.
_PARSE_ERRORS = (
    ValueError,
    OSError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
    RuntimeError,
    struct.error,
    OverflowError,
    SyntaxError,
    MemoryError,
)


def _fail(path, message: str) -> WeightFileError:
    return WeightFileError(f"{os.fspath(path)}: {message}")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def bf16_to_float32(words: np.ndarray) -> np.ndarray:
    """bfloat16 values, given as their raw uint16 words, as float32 (exact).

    A bfloat16 is the upper half of a float32, so shifting its 16 bits up by 16 gives the
    float32 of the same value, NaN payloads and signed zeros included.

    Examples
    --------
    >>> import numpy as np
    >>> bf16_to_float32(np.array([0x3F80, 0xC040, 0x4049], dtype=np.uint16))
    array([ 1.      , -3.      ,  3.140625], dtype=float32)
    """
    words = np.asarray(words, dtype=np.uint16)
    return (words.astype(np.uint32) << np.uint32(16)).view(np.float32)


class ArrayFile(Mapping):
    """A read-only mapping ``name -> ndarray`` whose arrays are read when asked for.

    ``shape_of(name)`` gives a shape without reading the data. Each access reads (or maps)
    the array again; errors found only then (a failed CRC, say) raise ``WeightFileError``.
    """

    def __init__(self, path, entries: dict[str, tuple[tuple[int, ...], Callable[[], np.ndarray]]]):
        self.path = os.fspath(path)
        self._entries = entries

    def __getitem__(self, name: str) -> np.ndarray:
        return self._entries[name][1]()

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def shape_of(self, name: str) -> tuple[int, ...]:
        return self._entries[name][0]

    def __repr__(self) -> str:
        return f"ArrayFile({self.path!r}, {len(self)} arrays)"


def _view(buffer, dtype: np.dtype, shape: tuple[int, ...], offset: int, fortran=False):
    """An array over ``buffer`` at ``offset`` (read-only, no copy); the caller checked bounds."""
    count = math.prod(shape)
    if count == 0 or dtype.itemsize == 0:
        return np.zeros(shape, dtype)
    flat = np.frombuffer(buffer, dtype=dtype, count=count, offset=offset)
    return flat.reshape(shape[::-1]).T if fortran else flat.reshape(shape)


def _map(f) -> mmap.mmap:
    return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


# -- .npy ---------------------------------------------------------------------------------------
def _npy_header(fp, path, what: str):
    """Parse an .npy header at the current position: ``(shape, fortran, dtype, end)``."""
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
        end = fp.tell()
    except _PARSE_ERRORS as exc:
        raise _fail(path, f"{what}: corrupt .npy header ({_one_line(exc)})") from None
    if dtype.hasobject:
        raise _fail(
            path, f"{what}: holds Python objects (dtype {dtype}), which are never unpickled"
        )
    return tuple(shape), fortran, dtype, end


def _check_size(path, what, shape, dtype, available: int):
    needed = math.prod(shape) * dtype.itemsize
    if needed != available:
        raise _fail(
            path,
            f"{what}: header claims shape {shape} of {dtype} ({needed} bytes) but the "
            f"file holds {available} bytes of data",
        )


def read_npy(path) -> np.ndarray:
    """The array of an ``.npy`` file, memory-mapped (read-only); never unpickles."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        shape, fortran, dtype, start = _npy_header(f, path, "array")
        _check_size(path, "array", shape, dtype, size - start)
        return _view(_map(f), dtype, shape, start, fortran)


# -- .npz ---------------------------------------------------------------------------------------
def _stored_loader(path, info: zipfile.ZipInfo, shape, fortran, dtype, header_len):
    """Map a stored (uncompressed) entry straight from the file, after checking its CRC."""

    def load():
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(info.header_offset)
            local = f.read(30)
            if len(local) < 30 or local[:4] != b"PK\x03\x04":
                raise _fail(path, f"{info.filename}: corrupt zip entry (bad local header)")
            name_len, extra_len = struct.unpack("<HH", local[26:30])
            start = info.header_offset + 30 + name_len + extra_len
            if start + info.file_size > size:
                raise _fail(path, f"{info.filename}: zip entry runs past the end of the file")
            mapped = _map(f)
        entry = memoryview(mapped)[start : start + info.file_size]
        if zlib.crc32(entry) != info.CRC:
            raise _fail(path, f"{info.filename}: fails its CRC-32 check (corrupt file)")
        return _view(mapped, dtype, shape, start + header_len, fortran)

    return load


def _inflated_loader(path, info: zipfile.ZipInfo, shape, fortran, dtype, header_len):
    """Decompress an entry (zipfile checks its CRC) and view its bytes without a copy."""

    def load():
        try:
            with zipfile.ZipFile(path) as zf, zf.open(info) as fp:
                data = fp.read()
        except _PARSE_ERRORS as exc:
            raise _fail(path, f"{info.filename}: corrupt zip entry ({_one_line(exc)})") from None
        if len(data) != info.file_size:
            raise _fail(path, f"{info.filename}: zip entry is truncated")
        return _view(data, dtype, shape, header_len, fortran)

    return load


def read_npz(path) -> ArrayFile:
    """The arrays of an ``.npz`` archive by name (``.npy`` suffix dropped), read lazily.

    Headers are read and checked up front (shape against the entry's size, no object dtype:
    nothing is ever unpickled); stored entries are memory-mapped, compressed ones inflated on
    access.
    """
    entries = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.is_dir() or not info.filename.endswith(".npy"):
                    continue
                what = info.filename
                with zf.open(info) as fp:
                    shape, fortran, dtype, header_len = _npy_header(fp, path, what)
                _check_size(path, what, shape, dtype, info.file_size - header_len)
                stored = info.compress_type == zipfile.ZIP_STORED and not info.flag_bits & 1
                make = _stored_loader if stored else _inflated_loader
                loader = make(path, info, shape, fortran, dtype, header_len)
                entries[info.filename[:-4]] = (shape, loader)
    except WeightFileError:
        raise
    except _PARSE_ERRORS as exc:
        raise _fail(path, f"corrupt .npz archive ({_one_line(exc)})") from None
    return ArrayFile(path, entries)


# -- .safetensors -------------------------------------------------------------------------------
def _no_duplicates(pairs):
    seen = {}
    for name, value in pairs:
        if name in seen:
            raise ValueError(f"duplicate key {name!r}")
        seen[name] = value
    return seen


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _tensor_entry(path, name, info, data_size):
    """Check one header entry; return ``(dtype, shape, begin, end)``."""
    if not isinstance(info, dict):
        raise _fail(path, f"safetensors header: entry {name!r} is not an object")
    dtype_name, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if not isinstance(dtype_name, str):
        raise _fail(path, f"tensor {name!r} has no dtype name")
    if dtype_name in UNHOLDABLE:
        raise _fail(path, f"tensor {name!r} has dtype {dtype_name}, which numpy cannot hold")
    if dtype_name not in SAFETENSORS_DTYPES:
        raise _fail(path, f"tensor {name!r} has unknown dtype {dtype_name!r}")
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        raise _fail(path, f"tensor {name!r} has an invalid shape {shape!r}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) for o in offsets)):
        raise _fail(path, f"tensor {name!r} has invalid data_offsets {offsets!r}")
    begin, end = offsets
    if not 0 <= begin <= end <= data_size:
        raise _fail(
            path,
            f"tensor {name!r}: data_offsets [{begin}, {end}] lie outside the "
            f"{data_size} bytes of data",
        )
    dtype = np.dtype(SAFETENSORS_DTYPES[dtype_name])
    needed = math.prod(shape) * dtype.itemsize
    if needed != end - begin:
        raise _fail(
            path,
            f"tensor {name!r}: shape {tuple(shape)} of {dtype_name} needs {needed} bytes, "
            f"data_offsets [{begin}, {end}] give {end - begin}",
        )
    return dtype_name, tuple(shape), begin, end


def _safetensors_loader(mapped, dtype_name, shape, offset):
    def load():
        raw = _view(mapped, np.dtype(SAFETENSORS_DTYPES[dtype_name]), shape, offset)
        return bf16_to_float32(raw) if dtype_name == "BF16" else raw

    return load


def read_safetensors(path) -> ArrayFile:
    """The tensors of a ``.safetensors`` file by name, memory-mapped and read lazily.

    The 8-byte little-endian header length, the JSON header and every entry's dtype, shape
    and ``data_offsets`` are checked against the file first: offsets inside the data, byte
    ranges that match ``shape`` x itemsize, no two tensors overlapping. BF16 comes back as
    float32 (exact); F16, F32 and F64 as themselves.
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(8)
        if len(head) < 8:
            raise _fail(path, f"truncated safetensors file ({size} bytes, no header length)")
        (length,) = struct.unpack("<Q", head)
        if length > size - 8:
            raise _fail(
                path,
                f"safetensors header length {length} points past the end of the file "
                f"({size} bytes)",
            )
        if length > MAX_HEADER:
            raise _fail(path, f"safetensors header of {length} bytes exceeds {MAX_HEADER}")
        try:
            header = json.loads(f.read(length).decode("utf-8"), object_pairs_hook=_no_duplicates)
        except (ValueError, RecursionError) as exc:
            raise _fail(path, f"safetensors header is not valid JSON ({_one_line(exc)})") from None
        if not isinstance(header, dict):
            raise _fail(path, "safetensors header is not a JSON object")
        metadata = header.pop("__metadata__", {})
        if not isinstance(metadata, dict):
            raise _fail(path, "safetensors __metadata__ is not a JSON object")
        start = 8 + length
        checked = {
            name: _tensor_entry(path, name, info, size - start) for name, info in header.items()
        }
        spans = sorted((b, e, n) for n, (_, _, b, e) in checked.items() if e > b)
        for (_, prev_end, prev), (begin, _, name) in itertools.pairwise(spans):
            if begin < prev_end:
                raise _fail(path, f"tensors {prev!r} and {name!r} overlap in the data")
        mapped = _map(f) if size > start else b""
    entries = {
        name: (shape, _safetensors_loader(mapped, dtype_name, shape, start + begin))
        for name, (dtype_name, shape, begin, _) in checked.items()
    }
    return ArrayFile(path, entries)
