"""Adjoints of a trajectory: exact backpropagation and log-domain gradient norms."""

from __future__ import annotations

import numpy as np

from .._validation import as_array
from ..cells import Cell, Trajectory, check_run

__all__ = ["backprop", "log_gradient_norms"]


def _cotangent(cell: Cell, traj: Trajectory, v, *, per_step: bool):
    """Validate v: one state ``(S,)``/``(B, S)``, or with ``per_step`` also ``(T+1, [B,] S)``."""
    v = as_array(v, "v", ndim=(1, 2, 3, 4), dtype=traj.states.dtype)
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
        A forward run with states ``(T+1, [B,] S)``, or a population run ``(T+1, P, M, S)``
        (then read ``[B,]`` as ``P, M``).
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
    cell, traj = check_run(cell, traj, population=True)
    v, per_step = _cotangent(cell, traj, v, per_step=True)
    adjoints = np.empty_like(traj.states)
    adjoints[-1] = v[-1] if per_step else v
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(traj.n_steps, 0, -1):
            adjoints[t - 1] = cell.vjp_vector(traj, t, adjoints[t])
            if per_step:
                adjoints[t - 1] += v[t - 1]
    return adjoints


def log_gradient_norms(cell, traj, v, *, part="state") -> np.ndarray:
    r"""Natural log of :math:`\lVert\partial\langle v, s_T\rangle/\partial s_t\rVert_2`, t = 0..T.

    Parameters
    ----------
    cell : Cell
        The cell that produced ``traj``.
    traj : Trajectory
        A forward run with states ``(T+1, [B,] S)``.
    v : array_like, shape (S,) or (B, S)
        The cotangent of the last state (shared by a batch when 1-D).
    part : {"state", "output"}, default "state"
        The norm of the whole adjoint :math:`\partial\langle v, s_T\rangle/\partial s_t`, or
        of its output part :math:`\partial\langle v, s_T\rangle/\partial h_t` (the first N
        entries: the same for Elman and GRU; for the LSTM, c_t held fixed).

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
    cell, traj = check_run(cell, traj)
    v, _ = _cotangent(cell, traj, v, per_step=False)
    if part not in ("state", "output"):
        raise ValueError(f"part: expected 'state' or 'output', got {part!r}")
    partial = part == "output" and cell.hidden_size != cell.state_size
    log_norms = np.empty(traj.states.shape[:-1])
    out = np.empty_like(log_norms) if partial else log_norms
    norm = np.linalg.norm(v, axis=-1)
    log_norms[-1] = _safe_log(norm)
    u = v / np.where(norm > 0, norm, 1.0)[..., None]
    if partial:
        out[-1] = log_norms[-1] + _safe_log(np.linalg.norm(cell.output(u), axis=-1))
    for t in range(traj.n_steps, 0, -1):
        u = cell.vjp_vector(traj, t, u)
        norm = np.linalg.norm(u, axis=-1)
        log_norms[t - 1] = log_norms[t] + _safe_log(norm)
        u /= np.where(norm > 0, norm, 1.0)[..., None]
        if partial:
            out[t - 1] = log_norms[t - 1] + _safe_log(np.linalg.norm(cell.output(u), axis=-1))
    return out


def _safe_log(x):
    with np.errstate(divide="ignore"):
        return np.log(x)
