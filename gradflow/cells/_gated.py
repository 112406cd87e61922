"""Shared checks of gated cells: weights stacked by gate rows, as PyTorch stores them.

An LSTM stores its four gate blocks (i, f, g, o) as the rows of one ``(4N, N)`` matrix, a GRU
its three (r, z, n) as ``(3N, N)``; input weights ``(G·N, D)`` and biases ``(G·N,)`` follow the
same row order. A leading axis B stacks independent networks. :func:`check_gated` validates
all of them against each other once, with one-line errors that name the argument.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import as_array

__all__ = ["GateLayout", "check_gated", "split_gates"]


@dataclass(frozen=True)
class GateLayout:
    """A gated cell kind and its gate names in row order (e.g. ``("i", "f", "g", "o")``)."""

    kind: str  # for messages: "an LSTM", "a GRU"
    gates: tuple[str, ...]

    @property
    def n_gates(self) -> int:
        return len(self.gates)

    def describe(self) -> str:
        return f"{self.n_gates}N, N) (gate rows {', '.join(self.gates)}"


def split_gates(W: np.ndarray, n_gates: int, *, axis: int = -2) -> list[np.ndarray]:
    """Views of the gate blocks of ``W`` along ``axis``: -2 for weights ``(…, G·N, M)``, -1
    for biases ``(…, G·N)``; in row order."""
    return np.split(W, n_gates, axis=axis)


def check_gated(layout: GateLayout, W_hh, W_xh, biases: dict, dtype):
    """Validate gate-stacked weights; return ``(W_hh, W_xh, biases, hidden, n_networks, D)``.

    ``biases`` maps argument names to arrays or None; every array comes back C-contiguous in
    ``dtype`` and finite (or the call raises naming the argument).
    """
    G, kind = layout.n_gates, layout.kind
    W_hh = as_array(W_hh, "W_hh", ndim=(2, 3), dtype=dtype)
    rows, cols = W_hh.shape[-2:]
    wanted = f"(…, {layout.describe()})"
    if rows % G:
        raise ValueError(
            f"W_hh: expected shape {wanted} for {kind}, got {W_hh.shape}: {rows} rows is not a "
            f"multiple of {G}"
        )
    hidden = rows // G
    if cols != hidden:
        extra = ""
        if kind == "an LSTM":
            extra = (
                f"; a ({G}·{hidden}, {cols}) W_hh comes from an LSTM with proj_size={cols} "
                "(weight_hr_l0), which gradflow does not support"
            )
        raise ValueError(
            f"W_hh: expected shape {wanted} for {kind}, got {W_hh.shape} ({rows} rows need "
            f"{hidden} columns){extra}"
        )
    n_networks = W_hh.shape[0] if W_hh.ndim == 3 else None
    lead = () if n_networks is None else (n_networks,)
    if W_xh is not None:
        W_xh = as_array(W_xh, "W_xh", ndim=W_hh.ndim, dtype=dtype)
        if W_xh.shape[:-1] != (*lead, rows):
            raise ValueError(
                f"W_xh: expected shape {(*lead, rows, 'D')} to match W_hh {W_hh.shape}, "
                f"got {W_xh.shape}"
            )
    checked = {}
    for name, b in biases.items():
        if b is not None:
            b = as_array(b, name, ndim=W_hh.ndim - 1, dtype=dtype)
            if b.shape != (*lead, rows):
                raise ValueError(
                    f"{name}: expected shape {(*lead, rows)} to match W_hh {W_hh.shape}, "
                    f"got {b.shape}"
                )
        checked[name] = b
    input_size = 0 if W_xh is None else W_xh.shape[-1]
    return W_hh, W_xh, checked, hidden, n_networks, input_size
