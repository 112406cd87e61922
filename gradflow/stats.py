"""Summaries over repeated draws: an estimate and a central quantile band per group (layer 1).

The one owner of the median-and-band statistics that the figures and plots draw as a line with
a band over seeds (gradient norms, training losses, growth rates). Statistics are kept apart
from drawing, as in seaborn's ``_statistics.py``: :mod:`gradflow.plot` and
:mod:`gradflow.figures` call :func:`band` and only draw its result.
"""

from __future__ import annotations

import pandas as pd

from ._validation import as_float

__all__ = ["ESTIMATORS", "band", "band_edges"]

#: Estimators :func:`band` accepts (pandas' grouped reductions of the same names).
ESTIMATORS = ("median", "mean")


def band_edges(width: float) -> tuple[float, float]:
    """The quantile levels of a central band of ``width`` per cent: ``0.5 ∓ width/200``.

    Examples
    --------
    >>> band_edges(80)
    (0.1, 0.9)
    """
    width = as_float(width, "width", low=0.0, high=100.0)
    half = width / 200.0
    return round(0.5 - half, 12), round(0.5 + half, 12)


def band(
    frame: pd.DataFrame,
    keys,
    value: str,
    *,
    width: float = 80.0,
    estimator: str = "median",
    size: str | None = None,
    sort: bool = False,
    dropna: bool = True,
) -> pd.DataFrame:
    """Estimate and central ``width`` % quantile band of ``value`` over the rows sharing ``keys``.

    Parameters
    ----------
    frame : pandas.DataFrame
        Tidy data: one row per observation (e.g. per seed).
    keys : sequence of str
        Columns that identify a group (e.g. ``["init", "lag"]``).
    value : str
        Column to summarise.
    width : float, default 80
        Width of the band in per cent: 80 gives the 10 % and 90 % quantiles, 100 the range.
    estimator : {"median", "mean"}, default "median"
        The centre line.
    size : str, optional
        If given, a column of this name (after the keys) holds each group's row count.
    sort : bool, default False
        Sort the groups by their keys (default: in order of first appearance).
    dropna : bool, default True
        Drop groups whose keys hold NaN (as :meth:`pandas.DataFrame.groupby`).

    Returns
    -------
    pandas.DataFrame
        One row per group: the keys, ``size`` (if asked), ``value`` (the estimate),
        ``<value>_low`` and ``<value>_high`` (the quantiles, linearly interpolated as
        :func:`numpy.percentile`).

    Examples
    --------
    >>> frame = pd.DataFrame({"g": ["a"] * 5 + ["b"] * 2, "y": [1, 2, 3, 4, 5, 10, 20]})
    >>> band(frame, ["g"], "y", size="seeds")
       g  seeds     y  y_low  y_high
    0  a      5   3.0    1.4     4.6
    1  b      2  15.0   11.0    19.0
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator: expected one of {', '.join(ESTIMATORS)}, got {estimator!r}")
    keys = list(keys)
    low, high = band_edges(width)
    grouped = frame.groupby(keys, sort=sort, dropna=dropna)[value]
    out = grouped.agg(estimator).reset_index()
    if size is not None:
        out.insert(len(keys), size, grouped.size().to_numpy())
    out[f"{value}_low"] = grouped.quantile(low).to_numpy()
    out[f"{value}_high"] = grouped.quantile(high).to_numpy()
    return out
