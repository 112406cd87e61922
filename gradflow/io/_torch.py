"""Read PyTorch weight files (``torch.save``) without torch and without running pickled code.

A ``torch.save`` file is a pickle, and a pickle can run code. :func:`read_torch` never hands one
to :mod:`pickle`: its own interpreter (:mod:`._unpickle`) builds only plain containers, resolves
only the globals of an explicit allow-list (:data:`._torch_tensors.ALLOWED`: ``OrderedDict``,
PyTorch's tensor and Parameter rebuild functions, ``torch.Size``, dtype and storage class names,
bytes, sets, and the small values of :mod:`._torch_values`: NumPy scalars and arrays of plain
numeric dtypes, ``torch.device``, layouts, ``complex``, ``bytearray``, ``Counter``) with
functions of its own, and refuses everything else with
:class:`~gradflow.errors.WeightFileError`. It never imports torch and never falls back to an
unrestricted load.

Two formats are read, told apart by their first bytes (never by the file's extension):

* the zip archive of ``torch.save`` (PyTorch >= 1.6, the default). Every entry sits under one
  top directory ``<archive>/`` (the file's stem when saved). Entries read: ``<archive>/data.pkl``
  (the pickle; its persistent ids ``("storage", storage_type, key, location, numel)`` name the
  storages), ``<archive>/data/<key>`` (each storage's raw bytes, stored uncompressed, mapped from
  the file and checked against the entry's CRC-32 unless that is 0, which means torch.save was
  told not to compute it), ``<archive>/byteorder`` (``little`` or ``big``; little where absent)
  and ``<archive>/version`` (an integer; checked, not used). A TorchScript archive
  (``torch.jit.save``) also has ``<archive>/constants.pkl`` or ``<archive>/code/...`` entries: it
  carries code and is refused. :func:`is_torch_zip` and :func:`is_torchscript` rely on exactly
  these names (one top directory holding ``data.pkl``; ``constants.pkl`` or ``code/``).
* the legacy stream (``_use_new_zipfile_serialization=False``): five pickles in a row (the magic
  number ``0x1950A86A20F9469CFC6C``, the protocol version 1001, a system-info dict, the object
  itself, the list of storage keys), then for each key in that list an 8-byte little-endian
  element count and the storage's little-endian bytes.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import stat
import struct
import zipfile
import zlib

from ..errors import WeightFileError
from ._torch_tensors import Rebuilder, itemsize
from ._torch_values import check_structure
from ._unpickle import unpickle
from ._unpickle_types import UnpickleError, refusal

__all__ = ["is_torch_legacy", "is_torch_zip", "is_torchscript", "read_torch"]

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C  # the legacy format's first pickle
PROTOCOL_VERSION = 1001  # its second
_MAX_PICKLE = 1 << 28  # a compressed data.pkl may not claim more than this
_Problem = UnpickleError  # what the format code raises; read_torch adds the file name
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError)
_CORRUPT = (
    *_ZIP_ERRORS,
    ArithmeticError,
    BufferError,
    EOFError,
    IndexError,
    KeyError,
    MemoryError,
    OSError,
    TypeError,
    ValueError,
    struct.error,
    zlib.error,
)


def read_torch(path):
    """Read a ``torch.save`` file into plain containers and NumPy arrays.

    Parameters
    ----------
    path : str or os.PathLike
        A zip-format or legacy-format ``torch.save`` file, whatever its extension.

    Returns
    -------
    object
        The saved object rebuilt faithfully, not flattened or filtered: usually a dict (a state
        dict is an ``OrderedDict``; a checkpoint such as ``{"model": state_dict, "optimizer":
        {...}, "epoch": 3}`` keeps its nesting). Containers are dict, OrderedDict, list, tuple,
        set, frozenset and Counter (``torch.Size`` becomes a tuple); leaves are str, bytes,
        bytearray, int, float, complex, bool, None, arrays, and NumPy scalars and dtypes. Every
        tensor and ``nn.Parameter`` becomes a new
        C-ordered, native-byte-order ``numpy.ndarray`` of the tensor's shape and dtype (float64,
        float32, float16, the int and uint types, bool, complex64/128), except bfloat16, which
        NumPy lacks and which becomes float32 (exactly: bfloat16 is float32's top 16 bits). The
        values are copied out of the file, so tensors that shared a storage no longer share
        memory. A NumPy array saved as a value (bool, integer, float or complex) becomes a new
        C-ordered, native-byte-order array of its shape and dtype; a NumPy scalar becomes the
        NumPy scalar it was (``np.float64(0.12)``). A torch dtype, layout or memory format saved
        as data (``torch.float32``) reads as the string ``"torch.float32"``, a ``torch.device``
        as ``"cuda:0"``; a state dict's ``_metadata`` attribute is kept.

    Raises
    ------
    WeightFileError
        One line naming the file and the problem: not a ``torch.save`` file, truncated or
        corrupt, a pickle global outside the allow-list (which would run code), a TorchScript
        archive, a dtype NumPy lacks, a NumPy dtype other than bool, integer, float or complex
        (object, string, datetime), or a tensor or array whose bytes do not match its shape.
    TypeError
        If ``path`` is not a path.

    Examples
    --------
    >>> import os, pickle, shutil, tempfile, zipfile
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "ckpt.pt")
    >>> with zipfile.ZipFile(path, "w") as zf:
    ...     zf.writestr("ckpt/data.pkl", pickle.dumps({"epoch": 3}, protocol=2))
    >>> read_torch(path)
    {'epoch': 3}
    >>> with zipfile.ZipFile(path) as zf:
    ...     is_torch_zip(zf), is_torchscript(zf)
    (True, False)
    >>> with zipfile.ZipFile(path, "w") as zf:
    ...     zf.writestr("ckpt/data.pkl", pickle.dumps(eval, protocol=2))
    >>> read_torch(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gradflow.errors.WeightFileError: ...: refused to load the pickle global 'builtins.eval' ...
    >>> shutil.rmtree(folder)
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path: expected a str or os.PathLike, got {type(path).__name__}")
    name = os.fsdecode(path)
    try:
        file = open(path, "rb")  # noqa: SIM115 - closed below, after the map
    except OSError as exc:
        raise WeightFileError(f"{name}: cannot be opened ({exc.strerror or exc})") from None
    with file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise WeightFileError(f"{name}: not a regular file")
        if info.st_size == 0:
            raise WeightFileError(f"{name}: the file is empty")
        try:
            buffer = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            raise WeightFileError(f"{name}: cannot be mapped ({exc})") from None
        try:
            return _read(file, buffer, info.st_size)
        except WeightFileError:
            raise
        except UnpickleError as exc:
            raise WeightFileError(f"{name}: {_line(exc)}") from None
        except _CORRUPT as exc:
            raise WeightFileError(
                f"{name}: corrupt file ({type(exc).__name__}: {_line(exc)})"
            ) from None
        finally:
            with contextlib.suppress(BufferError):  # a traceback holds a view: GC closes it
                buffer.close()


def is_torch_zip(archive: zipfile.ZipFile) -> bool:
    """Whether an open zip archive is a PyTorch archive (``torch.save`` or TorchScript).

    True when every entry sits under one top directory ``<archive>/`` and
    ``<archive>/data.pkl`` is among them, as PyTorch's archive writer lays them out.

    Examples
    --------
    >>> import io, zipfile
    >>> buffer = io.BytesIO()
    >>> with zipfile.ZipFile(buffer, "w") as zf:
    ...     zf.writestr("model/data.pkl", b"\\x80\\x02}.")
    ...     zf.writestr("model/version", "3\\n")
    >>> is_torch_zip(zipfile.ZipFile(buffer)), is_torchscript(zipfile.ZipFile(buffer))
    (True, False)
    """
    return _archive_root(archive.namelist()) is not None


def is_torchscript(archive: zipfile.ZipFile) -> bool:
    """Whether an open zip archive is a TorchScript archive (``torch.jit.save``), which holds code.

    True for a PyTorch archive (:func:`is_torch_zip`) with a ``<archive>/constants.pkl`` entry or
    entries under ``<archive>/code/``.
    """
    names = archive.namelist()
    root = _archive_root(names)
    return root is not None and _has_code(names, root)


def is_torch_legacy(head: bytes) -> bool:
    """Whether a file's first bytes (64 are plenty) start a legacy-format ``torch.save`` stream.

    True when they begin with a pickle of PyTorch's magic number.

    Examples
    --------
    >>> import pickle
    >>> is_torch_legacy(pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)), is_torch_legacy(b"PK")
    (True, False)
    """
    try:
        value, _ = unpickle(bytes(head), 0, len(head), lookup=_no_global, persistent_load=_no_pid)
    except UnpickleError:
        return False
    return type(value) is int and value == MAGIC_NUMBER


def _read(file, buffer, size: int):
    head = buffer[:4]
    if head[:2] == b"PK":
        result = _read_zip(file, buffer, size)
    elif head[:1] == b"\x80":
        result = _read_legacy(buffer, size)
    elif buffer[257:262] == b"ustar":
        raise _Problem("a tar archive: PyTorch's pre-1.0 tar format is not read")
    else:
        raise _Problem("not a PyTorch file (neither a torch.save zip archive nor a legacy pickle)")
    check_structure(result)
    return result


def _read_zip(file, buffer, size: int):
    try:
        archive = zipfile.ZipFile(file)
        infos = {info.filename: info for info in archive.infolist()}
    except _CORRUPT as exc:
        raise _Problem(f"not a readable zip archive ({_line(exc)})") from None
    root = _archive_root(list(infos))
    if root is None:
        raise _Problem("a zip archive without the one <archive>/data.pkl of torch.save")
    if _has_code(infos, root):
        raise _Problem(
            "a TorchScript archive (torch.jit.save): it carries code and is not read; "
            "save model.state_dict() with torch.save instead"
        )
    byteorder = "little"
    if f"{root}/byteorder" in infos:
        byteorder = _entry(buffer, infos[f"{root}/byteorder"], size).decode("ascii", "replace")
        if byteorder not in ("little", "big"):
            raise _Problem(f"unknown byte order {byteorder[:20]!r} in {root}/byteorder")
    if f"{root}/version" in infos:
        version = _entry(buffer, infos[f"{root}/version"], size).strip()
        if not version.isdigit():
            raise _Problem(f"corrupt {root}/version entry")

    def attach(storage):
        entry = f"{root}/data/{storage.key}"
        if entry not in infos:
            raise _Problem(f"the storage entry '{entry}' is missing")
        info = infos[entry]
        if info.compress_type != zipfile.ZIP_STORED:
            raise _Problem(f"the storage entry '{entry}' is compressed (torch.save stores them)")
        if info.file_size != storage.nbytes:
            raise _Problem(
                f"the storage entry '{entry}' holds {info.file_size} bytes, but its tensors' "
                f"record says {storage.nbytes}"
            )
        storage.buf, storage.start = buffer, _data_start(buffer, info, size)

    rebuilder = Rebuilder(attach, byteorder, budget=_budget(size))
    pickle = _entry(buffer, infos[f"{root}/data.pkl"], size)
    result, _ = unpickle(
        pickle, 0, len(pickle), lookup=rebuilder.lookup, persistent_load=rebuilder.persistent_load
    )
    return result


def _read_legacy(buffer, size: int):
    plain = {"lookup": _no_global, "persistent_load": _no_pid}
    magic, pos = unpickle(buffer, 0, size, **plain)
    if type(magic) is not int or magic != MAGIC_NUMBER:
        raise _Problem("not a PyTorch file (a pickle, but not torch.save's legacy stream)")
    version, pos = unpickle(buffer, pos, size, **plain)
    if type(version) is not int or version != PROTOCOL_VERSION:
        raise _Problem(f"legacy stream of protocol {version!r}, not {PROTOCOL_VERSION}")
    sys_info, start = unpickle(buffer, pos, size, **plain)
    if not isinstance(sys_info, dict):
        raise _Problem("corrupt legacy stream (its system-info record is not a dict)")
    # Pass 1 checks the pickle (and refuses what is not allowed) before any data is touched and
    # learns each storage's dtype and size; only the key list after it says where data sit.
    rebuilder = Rebuilder(lambda storage: None, "little", budget=_budget(size))
    rebuilder.dry = True
    run = {"lookup": rebuilder.lookup, "persistent_load": rebuilder.persistent_load}
    _, pos = unpickle(buffer, start, size, **run)
    keys, pos = unpickle(buffer, pos, size, **plain)
    storages = rebuilder.storages
    if not isinstance(keys, list) or len(set(keys)) != len(keys) or set(keys) != set(storages):
        raise _Problem("corrupt legacy stream (its storage keys disagree with its tensors)")
    for key in keys:  # torch writes storages little-endian whatever the machine
        storage = storages[key]
        if pos + 8 > size:
            raise _Problem(f"truncated legacy stream (storage {key!r} is missing)")
        count = int.from_bytes(buffer[pos : pos + 8], "little", signed=True)
        width = itemsize(storage.dtype)
        if count * width != storage.nbytes:
            raise _Problem(
                f"storage {key!r} holds {count} elements, but its tensors' record says "
                f"{storage.nbytes // width}"
            )
        pos += 8
        if pos + storage.nbytes > size:
            raise _Problem(f"truncated legacy stream (storage {key!r} is cut short)")
        storage.buf, storage.start = buffer, pos
        pos += storage.nbytes
    rebuilder.dry = False
    result, _ = unpickle(buffer, start, size, **run)
    return result


def _archive_root(names) -> str | None:
    roots = {name.split("/", 1)[0] for name in names}
    if len(roots) != 1:
        return None
    root = roots.pop()
    return root if f"{root}/data.pkl" in names else None


def _has_code(names, root: str) -> bool:
    return f"{root}/constants.pkl" in names or any(n.startswith(f"{root}/code/") for n in names)


def _entry(buffer, info: zipfile.ZipInfo, size: int) -> bytes:
    """A small entry's bytes (stored or deflated), CRC-checked."""
    if info.compress_type == zipfile.ZIP_STORED:
        start = _data_start(buffer, info, size)
        return buffer[start : start + info.file_size]
    if info.compress_type != zipfile.ZIP_DEFLATED or info.file_size > _MAX_PICKLE:
        raise _Problem(f"the entry '{info.filename}' is compressed beyond what is read")
    data = zlib.decompressobj(-15).decompress(_raw(buffer, info, size), info.file_size)
    if len(data) != info.file_size or info.CRC not in (0, zlib.crc32(data)):
        raise _Problem(f"the entry '{info.filename}' is corrupt (size or CRC-32)")
    return data


def _raw(buffer, info, size):
    start = _local_start(buffer, info, size)
    if start + info.compress_size > size:
        raise _Problem(f"the entry '{info.filename}' runs past the end of the file (truncated)")
    return buffer[start : start + info.compress_size]


def _local_start(buffer, info: zipfile.ZipInfo, size: int) -> int:
    """Where an entry's data start, from its local header (which may pad the data to align it)."""
    at = info.header_offset
    if at < 0 or at + 30 > size or buffer[at : at + 4] != b"PK\x03\x04":
        raise _Problem(f"the entry '{info.filename}' has no local header (corrupt or truncated)")
    name_length, extra_length = struct.unpack("<HH", buffer[at + 26 : at + 30])
    encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
    if buffer[at + 30 : at + 30 + name_length] != info.orig_filename.encode(encoding):
        raise _Problem(f"the entry '{info.filename}' has a damaged local header")
    return at + 30 + name_length + extra_length


def _data_start(buffer, info, size: int) -> int:
    start = _local_start(buffer, info, size)
    if start + info.file_size > size:
        raise _Problem(f"the entry '{info.filename}' runs past the end of the file (truncated)")
    if info.CRC != 0:  # 0: not recorded (torch.serialization.set_crc32_options)
        with memoryview(buffer) as whole, whole[start : start + info.file_size] as data:
            crc = zlib.crc32(data)
        if crc != info.CRC:
            raise _Problem(f"the entry '{info.filename}' fails its CRC-32 check (corrupt)")
    return start


def _budget(size: int) -> int:
    """Most bytes the rebuilt arrays may take: a file's tensors copy each storage about once."""
    return 4 * size + (1 << 28)


def _no_global(module, name):
    raise refusal(module, name)


def _no_pid(pid):
    raise _Problem("corrupt legacy stream (a persistent id in a header record)")


def _line(exc) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:197] + "..."
