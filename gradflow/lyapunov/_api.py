"""The public entry points: spectra of dense Jacobian streams, along a cell, finite-time."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .._validation import as_int
from ..cells import check_run
from ._engine import _initial_frame, _options, _result, _run
from ._stats import LyapunovSpectrum

__all__ = ["along", "finite_time", "spectrum"]


def _dense_stream(jacobians, shape):
    """Yield (J, log‖J‖_F) for each Jacobian, checking shape, type and finiteness."""
    for step, J in enumerate(jacobians, 1):
        J = np.asarray(J)
        if J.dtype.kind not in "biuf":
            raise TypeError(f"jacobians: expected real numbers, got dtype {J.dtype} at step {step}")
        if J.shape != shape:
            raise ValueError(
                f"jacobians: step {step} has shape {J.shape}, expected {shape} like step 1"
            )
        J = np.ascontiguousarray(J, dtype=np.float64)
        square = float(np.vdot(J, J))
        if not math.isfinite(square):
            if not np.isfinite(J).all():
                raise ValueError(f"jacobians: step {step} has NaN or infinite entries")
            square = math.inf  # huge but finite entries: factorise after this step
        yield J, 0.5 * math.log(square) if square > 0 else -math.inf


def spectrum(
    jacobians,
    k=None,
    *,
    burn_in=0,
    reortho="adaptive",
    max_growth=1e12,
    local_steps=None,
    local=False,
    n_batches=None,
    rng=None,
) -> LyapunovSpectrum:
    r"""The k largest Lyapunov exponents of a product of Jacobians (Benettin's QR method).

    Parameters
    ----------
    jacobians : array_like, shape (T, N, N) or (T, B, N, N), or iterable of (N, N) / (B, N, N)
        :math:`J_1, \ldots, J_T`; an iterable is consumed once, one matrix at a time.
    k : int, optional
        Number of exponents, 1..N (default N). ``k = 1`` renormalises a single vector.
    burn_in : int, default 0
        Leading steps that only align the frame and are not averaged.
    reortho : "adaptive" or int, default "adaptive"
        An int m re-orthonormalises by Householder QR every m steps (m = 1 is the textbook
        method). "adaptive" re-conditions the frame only as often as its growth spread
        requires (see Notes).
    max_growth : float, default 1e12
        Adaptive only: the bound on the frame's growth spread :math:`e^{m(\lambda_1-\lambda_k)}`
        between factorisations (10 to 1e14).
    local_steps : int, optional
        Length of the intervals that give local exponents and standard errors (default 32, a
        multiple of an int ``reortho``); the frame is always factorised at their ends.
    local : bool, default False
        Keep the local exponents (memory O(T/local_steps · k)).
    n_batches : int, optional
        Batches for the standard error (default about :math:`\sqrt{T}`).
    rng : int, Generator or None, default None
        Draws the Haar-random initial frame; an int makes the result reproducible (the
        asymptotic exponents do not depend on the frame, the finite-sample ones a little).

    Returns
    -------
    LyapunovSpectrum
        ``exponents`` and ``stderr`` of shape ``(k,)``, or ``(B, k)`` for stacked Jacobians.

    Notes
    -----
    Benettin et al. (1980), Shimada & Nagashima (1979): an orthonormal frame is pushed through
    the product, :math:`J_t Q_{t-1} = Q_t R_t` with :math:`\operatorname{diag} R_t > 0`, and
    :math:`\lambda_i = \frac1T \sum_t \ln (R_t)_{ii}`. The diagonal of a product of triangular
    matrices is the product of their diagonals, so any factorisation :math:`Y = Z U` with U
    upper triangular and Z well conditioned may replace the QR between checkpoints: if
    :math:`M Z_0 = Z_K U_K\cdots U_1` and :math:`Z_K = \hat Q\hat R`, then
    :math:`\hat R U_K\cdots U_1` is the R of the QR of :math:`M Z_0` and
    :math:`\sum_t \ln(R_t)_{ii} = \ln\hat R_{ii} + \sum_j \ln|(U_j)_{ii}|` exactly.
    The adaptive mode therefore propagates the frame m steps without factorising. Over m
    steps the columns' log growth spreads by about :math:`m(\lambda_1-\lambda_k)`, which is
    the log condition number of the block; m is the largest step count whose predicted spread
    (mean plus three standard deviations, from exponentially weighted estimates over past
    intervals) stays below ``ln max_growth``. Rounding then perturbs each
    :math:`\ln|U_{ii}|` by at most about ``1e-16 · max_growth · cond(Z)``, with zero mean, so
    the exponents agree with QR every step to about 1e-6 (tested to 1e-5). The factorisation
    is LU with partial pivoting, :math:`Y = (PL)U`, whose frame :math:`Z = PL` has a condition
    number of 10–100 and costs a fraction of Householder QR; :math:`\hat R` comes from a
    Householder QR (R only) of Z at the end of each local interval. An int ``reortho`` is
    used as given: keep :math:`m(\lambda_1-\lambda_k)` below about 30 nats.
    ``k = 1`` renormalises the vector every step. Local exponents are Benettin's exactly (as
    with QR every step) over each interval; their batch means give ``stderr``. For small
    frames BLAS runs on one thread inside (with threadpoolctl, when installed). An exact zero
    (a product that vanishes) gives -inf with stderr 0, never NaN.

    References
    ----------
    Benettin, G., Galgani, L., Giorgilli, A. & Strelcyn, J.-M. (1980). Lyapunov characteristic
    exponents for smooth dynamical systems and for Hamiltonian systems; a method for computing
    all of them. Meccanica 15, 9–20 and 21–30.
    Shimada, I. & Nagashima, T. (1979). A numerical approach to ergodic problem of dissipative
    dynamical systems. Prog. Theor. Phys. 61(6), 1605–1616.

    Examples
    --------
    >>> import numpy as np
    >>> W = np.array([[2.0, 1.0], [0.0, 0.5]])
    >>> result = spectrum(np.broadcast_to(W, (200, 2, 2)), burn_in=50, rng=0)
    >>> np.exp(result.exponents).round(6)
    array([2. , 0.5])
    """
    if isinstance(jacobians, (str, bytes)) or jacobians is None:
        raise TypeError(f"jacobians: expected an array or an iterable of arrays, got {jacobians!r}")
    n_total = None
    if isinstance(jacobians, np.ndarray) or hasattr(jacobians, "__array__"):
        jacobians = np.asarray(jacobians)
        if jacobians.ndim not in (3, 4):
            raise ValueError(
                "jacobians: expected an array (T, N, N) or (T, B, N, N), "
                f"got shape {jacobians.shape}"
            )
        n_total = jacobians.shape[0]
        if n_total == 0:
            raise ValueError("jacobians: expected at least one Jacobian, got an empty array")
    stream = iter(jacobians)
    try:
        first = np.asarray(next(stream))
    except StopIteration:
        raise ValueError("jacobians: expected at least one Jacobian, got an empty stream") from None
    if first.ndim not in (2, 3) or first.shape[-1] != first.shape[-2]:
        raise ValueError(
            f"jacobians: expected square (N, N) or (B, N, N) matrices, got shape {first.shape}"
        )
    size, lead = first.shape[-1], first.shape[:-2]
    k, burn_in, reortho, log_bound, local_steps = _options(
        k, size, burn_in, reortho, max_growth, local_steps, n_batches, n_total
    )
    frame = _initial_frame(rng, size, k, lead)

    def chained():
        yield first
        yield from stream

    sums, steps, n_steps, n_fact = _run(
        _dense_stream(chained(), first.shape),
        np.matmul,
        frame,
        name="jacobians",
        burn_in=burn_in,
        reortho=reortho,
        log_bound=log_bound,
        local_steps=local_steps,
        keep_local=bool(local),
    )
    return _result(sums, steps, n_steps, burn_in, n_fact, bool(local), n_batches)


def along(
    cell,
    traj,
    k=None,
    *,
    burn_in=0,
    adjoint=False,
    reortho="adaptive",
    max_growth=1e12,
    local_steps=None,
    local=False,
    n_batches=None,
    rng=None,
) -> LyapunovSpectrum:
    r"""Lyapunov exponents along a cell's trajectory, without forming dense Jacobians.

    Parameters
    ----------
    cell : Cell
        The cell that produced ``traj``.
    traj : Trajectory
        A forward run of T steps, ``(T+1, [B,] S)`` states.
    k : int, optional
        Number of exponents, 1..S (default S).
    burn_in : int, default 0
        Leading steps (trailing ones with ``adjoint``) that only align the frame.
    adjoint : bool, default False
        Propagate :math:`J_t^\top` from t = T down to 1, as backpropagation does, instead of
        :math:`J_t` forward. Both give the same exponents in the long run.
    reortho, max_growth, local_steps, local, n_batches, rng
        As in :func:`spectrum`.

    Returns
    -------
    LyapunovSpectrum
        ``(k,)`` arrays, or ``(B, k)`` for a batched trajectory (one spectrum per network).

    Notes
    -----
    The frame goes through the cell's block products (:math:`J_t Q`, or :math:`J_t^\top Q`
    with ``adjoint``): for Elman :math:`J Q = \varphi'(a)\odot(WQ)`, :math:`2S^2k` flops,
    and no S×S Jacobian is formed or stored. The method is that of :func:`spectrum`.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow.cells import Elman
    >>> cell = Elman(np.diag([1.5, 0.5]), activation="linear")
    >>> np.exp(along(cell, cell.run(100), rng=0).exponents).round(6)
    array([1.5, 0.5])
    """
    cell, traj = check_run(cell, traj)
    n_total = traj.n_steps
    k, burn_in, reortho, log_bound, local_steps = _options(
        k, cell.state_size, burn_in, reortho, max_growth, local_steps, n_batches, n_total
    )
    lead = () if traj.batch_size is None else (traj.batch_size,)
    frame = _initial_frame(rng, cell.state_size, k, lead)
    if adjoint:
        times, product = range(n_total, 0, -1), cell.vjp_block
    else:
        times, product = range(1, n_total + 1), cell.jvp_block
    sums, steps, n_steps, n_fact = _run(
        ((t, None) for t in times),
        lambda t, block: product(traj, t, block),
        frame,
        name="traj",
        burn_in=burn_in,
        reortho=reortho,
        log_bound=log_bound,
        local_steps=local_steps,
        keep_local=bool(local),
    )
    return _result(sums, steps, n_steps, burn_in, n_fact, bool(local), n_batches)


def finite_time(
    cell, traj, window, k=1, *, burn_in=0, adjoint=False, reortho="adaptive", rng=None
) -> pd.DataFrame:
    r"""Finite-time Lyapunov exponents over consecutive windows of ``window`` steps.

    Parameters
    ----------
    cell : Cell
        The cell that produced ``traj``.
    traj : Trajectory
        A forward run of T steps.
    window : int
        Steps per window, 1..T - burn_in; a trailing partial window is dropped.
    k : int, default 1
        Number of exponents per window.
    burn_in : int, default 0
        Steps that align the frame before the first window.
    adjoint : bool, default False
        Windows of the backpropagated products :math:`J_t^\top`, from t = T down to 1: the
        growth a gradient sees over each window.
    reortho, rng
        As in :func:`spectrum`.

    Returns
    -------
    pandas.DataFrame
        One row per (window, [network,] index): ``window`` (0-based, in propagation order),
        ``start`` and ``stop`` (the steps t it covers, inclusive), ``index`` (1-based),
        ``exponent`` (nats per step).

    Notes
    -----
    Window w gives :math:`\frac1{w}\sum_{t\in\text{window}}\ln (R_t)_{ii}`, the growth rate of
    the i-dimensional volume spanned by the aligned (backward Lyapunov) frame: over long
    windows these tend to the exponents, and their average over windows is exactly the
    Lyapunov estimate of the whole run. Their spread is the finite-time fluctuation of the
    growth (for the singular values of each window product use
    :func:`gradflow.jacobians.product_singular_values`).

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow.cells import Elman
    >>> cell = Elman(2.0 * np.eye(2), activation="linear")
    >>> frame = finite_time(cell, cell.run(20), window=10, rng=0)
    >>> frame[["window", "start", "stop", "index"]].values.tolist()
    [[0, 1, 10, 1], [1, 11, 20, 1]]
    >>> np.exp(frame["exponent"]).round(12).tolist()
    [2.0, 2.0]
    """
    cell, traj = check_run(cell, traj)
    burn_in = as_int(burn_in, "burn_in", minimum=0, maximum=traj.n_steps - 1)
    window = as_int(window, "window", minimum=1, maximum=traj.n_steps - burn_in)
    options = {"burn_in": burn_in, "adjoint": adjoint, "reortho": reortho, "rng": rng}
    result = along(cell, traj, k, local_steps=window, local=True, **options)
    full = result.local[result.local_steps == window]
    first = burn_in + window * np.arange(len(full))  # steps propagated before each window
    start = traj.n_steps - first - window + 1 if adjoint else first + 1
    stop = start + window - 1
    index = pd.MultiIndex.from_product(
        [range(n) for n in full.shape[:-1]] + [range(1, full.shape[-1] + 1)],
        names=["window", *(["network"] if full.ndim == 3 else []), "index"],
    )
    frame = pd.DataFrame({"exponent": full.reshape(-1)}, index=index).reset_index()
    frame.insert(1, "start", start[frame["window"].to_numpy()])
    frame.insert(2, "stop", stop[frame["window"].to_numpy()])
    return frame
