"""Layer discovery: which arrays of a mapping ``name -> array`` are recurrent layers.

A checkpoint is first flattened (:func:`flatten`, from :mod:`gradflow.io._flatten`: nested
dicts and lists become dotted keys, non-arrays and optimiser state are dropped); each key is
split at its last ``.`` or ``/`` into a prefix (the module it sits in) and a leaf, and the
leaves of one prefix are matched against these naming conventions, in this order:

- PyTorch ``nn.RNN``/``nn.LSTM``/``nn.GRU``: ``weight_hh_l{k}[_reverse]`` with
  ``weight_ih_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}`` (same suffix); the layer is named
  ``{prefix}l{k}[_reverse]``, has ``index`` k and, when its module has ``_reverse`` keys,
  ``direction`` ``"forward"`` or ``"reverse"`` (None for a one-directional module). A
  ``weight_hr_l{k}`` (``proj_size > 0``) is refused;
- PyTorch cells (``nn.RNNCell``/``LSTMCell``/``GRUCell``): ``weight_hh``, ``weight_ih``,
  ``bias_ih``, ``bias_hh``;
- Keras layouts in a state dict: ``recurrent_kernel`` ``(N, G·N)``, ``kernel`` ``(D, G·N)``,
  ``bias`` (transposed and gate-reordered; ``name:0`` suffixes are dropped);
- hand-written: recurrent ``W_hh``, ``w_hh``, ``Whh``, ``whh``, ``W_rec``, ``w_rec`` or ``U``;
  input ``W_ih``, ``w_ih``, ``Wih``, ``wih``, ``W_xh``, ``w_xh``, ``Wxh``, ``wxh``, ``W_in``,
  ``w_in`` (and ``W`` beside ``U``); biases ``b_ih`` and ``b_hh``, or one of ``b``, ``bias``,
  ``b_h``, ``bh``. All in PyTorch's layout (``h_t = φ(W_hh h_{t-1} + W_ih x_t + b)``).

Outside the stacked convention a layer is named by its prefix (the recurrent key itself
when there is no prefix); ``U``, a common name for other things, counts only when shaped
like recurrent weights. Where no convention names anything, a mapping of one 2-D array is
read as recurrent weights; otherwise ``key=`` must name the matrix (the error lists the
candidates by shape).

The kind follows from the recurrent weights' shape in PyTorch's layout: ``(N, N)`` Elman,
``(4N, N)`` LSTM (gate rows i, f, g, o), ``(3N, N)`` GRU (r, z, n). No shape is ambiguous:
the row count is 1, 3 or 4 times the column count, so a 12×3 matrix can only be an LSTM of
N = 3 (a GRU with 12 rows has N = 4 columns). The arrays of one layer must agree, though: a
square ``weight_hh`` with a ``weight_ih`` of 4N rows is inconsistent and refused, not guessed
at. Keras layouts are transposed and
reordered (LSTM gates i, f, c, o are PyTorch's; GRU z, r, h become r, z, n).

Biases: Elman and LSTM cells take one ``b = bias_ih + bias_hh``; a GRU keeps ``b_ih`` and
``b_hh`` apart (``b_hh`` of the n gate is scaled by the reset gate). A single bias of ``G·N``
entries is the input bias; one of ``2·G·N`` entries (CuDNN) or ``(2, G·N)`` (Keras GRU with
``reset_after=True``) holds the input half then the recurrent half. A Keras GRU with one
``(3N,)`` bias (``reset_after=False``) applies the reset gate before the recurrent product,
which PyTorch's GRU cannot express, and is refused.

Elman layers use ``activation`` (tanh unless the caller says otherwise): nn.RNN's
``nonlinearity="relu"`` is not stored in a state dict. Weights become float64 copies (float16,
bfloat16 and float32 convert exactly); non-finite entries are refused, naming the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..cells import GRU, LSTM, Elman, kind_of
from ..errors import WeightFileError
from ._flatten import as_numpy, flatten
from ._layer import RecurrentLayer

__all__ = ["Owned", "as_numpy", "discover", "flatten", "layer_from_matrix", "under"]

_STACKED = re.compile(r"weight_hh_l(\d+)(_reverse)?")
_RECURRENT = ("W_hh", "w_hh", "Whh", "whh", "W_rec", "w_rec")
_WEAK_RECURRENT = "U"
_INPUT = ("W_ih", "w_ih", "Wih", "wih", "W_xh", "w_xh", "Wxh", "wxh", "W_in", "w_in")
_SINGLE_BIAS = ("b", "bias", "b_h", "bh")
_MAX_LISTED = 8
_ARTICLE = {"elman": "an Elman", "lstm": "an LSTM", "gru": "a GRU"}


def _fail(origin: str, message: str) -> WeightFileError:
    return WeightFileError(f"{origin}: {message}")


# -- candidates ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Candidate:
    name: str
    hh: str  # key of the recurrent weights
    ih: str | None = None
    biases: tuple[str | None, ...] = (None, None)  # (bias_ih, bias_hh) keys, or one combined
    single_bias: bool = False
    keras: bool = False
    direction: str | None = None
    index: int | None = None
    proj: str | None = None  # weight_hr_l{k}: an LSTM with projections


def _split_key(key: str) -> tuple[str, str]:
    """``"enc.rnn.weight_hh_l0"`` -> ``("enc.rnn.", "weight_hh_l0")``; ``":0"`` suffixes drop."""
    cut = max(key.rfind("."), key.rfind("/")) + 1
    return key[:cut], re.sub(r":\d+$", "", key[cut:])


def under(key: str, name: str) -> bool:
    """Whether ``name`` is ``key`` or lies under it at a ``.``/``/`` boundary."""
    if name == key:
        return True
    if not name.startswith(key):
        return False
    return key[-1] in "./" or name[len(key)] in "./"


def _shape(arrays: Mapping, key: str) -> tuple[int, ...]:
    shape_of = getattr(arrays, "shape_of", None)
    return tuple(shape_of(key)) if shape_of is not None else tuple(np.shape(arrays[key]))


def _recurrent_shape(shape) -> bool:
    return len(shape) == 2 and shape[1] > 0 and shape[0] in (shape[1], 3 * shape[1], 4 * shape[1])


def _group_candidates(arrays, prefix: str, leaves: dict[str, str]) -> list[_Candidate]:
    found = []
    bidirectional = any(_STACKED.fullmatch(leaf) and leaf.endswith("_reverse") for leaf in leaves)
    stacked = []
    for leaf, key in leaves.items():
        match = _STACKED.fullmatch(leaf)
        if match:
            stacked.append((int(match[1]), bool(match[2]), key))
    for k, reverse, key in sorted(stacked, key=lambda s: s[:2]):
        suffix = f"_l{k}{'_reverse' if reverse else ''}"
        found.append(
            _Candidate(
                name=f"{prefix}l{suffix[2:]}",
                hh=key,
                ih=leaves.get(f"weight_ih{suffix}"),
                biases=tuple(leaves.get(f"bias_{g}{suffix}") for g in ("ih", "hh")),
                direction=("reverse" if reverse else "forward") if bidirectional else None,
                index=k,
                proj=leaves.get(f"weight_hr{suffix}"),
            )
        )
    base = prefix.rstrip("./")
    if "weight_hh" in leaves:
        biases = tuple(leaves.get(f"bias_{g}") for g in ("ih", "hh"))
        found.append(
            _Candidate(
                base or leaves["weight_hh"], leaves["weight_hh"], leaves.get("weight_ih"), biases
            )
        )
    if "recurrent_kernel" in leaves:
        bias = leaves.get("bias")
        found.append(
            _Candidate(
                base or leaves["recurrent_kernel"],
                leaves["recurrent_kernel"],
                leaves.get("kernel"),
                (bias,),
                single_bias=True,
                keras=True,
            )
        )
    recurrent = [leaf for leaf in _RECURRENT if leaf in leaves]
    if _WEAK_RECURRENT in leaves and _recurrent_shape(_shape(arrays, leaves[_WEAK_RECURRENT])):
        recurrent.append(_WEAK_RECURRENT)
    for leaf in recurrent:
        inputs = (*_INPUT, "W") if leaf == _WEAK_RECURRENT else _INPUT
        ih = next((leaves[n] for n in inputs if n in leaves), None)
        if "b_ih" in leaves or "b_hh" in leaves:
            biases, single = (leaves.get("b_ih"), leaves.get("b_hh")), False
        else:
            biases, single = (next((leaves[n] for n in _SINGLE_BIAS if n in leaves), None),), True
        name = leaves[leaf] if len(recurrent) > 1 or not base else base
        found.append(_Candidate(name, leaves[leaf], ih, biases, single_bias=single))
    return found


def _candidates(arrays: Mapping) -> list[_Candidate]:
    groups: dict[str, dict[str, str]] = {}
    for key in arrays:
        prefix, leaf = _split_key(key)
        groups.setdefault(prefix, {}).setdefault(leaf, key)
    return [
        c for prefix, leaves in groups.items() for c in _group_candidates(arrays, prefix, leaves)
    ]


# -- building cells -----------------------------------------------------------------------------
class Owned(dict):
    """Arrays that belong to the reader alone (fresh copies, as :func:`read_torch` makes):
    discovery uses float64 ones as they are instead of copying them again."""


def _float(arrays: Mapping, key: str, origin: str) -> np.ndarray:
    """``arrays[key]`` in float64 (exact for float16, bfloat16, float32), finite; a copy
    unless ``arrays`` is :class:`Owned`, so no cell shares memory with a caller or a file."""
    value = np.asarray(arrays[key])
    if value.dtype.kind != "f" and value.dtype.name != "bfloat16":
        raise _fail(origin, f"{key}: expected floating-point weights, got dtype {value.dtype}")
    owned = isinstance(arrays, Owned)
    out = np.asarray(value, dtype=np.float64) if owned else np.array(value, dtype=np.float64)
    bad = out.size - np.count_nonzero(np.isfinite(out))
    if bad:
        raise _fail(origin, f"{key}: {bad} NaN or infinite entries; weights must be finite")
    return out


def _kind(shape, key: str, origin: str, shown=None) -> str:
    shown = shape if shown is None else shown
    if len(shape) != 2 or 0 in shape:
        raise _fail(origin, f"{key}: expected 2-D recurrent weights, got shape {shown}")
    rows, cols = shape
    kind = kind_of(rows, cols)
    if kind is None:
        raise _fail(
            origin,
            f"{key}: shape {shown} is neither (N, N) Elman, (4N, N) LSTM nor (3N, N) GRU "
            "recurrent weights",
        )
    return kind


def _split_bias(b: np.ndarray, rows: int, key: str, origin: str):
    """A combined bias as ``(input half, recurrent half or None)``."""
    if b.shape == (rows,):
        return b, None
    if b.shape == (2 * rows,):
        return b[:rows], b[rows:]
    if b.shape == (2, rows):
        return b[0], b[1]
    raise _fail(
        origin,
        f"{key}: bias of shape {b.shape} fits neither ({rows},), ({2 * rows},) nor "
        f"(2, {rows}) for recurrent weights of {rows} rows",
    )


def _input_weights(c: _Candidate, arrays, origin, kind, rows, n, transposed=False):
    if c.ih is None:
        return None
    W_xh = _float(arrays, c.ih, origin)
    if W_xh.ndim != 2 or W_xh.shape[transposed] != rows:
        needs = f"(D, {rows})" if transposed else f"({rows}, D)"
        raise _fail(
            origin,
            f"{c.ih}: shape {W_xh.shape} is inconsistent with {c.hh} ({_ARTICLE[kind]} "
            f"layer of hidden size {n} needs input weights {needs})",
        )
    return W_xh


def _torch_arrays(c: _Candidate, arrays: Mapping, origin: str):
    """``(kind, W_hh, W_xh, b_ih, b_hh)`` of a layer stored in PyTorch's layout."""
    W_hh = _float(arrays, c.hh, origin)
    kind = _kind(W_hh.shape, c.hh, origin)
    rows, n = W_hh.shape
    W_xh = _input_weights(c, arrays, origin, kind, rows, n)
    if c.single_bias:
        if c.biases[0] is None:
            return kind, W_hh, W_xh, None, None
        key = c.biases[0]
        return kind, W_hh, W_xh, *_split_bias(_float(arrays, key, origin), rows, key, origin)
    pair = []
    for key in c.biases:
        b = None if key is None else _float(arrays, key, origin)
        if b is not None and b.shape != (rows,):
            raise _fail(origin, f"{key}: expected shape ({rows},) to match {c.hh}, got {b.shape}")
        pair.append(b)
    return kind, W_hh, W_xh, *pair


