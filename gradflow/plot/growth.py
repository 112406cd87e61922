"""Gradient growth: the norm of a backpropagated gradient against the time lag.

The data are natural logs (``log_norm`` = ln ‖∂⟨v, h_T⟩/∂h_{T−lag}‖, as computed in the log
domain by :func:`gradflow.jacobians.log_gradient_norms`). Exponentiating them would overflow
float64 for an exploding network long before the log does, so the y axis carries log10 of the
norm on a linear scale, with ticks labelled as powers of ten: it reads exactly like a log axis
and draws any finite curve.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import Formatter, Locator, MaxNLocator

from ..stats import band
from ._style import PALETTE

__all__ = ["PowerOfTenFormatter", "growth"]

_LOG10_E = 1.0 / math.log(10.0)


class PowerOfTenFormatter(Formatter):
    """Label a tick at y (a log10 value) as :math:`10^y`."""

    def __call__(self, value, pos=None):
        exponent = round(float(value), 6)
        if exponent == int(exponent):
            return f"$10^{{{int(exponent)}}}$"
        return f"$10^{{{exponent:g}}}$"


class _DecadeMinorLocator(Locator):
    """Minor ticks at log10(k) + d (k = 2..9) when the view spans at most ``max_decades``."""

    def __init__(self, max_decades: float = 8.0):
        self.max_decades = max_decades

    def __call__(self):
        low, high = sorted(self.axis.get_view_interval())
        if not np.isfinite(low) or not np.isfinite(high) or high - low > self.max_decades:
            return []
        decades = np.arange(math.floor(low), math.ceil(high) + 1)
        ticks = (decades[:, None] + np.log10(np.arange(2, 10))[None, :]).ravel()
        return ticks[(ticks >= low) & (ticks <= high)]


def _check_columns(frame, columns, name: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name}: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c is not None and c not in frame.columns]
    if missing:
        raise ValueError(f"{name}: missing column(s) {missing}; columns are {list(frame.columns)}")


def growth(
    data,
    *,
    ax=None,
    x: str = "lag",
    y: str = "log_norm",
    hue: str | None = "init",
    hue_order=None,
    style: str | None = None,
    palette=None,
    estimator="median",
    errorbar=("pi", 80),
    band=None,
    theory=None,
    theory_y: str | None = None,
    theory_label: str = "theory",
    legend="auto",
    **kwargs,
):
    r"""Plot the log gradient norm against the lag, on a logarithmic y axis.

    Parameters
    ----------
    data : pandas.DataFrame
        Tidy frame, one row per (curve, lag), with columns ``x`` and ``y`` (natural log of
        the norm) and optionally ``hue``/``style``. Several rows per (hue, style, x), such as
        several seeds, are summarised by ``estimator`` with an ``errorbar`` band.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: the current Axes).
    x, y : str, default "lag", "log_norm"
        Columns of the lag (steps) and of the natural log of the norm.
    hue : str or None, default "init"
        Column that sets the colour; ignored when absent from ``data``.
    hue_order : list, optional
        Order of the hue levels.
    style : str, optional
        Column that sets the line style.
    palette : str, list or dict, optional
        Colours (default: seaborn's colour-blind-safe ``"colorblind"``).
    estimator : str or callable, default "median"
        Summary across rows that share (hue, style, x); the median of logs is the log of the
        median norm.
    errorbar : tuple or None, default ("pi", 80)
        Band around the estimate (``("pi", 80)``: the 10–90 % percentile interval); dropped
        when every (hue, style, x) has a single row.
    band : (str, str), optional
        Columns of ``data`` holding a precomputed band (natural logs, such as the 10 % and
        90 % quantiles over seeds), for data with one row per (hue, style, x); drawn in
        place of ``errorbar``.
    theory : pandas.DataFrame, optional
        Reference curves drawn dashed: columns ``x`` and ``theory_y`` (natural logs), one line
        per ``hue`` level when the column is present (in that level's colour), else one black
        line.
    theory_y : str, optional
        Column of ``theory`` holding the log norms (default: ``y``).
    theory_label : str, default "theory"
        Legend label of the theory lines.
    legend : "auto", "brief", "full" or False
        Passed to :func:`seaborn.lineplot`.
    **kwargs
        Passed to :func:`seaborn.lineplot`.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes. Its y data are log10 of the norm (the natural logs divided by ln 10),
        labelled as powers of ten; add further lines in the same units.

    Notes
    -----
    Backpropagation through time multiplies the gradient by one Jacobian per step,
    :math:`\partial h_T/\partial h_{T-k} = J_T J_{T-1} \cdots J_{T-k+1}`, so the norm grows or
    decays roughly geometrically in the lag k: a straight line on this axis. A linear network
    with :math:`W = gQ`, Q orthogonal, gives exactly :math:`g^k`.

    References
    ----------
    Pascanu, R., Mikolov, T. & Bengio, Y. (2013). On the difficulty of training recurrent
    neural networks. ICML.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> lags = np.arange(50)
    >>> frame = pd.DataFrame({"init": "orthogonal", "lag": lags, "log_norm": lags * np.log(1.1)})
    >>> ax = growth(frame, theory=frame, theory_label="$g^{k}$")
    >>> ax.get_xlabel()
    'lag $T - t$ (steps)'
    """
    _check_columns(data, [x, y, style], "data")
    if band is not None:
        if not isinstance(band, (tuple, list)) or len(band) != 2:
            raise TypeError(f"band: expected a pair of column names, got {band!r}")
        _check_columns(data, list(band), "data")
    if hue is not None and hue not in data.columns:
        hue = None
    if ax is None:
        ax = plt.gca()
    scaled = [y, *(band or ())]
    frame = data.assign(**{c: data[c].to_numpy(dtype=float) * _LOG10_E for c in scaled})
    keys = [c for c in (hue, style) if c is not None] + [x]
    if errorbar is not None and not frame.duplicated(keys).any():
        errorbar = None
    if palette is None and hue is not None:
        palette = PALETTE
    if hue is None and "color" not in kwargs:
        kwargs["color"] = sns.color_palette(PALETTE)[0]
    if band is not None:
        if frame.duplicated(keys).any():
            raise ValueError(f"band: expected data with one row per {keys}, got duplicates")
        summary = frame[[*keys, y]].assign(_low=frame[band[0]], _high=frame[band[1]])
    else:
        summary = _summarise(frame, keys, y, estimator, errorbar)
    draw_band = band is not None or (summary is not None and errorbar is not None)
    before = len(ax.lines)
    sns.lineplot(
        data=frame if summary is None else summary,
        x=x,
        y=y,
        hue=hue,
        hue_order=hue_order,
        style=style,
        palette=palette,
        estimator=estimator if summary is None else None,
        errorbar=errorbar if summary is None else None,
        legend=legend,
        ax=ax,
        **kwargs,
    )
    if draw_band:
        _draw_bands(ax, ax.lines[before:], summary, keys[:-1], x, y)
    if theory is not None:
        _draw_theory(ax, theory, x, theory_y or y, hue, palette, hue_order, theory_label)
        if legend:
            ax.legend()
    ax.yaxis.set_major_locator(MaxNLocator(nbins="auto", integer=True, steps=[1, 2, 5, 10]))
    ax.yaxis.set_major_formatter(PowerOfTenFormatter())
    ax.yaxis.set_minor_locator(_DecadeMinorLocator())
    ax.set_xlabel(r"lag $T - t$ (steps)")
    ax.set_ylabel("gradient norm (log scale)")
    return ax


def _summarise(frame, keys, y, estimator, errorbar):
    """Estimate and percentile band per (hue, style, x), vectorised; None for seaborn to do it.

    Seaborn aggregates one x at a time (slow for hundreds of lags); a median or mean with a
    percentile interval gives the same numbers from one grouped quantile.
    """
    if not isinstance(estimator, str) or estimator not in ("median", "mean"):
        return None
    if errorbar is not None and not (
        isinstance(errorbar, tuple) and len(errorbar) == 2 and errorbar[0] == "pi"
    ):
        return None
    if errorbar is None:
        return frame.groupby(keys, sort=False, dropna=False)[y].agg(estimator).reset_index()
    summary = band(frame, keys, y, width=float(errorbar[1]), estimator=estimator, dropna=False)
    return summary.rename(columns={f"{y}_low": "_low", f"{y}_high": "_high"})


def _draw_bands(ax, lines, summary, groups, x, y) -> None:
    """Fill the percentile band under each line seaborn drew (matched by its data)."""
    unused = list(lines)
    parts = summary.groupby(groups, sort=False, dropna=False) if groups else [(None, summary)]
    for _, part in parts:
        part = part.sort_values(x)
        xs, ys = part[x].to_numpy(dtype=float), part[y].to_numpy(dtype=float)
        for line in unused:
            lx, ly = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
            if (
                lx.shape == xs.shape
                and np.array_equal(lx, xs)
                and np.allclose(ly, ys, equal_nan=True)
            ):
                unused.remove(line)
                ax.fill_between(
                    xs,
                    part["_low"].to_numpy(dtype=float),
                    part["_high"].to_numpy(dtype=float),
                    color=line.get_color(),
                    alpha=0.2,
                    linewidth=0,
                )
                break


def _draw_theory(ax, theory, x, y, hue, palette, hue_order, label) -> None:
    """Dashed reference lines, one per hue level present in ``theory`` (or one black line)."""
    _check_columns(theory, [x, y], "theory")
    by_hue = hue is not None and hue in theory.columns
    if not by_hue:
        ordered = theory.sort_values(x)
        ax.plot(
            ordered[x].to_numpy(dtype=float),
            ordered[y].to_numpy(dtype=float) * _LOG10_E,
            linestyle="--",
            color="0.1",
            linewidth=1.0,
            label=label,
            zorder=4,
        )
        return
    levels = list(hue_order) if hue_order is not None else list(dict.fromkeys(theory[hue]))
    if isinstance(palette, dict):
        colours = palette
    else:
        colours = dict(zip(levels, sns.color_palette(palette or PALETTE, len(levels))))
    for level in levels:
        part = theory[theory[hue] == level].sort_values(x)
        if part.empty:
            continue
        ax.plot(
            part[x].to_numpy(dtype=float),
            part[y].to_numpy(dtype=float) * _LOG10_E,
            linestyle="--",
            color=colours.get(level, "0.1"),
            linewidth=1.0,
            label="_nolegend_",
            zorder=4,
        )
    # One neutral legend entry for all theory lines (an empty proxy line).
    ax.plot([], [], linestyle="--", color="0.1", linewidth=1.0, label=label)
