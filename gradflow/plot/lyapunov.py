r"""Lyapunov spectra and the order-to-chaos phase diagram.

Axes-level, in seaborn's manner: a tidy frame in, the Axes out; nothing is computed here beyond
the summaries of a plot (means and spreads over seeds).

- :func:`lyapunov_spectrum`: exponents :math:`\lambda_i` against the normalised index i/N, one
  line per hue level (e.g. the gain), with dashed reference spectra (e.g. Newman's);
- :func:`phase_diagram`: the top exponent against the gain, mean and spread over seeds, with
  theory curves and a vertical marker at the edge of chaos g = 1.

Singular-value spectra of Jacobian products are drawn by :mod:`gradflow.plot.products`.
Reference artists carry a ``gid`` (see :data:`GIDS`), so callers and tests can find them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

from .._validation import as_float
from ..stats import band
from ._common import check_frame, hue_levels, level_colours, level_label, level_rows
from ._style import PALETTE
from .products import GIDS as _PRODUCT_GIDS

__all__ = ["GIDS", "lyapunov_spectrum", "phase_diagram"]

#: ``gid`` of the reference artists (with those of :data:`gradflow.plot.products.GIDS`).
GIDS = {
    "zero": "zero-exponent",
    "reference": "reference",
    "theory": "theory",
    "band": "spread",
    "edge": "edge-of-chaos",
    **_PRODUCT_GIDS,
}

_NEUTRAL = (0.15, 0.15, 0.15)
_CURVE_STYLES = ("--", ":", "-.", (0, (6, 1.5, 1, 1.5)))
_MARKERS = ("o", "s", "D", "^", "v", "P", "X")
_EXPONENT_LABEL = "(nats per step)"


# -- Lyapunov spectra ---------------------------------------------------------------------------
def lyapunov_spectrum(
    data,
    *,
    ax=None,
    x: str = "index",
    y: str = "exponent",
    hue: str | None = "gain",
    hue_order=None,
    palette=None,
    labels: Mapping | Callable | None = None,
    size: str | None = "hidden_size",
    err: str | None = "stderr",
    reference=None,
    reference_label: str = "Newman: i.i.d. Gaussian products",
    zero_line: bool = True,
    legend: bool = True,
    **kwargs,
):
    r"""Plot Lyapunov spectra: exponent :math:`\lambda_i` against the normalised index i/N.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per (curve, exponent), such as :meth:`gradflow.lyapunov.LyapunovSpectrum.to_frame`
        with a ``hue`` column: columns ``x`` (1-based index i), ``y`` (nats per step), optionally
        ``size`` (N), ``err`` and ``hue``.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: the current Axes).
    x, y : str, default "index", "exponent"
        Columns of the index and of the exponent.
    hue : str or None, default "gain"
        Column that sets the colour; ignored when absent from ``data``.
    hue_order : list, optional
        Order of the hue levels.
    palette : str, list or dict, optional
        Colours (default: the colour-blind palette).
    labels : dict or callable, optional
        Display names of the hue levels (default ``"$g$ = 0.5"`` for a gain).
    size : str or None, default "hidden_size"
        Column of the dimension N: the x axis is then i/N, so spectra of different sizes
        share one axis. None (or an absent column) plots the raw index.
    err : str or None, default "stderr"
        Column of standard errors, drawn as a band of ±2 standard errors (when present).
    reference : pandas.DataFrame, optional
        Reference spectra drawn dashed: columns ``x``, ``y`` (and ``size``), one line per hue
        level in its colour when ``hue`` is a column, else one near-black line.
    reference_label : str
        Legend label of the reference lines (one neutral entry).
    zero_line : bool, default True
        A horizontal line at λ = 0, between growing and shrinking directions.
    legend : bool, default True
        Draw a legend on the Axes.

    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.plot` for each spectrum line (e.g. ``linewidth=3``);
        they override the defaults.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes: one solid line per hue level, then the reference lines.

    Notes
    -----
    A perturbation (or a backpropagated gradient) aligned with the i-th Lyapunov vector grows
    as :math:`e^{\lambda_i t}`; the sum of the first k exponents is the growth rate of
    k-dimensional volumes. For products of i.i.d. :math:`N \times N` Gaussian matrices with
    entry variance :math:`\sigma^2`, Newman's exact spectrum is
    :math:`\lambda_i = \tfrac12[\ln(2\sigma^2) + \psi((N-i+1)/2)]`, which tends to
    :math:`\ln g + \tfrac12\ln(1 - i/N)` for :math:`\sigma^2 = g^2/N`.

    References
    ----------
    Newman, C. M. (1986). The distribution of Lyapunov exponents: exact results for random
    matrices. Commun. Math. Phys. 103, 121–126.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> i = np.arange(1, 9)
    >>> frame = pd.DataFrame({"gain": 2.0, "hidden_size": 8, "index": i,
    ...                       "exponent": np.log(2.0) + 0.5 * np.log1p(-(i - 0.5) / 8)})
    >>> from matplotlib.figure import Figure
    >>> ax = lyapunov_spectrum(frame, ax=Figure().add_subplot(), reference=frame)
    >>> ax.get_xlabel(), [t.get_text() for t in ax.get_legend().get_texts()]
    ('normalised index $i/N$', ['$g$ = 2', 'Newman: i.i.d. Gaussian products'])
    """
    check_frame(data, [x, y], "data")
    if hue is not None and hue not in data.columns:
        hue = None
    scaled = size is not None and size in data.columns
    if ax is None:
        ax = plt.gca()
    levels = hue_levels(data, hue, hue_order)
    colours = level_colours(levels, palette)
    if zero_line:
        ax.axhline(0.0, color="0.55", linewidth=0.8, zorder=1, gid=GIDS["zero"])
    for level in levels:
        part = level_rows(data, hue, level).sort_values(x)
        xs = part[x].to_numpy(dtype=float)
        if scaled:
            xs = xs / part[size].to_numpy(dtype=float)
        ys = part[y].to_numpy(dtype=float)
        colour = colours.get(level, sns.color_palette(PALETTE)[0])
        style = {"color": colour, "linewidth": 1.5, "zorder": 3}
        ax.plot(xs, ys, **{**style, "label": level_label(labels, hue, level), **kwargs})
        if err is not None and err in part.columns:
            half = 2.0 * part[err].to_numpy(dtype=float)
            half = np.where(np.isfinite(half), half, 0.0)
            ax.fill_between(
                xs, ys - half, ys + half, color=colour, alpha=0.25, linewidth=0, zorder=2,
                gid=GIDS["band"],
            )  # fmt: skip
    if reference is not None:
        check_frame(reference, [x, y], "reference")
        by_hue = hue is not None and hue in reference.columns
        groups = (
            [(lv, level_rows(reference, hue, lv)) for lv in levels]
            if by_hue
            else [(None, reference)]
        )
        for level, part in groups:
            if part.empty:
                continue
            part = part.sort_values(x)
            xs = part[x].to_numpy(dtype=float)
            if scaled and size in part.columns:
                xs = xs / part[size].to_numpy(dtype=float)
            ax.plot(
                xs, part[y].to_numpy(dtype=float), linestyle="--", linewidth=1.0,
                color=colours.get(level, _NEUTRAL) if by_hue else _NEUTRAL, zorder=4,
                label="_nolegend_", gid=GIDS["reference"],
            )  # fmt: skip
        ax.plot([], [], linestyle="--", linewidth=1.0, color=_NEUTRAL, label=reference_label)
    ax.set_xlabel("normalised index $i/N$" if scaled else "index $i$")
    ax.set_ylabel(rf"Lyapunov exponent $\lambda_i$ {_EXPONENT_LABEL}")
    if scaled:
        ax.set_xlim(0.0, 1.0)
    if legend:
        ax.legend()
    return ax


# -- phase diagram ------------------------------------------------------------------------------
def _summary(part, x, y, spread):
    """Mean and band (low, high) of ``y`` per ``x``: ±1 SD, a percentile interval or none."""
    grouped = part.groupby(x, sort=True)[y]
    mean = grouped.mean()
    xs = mean.index.to_numpy(dtype=float)
    ys = mean.to_numpy(dtype=float)
    if spread is None or grouped.size().max() < 2:
        return xs, ys, None, None
    if spread == "sd":
        sd = grouped.std(ddof=1).fillna(0.0).to_numpy(dtype=float)
        return xs, ys, ys - sd, ys + sd
    if isinstance(spread, tuple) and len(spread) == 2 and spread[0] == "pi":
        width = as_float(spread[1], "spread", positive=True, high=100.0)
        summary = band(part, [x], y, width=width, estimator="mean", sort=True)
        return xs, ys, summary[f"{y}_low"].to_numpy(float), summary[f"{y}_high"].to_numpy(float)
    raise ValueError(f"spread: expected 'sd', ('pi', width) or None, got {spread!r}")


def phase_diagram(
    data,
    *,
    ax=None,
    x: str = "gain",
    y: str = "exponent",
    hue: str | None = "activation",
    hue_order=None,
    palette=None,
    labels: Mapping | Callable | None = None,
    spread="sd",
    theory=None,
    theory_y: str | None = None,
    curve: str = "curve",
    curve_styles: Mapping | None = None,
    edge: float | None = 1.0,
    edge_label: str = "edge of chaos, $g$ = 1",
    zero_line: bool = True,
    log_gain: bool = True,
    legend: bool = True,
    **kwargs,
):
    r"""Plot the top Lyapunov exponent against the gain: mean and spread over seeds.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per simulated network: columns ``x`` (gain), ``y`` (top exponent, nats per
        step) and optionally ``hue``. Rows sharing (hue, x), such as several seeds, are drawn
        as their mean (line with markers) and ``spread`` (band).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: the current Axes).
    x, y : str, default "gain", "exponent"
        Columns of the gain and of the exponent.
    hue : str or None, default "activation"
        Column that sets the colour and marker; ignored when absent from ``data``.
    hue_order : list, optional
        Order of the hue levels.
    palette : str, list or dict, optional
        Colours (default: the colour-blind palette).
    labels : dict or callable, optional
        Display names of the hue levels.
    spread : "sd", ("pi", width) or None, default "sd"
        The band: mean ± one standard deviation over rows, a percentile interval, or none.
    theory : pandas.DataFrame, optional
        Curves: columns ``x``, ``theory_y`` and ``curve`` (the legend label), optionally
        ``hue`` (the curve is drawn in that level's colour; otherwise near-black). Rows that
        share (curve, hue, x) are averaged.
    theory_y : str, optional
        Column of ``theory`` with the values (default ``y``).
    curve : str, default "curve"
        Column of ``theory`` naming the curve.
    curve_styles : dict, optional
        ``curve label -> dict of Line2D properties`` (e.g. ``{"linestyle": ":"}``; a
        ``"color"`` overrides the hue colour); default: dashed, dotted, dash-dot in turn.
    edge : float or None, default 1.0
        Gain of a vertical marker line (the edge of chaos); None draws none.
    edge_label : str
        Legend label of the marker.
    zero_line : bool, default True
        A horizontal line at exponent 0.
    log_gain : bool, default True
        Logarithmic gain axis (base 2): ln g is then a straight line.
    legend : bool, default True
        Draw a legend on the Axes.

    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.plot` for each level's markers and line
        (e.g. ``alpha=0.5``); they override the defaults.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes: per hue level one line with markers (``label`` the level) and one band
        (``gid`` ``"spread"``); theory lines have ``gid`` ``"theory"``, the marker
        ``"edge-of-chaos"``.

    Notes
    -----
    For :math:`h_t = \tanh(W h_{t-1})` with :math:`W_{ij} \sim N(0, g^2/N)`, mean-field
    theory gives :math:`\lambda_1 = \tfrac12\ln\big(g^2\,\mathbb E[\tanh'(\sqrt{q^*}z)^2]\big)`:
    :math:`\ln g` in the ordered phase g < 1 (q* = 0), positive (chaos) for g > 1. A linear
    network has :math:`\lambda_1 = \ln\rho(W)`, which tends to ln g as N grows.

    References
    ----------
    Sompolinsky, H., Crisanti, A. & Sommers, H. J. (1988). Chaos in random neural networks.
    Phys. Rev. Lett. 61, 259–262.
    Poole, B. et al. (2016). Exponential expressivity in deep neural networks through
    transient chaos. NeurIPS.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> gains = np.repeat([0.5, 1.0, 2.0], 2)
    >>> sims = pd.DataFrame({"activation": "linear", "gain": gains,
    ...                      "exponent": np.log(gains) + [0.01, -0.01] * 3})
    >>> curve = pd.DataFrame({"gain": [0.5, 2.0], "exponent": np.log([0.5, 2.0]),
    ...                       "curve": "ln g"})
    >>> from matplotlib.figure import Figure
    >>> ax = phase_diagram(sims, ax=Figure().add_subplot(), theory=curve)
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['linear', 'ln g', 'edge of chaos, $g$ = 1']
    """
    check_frame(data, [x, y], "data")
    if hue is not None and hue not in data.columns:
        hue = None
    if ax is None:
        ax = plt.gca()
    levels = hue_levels(data, hue, hue_order)
    colours = level_colours(levels, palette)
    if zero_line:
        ax.axhline(0.0, color="0.55", linewidth=0.8, zorder=1, gid=GIDS["zero"])
    for i, level in enumerate(levels):
        xs, ys, low, high = _summary(level_rows(data, hue, level), x, y, spread)
        colour = colours.get(level, sns.color_palette(PALETTE)[0])
        # Earlier levels get larger, hollow markers: where curves coincide all stay visible.
        later = len(levels) - 1 - i
        ax.plot(xs, ys, **{
            "color": colour, "marker": _MARKERS[i % len(_MARKERS)],
            "markersize": 3.5 + 2.0 * later, "markerfacecolor": "white" if later else colour,
            "linewidth": 1.3, "zorder": 3 + i,
            "label": level_label(labels, hue, level) if hue else y, **kwargs,
        })  # fmt: skip
        if low is not None:
            ax.fill_between(
                xs, low, high, color=colour, alpha=0.25, linewidth=0, zorder=2, gid=GIDS["band"]
            )
    if theory is not None:
        _theory_curves(ax, theory, x, theory_y or y, curve, hue, colours, curve_styles)
    if edge is not None:
        ax.axvline(
            as_float(edge, "edge", positive=True), color="0.35", linestyle=(0, (4, 2, 1, 2)),
            linewidth=1.0, zorder=1, gid=GIDS["edge"], label=edge_label,
        )  # fmt: skip
    if log_gain:
        _log2_gain_axis(ax, data[x].to_numpy(dtype=float))
    ax.set_xlabel("gain $g$")
    ax.set_ylabel(rf"top Lyapunov exponent $\lambda_1$ {_EXPONENT_LABEL}")
    if legend:
        ax.legend()
    return ax


def _theory_curves(ax, theory, x, y, curve, hue, colours, curve_styles) -> None:
    """One line per (curve, hue level), plus one legend proxy per curve."""
    check_frame(theory, [x, y, curve], "theory")
    by_hue = hue is not None and hue in theory.columns
    styles = dict(curve_styles or {})
    for k, name in enumerate(dict.fromkeys(theory[curve])):
        style = {"linestyle": _CURVE_STYLES[k % len(_CURVE_STYLES)], **styles.get(name, {})}
        rows = theory[theory[curve] == name]
        groups = rows.groupby(hue, sort=False, dropna=False) if by_hue else [(None, rows)]
        used = []
        for level, part in groups:
            level = None if level is None or pd.isna(level) else level
            colour = colours.get(level, _NEUTRAL) if level is not None else _NEUTRAL
            colour = style.get("color", colour)
            used.append(colour)
            mean = part.groupby(x, sort=True)[y].mean()
            ax.plot(
                mean.index.to_numpy(dtype=float), mean.to_numpy(dtype=float),
                **{"linewidth": 1.1, "zorder": 5, **style, "color": colour},
                label="_nolegend_", gid=GIDS["theory"],
            )  # fmt: skip
        proxy = used[0] if all(c == used[0] for c in used) else _NEUTRAL
        ax.plot([], [], **{"linewidth": 1.1, **style, "color": proxy}, label=str(name))


def _log2_gain_axis(ax, gains) -> None:
    """Base-2 log x axis with plain-number ticks at the powers of two in range."""
    ax.set_xscale("log", base=2)
    finite = gains[np.isfinite(gains) & (gains > 0)]
    if finite.size:
        low, high = math.floor(math.log2(finite.min())), math.ceil(math.log2(finite.max()))
        ticks = [2.0**p for p in range(low, high + 1)]
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.set_xticklabels([f"{t:g}" for t in ticks])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_minor_formatter(NullFormatter())
        pad = 2.0**0.1
        ax.set_xlim(finite.min() / pad, finite.max() * pad)
