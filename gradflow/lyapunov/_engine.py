"""Benettin's method: propagate a frame, re-condition it when needed, accumulate log diag R."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.linalg import blas, lapack

from .._blas import one_thread_if_small
from .._rng import as_generator
from .._validation import NonFiniteError, as_choice, as_float, as_int
from ._stats import LyapunovSpectrum, _ratio_batch_means

#: Nats a frame may grow or shrink between two factorisations (float64 spans about ±709).
_LOG_RANGE = 300.0
#: Default length (steps) of the intervals behind local exponents and standard errors.
_LOCAL_STEPS = 32
#: Without ``local=True`` interval totals are merged pairwise beyond this many (bounded memory).
_MAX_INTERVALS = 1024


# -- factorisations of one (N, k) block --------------------------------------------------------
@lru_cache(maxsize=16)
def _strict_lower(n: int, k: int) -> np.ndarray:
    return np.asfortranarray(np.tri(n, k, -1))


def _log_abs(x):
    return np.log(np.abs(x))  # callers run under np.errstate(divide="ignore"): log 0 = -inf


def _lu_one(y):
    """Y = P L U (partial pivoting): the frame P L (well conditioned) and log|diag U|."""
    n, k = y.shape
    lu, piv, _ = lapack.dgetrf(y, overwrite_a=1)
    log_diag = _log_abs(np.diagonal(lu))
    lu *= _strict_lower(n, k)
    diag = np.arange(k)
    lu[diag, diag] = 1.0
    return lapack.dlaswp(lu, piv, inc=-1, overwrite_a=1), log_diag


def _qr_one(y):
    """Householder Y = Q R with diag(R) >= 0: Q and log diag R."""
    k = y.shape[1]
    qr, tau, _, _ = lapack.dgeqrf(y, lwork=64 * k)
    diag = np.diagonal(qr).copy()
    q, _, _ = lapack.dorgqr(qr, tau, lwork=64 * k, overwrite_a=1)
    q *= np.where(diag < 0, -1.0, 1.0)
    return q, _log_abs(diag)


def _renormalise(y):
    """y/‖y‖ and ln‖y‖ for vectors ``(..., N, 1)``, scaled so that no square over/underflows."""
    if y.ndim == 2:  # BLAS nrm2 scales internally
        norm = blas.dnrm2(y[:, 0])
        return y / (norm if norm > 0 else 1.0), _log_abs(np.array([norm]))
    scale = np.max(np.abs(y), axis=-2, keepdims=True)
    scale = np.where(scale > 0, scale, 1.0)
    y = y / scale
    norm = np.sqrt(np.sum(y * y, axis=-2, keepdims=True))
    return y / np.where(norm > 0, norm, 1.0), _log_abs(norm[..., 0, :] * scale[..., 0, :])


def _stacked(one):
    """Lift a factorisation of one (N, k) block to a stack (..., N, k)."""

    def apply(y):
        if y.ndim == 2:
            return one(y)
        out, logs = np.empty(y.shape), np.empty(y.shape[:-2] + y.shape[-1:])
        for i in np.ndindex(y.shape[:-2]):
            out[i], logs[i] = one(y[i])
        return out, logs

    return apply


_lu, _qr = _stacked(_lu_one), _stacked(_qr_one)


def _log_r(frame):
    """ln diag R of the QR of a (well-conditioned) frame Z, ``(..., k)``: Z's own volume factors.

    R only (Householder ``geqrf``): Cholesky of ZᵀZ would be cheaper, but threaded ``potrf`` in
    OpenBLAS is erratic on small matrices.
    """
    if frame.ndim == 2:
        return np.log(np.abs(np.diagonal(lapack.dgeqrf(frame)[0])))
    out = np.empty(frame.shape[:-2] + frame.shape[-1:])
    for i in np.ndindex(frame.shape[:-2]):
        out[i] = np.log(np.abs(np.diagonal(lapack.dgeqrf(frame[i])[0])))
    return out


# -- the engine ----------------------------------------------------------------------------------
def _rate_spread(log_diag, steps):
    """(rate, size): the largest spread and magnitude of the columns' growth rates per step."""
    rates = log_diag.reshape(-1, log_diag.shape[-1]) / steps
    if not np.isfinite(rates).all():  # exact zeros: judge the columns that still grow
        rates = np.where(np.isfinite(rates), rates, np.nan)
        rates = rates[~np.isnan(rates).all(axis=-1)]
        if rates.size == 0:
            return 0.0, 0.0
        top, bottom = np.nanmax(rates, axis=-1), np.nanmin(rates, axis=-1)
    else:
        top, bottom = rates.max(axis=-1), rates.min(axis=-1)
    return float((top - bottom).max()), max(float(top.max()), -float(bottom.min()))