def _keras_arrays(c: _Candidate, arrays: Mapping, origin: str):
    """``(kind, W_hh, W_xh, b_ih, b_hh)`` of a layer in Keras' transposed layout, converted by
    the Keras reader's own :func:`gradflow.io._keras_cells.to_torch` (gate reordering included)."""
    from ._keras_cells import to_torch

    rk = _float(arrays, c.hh, origin)
    if rk.ndim != 2 or 0 in rk.shape:
        raise _fail(origin, f"{c.hh}: expected 2-D recurrent weights, got shape {rk.shape}")
    kind = _kind(rk.T.shape, c.hh, origin, shown=rk.shape)
    n, rows = rk.shape
    kernel = _input_weights(c, arrays, origin, kind, rows, n, transposed=True)
    bias = None if c.biases[0] is None else _float(arrays, c.biases[0], origin)
    single = bias is not None and _split_bias(bias, rows, c.biases[0], origin)[1] is None
    if single and kind == "gru":
        raise _fail(
            origin,
            f"{c.biases[0]}: a Keras GRU with one ({rows},) bias (reset_after=False) "
            "resets before the recurrent product, which PyTorch's GRU cannot express",
        )
    inputs = np.zeros((0, rows)) if kernel is None else kernel
    W_hh, W_xh, halves = to_torch(kind, inputs, rk, bias)
    b_ih, b_hh = (*halves, None, None)[:2]
    return kind, W_hh, None if kernel is None else W_xh, b_ih, b_hh


