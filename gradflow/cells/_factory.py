"""Cells by name: the one place that knows which kinds exist and how each is initialised.

:func:`initial_params` draws a cell's recurrent weights and biases (the input weights are
left to the caller, whose input scale differs: a sweep's drive, a model's task);
:func:`build` makes the cell from a parameter dict. Everything that offers a ``cell=`` choice
(:func:`gradflow.simulate.gradient_growth`, :func:`gradflow.train.init_model`, the command
line) goes through these two.
"""

from __future__ import annotations

import numpy as np

from .. import init as _init
from .._validation import as_choice, as_float
from ._base import Cell
from .elman import Elman
from .gru import GRU
from .lstm import LSTM

__all__ = ["GATES", "KINDS", "STATE_BLOCKS", "build", "check_kind", "initial_params", "kind_of"]

#: Cell kinds by name; gated cells have fixed nonlinearities (sigmoid gates, tanh).
KINDS = {"elman": Elman, "lstm": LSTM, "gru": GRU}
#: Gate blocks stacked in the rows of W_hh ((G·N, N)) and blocks of N in the state.
GATES = {"elman": 1, "lstm": 4, "gru": 3}
STATE_BLOCKS = {"elman": 1, "lstm": 2, "gru": 1}


def kind_of(rows: int, cols: int) -> str | None:
    """The cell kind whose recurrent weights are ``(rows, cols)``: N×N Elman, 4N×N LSTM,
    3N×N GRU (the three never coincide for N >= 1); None for any other shape."""
    if cols < 1 or rows % cols:
        return None
    return {g: kind for kind, g in GATES.items()}.get(rows // cols)


def check_kind(kind, activation="tanh", forget_bias=0.0) -> str:
    """Validate a cell name with the options that depend on it; return the name.

    An Elman cell takes any activation and no forget bias; gated cells take ``"tanh"`` only
    (their nonlinearities are fixed) and a forget-gate bias.
    """
    kind = as_choice(kind, "cell", KINDS)
    forget_bias = as_float(forget_bias, "forget_bias")
    if kind == "elman" and forget_bias != 0.0:
        raise ValueError(f"forget_bias: an Elman cell has no forget gate, got {forget_bias:g}")
    if kind != "elman" and activation != "tanh":
        raise ValueError(
            f"activation: the {kind} cell has fixed nonlinearities (sigmoid gates and tanh), "
            f"got {activation!r}"
        )
    return kind


def initial_params(
    kind, hidden_size, *, init="orthogonal", gain=1.0, forget_bias=0.0, rng=None, batch=None
) -> dict[str, np.ndarray]:
    """Recurrent weights (and a gated cell's biases) of a fresh cell, without input weights.

    Parameters
    ----------
    kind : {"elman", "lstm", "gru"}
    hidden_size : int
    init : str, default "orthogonal"
        A square initialiser of :func:`gradflow.init.get`, applied to each gate block on its
        own (for ``"uniform"``, PyTorch's default for the whole layer, biases included).
    gain : float, default 1.0
    forget_bias : float, default 0.0
        Added to the LSTM's forget-gate bias (Jozefowicz et al. 2015 recommend 1) or the GRU's
        update-gate bias (z keeps the old state in PyTorch's GRU). Not for Elman.
    rng : int, Generator or None
    batch : int, optional
        Stack this many independent draws.

    Returns
    -------
    dict
        Elman: ``W_hh``. LSTM: ``W_hh``, ``b``. GRU: ``W_hh``, ``b_ih``, ``b_hh``.

    Examples
    --------
    >>> params = initial_params("lstm", 3, forget_bias=1.0, rng=0)
    >>> params["W_hh"].shape, params["b"][3:6].tolist()
    ((12, 3), [1.0, 1.0, 1.0])
    """
    kind = check_kind(kind, forget_bias=forget_bias)
    if kind == "elman":
        return {"W_hh": _init.get(init)(hidden_size, gain=gain, rng=rng, batch=batch)}
    if kind == "lstm":
        params = _init.lstm(
            hidden_size, recurrent=init, gain=gain, forget_bias=forget_bias, rng=rng, batch=batch
        )
    else:
        params = _init.gru(hidden_size, recurrent=init, gain=gain, rng=rng, batch=batch)
        if forget_bias:
            z = slice(hidden_size, 2 * hidden_size)  # rows r, z, n
            params["b_hh"] = params["b_hh"].copy()
            params["b_hh"][..., z] += forget_bias
    return {name: value for name, value in params.items() if name != "W_xh"}


def build(kind, params, *, activation="tanh", dtype=np.float64) -> Cell:
    """The cell of ``kind`` from a parameter dict (the names of its constructor).

    Examples
    --------
    >>> cell = build("gru", initial_params("gru", 4, rng=0))
    >>> cell.hidden_size, cell.state_size, sorted(cell.params)
    (4, 4, ['W_hh', 'b_hh', 'b_ih'])
    """
    kind = check_kind(kind, activation)
    get = params.get
    if kind == "elman":
        return Elman(params["W_hh"], get("W_xh"), get("b"), activation=activation, dtype=dtype)
    if kind == "lstm":
        return LSTM(params["W_hh"], get("W_xh"), get("b"), dtype=dtype)
    return GRU(params["W_hh"], get("W_xh"), get("b_ih"), get("b_hh"), dtype=dtype)
