r"""Top singular values of sliding windows of Jacobian products, by Lanczos in lockstep (private).

For every window :math:`P_w = J_{e_w} J_{e_w-1} \cdots J_{e_w-L_w+1}` (end :math:`e_w`, depth
:math:`L_w`) :func:`window_log_norms` returns :math:`\ln\sigma_{\max}(P_w)`. No product is
formed: each window runs Golub–Kahan–Lanczos on :math:`P_w P_w^\top` through the cell's block
products, and all windows run in lockstep, so one sweep over the steps applies each
:math:`J_s` (or :math:`J_s^\top`) once, to the block of the vectors of every window holding
step s (one GEMM instead of one product per window).
"""

from __future__ import annotations

import numpy as np

from ._adjoints import _safe_log
from ._products import _product_log_sv

__all__: list[str] = []  # private helpers of gradflow.jacobians._steps

_BASIS = 20  # Lanczos vectors kept before a restart from the top Ritz vector
_MAX_ITERATIONS = 60  # sweep pairs before a window falls back to the graded QR of _products


def _pusher(cell, traj):
    """``push(s, X, transpose)``: :math:`J_s X` or :math:`J_s^\top X` for X ``(B, S, n)``."""
    batched = traj.batch_size is not None

    def push(step, block, transpose):
        apply = cell.vjp_block if transpose else cell.jvp_block
        if batched:
            return apply(traj, step, block)
        return apply(traj, step, block[0])[None]

    return push


def _unit(block, axis):
    """``block`` scaled to unit norm along ``axis`` (zero stays zero) and the norms."""
    norms = np.linalg.norm(block, axis=axis, keepdims=True)
    return block / np.where(norms > 0, norms, 1.0), np.squeeze(norms, axis)


def _sweep(push, vectors, start, end, active, *, transpose):
    r"""Push each active window's vector through its own steps, renormalising every step.

    ``vectors`` ``(B, S, W)`` holds one vector per window (column w); forward it becomes
    :math:`P_w v / \lVert P_w v\rVert` (steps ``start..end``), with ``transpose``
    :math:`P_w^\top u` normalised (steps ``end..start``). Returns the unit columns and the log
    norms ``(B, W)`` (``-inf`` for a vector the product annihilates).
    """
    log_norm = np.zeros(vectors.shape[::2])
    first, last = start[active].min(), end[active].max()
    steps = range(last, first - 1, -1) if transpose else range(first, last + 1)
    for step in steps:
        idx = np.flatnonzero(active & (start <= step) & (step <= end))
        if idx.size:
            block, norms = _unit(push(step, vectors[:, :, idx], transpose), axis=1)
            vectors[:, :, idx] = block
            log_norm[:, idx] += _safe_log(norms)
    return vectors, log_norm


def _orthonormal(vectors, basis, count):
    """Unit vectors ``(W, B, S)`` orthogonal to ``basis[:, :, :count]`` (CGS twice)."""
    for _ in range(2):
        coeffs = np.einsum("wbjs,wbs->wbj", basis[:, :, :count], vectors)
        vectors = vectors - np.einsum("wbj,wbjs->wbs", coeffs, basis[:, :, :count])
    return _unit(vectors, axis=-1)[0]


def _finite(x):
    return np.where(np.isfinite(x), x, 0.0)


