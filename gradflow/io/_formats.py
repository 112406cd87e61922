"""Format detection from a file's content, and dispatch to the reader of each format.

Real checkpoints come without an extension or with the wrong one, so the extension is never
consulted. The first bytes decide:

1. ``\\x93NUMPY``: ``"npy"`` (:func:`~gradflow.io._arrays.read_npy`);
2. a zip archive (``PK\\x03\\x04``): ``"npz"`` when every entry is ``*.npy``, else ``"torch"``
   (``gradflow.io._torch.is_torch_zip``) or ``"keras"`` (``gradflow.io._keras.is_keras_zip``);
3. the HDF5 signature ``\\x89HDF\\r\\n\\x1a\\n`` at byte 0, 512, 1024, 2048, ...: ``"hdf5"``
   (a Keras ``.h5``, read by ``gradflow.io._keras.read_keras`` like a ``.keras`` archive);
4. a little-endian uint64 header length, then ``{`` at byte 8: ``"safetensors"``;
5. a pickle of protocol 2 or later (first byte ``0x80``): ``"torch-legacy"``, PyTorch's
   pre-1.6 format (read by ``gradflow.io._torch.read_torch``, like ``"torch"``).

A safetensors header length whose low byte is ``0x80`` also looks like a pickle; the file is
taken for safetensors when byte 8 is ``{`` and the length fits in the file (or the first byte
is not ``0x80``), else for a pickle.
"""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

from ..errors import WeightFileError
from ._arrays import _PARSE_ERRORS, _one_line, read_npy, read_npz, read_safetensors
from ._discover import Owned, discover, layer_from_matrix, under
from ._flatten import flatten
from ._layer import RecurrentLayer
from ._live import _check_key

__all__ = ["FORMATS", "detect_format", "load"]

FORMATS = ("npy", "npz", "keras", "torch", "hdf5", "safetensors", "torch-legacy")
_HDF5 = b"\x89HDF\r\n\x1a\n"
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")


def _fail(path: str, message: str) -> WeightFileError:
    return WeightFileError(f"{path}: {message}")


