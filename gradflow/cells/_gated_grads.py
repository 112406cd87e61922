"""Parameter gradients of the gated cells: gate adjoints of a block of steps, and population runs.

:func:`lstm_deltas` and :func:`gru_deltas` fill the pre-activation gradients of a block of
steps from the state adjoints, for :meth:`LSTM.param_grads <gradflow.cells.LSTM.param_grads>`
and :meth:`GRU.param_grads <gradflow.cells.GRU.param_grads>` alike.

A population run (states ``(T+1, P, M, S)``: P stacked networks, network p on its own M
sequences) sums each network's gradients over its steps and M sequences.
:func:`lstm_population_G` and :func:`gru_population_grads` do that work in blocks of a few
networks and steps of about ``budget`` entries (the cell module's chunk size, passed at each
call), laid out network-major, ``(networks, steps, M, ·)``: each block's GEMMs run while its
adjoints are still in cache, and each network's GEMM sums over steps·M rows, as in a
one-network batch of M sequences (a block of all P·M sequences would hold only a few steps,
and its GEMMs would be thin).

Tested through the cells in ``tests/test_lstm.py`` and ``tests/test_gru.py`` (population runs
network by network, and blocks of every shape against one block).
"""

from __future__ import annotations

import numpy as np

__all__ = ["gru_deltas", "gru_population_grads", "lstm_deltas", "lstm_population_G"]


def _block(a, steps: slice, nets: slice):
    """The block ``(networks, steps, M, ·)`` of a population array ``(T, P, M, ·)`` (a view)."""
    return np.moveaxis(a[steps, nets], 1, 0)


