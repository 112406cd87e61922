"""Statistics of local exponents: batch-means standard errors, Kaplan-Yorke dimension, and the
result dataclass."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._validation import as_int

__all__ = ["LyapunovSpectrum", "batch_means", "kaplan_yorke_dimension"]


def kaplan_yorke_dimension(exponents) -> np.ndarray | float:
    r"""Kaplan–Yorke (Lyapunov) dimension of descending exponents ``([B,] k)``.

    Notes
    -----
    :math:`D = j + \sum_{i \le j} \lambda_i / |\lambda_{j+1}|` with j the largest index whose
    partial sum :math:`\sum_{i\le j}\lambda_i` is non-negative. Edge cases: D = 0 when
    :math:`\lambda_1 < 0`; D = k when every partial sum is non-negative (with only the top k
    exponents known, D >= k).

    References
    ----------
    Kaplan, J. L. & Yorke, J. A. (1979). Chaotic behavior of multidimensional difference
    equations. Lecture Notes in Mathematics 730, 204–227.

    Examples
    --------
    >>> kaplan_yorke_dimension([0.5, -0.1, -1.0])
    2.4
    """
    lam = np.asarray(exponents, dtype=float)
    partial = np.cumsum(lam, axis=-1)
    j = np.sum(partial >= 0, axis=-1)  # partial sums decrease once negative: a prefix count
    k = lam.shape[-1]
    inner = np.clip(j, 1, max(k - 1, 1))
    num = np.take_along_axis(partial, inner[..., None] - 1, -1)[..., 0]
    den = np.abs(np.take_along_axis(lam, np.minimum(inner, k - 1)[..., None], -1)[..., 0])
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(np.isfinite(den) & (den > 0), num / den, 0.0)
    dim = np.where(j == 0, 0.0, np.where(j >= k, float(k), j + frac))
    return float(dim) if dim.ndim == 0 else dim


def batch_means(local, steps=None, *, n_batches=None):
    r"""Mean and batch-means standard error of local exponents.

    Parameters
    ----------
    local : array_like, shape (n, ...)
        Local exponents (growth per step) over n consecutive intervals.
    steps : array_like of int, shape (n,), optional
        Interval lengths (default all 1); the mean is weighted by them.
    n_batches : int, optional
        Number of consecutive batches (default about :math:`\sqrt{\sum steps}`, at most n).

    Returns
    -------
    mean, stderr : ndarray, shape (...)
        ``stderr`` is inf with fewer than two intervals and 0 where the mean is -inf.

    Notes
    -----
    Batches of consecutive intervals, with totals :math:`S_j` over :math:`L_j` steps, give
    batch means :math:`y_j = S_j/L_j`; the ratio estimator's variance is
    :math:`\sum_j (L_j/\bar L)^2 (y_j - \hat\lambda)^2 / (b(b-1))`. Batches longer than the
    correlation time make the means nearly independent; the :math:`\sqrt{n}` batch size is
    the usual consistent choice (Flegal & Jones 2010).

    References
    ----------
    Flyvbjerg, H. & Petersen, H. G. (1989). Error estimates on averages of correlated data.
    J. Chem. Phys. 91, 461–466.
    Flegal, J. M. & Jones, G. L. (2010). Batch means and spectral variance estimators in
    Markov chain Monte Carlo. Ann. Statist. 38(2), 1034–1070.

    Examples
    --------
    >>> mean, err = batch_means([1.0, 3.0, 1.0, 3.0], n_batches=2)
    >>> float(mean), float(err)
    (2.0, 0.0)
    """
    local = np.asarray(local, dtype=float)
    if local.ndim == 0 or local.shape[0] == 0:
        raise ValueError(f"local: expected a non-empty array (n, ...), got shape {local.shape}")
    n = local.shape[0]
    steps = np.ones(n) if steps is None else np.asarray(steps, dtype=float)
    if steps.shape != (n,) or not np.all(steps > 0):
        raise ValueError(
            f"steps: expected {n} positive lengths, got shape {steps.shape} "
            f"with minimum {steps.min() if steps.size else None}"
        )
    extra = (slice(None),) + (None,) * (local.ndim - 1)
    with np.errstate(invalid="ignore"):
        return _ratio_batch_means(local * steps[extra], steps, n_batches)


def _ratio_batch_means(sums, steps, n_batches):
    n = len(steps)
    total = steps.sum()
    extra = (slice(None),) + (None,) * (sums.ndim - 1)
    mean = sums.sum(axis=0) / total
    if n < 2:
        return mean, np.full(mean.shape, np.inf)
    if n_batches is None:
        n_batches = round(math.sqrt(total))
    else:
        n_batches = as_int(n_batches, "n_batches", minimum=2)
    n_batches = max(2, min(n_batches, n))
    starts = np.array([part[0] for part in np.array_split(np.arange(n), n_batches)])
    batch_sums = np.add.reduceat(sums, starts, axis=0)
    lengths = np.add.reduceat(steps, starts)
    weights = (lengths / lengths.mean())[extra]
    with np.errstate(invalid="ignore"):
        dev = weights * (batch_sums / lengths[extra] - mean)
        var = np.sum(dev * dev, axis=0) / (n_batches * (n_batches - 1))
    stderr = np.where(np.isneginf(mean), 0.0, np.sqrt(var))
    return mean, stderr


@dataclass(frozen=True, eq=False)
class LyapunovSpectrum:
    """The k largest Lyapunov exponents of one network or of B networks.

    Attributes
    ----------
    exponents : ndarray, shape (k,) or (B, k)
        Nats per step, descending; -inf where the product became exactly zero.
    stderr : ndarray, shape (k,) or (B, k)
        Batch-means standard errors (see :func:`batch_means`).
    steps : int
        Steps averaged over (after ``burn_in``); ``n_steps`` is its older alias.
    burn_in : int
        Transient steps discarded first.
    local : ndarray, shape (n_intervals, [B,] k), or None
        Local exponents per interval (with ``local=True``).
    local_steps : ndarray of int, shape (n_intervals,), or None
        The length of each interval.
    n_factorizations : int
        QR/LU factorisations performed (a cost diagnostic).
    """

    exponents: np.ndarray
    stderr: np.ndarray
    steps: int
    burn_in: int = 0
    local: np.ndarray | None = None
    local_steps: np.ndarray | None = None
    n_factorizations: int = 0

    @property
    def n_steps(self) -> int:
        """Older alias of ``steps``."""
        return self.steps

    @property
    def kaplan_yorke_dimension(self):
        """Kaplan–Yorke dimension: a float, or ``(B,)`` for a batch."""
        return kaplan_yorke_dimension(self.exponents)

    def to_frame(self) -> pd.DataFrame:
        """Tidy: a row per ([network,] index): ``index`` (1-based), ``exponent``, ``stderr``."""
        lam = self.exponents
        index = pd.MultiIndex.from_product(
            [*(range(n) for n in lam.shape[:-1]), range(1, lam.shape[-1] + 1)],
            names=[*(["network"] if lam.ndim == 2 else []), "index"],
        )
        data = {"exponent": lam.reshape(-1), "stderr": self.stderr.reshape(-1)}
        return pd.DataFrame(data, index=index).reset_index()
