r"""Gradient growth measured along driven trajectories (part of :mod:`gradflow.diagnose`).

One batched run of ``samples`` networks (the layer's weights, shared; random initial states)
per kind of input, and from it: the log norm of the h part of the backpropagated gradient
against the lag, finite-time and asymptotic top Lyapunov exponents of the full state, the
mean gate activations and the memory time scale they imply. Every product of Jacobians goes
through :func:`gradflow.jacobians.log_gradient_norms`, renormalised at every step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from .._rng import spawn_seeds
from ..cells import GRU, LSTM, Elman
from ..errors import NonFiniteError
from ..jacobians import log_gradient_norms

__all__ = ["INPUTS", "Growth", "measure", "memory_time", "window_rate"]

#: Kinds of input a report drives the layer with: none, unit Gaussian noise, the caller's.
INPUTS = ("zero", "gaussian", "given")
#: The gate whose mean sets the memory time scale: the LSTM's forget gate, the GRU's update gate.
MEMORY_GATE = {LSTM: "mean_f", GRU: "mean_z"}


def memory_time(mean_gate: float) -> float:
    r"""The memory time scale :math:`-1/\ln\bar f` (steps) of a gate that keeps the state.

    A unit whose forget gate (LSTM) or update gate (GRU) sits at :math:`\bar f` keeps a
    fraction :math:`\bar f^k = e^{-k/\tau}` of its state, and of the gradient through it,
    after k steps: :math:`\tau = -1/\ln\bar f` (inf for :math:`\bar f = 1`, 0 for 0).

    Examples
    --------
    >>> round(memory_time(1.0 / (1.0 + math.exp(-8.0))), 1)  # sigma(8)
    2981.5
    """
    if mean_gate >= 1.0:
        return math.inf
    if mean_gate <= 0.0:
        return 0.0
    return -1.0 / math.log(mean_gate)


def window_rate(log_norm) -> float:
    r"""The growth rate of a log-norm curve :math:`\ell(0..T)` over the second half of its lags.

    :math:`(\ell(T) - \ell(h))/(T - h)` with :math:`h = \lfloor T/2\rfloor`. The first lags
    carry a transient that is not a rate: a random cotangent turns towards the most amplified
    directions, and an LSTM's first step hands most of a cotangent on h over to c. The second
    half of the window measures the growth once that has passed (for :math:`W = gQ` in a
    linear cell, :math:`\ln g` exactly, as over any range). -inf where the curve reaches it.

    Examples
    --------
    >>> window_rate([0.0, -3.0, -3.5, -4.0, -4.5])  # a drop of 3 at lag 1, then -0.5 a step
    -0.5
    """
    log_norm = np.asarray(log_norm, dtype=np.float64)
    last = log_norm.shape[0] - 1
    half = last // 2
    return float(_slope(log_norm[half], log_norm[last], last - half))


def _frozen(arr):
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True, eq=False)
class Growth:
    r"""What one kind of input does to gradients through a layer.

    Attributes
    ----------
    inputs : {"zero", "gaussian", "given"}
    steps, burn_in, windows, samples : int
        The lag window T, the forward steps before it, the number of T-step windows of the
        long run (the last one aligns the adjoint), the number of networks run at once.
    log_norms : ndarray, shape (steps+1, samples)
        Row k: :math:`\ln\lVert\partial\langle v, h_{T}\rangle/\partial h_{T-k}\rVert` (h part
        of the full-state adjoint) for a unit cotangent v on h, one column per sample.
    rate : float
        Measured growth rate (nats/step) over the second half of the window,
        :math:`(\bar\ell(T) - \bar\ell(\lfloor T/2\rfloor))/(T - \lfloor T/2\rfloor)`, with
        :math:`\bar\ell` the mean over samples of the log norms (see :func:`window_rate`).
    rate_stderr : float
        Standard error of ``rate`` over samples (0 when it is -inf).
    window_gradient_norm : float
        Median over samples of :math:`G = (\sum_{k=0}^{T} e^{2\ell(k)})^{1/2}`, the norm of
        the window's stacked hidden-state gradients for a unit loss gradient on :math:`h_T`.
    finite_time_exponent : float
        Top exponent of the full state over the window (mean over samples).
    finite_time_low, finite_time_high : float
        Its range over the long run's windows and the samples.
    exponent, exponent_stderr : float
        Asymptotic top exponent of the full state over the long run and its standard error
        over samples (0 when it is -inf).
    step_means : mapping of str to float
        The columns of ``cell.step_summary`` averaged over the long run after the burn-in and
        the samples: ``mean_phi_prime`` (Elman); ``mean_i`` ... ``mean_o`` (LSTM);
        ``mean_r``, ``mean_z``, ``mean_n`` (GRU).
    memory_time : float or None
        :func:`memory_time` of the LSTM's mean forget gate or the GRU's mean update gate.
    recurrent_drive_rms, input_drive_rms : float or None
        Root mean square of :math:`W_{hh} h_{t-1}` and of :math:`W_{xh} x_t` (every gate row)
        over the window; the second is None without input.
    shortened : bool
        Whether the long run was cut (fewer windows) because its activity overflowed.
    """

    inputs: str
    steps: int
    burn_in: int
    windows: int
    samples: int
    log_norms: np.ndarray
    rate: float
    rate_stderr: float
    window_gradient_norm: float
    finite_time_exponent: float
    finite_time_low: float
    finite_time_high: float
    exponent: float
    exponent_stderr: float
    step_means: dict = field(default_factory=dict)
    memory_time: float | None = None
    recurrent_drive_rms: float = 0.0
    input_drive_rms: float | None = None
    shortened: bool = False

    def __post_init__(self):
        _frozen(self.log_norms)
        object.__setattr__(self, "step_means", MappingProxyType(dict(self.step_means)))

    @property
    def lags(self) -> np.ndarray:
        """0, 1, ..., steps."""
        return np.arange(self.steps + 1)

    @property
    def log_norm(self) -> np.ndarray:
        """Mean over samples of ``log_norms``, ``(steps+1,)``: the log of the geometric mean."""
        return self.log_norms.mean(axis=1)

    @property
    def factor(self) -> float:
        """:math:`e^{\\bar\\ell(T)}`: how much the gradient changes across the whole window."""
        with np.errstate(over="ignore"):
            return float(np.exp(self.log_norm[-1]))


def _drive(cell, kind, gen, n_steps, samples, given):
    """The inputs of a run: an int (none), Gaussian ``(T, B, D)`` or ``given`` repeated to T."""
    if kind == "zero":
        return n_steps
    if kind == "gaussian":
        return gen.standard_normal((n_steps, samples, cell.input_size))
    return given[np.arange(n_steps) % given.shape[0]]


def _unit(gen, samples, size, state_size):
    """Unit vectors ``(samples, state_size)``, random on the first ``size`` entries."""
    v = np.zeros((samples, state_size))
    v[:, :size] = gen.standard_normal((samples, size))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _slope(first, last, length):
    """(last - first) / length for log norms ``first`` and, ``length`` steps further along the
    propagation, ``last``. Once a product is exactly zero its log norm stays -inf, so a -inf
    ``last`` gives -inf (even where ``first`` is -inf too)."""
    with np.errstate(invalid="ignore"):
        rate = (last - first) / length
    return np.where(np.isneginf(last), -np.inf, rate)


def _mean_and_stderr(values):
    """Mean and standard error over samples; the error is 0 for a -inf mean."""
    mean = float(np.mean(values))
    if not math.isfinite(mean):
        return mean, 0.0
    return mean, float(np.std(values, ddof=1) / math.sqrt(len(values)))


def _rms(vectors, W):
    """Root mean square of ``W x`` over the rows of ``vectors`` (``(..., M)`` and ``(R, M)``)."""
    flat = np.reshape(vectors, (-1, W.shape[-1]))
    return float(np.sqrt(np.mean(np.square(flat @ W.T))))


def _forward(cell, xs, h0, windows, burn_in, steps, name):
    """The long run; on overflow of the activity, fewer windows (at least 2) or raise."""
    while True:
        length = burn_in + windows * steps
        try:
            run_xs = xs if isinstance(xs, int) else xs[:length]
            return cell.run(length if isinstance(xs, int) else run_xs, h0=h0), windows
        except NonFiniteError:
            if windows <= 2:
                raise NonFiniteError(
                    f"{name}: the forward run overflows within {length} steps (the activity "
                    "itself explodes); nothing finite to measure"
                ) from None
            windows = max(2, windows // 2)


def measure(
    cell, kind, *, steps, burn_in, windows, samples, rng=None, given=None, name="layer", tick=None
) -> Growth:
    r"""Measure gradient growth through ``cell`` along one kind of driven trajectory.

    Parameters
    ----------
    cell : Elman, LSTM or GRU (one network)
    kind : {"zero", "gaussian", "given"}
        No input (the bias still acts), :math:`x_t \sim N(0, I_D)`, or ``given`` repeated
        end to end to fill the run.
    steps, burn_in, windows, samples : int
        Lag window T, burn-in, number of T-step windows of the long run (>= 2), batch size.
    rng : int, Generator, SeedSequence or None
        Spawns the four streams of the run (:func:`numpy.random.SeedSequence.spawn`), in this
        order: initial states, inputs, the cotangents on h, the full-state cotangents.
    given : ndarray, shape (L, D) or (L, samples, D), optional
    name : str
        For messages.
    tick : callable, optional
        Called after each stage (progress).

    Returns
    -------
    Growth

    Notes
    -----
    The long run has :math:`B + W T` steps (burn-in B, W windows of T steps) from initial
    states with every entry U(-1, 1) (zeros for a linear cell, whose Jacobian
    :math:`J_t = W_{hh}` does not depend on the state or the inputs, so its runs are
    input-free and cannot overflow). Window j covers steps :math:`B + jT < t \le B + (j+1)T`.

    - The curve: the window j = 0 is run again from the long run's state at step B (same
      inputs) and a unit cotangent v on :math:`h` at its end is backpropagated
      (``log_gradient_norms(..., part="output")``): :math:`\ell(k)` is the log norm of the h
      part of :math:`\partial\langle v, s_T\rangle/\partial s_{T-k}`.
    - The exponents: a random unit full-state cotangent at the end of the long run is
      backpropagated through all of it (``part="state"``), which is Benettin's method with one
      vector in the adjoint direction, as ``lyapunov.along(cell, traj, k=1, adjoint=True)``
      computes it, but with one GEMM per step for the whole batch. The last window aligns
      the vector with the most amplified direction; the window j gives the finite-time
      exponent :math:`(\ell_{B+jT} - \ell_{B+(j+1)T})/T`, and windows 0 to W-2 together the
      asymptotic one.
    """
    streams = spawn_seeds(rng, 4)
    gens = [np.random.default_rng(s) for s in streams]
    linear = isinstance(cell, Elman) and cell.activation == "linear"
    size, n = cell.state_size, cell.hidden_size
    h0 = np.zeros((samples, size)) if linear else gens[0].uniform(-1.0, 1.0, (samples, size))
    length = burn_in + windows * steps
    xs = length if linear else _drive(cell, kind, gens[1], length, samples, given)
    traj, used = _forward(cell, xs, h0, windows, burn_in, steps, name)
    tick and tick()
    window_xs = steps if isinstance(xs, int) else xs[burn_in : burn_in + steps]
    window = cell.run(window_xs, h0=traj.states[burn_in])
    curve = log_gradient_norms(cell, window, _unit(gens[2], samples, n, size), part="output")
    curve = curve[::-1]  # lag k = T - t
    tick and tick()
    full = log_gradient_norms(cell, traj, _unit(gens[3], samples, size, size))
    tick and tick()
    starts = burn_in + steps * np.arange(used - 1)
    finite = _slope(full[starts + steps], full[starts], steps)  # (W-1, samples)
    span = (used - 1) * steps
    per_sample = _slope(full[burn_in + span], full[burn_in], span)
    exponent, stderr = _mean_and_stderr(per_sample)
    half = steps // 2  # the rate of the mean curve is the mean of the samples' rates
    _, rate_stderr = _mean_and_stderr(_slope(curve[half], curve[steps], steps - half))
    with np.errstate(over="ignore"):
        log_g = 0.5 * np.logaddexp.reduce(2.0 * curve, axis=0)
        g_norm = float(np.exp(np.median(log_g)))
    means = {k: float(np.mean(v[burn_in:])) for k, v in cell.step_summary(traj).items()}
    gate = next((g for c, g in MEMORY_GATE.items() if isinstance(cell, c)), None)
    h_prev = cell.output(window.states[:-1])
    return Growth(
        inputs=kind,
        steps=steps,
        burn_in=burn_in,
        windows=used,
        samples=samples,
        log_norms=np.ascontiguousarray(curve),
        rate=window_rate(curve.mean(axis=1)),
        rate_stderr=rate_stderr,
        window_gradient_norm=g_norm,
        finite_time_exponent=float(np.mean(finite[0])),
        finite_time_low=float(np.min(finite)),
        finite_time_high=float(np.max(finite)),
        exponent=exponent,
        exponent_stderr=stderr,
        step_means=means,
        memory_time=None if gate is None else memory_time(means[gate]),
        recurrent_drive_rms=_rms(h_prev, cell.W_hh),
        input_drive_rms=None if window.inputs is None else _rms(window.inputs, cell.W_xh),
        shortened=used < windows,
    )
