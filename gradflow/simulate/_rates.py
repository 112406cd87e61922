"""Per-step growth rates of a sweep's gradient norms, beside the theory (:func:`growth_rates`)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from .. import init, theory
from .._validation import as_float, as_int

__all__ = ["growth_rates"]

_ISOMETRIC = ("orthogonal", "identity")  # W = g·Q: every singular value equals g
#: I.i.d. initialisers: mean-field theory treats them as Gaussian with gain scale · g (the
#: table is :data:`gradflow.init.IID_SCALE`).
_IID_SCALE = init.IID_SCALE


def _theory(init, gain, activation, drive, log_radius):
    """(prediction, name) of the growth rate of one group (see :func:`growth_rates`)."""
    if activation == "linear":
        if init in _ISOMETRIC:
            return math.log(gain), "orthogonal_growth"
        return log_radius, "log_spectral_radius"
    if activation == "tanh" and drive == "none":
        if init in _IID_SCALE:
            return theory.mean_field_lyapunov(gain * _IID_SCALE[init]), "mean_field_lyapunov"
        if init in _ISOMETRIC and gain <= 1.0:
            return math.log(gain), "orthogonal_growth"
    return math.nan, "none"


def _window(df, lag_window):
    last = int(df["lag"].max())
    if lag_window is None:
        return last // 2, last
    if not isinstance(lag_window, (tuple, list)) or len(lag_window) != 2:
        raise TypeError(f"lag_window: expected a pair (first, last) of lags, got {lag_window!r}")
    first = as_int(lag_window[0], "lag_window", minimum=0)
    stop = as_int(lag_window[1], "lag_window", minimum=first + 1, maximum=last)
    return first, stop


def growth_rates(
    df: pd.DataFrame, *, lag_window=None, confidence: float = 0.95, per_seed: bool = False
) -> pd.DataFrame:
    r"""Per-step growth rate of the gradient norm for each condition, beside the theory.

    Parameters
    ----------
    df : pandas.DataFrame
        A frame of :func:`gradient_growth` (at least ``init, gain, seed, lag, log_norm``;
        ``activation``, ``n``, ``drive``, ``spectral_radius`` are used where present).
    lag_window : (int, int), optional
        First and last lag of the fit, inclusive (default: the later half, ⌊T/2⌋..T).
    confidence : float, default 0.95
        Level of the t-based confidence interval of the mean rate.
    per_seed : bool, default False
        Return one row per seed (its slope and, for ``log_spectral_radius``, its own ln ρ)
        instead of the mean over seeds.

    Returns
    -------
    pandas.DataFrame
        One row per condition (cell, init, gain, activation, n, drive) in the order of ``df``:
        ``rate`` (nats per step, mean over seeds), ``ci_low``, ``ci_high`` (NaN for one
        seed), ``n_seeds``, ``lag_low``, ``lag_high``, ``theory`` and ``theory_name``.

    Notes
    -----
    Each seed's rate is the least-squares slope of ``log_norm`` against lag over the
    window; seeds are independent, so the interval is mean ± t_{k−1} s/√k over k seeds.
    The window skips the short lags, where v has not yet turned towards the most
    expanding direction (‖(Wᵀ)^lag v‖ ≈ c ρ^lag only for long lags).

    Predictions (``theory_name``):

    - ``orthogonal_growth``, ln g: linear cells with orthogonal or identity W = gQ (exact);
      free-running tanh cells with those W and g <= 1, whose state decays to 0 so that
      φ' → 1 (the limit of long runs; slow at g = 1).
    - ``log_spectral_radius``, the mean of ln ρ(W) over the seeds: linear cells with any
      other W (the growth rate of (Wᵀ)^lag v for almost every v).
    - ``mean_field_lyapunov``: free-running tanh cells with i.i.d. W (Gaussian, Glorot,
      PyTorch's uniform), the N → ∞ mean-field exponent
      :func:`gradflow.theory.mean_field_lyapunov` at the gain of a Gaussian W of the same
      entry variance (g, g and g/√3); finite N comes close.
    - ``none`` (NaN): everything else (driven tanh, relu, sigmoid, tanh with g > 1 and
      orthogonal or identity W).

    References
    ----------
    Poole, B. et al. (2016). Exponential expressivity in deep neural networks through
    transient chaos. NeurIPS. Saxe, A. M. et al. (2014). Exact solutions to the nonlinear
    dynamics of learning in deep linear neural networks. ICLR.

    Examples
    --------
    >>> from gradflow.simulate import gradient_growth
    >>> df = gradient_growth(["orthogonal"], [0.5, 2.0], n=4, steps=6, seeds=3,
    ...                      activation="linear", rng=0, progress=False)
    >>> rates = growth_rates(df)
    >>> bool(np.allclose(rates.rate, rates.theory)), rates.theory_name.tolist()
    (True, ['orthogonal_growth', 'orthogonal_growth'])
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df: expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in ("init", "gain", "seed", "lag", "log_norm") if c not in df.columns]
    if missing or df.empty:
        raise ValueError(f"df: expected a non-empty gradient_growth frame, missing {missing}")
    confidence = as_float(confidence, "confidence")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence: expected a level in (0, 1), got {confidence:g}")
    first, last = _window(df, lag_window)
    keys = [
        c for c in ("cell", "init", "gain", "activation", "hidden_size", "drive") if c in df.columns
    ]
    window = df.loc[df["lag"].between(first, last), [*keys, "seed", "lag", "log_norm"]].copy()
    window["x"] = window["lag"] - 0.5 * (first + last)
    finite = np.isfinite(window["log_norm"].to_numpy())
    window["y"] = np.where(finite, window["log_norm"], 0.0)
    window["xy"], window["xx"], window["bad"] = window.x * window.y, window.x**2, ~finite
    sums = window.groupby([*keys, "seed"], sort=False).agg(
        k=("x", "size"), sx=("x", "sum"), sy=("y", "sum"),
        sxy=("xy", "sum"), sxx=("xx", "sum"), bad=("bad", "any"),
    )  # fmt: skip
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (sums.sxy - sums.sx * sums.sy / sums.k) / (sums.sxx - sums.sx**2 / sums.k)
    seeds = slope.where(~sums.bad, -np.inf).rename("rate").reset_index()
    if "spectral_radius" in df.columns:
        radius = df.groupby([*keys, "seed"], sort=False)["spectral_radius"].first()
        with np.errstate(divide="ignore"):
            seeds["log_radius"] = np.log(radius.to_numpy())
    else:
        seeds["log_radius"] = np.nan
    seeds["lag_low"], seeds["lag_high"] = first, last
    attrs_drive = df.attrs.get("drive", {}).get("kind", "none")

    def predict(row, log_radius):
        if row.get("cell", "elman") != "elman":  # the theories are those of the Elman cell
            return math.nan, "none"
        return _theory(
            row["init"], float(row["gain"]), row.get("activation", df.attrs.get("activation")),
            row.get("drive", attrs_drive), log_radius,
        )  # fmt: skip

    if per_seed:
        predictions = [predict(row, row["log_radius"]) for _, row in seeds.iterrows()]
        seeds["theory"] = [p[0] for p in predictions]
        seeds["theory_name"] = [p[1] for p in predictions]
        return seeds.drop(columns="log_radius")
    rows = []
    for group_keys, group in seeds.groupby(keys, sort=False):
        row = dict(zip(keys, group_keys))
        rates = group["rate"].to_numpy()
        k = rates.size
        mean = rates.mean()
        half = math.nan
        if k > 1 and np.all(np.isfinite(rates)):
            t_crit = stats.t.ppf(0.5 + 0.5 * confidence, k - 1)
            half = t_crit * rates.std(ddof=1) / math.sqrt(k)
        with np.errstate(invalid="ignore"):
            log_radius = group["log_radius"].mean()
        value, name = predict(row, log_radius)
        row.update(
            rate=mean, ci_low=mean - half, ci_high=mean + half, n_seeds=k,
            lag_low=first, lag_high=last, theory=value, theory_name=name,
        )  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows)
