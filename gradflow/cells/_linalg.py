"""Batched matrix products the cells share: ``W h``, ``Wᵀ u`` and the gradient sums.

Weights are shared ``(R, C)`` or stacked ``(B, R, C)`` (B independent networks); vectors are
one ``(C,)``, a batch ``(B, C)`` or a population ``(B, M, C)`` (network b on its M sequences).
Re-exported by :mod:`gradflow.cells._base`; tested through the Elman cell, which uses all four
(``tests/test_elman.py``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["matvec", "network_sum", "outer_sum", "rmatvec"]


def matvec(W: np.ndarray, h: np.ndarray) -> np.ndarray:
    """W h for W ``(R, C)`` or ``(B, R, C)`` and h ``(C,)``, ``(B, C)`` or ``(B, M, C)``.

    Returns ``(…, R)``. The population layout (3-D ``W`` and ``h``: network b applied to its
    M vectors) is one batched GEMM.
    """
    if W.ndim == 2:
        return h @ W.T
    if h.ndim == 3:
        return np.matmul(h, np.swapaxes(W, -1, -2))
    return np.matmul(W, h[..., None])[..., 0]


def rmatvec(W: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Wᵀ u for W ``(R, C)`` or ``(B, R, C)`` and u ``(R,)``, ``(B, R)`` or ``(B, M, R)``."""
    if W.ndim == 2 or u.ndim == 3:
        return np.matmul(u, W)
    return np.matmul(u[:, None, :], W)[:, 0, :]


def outer_sum(delta: np.ndarray, x: np.ndarray, n_networks: int | None) -> np.ndarray:
    """Σ over steps and sequences of δ xᵀ: the gradient of a weight matrix from its adjoints.

    ``delta`` is ``(T, …, R)`` and ``x`` ``(T, …, C)`` with the same leading axes (``x`` may
    lack the batch axes when the inputs are shared, ``(T, C)``). Shared weights
    (``n_networks`` None) give one ``(R, C)`` sum over everything; stacked weights give
    ``(B, R, C)``, summing over steps (and a population's M sequences) network by network.
    """
    R, C = delta.shape[-1], x.shape[-1]
    if x.ndim < delta.ndim:  # inputs shared by the batch: sum δ over it first
        x = np.broadcast_to(x.reshape(x.shape[0], *[1] * (delta.ndim - 2), C),
                            (*delta.shape[:-1], C))  # fmt: skip
    if n_networks is None:
        return delta.reshape(-1, R).T @ x.reshape(-1, C)
    d = np.moveaxis(delta, 1, 0).reshape(n_networks, -1, R)
    xx = np.moveaxis(x, 1, 0).reshape(n_networks, -1, C)
    return np.matmul(np.swapaxes(d, -1, -2), xx)


def network_sum(delta: np.ndarray, n_networks: int | None) -> np.ndarray:
    """Σ over steps and sequences of δ ``(T, …, R)``: a bias gradient, ``(R,)`` or ``(B, R)``."""
    R = delta.shape[-1]
    if n_networks is None:
        return delta.reshape(-1, R).sum(axis=0)
    return np.moveaxis(delta, 1, 0).reshape(n_networks, -1, R).sum(axis=1)