def _build(c: _Candidate, arrays: Mapping, origin: str, activation: str) -> RecurrentLayer:
    if c.proj is not None:
        raise _fail(origin, f"{c.proj}: an LSTM with proj_size > 0 is not supported")
    kind, W_hh, W_xh, b_ih, b_hh = (_keras_arrays if c.keras else _torch_arrays)(c, arrays, origin)
    try:
        if kind == "gru":
            cell = GRU(W_hh, W_xh, b_ih, b_hh)
        else:
            present = [b for b in (b_ih, b_hh) if b is not None]
            b = sum(present[1:], present[0]) if present else None
            cell = LSTM(W_hh, W_xh, b) if kind == "lstm" else Elman(W_hh, W_xh, b, activation)
    except (ValueError, TypeError) as exc:
        raise _fail(origin, f"{c.hh}: {exc}") from None
    source = tuple(k for k in (c.hh, c.ih, *c.biases) if k is not None)
    return RecurrentLayer(c.name, kind, cell, source, c.direction, c.index)


def layer_from_matrix(array, name: str, *, origin: str, activation="tanh") -> RecurrentLayer:
    """A layer from recurrent weights alone: ``(N, N)`` Elman, ``(4N, N)`` LSTM, ``(3N, N)`` GRU."""
    return _build(_Candidate(name, name), {name: array}, origin, activation)