def _checked_path(path) -> str:
    try:
        path = os.fspath(path)
    except TypeError:
        raise TypeError(f"path: expected a str or os.PathLike, got {type(path).__name__}") from None
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise _fail(path, "no such file") from None
    except OSError as exc:
        raise _fail(path, f"cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise _fail(path, "is a directory, not a weight file")
    if not stat.S_ISREG(info.st_mode):
        raise _fail(path, "is not a regular file")
    if info.st_size == 0:
        raise _fail(path, "empty file")
    return path


def _is_hdf5(f, size: int) -> bool:
    """HDF5's superblock signature at byte 0, 512, 1024, 2048, ... (after a user block)."""
    offset = 0
    while offset + len(_HDF5) <= size:
        f.seek(offset)
        if f.read(len(_HDF5)) == _HDF5:
            return True
        offset = 512 if offset == 0 else 2 * offset
    return False


def _zip_format(path: str) -> str:
    try:
        with zipfile.ZipFile(path) as zf:
            names = [info.filename for info in zf.infolist() if not info.is_dir()]
            if names and all(name.endswith(".npy") for name in names):
                return "npz"
            from ._torch import is_torch_zip

            if is_torch_zip(zf):
                return "torch"
            from ._keras import is_keras_zip

            if is_keras_zip(zf):
                return "keras"
    except WeightFileError:
        raise
    except _PARSE_ERRORS as exc:
        raise _fail(path, f"corrupt zip archive ({_one_line(exc)})") from None
    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    raise _fail(
        path, f"a zip archive that is neither an .npz, a Keras nor a PyTorch file ({shown})"
    )


def detect_format(path) -> str:
    """The format of a weight file, read from its first bytes (the extension is ignored).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    {"npy", "npz", "keras", "torch", "hdf5", "safetensors", "torch-legacy"}
        ``"torch"`` is PyTorch's zip format (``torch.save`` since 1.6), ``"torch-legacy"`` its
        older pickle stream; ``"hdf5"`` a Keras ``.h5`` file.

    Raises
    ------
    WeightFileError
        A missing file, a directory, an empty file, a corrupt zip or an unknown format: one
        line starting with the path.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from gradflow.io import detect_format
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "checkpoint.pt")  # the extension lies
    >>> with open(path, "wb") as f:  # np.savez would append .npz to a bare path
    ...     np.savez(f, W_hh=np.eye(2))
    >>> detect_format(path)
    'npz'
    >>> tmp.cleanup()
    """
    path = _checked_path(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(16)
        if head.startswith(b"\x93NUMPY"):
            return "npy"
        if head[:4] in _ZIP:
            return _zip_format(path)
        if _is_hdf5(f, size):
            return "hdf5"
    if head[8:9] == b"{":
        length = int.from_bytes(head[:8], "little")
        if length <= size - 8 or head[0] != 0x80:
            return "safetensors"
    if head[0] == 0x80:
        return "torch-legacy"
    raise _fail(
        path, f"unknown weight-file format (starts with {head[:8]!r}); expected .npy, .npz, "
        ".safetensors, a PyTorch or a Keras file"
    )  # fmt: skip


def load(path, *, key=None) -> list[RecurrentLayer]:
    """The recurrent layers stored in a weight file, as gradflow cells.

    Parameters
    ----------
    path : str or os.PathLike
        An ``.npy`` (one ``(N, N)`` Elman, ``(4N, N)`` LSTM or ``(3N, N)`` GRU recurrent
        matrix), an ``.npz`` or ``.safetensors`` file of named arrays, a PyTorch file
        (``torch.save`` of a state dict or a checkpoint holding one; read without torch and
        without running pickled code) or a Keras ``.keras``/``.h5`` file. The format comes from
        the content (:func:`detect_format`), never the extension.
    key : str, optional
        Keep the layers whose recurrent key or name is ``key`` or lies under it
        (``key="encoder"`` keeps ``encoder.rnn.l0``...); where no naming convention applies,
        the full key of the matrix to read as recurrent weights.

    Returns
    -------
    list of RecurrentLayer
        One per layer and direction. The naming conventions recognised, the bias rules and
        the kinds are those of :func:`from_state_dict`; Elman layers are taken to be tanh
        (a state dict does not record ``nonlinearity="relu"``: use :func:`from_state_dict`
        with ``activation=`` or :func:`from_module` for those).

    Raises
    ------
    WeightFileError
        Missing, empty or unknown file, truncated or corrupt data, a refused pickle, no
        recurrent layer, inconsistent shapes, non-finite weights: one line starting with the
        path.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from gradflow.io import load
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "weights.npz")
    >>> np.savez(path, **{"rnn.weight_hh_l0": 0.9 * np.eye(3), "rnn.weight_ih_l0": np.ones((3, 2)),
    ...                   "rnn.bias_ih_l0": np.zeros(3), "rnn.bias_hh_l0": np.zeros(3)})
    >>> [layer] = load(path)
    >>> layer
    RecurrentLayer(name='rnn.l0', kind='elman', hidden_size=3, index=0)
    >>> layer.cell.W_hh[0, 0], layer.source[:2]
    (np.float64(0.9), ('rnn.weight_hh_l0', 'rnn.weight_ih_l0'))
    >>> tmp.cleanup()
    """
    key = _check_key(key)
    fmt = detect_format(path)
    path = os.fspath(path)
    try:
        if fmt == "npy":
            if key is not None:
                raise _fail(path, f"key={key!r}: an .npy file holds one matrix, nothing to choose")
            return [layer_from_matrix(read_npy(path), Path(path).stem, origin=path)]
        if fmt in ("keras", "hdf5"):
            from ._keras import read_keras

            return _keras_layers(path, read_keras(path), key)
        if fmt == "npz":
            arrays = read_npz(path)
        elif fmt == "safetensors":
            arrays = read_safetensors(path)
        else:
            from ._torch import read_torch

            arrays = Owned(flatten(read_torch(path), origin=path))  # fresh copies: no 2nd copy
            if list(arrays) == [""]:  # torch.save of a bare tensor
                arrays = Owned({Path(path).stem: arrays[""]})
        return discover(arrays, origin=path, key=key)
    except OSError as exc:
        raise _fail(path, f"cannot read ({exc.strerror or exc})") from None


def _keras_layers(path: str, layers, key) -> list[RecurrentLayer]:
    if not layers:
        raise _fail(path, "no recurrent layer in this Keras file")
    if key is None:
        return list(layers)
    chosen = [la for la in layers if under(key, la.name) or any(under(key, s) for s in la.source)]
    if not chosen:
        names = ", ".join(la.name for la in layers)
        raise _fail(path, f"key {key!r} matches no recurrent layer; found {names}")
    return chosen