def _plan(n_networks: int, n_steps: int, per_network: int, budget: int) -> tuple[int, int]:
    """``(group, chunk)``: networks and steps per block, for ``per_network`` entries per network
    and step; every step for a group of networks when one network's steps fit in ``budget``,
    else one network at a time in chunks of steps."""
    if n_steps * per_network <= budget:
        return min(n_networks, max(1, budget // (n_steps * per_network))), n_steps
    return 1, max(1, budget // per_network)


def _blocks(n_networks: int, n_steps: int, group: int, chunk: int):
    """Yield ``(nets, k, steps)`` per block, groups of networks outer, chunks of steps inner:
    ``nets`` a slice of ``k`` networks, ``steps`` a slice of steps."""
    for p in range(0, n_networks, group):
        nets, k = slice(p, min(p + group, n_networks)), min(group, n_networks - p)
        for s in range(0, n_steps, chunk):
            yield nets, k, slice(s, min(s + chunk, n_steps))


# -- the LSTM -----------------------------------------------------------------------------------
def lstm_deltas(lam, kappa, dgates, u_bar, delta) -> None:
    """Fill ū = λ_c + K λ_h into ``u_bar (…, N)`` and δ = [D^i ū, D^f ū, D^g ū, D^o λ_h] into
    ``delta (…, 4, N)`` from full-state adjoints ``lam (…, 2N)`` and the run's factors
    ``kappa (…, N)`` and ``dgates (…, 4N)`` of the same steps."""
    n = kappa.shape[-1]
    np.multiply(kappa, lam[..., :n], out=u_bar)
    u_bar += lam[..., n:]
    d4 = dgates.reshape(*u_bar.shape[:-1], 4, n)
    np.multiply(d4[..., :3, :], u_bar[..., None, :], out=delta[..., :3, :])
    np.multiply(d4[..., 3, :], lam[..., :n], out=delta[..., 3, :])


def lstm_population_G(cell, traj, adjoints, with_x: bool, D: int, budget: int) -> np.ndarray:
    """``G = Σ δ [h, x, 1]ᵀ`` ``(P, 4N, N + D [+ 1])`` of an LSTM's population run, per network
    over its steps and M sequences, in blocks of about ``budget`` entries of δ."""
    n, cache, n_steps = cell.hidden_size, traj.cache, traj.n_steps
    P, M = traj.states.shape[1:3]
    width = n + D + (cell.b is not None)
    group, chunk = _plan(P, n_steps, M * 4 * n, budget)  # M·4N entries of δ per network, step
    X = np.ones((group, chunk, M, width), cell.dtype)
    u_buf = np.empty((group, chunk, M, n), cell.dtype)
    delta_buf = np.empty((group, chunk, M, 4, n), cell.dtype)
    G = np.empty((P, 4 * n, width), cell.dtype)
    for nets, k, steps in _blocks(P, n_steps, group, chunk):
        lam = _block(adjoints[1:], steps, nets)
        size = lam.shape[1]
        delta = delta_buf[:k, :size]
        kappa, dgates = _block(cache["kappa"], steps, nets), _block(cache["dgates"], steps, nets)
        lstm_deltas(lam, kappa, dgates, u_buf[:k, :size], delta)
        x = X[:k, :size]
        x[..., :n] = _block(traj.states, steps, nets)[..., :n]
        if with_x:  # (T, P, M, D), or (T, D) shared by the population
            inputs = traj.inputs
            shared = inputs.ndim == 2
            x[..., n : n + D] = inputs[steps, None] if shared else _block(inputs, steps, nets)
        rows = np.swapaxes(delta.reshape(k, -1, 4 * n), -1, -2)  # (networks, 4N, ·)
        cols = x.reshape(k, -1, width)
        if steps.start == 0:
            np.matmul(rows, cols, out=G[nets])
        else:
            G[nets] += rows @ cols
    return G


# -- the GRU ------------------------------------------------------------------------------------
def gru_deltas(G, lam, h, r, z, n, hn) -> None:
    """Fill ``G (…, 4N)`` with the pre-activation gradients ``[δr, δz, δhn, δn]``."""
    N = z.shape[-1]
    d_r, d_z, d_hn, d_n = (G[..., k * N : (k + 1) * N] for k in range(4))
    np.subtract(1.0, z, out=d_hn)  # 1 - z, kept in δhn's block for now
    np.subtract(h, n, out=d_z)
    d_z *= z
    d_z *= d_hn
    d_z *= lam  # δz = λ (h - n) z (1 - z)
    np.multiply(n, n, out=d_n)
    np.subtract(1.0, d_n, out=d_n)
    d_n *= d_hn
    d_n *= lam  # δn = λ (1 - z)(1 - n²)
    np.subtract(1.0, r, out=d_r)
    d_r *= r
    d_r *= hn
    d_r *= d_n  # δr = δn hn r (1 - r)
    np.multiply(d_n, r, out=d_hn)  # δhn = δn r


def gru_population_grads(cell, traj, adjoints, budget: int) -> dict[str, np.ndarray]:
    """:meth:`GRU.param_grads <gradflow.cells.GRU.param_grads>` of a population run
    ``(T+1, P, M, N)``, per network over its steps and M sequences, in blocks of about
    ``budget`` entries of each gate."""
    cache, N, n_steps = traj.cache, cell.hidden_size, traj.n_steps
    P, M = traj.states.shape[1:3]
    group, chunk = _plan(P, n_steps, M * N, budget)  # M·N entries of a gate per network, step
    buf = np.empty((group, chunk, M, 4 * N), cell.dtype)
    inputs = traj.inputs if cell.W_xh is not None else None
    grads = {name: np.zeros_like(value) for name, value in cell.params.items()}
    biased = cell.b_ih is not None or cell.b_hh is not None
    for nets, k, steps in _blocks(P, n_steps, group, chunk):
        prev = _block(traj.states[:-1], steps, nets)
        G = buf[:k, : prev.shape[1]]
        gru_deltas(
            G, _block(adjoints[1:], steps, nets), prev,
            *(_block(cache[key], steps, nets) for key in ("r", "z", "n", "hn")),
        )  # fmt: skip
        rows = G.reshape(k, -1, 4 * N)  # (networks, steps·M, 4N)
        g_h = np.swapaxes(rows[..., : 3 * N], -1, -2)
        grads["W_hh"][nets] += g_h @ prev.reshape(k, -1, N)
        if inputs is not None:  # the r and z blocks of g_x are g_h's; its n block is δn
            W_xh = grads["W_xh"][nets]
            if inputs.ndim == 2:  # (T, D) shared by the population: Σ over M first
                g = np.swapaxes(G.sum(axis=2), -1, -2)  # (networks, 4N, steps)
                x = inputs[steps]
            else:
                g = np.swapaxes(rows, -1, -2)
                x = _block(inputs, steps, nets).reshape(k, -1, cell.input_size)
            W_xh[..., : 2 * N, :] += g[..., : 2 * N, :] @ x
            W_xh[..., 2 * N :, :] += g[..., 3 * N :, :] @ x
        if biased:
            sums = rows.sum(axis=1)
            if cell.b_ih is not None:
                grads["b_ih"][nets, : 2 * N] += sums[..., : 2 * N]
                grads["b_ih"][nets, 2 * N :] += sums[..., 3 * N :]
            if cell.b_hh is not None:
                grads["b_hh"][nets] += sums[..., : 3 * N]
    return grads