# -- discovery ----------------------------------------------------------------------------------
def _listing(names) -> str:
    names = list(names)
    shown = ", ".join(names[:_MAX_LISTED])
    more = len(names) - _MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def discover(arrays: Mapping, *, origin: str, key=None, activation="tanh") -> list[RecurrentLayer]:
    """The recurrent layers of a flat mapping ``name -> array`` (see the module docstring).

    ``key`` keeps the layers whose recurrent key or name is ``key`` or lies under it (``"enc"``
    selects ``enc.rnn.l0`` and ``enc.rnn.l1``, not ``encoder...``); where no convention names
    it, ``key`` may give the full key of a matrix to read as recurrent weights. A mapping of one
    2-D array needs no key. Errors are one line starting with ``origin``.
    """
    candidates = _candidates(arrays)
    if key is not None:
        chosen = [c for c in candidates if under(key, c.hh) or under(key, c.name)]
        if not chosen:
            matrices = [k for k in arrays if under(key, k) and len(_shape(arrays, k)) == 2]
            if len(matrices) == 1:
                return [
                    layer_from_matrix(
                        arrays[matrices[0]], matrices[0], origin=origin, activation=activation
                    )
                ]
            if matrices:
                raise _fail(origin, f"key {key!r} matches several matrices: {_listing(matrices)}")
            known = [c.name for c in candidates] or [k for k in arrays]
            raise _fail(origin, f"key {key!r} matches no array; found {_listing(known) or 'none'}")
        candidates = chosen
    elif not candidates:
        if len(arrays) == 1:
            [name] = arrays
            return [layer_from_matrix(arrays[name], name, origin=origin, activation=activation)]
        shaped = [f"{k} {_shape(arrays, k)}" for k in arrays if _recurrent_shape(_shape(arrays, k))]
        if shaped:
            raise _fail(
                origin,
                "no recurrent layer named by a known convention; candidates by shape: "
                f"{_listing(shaped)}; pass key= to choose one",
            )
        raise _fail(origin, "no recurrent layer found (no weight_hh*, recurrent_kernel or W_hh...)")
    return [_build(c, arrays, origin, activation) for c in candidates]