def _predict(model, rate, size, steps, log_bound):
    r"""Update the spread model; return it and the steps m until the spread may reach log_bound.

    The spread of log growth over m steps is modelled as :math:`m\mu + \sqrt{m}\sigma\xi`
    (exponentially weighted estimates of μ and σ² from past intervals); m is the largest with
    :math:`m\mu + 3\sqrt{m}\sigma \le` ``log_bound``, and :math:`m|\lambda| \le` ``_LOG_RANGE``.
    """
    if model is None:
        mean, var = rate, rate * rate
    else:
        mean, var = model
        deviation = rate - mean
        mean += 0.2 * deviation
        var = 0.8 * var + 0.2 * steps * deviation * deviation
    sigma = 3.0 * math.sqrt(var)
    if mean > 1e-12:
        root = (math.sqrt(sigma * sigma + 4.0 * mean * log_bound) - sigma) / (2.0 * mean)
        limit = root * root
    else:
        limit = (log_bound / sigma) ** 2 if sigma > 0 else math.inf
    return (mean, var), min(limit, _LOG_RANGE / size if size > 0 else math.inf)


def _run(ops, apply, frame, **options):
    size, k = frame.shape[-2:]
    with (
        one_thread_if_small(size * size * k),
        np.errstate(divide="ignore"),
    ):  # log 0 = -inf, by design
        return _benettin(ops, apply, frame, **options)


def _benettin(ops, apply, frame, *, name, burn_in, reortho, log_bound, local_steps, keep_local):
    """Benettin's method over ``ops``; returns (interval totals, interval steps, n_steps, n_fact).

    ``ops`` yields ``(op, log_bound_of_op or None)``; ``apply(op, Y)`` returns J Y. The frame is
    factorised every ``reortho`` steps (QR), or adaptively (LU), always at interval boundaries.
    An interval's Benettin growth is the sum of the factors' ln|diag| plus the change of
    ln diag R̂ of the (non-orthonormal, LU) frame between its ends: no -inf - -inf.
    """
    k = frame.shape[-1]
    adaptive = reortho == "adaptive" and k > 1
    factor = _renormalise if k == 1 else (_lu if adaptive else _qr)
    interval = 1 if (adaptive or k == 1) else reortho
    Y = frame
    zeros = np.zeros((*frame.shape[:-2], k))
    log_sum, log_r = zeros.copy(), zeros  # growth since the last boundary; ln diag R of Y there
    sums, steps = [], []
    t = t_previous = since = n_fact = 0
    growth, spread = 0.0, None  # spread: (mean, variance) model of the growth-rate spread

    def factorise(Y, since):
        if not math.isfinite(float(Y.sum())):
            raise NonFiniteError(
                f"{name}: the propagated frame overflowed to inf/NaN; the Jacobians grow "
                f"faster than float64 can carry between factorisations (pass reortho=1)"
            )
        return factor(Y)

    for op, op_bound in ops:
        Y = apply(op, Y)
        t += 1
        since += 1
        if op_bound is not None:
            growth += op_bound
        boundary = t == burn_in or (t > burn_in and (t - burn_in) % local_steps == 0)
        if since >= interval or boundary or growth > _LOG_RANGE:
            Y, log_diag = factorise(Y, since)
            n_fact += 1
            log_sum += log_diag
            if adaptive:
                spread, limit = _predict(spread, *_rate_spread(log_diag, since), since, log_bound)
                interval = int(max(1, min(limit, 2 * interval, local_steps)))
            since, growth = 0, 0.0
        if boundary:
            log_r_now = _log_r(Y) if adaptive else zeros
            if t > burn_in:
                sums.append(log_sum + (log_r_now - log_r))
                steps.append(t - t_previous)
                if not keep_local and len(sums) >= 2 * _MAX_INTERVALS:
                    sums = [a + b for a, b in zip(sums[::2], sums[1::2])]
                    steps = [a + b for a, b in zip(steps[::2], steps[1::2])]
            log_sum, log_r, t_previous = zeros.copy(), log_r_now, t
    if t == 0:
        raise ValueError(f"{name}: expected at least one Jacobian, got an empty stream")
    if t <= burn_in:
        raise ValueError(f"burn_in: expected fewer than the {t} steps available, got {burn_in}")
    if t_previous < t:
        if since:
            Y, log_diag = factorise(Y, since)
            n_fact += 1
            log_sum += log_diag
        sums.append(log_sum + ((_log_r(Y) - log_r) if adaptive else 0.0))
        steps.append(t - t_previous)
    return np.stack(sums), np.asarray(steps), t - burn_in, n_fact


