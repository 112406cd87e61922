r"""Products of recurrent Jacobians along a trajectory (layer 3).

Backpropagation through time multiplies a cotangent by :math:`J_t^\top` once per step, with
:math:`J_t = \partial s_t/\partial s_{t-1}`. This module carries those products:

- :func:`backprop`: the adjoints :math:`\partial\langle v, s_T\rangle/\partial s_t`, exact;
- :func:`log_gradient_norms`: their log norms, renormalised every step so they never overflow;
- :func:`product_singular_values`: the singular values of :math:`J_t \cdots J_{t-L+1}` for
  several depths L, in the log domain;
- :func:`log_product_norms`: the spectral norm of the product as a function of depth.

Memory stays :math:`O(B N^2 + T B N)`: Jacobians are applied through the cell's products
(``vjp``/``jvp``), never stacked into a ``(T, B, N, N)`` array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._validation import as_array, as_float, as_int
from .cells import Cell, Trajectory

__all__ = [
    "ProductSpectrum",
    "backprop",
    "log_gradient_norms",
    "log_product_norms",
    "product_singular_values",
]


def _check_cell(cell) -> Cell:
    if not isinstance(cell, Cell):
        raise TypeError(f"cell: expected a gradflow cell, got {type(cell).__name__}")
    return cell


def _cotangent(cell: Cell, traj: Trajectory, v, *, per_step: bool):
    """Validate v: one state ``(S,)``/``(B, S)``, or with ``per_step`` also ``(T+1, [B,] S)``."""
    v = as_array(v, "v", ndim=(1, 2, 3), dtype=traj.states.dtype)
    if per_step and v.shape == traj.states.shape:
        return v, True
    one_state = traj.states.shape[1:]
    if v.shape == one_state:
        return v, False
    if v.shape == (cell.state_size,) and traj.batch_size is not None:
        return np.broadcast_to(v, one_state), False
    wanted = f"{one_state} or ({cell.state_size},)" if traj.batch_size else f"{one_state}"
    if per_step:
        wanted += f" or {traj.states.shape}"
    raise ValueError(f"v: expected shape {wanted}, got {v.shape}")


def backprop(cell, traj, v) -> np.ndarray:
    r"""Adjoints of :math:`\langle v, s_T\rangle` with respect to every state, exactly.

    Parameters
    ----------
    cell : Cell
        The cell that produced ``traj``.
    traj : Trajectory
        A forward run with states ``(T+1, [B,] S)``.
    v : array_like, shape (S,), (B, S) or (T+1, [B,] S)
        The cotangent of the last state; a ``(S,)`` vector is shared by a batch. A full
        ``(T+1, [B,] S)`` array is a cotangent for every state: the adjoints then belong to
        :math:`\sum_t \langle v_t, s_t\rangle` (what training with a loss at every step needs).

    Returns
    -------
    ndarray, shape (T+1, [B,] S)
        :math:`\lambda_t = \partial\langle v, s_T\rangle/\partial s_t`, with :math:`\lambda_T = v`
        and :math:`\lambda_{t-1} = J_t^\top \lambda_t` (plus :math:`v_{t-1}` per step).

    Notes
    -----
    Exact in float64: for an exploding run the adjoints may overflow to inf, by design. Use
    :func:`log_gradient_norms` for growth curves.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow.cells import Elman
    >>> cell = Elman(2.0 * np.eye(2), activation="linear")
    >>> traj = cell.run(3, h0=np.ones(2))
    >>> backprop(cell, traj, np.array([1.0, 0.0]))[:, 0]
    array([8., 4., 2., 1.])
    """
    cell = _check_cell(cell)
    traj = cell.check_trajectory(traj)
    v, per_step = _cotangent(cell, traj, v, per_step=True)
    adjoints = np.empty_like(traj.states)
    adjoints[-1] = v[-1] if per_step else v
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(traj.n_steps, 0, -1):
            adjoints[t - 1] = cell._vjp(traj, t, adjoints[t])
            if per_step:
                adjoints[t - 1] += v[t - 1]
    return adjoints


def log_gradient_norms(cell, traj, v) -> np.ndarray:
    r"""Natural log of :math:`\lVert\partial\langle v, s_T\rangle/\partial s_t\rVert_2`, t = 0..T.

    Parameters
    ----------
    cell : Cell
        The cell that produced ``traj``.
    traj : Trajectory
        A forward run with states ``(T+1, [B,] S)``.
    v : array_like, shape (S,) or (B, S)
        The cotangent of the last state (shared by a batch when 1-D).

    Returns
    -------
    ndarray, shape (T+1,) or (T+1, B)
        Finite for any finite input, except ``-inf`` from the step at which a product becomes
        exactly zero (a ReLU network whose units all switched off, say).

    Notes
    -----
    The adjoint is renormalised at every step and the log scales accumulate:
    :math:`u_T = v/\lVert v\rVert`, :math:`w = J_t^\top u_t`,
    :math:`\ell_{t-1} = \ell_t + \ln\lVert w\rVert`, :math:`u_{t-1} = w/\lVert w\rVert`. A
    linear cell with :math:`W = gQ` (Q orthogonal) gives :math:`\ell_t = \ln\lVert v\rVert +
    (T - t)\ln g` over any horizon.

    References
    ----------
    Pascanu, R., Mikolov, T. & Bengio, Y. (2013). On the difficulty of training recurrent
    neural networks. ICML.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow.cells import Elman
    >>> cell = Elman(3.0 * np.eye(2), activation="linear")
    >>> traj = cell.run(1000)
    >>> log_norms = log_gradient_norms(cell, traj, np.array([1.0, 0.0]))
    >>> bool(np.isclose(log_norms[0], 1000 * np.log(3.0)))
    True
    """
    cell = _check_cell(cell)
    traj = cell.check_trajectory(traj)
    v, _ = _cotangent(cell, traj, v, per_step=False)
    log_norms = np.empty(traj.states.shape[:-1])
    norm = np.linalg.norm(v, axis=-1)
    log_norms[-1] = _safe_log(norm)
    u = v / np.where(norm > 0, norm, 1.0)[..., None]
    for t in range(traj.n_steps, 0, -1):
        u = cell._vjp(traj, t, u)
        norm = np.linalg.norm(u, axis=-1)
        log_norms[t - 1] = log_norms[t] + _safe_log(norm)
        u /= np.where(norm > 0, norm, 1.0)[..., None]
    return log_norms


def _safe_log(x):
    with np.errstate(divide="ignore"):
        return np.log(x)


@dataclass(frozen=True)
class ProductSpectrum:
    """Log singular values of Jacobian products ending at step ``end``.

    Attributes
    ----------
    end : int
        The last step t of the products :math:`J_t J_{t-1} \\cdots J_{t-L+1}`.
    depths : tuple of int
        The depths L.
    log_singular_values : ndarray, shape (len(depths), [B,] S)
        Natural logs, descending along the last axis (``-inf`` for exact zeros).
    """

    end: int
    depths: tuple
    log_singular_values: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """Tidy: one row per (depth, [network,] index) with ``log_sv`` and ``sv``."""
        arr = self.log_singular_values
        index = pd.MultiIndex.from_product(
            [self.depths, *(range(n) for n in arr.shape[1:])],
            names=["depth", *(["network"] if arr.ndim == 3 else []), "index"],
        )
        frame = pd.DataFrame({"log_sv": arr.reshape(-1)}, index=index).reset_index()
        frame["sv"] = np.exp(frame["log_sv"])
        return frame


def _qr_positive(block: np.ndarray):
    """QR of a block ``(…, S, S)`` with diag(R) >= 0, so the factorisation is unique."""
    q, r = np.linalg.qr(block)
    signs = np.sign(np.diagonal(r, axis1=-2, axis2=-1))
    signs[signs == 0] = 1.0
    return q * signs[..., None, :], r * signs[..., :, None]


def _sweep(apply, steps, frame):
    """Push ``frame`` through ``apply(t, X)`` for t in ``steps``, re-orthonormalising each step.

    Returns the new orthonormal frame and the summed log |diag R| (the log of the graded
    triangular factor's diagonal).
    """
    log_diag = np.zeros(frame.shape[:-2] + frame.shape[-1:])
    for t in steps:
        frame, r = _qr_positive(apply(t, frame))
        with np.errstate(divide="ignore"):
            log_diag += np.log(np.abs(np.diagonal(r, axis1=-2, axis2=-1)))
    return frame, log_diag


def _scaled_products(cell, traj, end, depths):
    """Yield ``(depth, log_scale, Pt)`` with ``P_L^T = exp(log_scale) * Pt``, ‖Pt‖_F = 1.

    ``P_L = J_end ... J_{end-L+1}``; ``P_L^T = J_{end-L+1}^T P_{L-1}^T`` is accumulated by
    applying transposed Jacobians, one step a depth, and renormalised so nothing overflows.
    """
    size = cell.state_size
    lead = () if traj.batch_size is None else (traj.batch_size,)
    product_t = np.broadcast_to(np.eye(size), (*lead, size, size)).copy()
    log_scale = np.zeros(lead)
    wanted = set(depths)
    for depth in range(1, max(wanted) + 1):
        product_t = cell._jtvp(traj, end - depth + 1, product_t)
        scale = np.linalg.norm(product_t, axis=(-2, -1))
        log_scale = log_scale + _safe_log(scale)
        product_t /= np.where(scale > 0, scale, 1.0)[..., None, None]
        if depth in wanted:
            yield depth, log_scale, product_t


def _check_end_depths(traj, end, depths, name="depths"):
    end = traj.n_steps if end is None else as_int(end, "end", minimum=1, maximum=traj.n_steps)
    depth_list = np.atleast_1d(np.asarray(depths))
    if depth_list.ndim != 1 or depth_list.size == 0 or depth_list.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected an int or a non-empty sequence of ints, got {depths!r}")
    return end, [as_int(int(d), name, minimum=1, maximum=end) for d in depth_list]


#: Singular values within this factor of the largest come from a direct SVD of the scaled
#: product (relative error about 1e-16 / RELATIVE_FLOOR); smaller ones from product iteration.
RELATIVE_FLOOR = 1e-6


def _iterate_small(cell, traj, end, depth, tol, max_sweeps):
    """Log singular values of one product by orthogonal iteration on the factored product."""
    size = cell.state_size
    lead = () if traj.batch_size is None else (traj.batch_size,)
    forward_steps = range(end - depth + 1, end + 1)
    backward_steps = range(end, end - depth, -1)
    frame = np.broadcast_to(np.eye(size), (*lead, size, size)).copy()
    previous = None
    for _ in range(max_sweeps):
        frame, _ = _sweep(lambda t, x: cell._jvp(traj, t, x), forward_steps, frame)
        frame, log_diag = _sweep(lambda t, x: cell._jtvp(traj, t, x), backward_steps, frame)
        if previous is not None:
            finite = np.isfinite(log_diag) & np.isfinite(previous)
            change = np.abs(np.where(finite, log_diag - previous, 0.0))
            if np.all(change <= tol):
                break
        previous = log_diag
    return log_diag


def product_singular_values(
    cell, traj, depths, *, end=None, tol=1e-9, max_sweeps=100
) -> ProductSpectrum:
    r"""Singular values of :math:`M_L = J_{t} J_{t-1} \cdots J_{t-L+1}` for each depth L.

    Parameters
    ----------
    cell : Cell
        The cell that produced ``traj``.
    traj : Trajectory
        A forward run of T steps.
    depths : int or sequence of int
        Depths L, each in 1..end.
    end : int, optional
        The last step t of the products (default T).
    tol : float, default 1e-9
        Convergence tolerance (absolute, on log singular values) of the product iteration.
    max_sweeps : int, default 100
        Upper bound on forward/backward sweeps of the product iteration.

    Returns
    -------
    ProductSpectrum
        Log singular values, shape ``(len(depths), [B,] S)``, descending.

    Notes
    -----
    A product of L Jacobians spreads its singular values over about
    :math:`e^{L(\lambda_1 - \lambda_S)}`, beyond float64's range for deep products, so an SVD of
    the formed product loses the small ones. Two steps keep every one accurate:

    1. The product is accumulated with a running scale, :math:`M_L = e^{c_L}\tilde M_L`, and
       :math:`\tilde M_L` goes to a dense SVD. Singular values within ``RELATIVE_FLOOR`` of the
       largest are taken from it (relative error about :math:`10^{-10}` or better).
    2. If smaller ones exist, orthogonal iteration runs on :math:`M_L^\top M_L` with the
       product kept factored: a forward sweep :math:`J_j Q_{j-1} = Q_j R_j` gives
       :math:`M_L Q_0 = Q_L (R_L \cdots R_1)`, a backward sweep does the same for
       :math:`M_L^\top`, and at convergence :math:`\ln\sigma_i = \sum_j \ln|(R_j)_{ii}|`
       (Stewart 1994). It converges fast exactly where step 1 cannot help: when the spectrum
       is widely spread.

    References
    ----------
    Stewart, G. W. (1994). On graded QR decompositions of products of matrices. ETNA 3, 39–49.
    Pennington, J., Schoenholz, S. & Ganguli, S. (2017). Resurrecting the sigmoid in deep
    learning through dynamical isometry. NeurIPS.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow.cells import Elman
    >>> cell = Elman(np.diag([2.0, 0.5]), activation="linear")
    >>> spectrum = product_singular_values(cell, cell.run(10), depths=[1, 10])
    >>> np.exp(spectrum.log_singular_values)
    array([[2.000000e+00, 5.000000e-01],
           [1.024000e+03, 9.765625e-04]])
    """
    cell = _check_cell(cell)
    traj = cell.check_trajectory(traj)
    end, depth_list = _check_end_depths(traj, end, depths)
    tol = as_float(tol, "tol", positive=True)
    max_sweeps = as_int(max_sweeps, "max_sweeps", minimum=1)
    by_depth = {}
    for depth, log_scale, product_t in _scaled_products(cell, traj, end, depth_list):
        singular = np.linalg.svd(product_t, compute_uv=False)
        log_sv = log_scale[..., None] + _safe_log(singular)
        small = singular < RELATIVE_FLOOR * singular[..., :1]
        if np.any(small):
            iterated = _iterate_small(cell, traj, end, depth, tol, max_sweeps)
            iterated = -np.sort(-iterated, axis=-1)
            log_sv = np.where(small, iterated, log_sv)
        by_depth[depth] = log_sv
    stacked = np.stack([by_depth[d] for d in depth_list])
    return ProductSpectrum(end, tuple(depth_list), stacked)


def log_product_norms(cell, traj, *, end=None, max_depth=None) -> np.ndarray:
    r"""Log spectral norm :math:`\ln\lVert J_t \cdots J_{t-L+1}\rVert_2` for L = 1..max_depth.

    Parameters
    ----------
    cell : Cell
        The cell that produced ``traj``.
    traj : Trajectory
        A forward run of T steps.
    end : int, optional
        The last step t of the products (default T).
    max_depth : int, optional
        The deepest product (default ``end``).

    Returns
    -------
    ndarray, shape (max_depth,) or (max_depth, B)
        Entry L-1 is the log norm of the depth-L product.

    Notes
    -----
    The product :math:`P_L = P_{L-1} J_{t-L+1}` is kept as :math:`e^{c_L}\tilde P_L` with
    :math:`\lVert\tilde P_L\rVert_F = 1`; the largest singular value is well conditioned, so
    :math:`\ln\sigma_{\max}(P_L) = c_L + \ln\sigma_{\max}(\tilde P_L)` is accurate for any depth.
    Cost :math:`O(S^3)` a depth, memory :math:`O(B S^2)`.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow.cells import Elman
    >>> cell = Elman(np.diag([2.0, 0.5]), activation="linear")
    >>> np.exp(log_product_norms(cell, cell.run(3)))
    array([2., 4., 8.])
    """
    cell = _check_cell(cell)
    traj = cell.check_trajectory(traj)
    end = traj.n_steps if end is None else as_int(end, "end", minimum=1, maximum=traj.n_steps)
    max_depth = end if max_depth is None else as_int(max_depth, "max_depth", minimum=1, maximum=end)
    out = []
    for _, log_scale, product_t in _scaled_products(cell, traj, end, range(1, max_depth + 1)):
        out.append(log_scale + _safe_log(np.linalg.norm(product_t, ord=2, axis=(-2, -1))))
    return np.stack(out)