def window_log_norms(cell, traj, start, end, start_vectors, tol, gen):
    r""":math:`\ln\sigma_{\max}` of the windows ``J_end ... J_start``, each ``(B, W)``.

    Parameters
    ----------
    start, end : ndarray of int, shape (W,)
        First and last step of each window (``1 <= start <= end <= T``).
    start_vectors : ndarray, shape (W, B, S)
        A unit starting vector at each window's end (the forward frame: close to the top left
        singular vector of a deep window).
    tol : float
        Relative residual at which a window's Ritz value is accepted.
    gen : numpy.random.Generator
        Draws a random probe when a window annihilates every vector so far.

    Notes
    -----
    Lanczos on :math:`P P^\top` in the left space: with an orthonormal basis
    :math:`U = [u_0, \ldots, u_{j}]` at the window's end and :math:`Q = P^\top U` (one backward
    sweep per new :math:`u_j`, renormalised per step so the log scale of each column is kept),
    the top singular triple :math:`(\theta, x, z)` of Q gives :math:`P^\top y = \theta x`,
    :math:`y = U z`. One forward sweep gives :math:`p = P x`; the residual :math:`r = p - \theta
    y \perp U` is the next basis vector. :math:`\lVert p\rVert = (\theta^2 +
    \lVert r\rVert^2)^{1/2} \le \sigma_{\max}` increases monotonically and is accepted once
    :math:`\lVert r\rVert \le` ``tol`` :math:`\lVert p\rVert`: a singular value then lies
    within :math:`\lVert r\rVert^2/\mathrm{gap}` of it. Windows that do not converge in
    ``_MAX_ITERATIONS`` sweep pairs get the exact graded-QR value of
    :func:`gradflow.jacobians.product_singular_values`.
    """
    push = _pusher(cell, traj)
    n_windows, batch, size = start_vectors.shape
    result = np.full((n_windows, batch), np.nan)
    alive = np.arange(n_windows)  # windows still iterating (some of their networks unfinished)
    done = np.zeros((n_windows, batch), bool)
    probed = np.zeros((n_windows, batch), bool)
    basis = np.zeros((n_windows, batch, _BASIS, size))
    pulled = np.zeros_like(basis)  # unit columns of P^T u_j ...
    log_pulled = np.full((n_windows, batch, _BASIS), -np.inf)  # ... and their log norms
    new, count = start_vectors.copy(), 0
    y = x = log_theta = None  # the top Ritz triple, set by the first iteration
    for _ in range(_MAX_ITERATIONS):
        keep = ~done.all(axis=1)
        if not keep.any():
            break
        if not keep.all():  # drop finished windows from every array
            alive, start, end, new = alive[keep], start[keep], end[keep], new[keep]
            done, probed, basis = done[keep], probed[keep], basis[keep]
            pulled, log_pulled = pulled[keep], log_pulled[keep]
            if count == _BASIS:
                y, x, log_theta = y[keep], x[keep], log_theta[keep]
        everyone = np.ones(len(alive), bool)
        if count == _BASIS:  # restart from the top Ritz pair: P^T y = theta x
            basis[:, :, 0], pulled[:, :, 0], log_pulled[:, :, 0] = y, x, log_theta
            log_pulled[:, :, 1:] = -np.inf
            count = 1
            new = _orthonormal(new, basis, count)
        q, log_q = _sweep(push, _columns(new), start, end, everyone, transpose=True)
        basis[:, :, count], pulled[:, :, count] = new, np.moveaxis(q, -1, 0)
        log_pulled[:, :, count] = log_q.T
        count += 1
        # top singular triple of Q = P^T U, scaled by exp(-top) so that nothing overflows
        top = _finite(log_pulled[:, :, :count].max(axis=-1))
        with np.errstate(under="ignore"):
            scale = np.exp(log_pulled[:, :, :count] - top[..., None])
        rows = pulled[:, :, :count] * scale[..., None]  # Q^T, one row per basis vector
        # the top eigenpair of Q^T Q gives the top triple to eps * ||Q||^2: enough for sigma_max
        gram_values, gram_vectors = np.linalg.eigh(rows @ np.swapaxes(rows, -1, -2))
        z, theta = gram_vectors[..., -1], np.sqrt(np.maximum(gram_values[..., -1], 0.0))
        x = _unit(np.einsum("wbj,wbjs->wbs", z, rows), axis=-1)[0]
        y = np.einsum("wbj,wbjs->wbs", z, basis[:, :, :count])
        log_theta = top + _safe_log(theta)
        p, log_p = _sweep(push, _columns(x), start, end, everyone, transpose=False)
        p, log_p = np.moveaxis(p, -1, 0), log_p.T
        # residual r = p - theta y (orthogonal to U), in the scale of the larger of the two
        ref = _finite(np.maximum(log_p, log_theta))
        with np.errstate(under="ignore"):
            p_size = np.exp(log_p - ref)
            residual = p_size[..., None] * p - np.exp(log_theta - ref)[..., None] * y
        r_norm = np.linalg.norm(residual, axis=-1)
        converged = ~done & (p_size > 0) & (r_norm <= tol * p_size)
        # a window that annihilates its vectors gets one random probe; then sigma_max = 0
        dead = ~done & (p_size == 0)
        rows = alive[:, None].repeat(batch, 1)
        result[rows[converged], np.nonzero(converged)[1]] = log_p[converged]
        result[rows[dead & probed], np.nonzero(dead & probed)[1]] = -np.inf
        done |= converged | (dead & probed)
        new = _unit(residual, axis=-1)[0]
        retry = dead & ~probed
        if retry.any():
            new[retry] = gen.standard_normal((int(retry.sum()), size))
            probed |= retry
        if count < _BASIS:
            new = _orthonormal(new, basis, count)
    lead = () if traj.batch_size is None else (batch,)
    for i in np.flatnonzero(~done.all(axis=1)):  # not converged: exact graded QR
        w, depth = alive[i], int(end[i] - start[i] + 1)
        values = _product_log_sv(cell, traj, int(end[i]), depth, lead, tol, 100)
        result[w] = np.where(done[i], result[w], np.reshape(values[..., 0], batch))
    return result


def _columns(vectors):
    """``(W, B, S)`` -> a new C-contiguous ``(B, S, W)`` block of columns (never a view)."""
    return np.moveaxis(vectors, 0, -1).copy()