def _options(k, size, burn_in, reortho, max_growth, local_steps, n_batches, n_total=None):
    if n_batches is not None:
        as_int(n_batches, "n_batches", minimum=2)
    k = size if k is None else as_int(k, "k", minimum=1, maximum=size)
    burn_in = as_int(burn_in, "burn_in", minimum=0)
    if n_total is not None and burn_in >= n_total:
        raise ValueError(f"burn_in: expected an integer < T = {n_total}, got {burn_in}")
    if isinstance(reortho, str):
        reortho = as_choice(reortho, "reortho", ("adaptive",))
    else:
        reortho = as_int(reortho, "reortho", minimum=1)
    log_bound = math.log(as_float(max_growth, "max_growth", low=10.0, high=1e14))
    if local_steps is None:
        every = 1 if reortho == "adaptive" else reortho
        local_steps = every * math.ceil(_LOCAL_STEPS / every)
    local_steps = as_int(local_steps, "local_steps", minimum=1)
    return k, burn_in, reortho, log_bound, local_steps


def _initial_frame(rng, size, k, lead):
    """A Haar-random orthonormal (size, k) frame, shared by every network of a batch.

    Column j comes from draws j·size..(j+1)·size, so the first columns do not depend on k.
    """
    q, r = np.linalg.qr(as_generator(rng).standard_normal((k, size)).T)
    q = q * np.where(np.diagonal(r) < 0, -1.0, 1.0)
    return np.asfortranarray(q) if not lead else np.broadcast_to(q, (*lead, size, k)).copy()


def _result(sums, steps, n_steps, burn_in, n_fact, keep_local, n_batches):
    with np.errstate(invalid="ignore"):
        mean, stderr = _ratio_batch_means(sums, steps.astype(float), n_batches)
    order = np.argsort(-mean, axis=-1, kind="stable")
    local = None
    if keep_local:
        extra = (slice(None),) + (None,) * (sums.ndim - 1)
        local = np.take_along_axis(sums / steps[extra], order[None], -1)
    return LyapunovSpectrum(
        exponents=np.take_along_axis(mean, order, -1),
        stderr=np.take_along_axis(stderr, order, -1),
        steps=int(n_steps),
        burn_in=burn_in,
        local=local,
        local_steps=steps if keep_local else None,
        n_factorizations=n_fact,
    )
