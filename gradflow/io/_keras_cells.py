"""From Keras datasets to gradflow cells: layouts, gate orders, and what is refused (layer 4).

:func:`build` checks one recurrent cell's kernel, recurrent kernel and bias (shapes, the
options its config states), converts them to PyTorch's layout with :func:`to_torch` (kernels
transposed; GRU gates z, r, h reordered to r, z, n; cuDNN kernels and bias halves undone) and
builds the cell. The file and config walking is :mod:`gradflow.io._keras`'s; the reasons for
what is refused are in its docstring.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..cells import GATES, GRU, LSTM, Elman, kind_of
from ._layer import RecurrentLayer

__all__ = ["build", "to_torch"]


_KINDS = {"SimpleRNN": "elman", "SimpleRNNCell": "elman", "LSTM": "lstm", "LSTMCell": "lstm",
          "CuDNNLSTM": "lstm", "GRU": "gru", "GRUCell": "gru", "CuDNNGRU": "gru"}  # fmt: skip


class _Problem(Exception):
    """What is wrong with a file, without its name (read_keras adds it)."""


@dataclasses.dataclass
class _Slot:
    """One recurrent cell in a file: where its datasets are and what the config says of it."""

    name: str
    where: str = ""  # the HDF5 group holding its datasets
    keys: tuple = ("0", "1", "2?")  # kernel, recurrent kernel, bias; "?" optional, None absent
    cls: str = ""  # Keras class of the cell ("LSTM", "GRUCell", ...); "" without a config
    cfg: dict = dataclasses.field(default_factory=dict)
    direction: str | None = None
    index: int | None = None
    group: str = ""  # Keras 2: the top-level layer group


def _lookup(node, path: str, kind, *, what: str | None = None, required: bool = True):
    """``node[path]`` through hard links only, checked to be a ``kind``; else raise or None."""
    import h5py

    full = f"{node.name.rstrip('/')}/{path.strip('/')}".lstrip("/")
    for part in [p for p in path.split("/") if p]:
        if not isinstance(node, h5py.Group) or part not in node:
            node = None
            break
        link = node.get(part, getlink=True)
        if not isinstance(link, h5py.HardLink):
            raise _Problem(f"{node.name.rstrip('/')}/{part} is a {type(link).__name__} (refused)")
        node = node[part]
    if isinstance(node, h5py.Dataset) and (node.is_virtual or node.external):
        raise _Problem(f"{node.name} keeps its data outside the file (refused)")
    if isinstance(node, kind):
        return node
    if required:
        raise _Problem(f"{what + ': ' if what else ''}missing weights entry {full}")
    return None


def _text(value) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


def _attr_list(node, name: str) -> list[str]:
    """A list-of-strings attribute, also when Keras split it into ``name0``, ``name1``, ..."""
    chunks = [node.attrs[name]] if name in node.attrs else []
    while name not in node.attrs and f"{name}{len(chunks)}" in node.attrs:
        chunks.append(node.attrs[f"{name}{len(chunks)}"])
    values = [v for chunk in chunks for v in np.atleast_1d(np.asarray(chunk, dtype=object))]
    return [t for t in map(_text, values) if t is not None]


def _values(ds, limit: int, where: str) -> np.ndarray:
    """A dataset as float64, exactly (float16, float32, float64 or Keras' bfloat16)."""
    if ds.nbytes > 64 * limit + 2**20:
        raise _Problem(f"{where}: {ds.name} declares {ds.nbytes} bytes, more than the file holds")
    if ds.dtype.kind == "f" and ds.dtype.itemsize in (2, 4, 8):
        return np.asarray(ds[()], dtype=np.float64)
    if ds.dtype == np.dtype("V2") and _text(ds.attrs.get("dtype")) == "bfloat16":
        bits = np.frombuffer(np.asarray(ds[()]).tobytes(), dtype="<u2").astype(np.uint32) << 16
        return bits.view(np.float32).reshape(ds.shape).astype(np.float64)
    raise _Problem(f"{where}: {ds.name} holds {ds.dtype}, not floating-point numbers")


def _from_cudnn(kernel: np.ndarray, recurrent: np.ndarray, n_gates: int):
    """Kernels of tf.keras' CuDNNLSTM/CuDNNGRU in the plain Keras layout.

    Each gate's ``(D, N)`` input block holds, in row-major memory order, the ``(N, D)`` matrix
    cuDNN multiplies by; each ``(N, N)`` recurrent block holds that matrix untransposed.
    """
    n_in, n = kernel.shape[0], recurrent.shape[0]
    kernel = np.hstack([b.reshape(n, n_in).T for b in np.hsplit(kernel, n_gates)])
    return kernel, np.hstack([b.T for b in np.hsplit(recurrent, n_gates)])


def to_torch(kind: str, kernel, recurrent, bias, *, cudnn: bool = False):
    """``(W_hh, W_xh, bias_rows)`` in PyTorch's layout from Keras' arrays.

    ``bias_rows`` is () without a bias, else one ``(G·N,)`` row per half (input, recurrent).
    """
    n_gates = GATES[kind]
    if cudnn:
        kernel, recurrent = _from_cudnn(kernel, recurrent, n_gates)
    order = (1, 0, 2) if kind == "gru" else range(n_gates)  # Keras z, r, h -> r, z, n

    def reorder(a):
        blocks = np.split(a, n_gates, axis=-1)
        return np.concatenate([blocks[g] for g in order], axis=-1)

    rows = () if bias is None else tuple(reorder(np.reshape(bias, (-1, recurrent.shape[1]))))
    return reorder(recurrent).T.copy(), reorder(kernel).T.copy(), rows


def _activation(value) -> str:
    """The name of a serialised Keras activation (a string, or a dict naming a function)."""
    if isinstance(value, dict):
        value = value["config"] if isinstance(value.get("config"), str) else value.get("class_name")
    return "linear" if value is None else value if isinstance(value, str) else repr(value)


def build(f, slot: _Slot, limit: int) -> RecurrentLayer:
    """Check a slot's shapes and options, convert its arrays and build its cell."""
    import h5py

    where, cfg = f"layer {slot.name!r}", slot.cfg
    group = _lookup(f, slot.where, h5py.Group, what=where)
    kernel, recurrent, bias = (
        key and _lookup(group, key.rstrip("?"), h5py.Dataset, what=where, required=key[-1] != "?")
        for key in slot.keys
    )
    n, width = recurrent.shape if recurrent.ndim == 2 else (0, 0)
    kind = kind_of(width, n) if n else None
    if kind is None or kernel.ndim != 2 or kernel.shape[1] != width:
        raise _Problem(f"{where}: kernel {kernel.shape} and recurrent_kernel {recurrent.shape} "
                       "are not (D, G·N) and (N, G·N) with G = 1, 3 or 4")  # fmt: skip
    if slot.cls and _KINDS.get(slot.cls) != kind:
        if slot.cls not in _KINDS:
            raise _Problem(f"{where}: cell class {slot.cls} is not supported")
        raise _Problem(f"{where}: a {slot.cls} needs recurrent_kernel (N, "
                       f"{GATES[_KINDS[slot.cls]]}N), got {recurrent.shape}")  # fmt: skip
    bshape = None if bias is None else bias.shape
    cudnn = slot.cls.startswith("CuDNN") or (kind != "elman" and bshape == (2 * width,))
    allowed = [(2 * width,)] if cudnn else [(width,), (2, width)][: 1 + (kind == "gru")]
    if bshape is not None and bshape not in allowed:
        expected = " or ".join(map(str, allowed))
        raise _Problem(f"{where}: bias has shape {bshape}, expected {expected}")
    if bias is None and (cudnn or (slot.cls and cfg.get("use_bias", True))):
        raise _Problem(f"{where}: missing weights entry for the bias (use_bias=True)")
    if kind == "gru" and not cudnn:
        said = cfg.get("reset_after") if slot.cls else None
        if bshape is None and said is None:
            raise _Problem(f"{where}: a GRU without bias or config: reset_after cannot be told")
        if said is False or bshape == (width,):
            raise _Problem(f"{where}: GRU(reset_after=False) is not supported: it resets h before "
                           "the recurrent product, a PyTorch GRU after it")  # fmt: skip
    act = _activation(cfg.get("activation", "tanh"))
    gate = _activation(cfg.get("recurrent_activation", "sigmoid"))
    if kind == "elman" and act not in ("tanh", "relu", "sigmoid", "linear"):
        raise _Problem(f"{where}: activation={act!r} is not supported (tanh relu sigmoid linear)")
    if kind != "elman" and (act, gate) != ("tanh", "sigmoid"):
        option = f"activation={act!r}" if act != "tanh" else f"recurrent_activation={gate!r}"
        raise _Problem(f"{where}: {option} is not supported: gradflow's {kind.upper()} follows "
                       "PyTorch (tanh, sigmoid gates)")  # fmt: skip
    arrays = [None if a is None else _values(a, limit, where) for a in (kernel, recurrent, bias)]
    W_hh, W_xh, rows = to_torch(kind, *arrays, cudnn=cudnn)
    try:
        if kind == "elman":
            cell = Elman(W_hh, W_xh, rows[0] if rows else None, activation=act)
        elif kind == "lstm":
            cell = LSTM(W_hh, W_xh, sum(rows) if rows else None)
        else:
            cell = GRU(W_hh, W_xh, *(rows or (None, None)))
    except (ValueError, TypeError) as exc:
        raise _Problem(f"{where}: {exc}") from None
    sources = tuple(a.name.lstrip("/") for a in (kernel, recurrent, bias) if a is not None)
    return RecurrentLayer(slot.name, kind, cell, sources, slot.direction, slot.index)
