r"""One LSTM step's products and cache checks, shared by :class:`~gradflow.cells.LSTM` and
its h-only view (:class:`~gradflow.cells.lstm.LSTMHiddenView`).

They read the factors a run caches (``dgates``, the diagonals of :math:`D^i, D^f, D^g, D^o`;
``kappa``, of K; ``gates``): :func:`gate_adjoint` forms the gate adjoint δ of a block of
vectors, :func:`pull` the product :math:`W_{hh}^\top \delta`, :func:`push` :math:`J_t V`
(full state, or h only). Tested through both cells in ``tests/test_lstm.py``.
"""

from __future__ import annotations

import numpy as np

from ._gated import split_gates

__all__ = ["check_cache", "gate_adjoint", "gate_means", "pull", "push"]


def gate_means(cache):
    """``mean_i``, ``mean_f``, ``mean_g``, ``mean_o``: a run's gate means over units."""
    i, f, g, o = split_gates(cache["gates"], 4, axis=-1)
    return {"mean_i": i.mean(-1), "mean_f": f.mean(-1), "mean_g": g.mean(-1), "mean_o": o.mean(-1)}


def check_cache(traj, n):
    """Refuse a trajectory whose cache is not an LSTM's of hidden size ``n``."""
    wanted = (traj.n_steps, *traj.states.shape[1:-1])
    for key, size in (("gates", 4 * n), ("dgates", 4 * n), ("kappa", n)):
        value = traj.cache.get(key)
        if value is None or value.shape != (*wanted, size):
            raise ValueError(
                f"traj: expected a run of an LSTM with hidden size {n} (cache[{key!r}] of shape "
                f"{(*wanted, size)}), got {None if value is None else value.shape}"
            )


def gate_adjoint(dgates, kappa, u_h, u_c=None):
    """δ = [D^i ū, D^f ū, D^g ū, D^o u_h] ``(…, 4N, k)`` and ū = u_c + K u_h for blocks
    ``(…, N, k)`` and the factors of one step or all (``u_c`` None: zero, the h-only view)."""
    n, k = u_h.shape[-2:]
    d4 = dgates.reshape(*dgates.shape[:-1], 4, n, 1)
    u_bar = np.multiply(kappa[..., None], u_h)
    if u_c is not None:
        u_bar += u_c
    delta = np.empty((*u_bar.shape[:-2], 4, n, k), u_bar.dtype)
    np.multiply(d4[..., :3, :, :], u_bar[..., None, :, :], out=delta[..., :3, :, :])
    np.multiply(d4[..., 3, :, :], u_h, out=delta[..., 3, :, :])
    return delta.reshape(*u_bar.shape[:-2], 4 * n, k), u_bar


def pull(W, delta, out):
    """W_hhᵀ δ into ``out`` for vectors δ ``(…, 4N)``: a GEMM (shared W, or a population's
    ``(P, M, 4N) @ (P, 4N, N)``, one per network) or a batched GEMV (one vector per network)."""
    if W.ndim == 2 or delta.ndim == 3:
        return np.matmul(delta, W, out=out)
    np.matmul(delta[..., None, :], W, out=out[..., None, :])
    return out


def push(W, cache, t, V_h, V_c=None):
    """J_t V for blocks ``(…, N, k)``: the full ``(…, 2N, k)`` product, or the h-only one."""
    n, k = V_h.shape[-2:]
    d, kappa = cache["dgates"][t - 1, ..., None], cache["kappa"][t - 1, ..., None]
    shared = W.ndim == 2 and V_h.ndim == 2  # then Fortran order, which LAPACK takes as it is
    Z = (V_h.T @ W.T).T if shared else np.matmul(W, V_h)
    rows = n if V_c is None else 2 * n
    out = np.empty((*Z.shape[:-2], rows, k), Z.dtype, order="F" if shared else "C")
    acc = Z[..., :n, :]  # accumulates C_t V_h = Σ_{i,f,g} D^k W_hk V_h
    acc *= d[..., :n, :]
    for j in (1, 2):
        block = Z[..., j * n : (j + 1) * n, :]
        block *= d[..., j * n : (j + 1) * n, :]
        acc += block
    if V_c is not None:
        dc = out[..., n:, :]
        np.multiply(cache["gates"][t - 1, ..., n : 2 * n, None], V_c, out=dc)
        acc = np.add(dc, acc, out=dc)
    dh = np.multiply(kappa, acc, out=out[..., :n, :])
    Z_o = Z[..., 3 * n :, :]
    Z_o *= d[..., 3 * n :, :]
    dh += Z_o
    return out
