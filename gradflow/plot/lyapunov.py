r"""Lyapunov spectra, the order-to-chaos phase diagram and singular-value spectra of products.

Axes-level, in seaborn's manner: a tidy frame in, the Axes out; nothing is computed here beyond
the summaries of a plot (means and spreads over seeds, histogram counts).

- :func:`lyapunov_spectrum`: exponents :math:`\lambda_i` against the normalised index i/N, one
  line per hue level (e.g. the gain), with dashed reference spectra (e.g. Newman's);
- :func:`phase_diagram`: the top exponent against the gain, mean and spread over seeds, with
  theory curves and a vertical marker at the edge of chaos g = 1;
- :func:`singular_value_spectra`: histograms of :math:`\log_{10}\sigma` of Jacobian products,
  one ridge per depth, each scaled to its peak, with the isometry line σ = 1.

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

from .._validation import as_float, as_int
from ._style import PALETTE

__all__ = ["GIDS", "lyapunov_spectrum", "phase_diagram", "singular_value_spectra"]

#: ``gid`` of the reference artists.
GIDS = {
    "zero": "zero-exponent",
    "reference": "reference",
    "theory": "theory",
    "band": "spread",
    "edge": "edge-of-chaos",
    "isometry": "isometry",
    "ridge": "ridge",
    "spread": "ridge-spread",
}

_NEUTRAL = (0.15, 0.15, 0.15)
_CURVE_STYLES = ("--", ":", "-.", (0, (6, 1.5, 1, 1.5)))
_MARKERS = ("o", "s", "D", "^", "v", "P", "X")
_EXPONENT_LABEL = "(nats per step)"


def _check(frame, columns, name: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name}: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c is not None and c not in frame.columns]
    if missing:
        raise ValueError(f"{name}: missing column(s) {missing}; columns are {list(frame.columns)}")


def _levels(data, hue, hue_order, *, sort: bool = False) -> list:
    if hue is None:
        return [None]
    present = list(dict.fromkeys(data[hue]))
    if hue_order is not None:
        return [level for level in hue_order if level in present]
    return sorted(present) if sort else present


def _colours(levels, palette) -> dict:
    if isinstance(palette, Mapping):
        missing = [level for level in levels if level is not None and level not in palette]
        if missing:
            raise ValueError(f"palette: no colour for hue level(s) {missing}")
        return dict(palette)
    return dict(zip(levels, sns.color_palette(palette or PALETTE, len(levels))))


def _label(labels, hue, level) -> str:
    """Display name of a hue level: from ``labels`` (dict or callable), else a default."""
    if callable(labels):
        return str(labels(level))
    if labels and level in labels:
        return str(labels[level])
    if hue == "gain":
        return f"$g$ = {level:g}"
    if hue == "depth":
        return f"$L$ = {level}"
    return str(level)


def _rows(data, hue, level):
    return data if level is None else data[data[hue] == level]


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
    size: str | None = "n",
    err: str | None = "stderr",
    reference=None,
    reference_label: str = "Newman: i.i.d. Gaussian products",
    zero_line: bool = True,
    legend: bool = True,
):
    r"""Plot Lyapunov spectra: exponent :math:`\lambda_i` against the normalised index i/N.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per (curve, exponent), such as :meth:`LyapunovSpectrum.to_frame` with a
        ``hue`` column: columns ``x`` (1-based index i), ``y`` (nats per step), optionally
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
    size : str or None, default "n"
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
    >>> frame = pd.DataFrame({"gain": 2.0, "n": 8, "index": i,
    ...                       "exponent": np.log(2.0) + 0.5 * np.log1p(-(i - 0.5) / 8)})
    >>> from matplotlib.figure import Figure
    >>> ax = lyapunov_spectrum(frame, ax=Figure().add_subplot(), reference=frame)
    >>> ax.get_xlabel(), [t.get_text() for t in ax.get_legend().get_texts()]
    ('normalised index $i/N$', ['$g$ = 2', 'Newman: i.i.d. Gaussian products'])
    """
    _check(data, [x, y], "data")
    if hue is not None and hue not in data.columns:
        hue = None
    scaled = size is not None and size in data.columns
    if ax is None:
        ax = plt.gca()
    levels = _levels(data, hue, hue_order)
    colours = _colours(levels, palette)
    if zero_line:
        ax.axhline(0.0, color="0.55", linewidth=0.8, zorder=1, gid=GIDS["zero"])
    for level in levels:
        part = _rows(data, hue, level).sort_values(x)
        xs = part[x].to_numpy(dtype=float)
        if scaled:
            xs = xs / part[size].to_numpy(dtype=float)
        ys = part[y].to_numpy(dtype=float)
        colour = colours.get(level, sns.color_palette(PALETTE)[0])
        ax.plot(xs, ys, color=colour, linewidth=1.5, zorder=3, label=_label(labels, hue, level))
        if err is not None and err in part.columns:
            half = 2.0 * part[err].to_numpy(dtype=float)
            half = np.where(np.isfinite(half), half, 0.0)
            ax.fill_between(
                xs, ys - half, ys + half, color=colour, alpha=0.25, linewidth=0, zorder=2,
                gid=GIDS["band"],
            )  # fmt: skip
    if reference is not None:
        _check(reference, [x, y], "reference")
        by_hue = hue is not None and hue in reference.columns
        groups = (
            [(lv, _rows(reference, hue, lv)) for lv in levels] if by_hue else [(None, reference)]
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
        half = as_float(spread[1], "spread", positive=True, high=100.0) / 200.0
        low = grouped.quantile(0.5 - half).to_numpy(dtype=float)
        return xs, ys, low, grouped.quantile(0.5 + half).to_numpy(dtype=float)
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
    _check(data, [x, y], "data")
    if hue is not None and hue not in data.columns:
        hue = None
    if ax is None:
        ax = plt.gca()
    levels = _levels(data, hue, hue_order)
    colours = _colours(levels, palette)
    if zero_line:
        ax.axhline(0.0, color="0.55", linewidth=0.8, zorder=1, gid=GIDS["zero"])
    for i, level in enumerate(levels):
        xs, ys, low, high = _summary(_rows(data, hue, level), x, y, spread)
        colour = colours.get(level, sns.color_palette(PALETTE)[0])
        # Earlier levels get larger, hollow markers: where curves coincide all stay visible.
        later = len(levels) - 1 - i
        ax.plot(
            xs, ys, color=colour, marker=_MARKERS[i % len(_MARKERS)],
            markersize=3.5 + 2.0 * later, markerfacecolor="white" if later else colour,
            linewidth=1.3, zorder=3 + i, label=_label(labels, hue, level) if hue else y,
        )  # fmt: skip
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
    _check(theory, [x, y, curve], "theory")
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


# -- singular-value spectra of products ---------------------------------------------------------
def _width(width: float) -> str:
    """A spread for a label: "0" below 0.005, else two or three significant digits."""
    if width < 0.005:
        return "0"
    return f"{width:.2f}" if width < 1 else f"{width:.1f}" if width < 10 else f"{width:.0f}"


def _edges(values, bins, min_width):
    """Bin edges over the values' range, with bins at least ``min_width`` wide (centred)."""
    low, high = float(values.min()), float(values.max())
    if high - low >= bins * min_width:
        return np.linspace(low, high, bins + 1)
    count = max(1, math.ceil((high - low) / min_width))
    middle = 0.5 * (low + high)
    return middle + (np.arange(count + 1) - 0.5 * count) * min_width


def singular_value_spectra(
    data,
    *,
    ax=None,
    x: str = "log10_sv",
    hue: str | None = "depth",
    hue_order=None,
    palette=None,
    labels: Mapping | Callable | None = None,
    bins: int = 40,
    min_width: float | None = None,
    height: float = 0.85,
    isometry: float | None = 0.0,
    isometry_label: str = r"$\sigma = 1$ (isometry)",
    annotate: str | None = "10–90 %: {width} decades",
    legend: bool = False,
):
    r"""Plot histograms of :math:`\log_{10}\sigma` of Jacobian products, one ridge per depth.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per singular value, such as :meth:`ProductSpectrum.to_frame` with a log10
        column: columns ``x`` and optionally ``hue``. Non-finite values (exact zeros) are
        left out of the histograms.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: the current Axes).
    x : str, default "log10_sv"
        Column of :math:`\log_{10}\sigma`.
    hue : str or None, default "depth"
        Column of the ridges (and colours); levels are sorted unless ``hue_order`` is given,
        and the first is drawn on top. Ignored when absent from ``data``.
    hue_order : list, optional
        Order of the ridges, top to bottom.
    palette : str, list or dict, optional
        Colours (default: the colour-blind palette).
    labels : dict or callable, optional
        Tick labels of the ridges (default ``"$L$ = 4"`` for a depth).
    bins : int, default 40
        Bins per ridge, spanning that ridge's own range (so narrow and wide spectra are both
        resolved).
    min_width : float, optional
        Narrowest bin, in the units of ``x`` (default: 1/200 of the range of all the data, or
        0.02): a spectrum concentrated at one value is drawn as one visible spike.
    height : float, default 0.85
        Height of each ridge's tallest bin (ridges are one unit apart).
    isometry : float or None, default 0.0
        Position of a vertical line (σ = 1 at log10 σ = 0); None draws none.
    isometry_label : str
        Legend label of that line.
    annotate : str or None, default "10–90 %: {width} decades"
        Text above the left end of each ridge, its ``{width}`` field filled with the width of
        the central 80 % of the ridge's values (10th to 90th percentile, in units of ``x``:
        decades for log10 σ). None writes nothing.
    legend : bool, default False
        Draw a legend on the Axes (the ridges are labelled on the y axis).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes: per ridge one filled ``StepPatch`` (``gid`` ``"ridge"``), its outline and
        (with ``annotate``) a text (``gid`` ``"ridge-spread"``).

    Notes
    -----
    For :math:`M_L = J_L\cdots J_1` the squared singular values of an orthogonal linear
    product are all 1 (dynamical isometry); for Gaussian W they follow the Fuss–Catalan law of
    depth L (mean 1, variance L), so :math:`\log\sigma` spreads linearly in L; a tanh network
    adds :math:`\operatorname{diag}\varphi'(a_t) \le 1` factors. Histograms are scaled to
    their peak: compare shapes and positions, not heights.

    References
    ----------
    Pennington, J., Schoenholz, S. & Ganguli, S. (2017). Resurrecting the sigmoid in deep
    learning through dynamical isometry: theory and practice. NeurIPS.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"depth": np.repeat([1, 4], 50),
    ...                       "log10_sv": rng.normal(0, 1, 100) * np.repeat([0.3, 1.2], 50)})
    >>> from matplotlib.figure import Figure
    >>> ax = singular_value_spectra(frame, ax=Figure().add_subplot())
    >>> [t.get_text() for t in ax.get_yticklabels()]  # bottom to top
    ['$L$ = 4', '$L$ = 1']
    """
    _check(data, [x], "data")
    if hue is not None and hue not in data.columns:
        hue = None
    bins = as_int(bins, "bins", minimum=1)
    height = as_float(height, "height", positive=True)
    if ax is None:
        ax = plt.gca()
    levels = _levels(data, hue, hue_order, sort=True)
    colours = _colours(levels, palette)
    values = data[x].to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    if min_width is None:
        span = float(finite.max() - finite.min()) if finite.size else 0.0
        min_width = span / 200.0 if span > 0 else 0.02
    min_width = as_float(min_width, "min_width", positive=True)
    ticks, names = [], []
    for i, level in enumerate(levels):
        base = float(len(levels) - 1 - i)
        part = _rows(data, hue, level)[x].to_numpy(dtype=float)
        part = part[np.isfinite(part)]
        colour = colours.get(level, sns.color_palette(PALETTE)[0])
        ticks.append(base)
        names.append(_label(labels, hue, level) if level is not None else "")
        if not part.size:
            continue
        edges = _edges(part, bins, min_width)
        counts, _ = np.histogram(part, edges)
        top = base + height * counts / counts.max()
        ax.stairs(
            top, edges, baseline=base, fill=True, color=colour, alpha=0.45, linewidth=0,
            zorder=2 + i, gid=GIDS["ridge"], label=names[-1],
        )  # fmt: skip
        ax.stairs(top, edges, baseline=base, color=colour, linewidth=1.0, zorder=2 + i)
        if annotate:
            low, high = np.percentile(part, [10.0, 90.0])
            ax.annotate(
                annotate.format(width=_width(high - low)), xy=(0.0, base),
                xycoords=("axes fraction", "data"),
                xytext=(2.0, 3.0), textcoords="offset points", fontsize=7, color="0.25",
                ha="left", va="bottom", gid=GIDS["spread"], zorder=10,
            )  # fmt: skip
    if isometry is not None:
        ax.axvline(
            float(isometry), color="0.3", linestyle=":", linewidth=1.0, zorder=1,
            gid=GIDS["isometry"], label=isometry_label,
        )  # fmt: skip
    ax.set_yticks(ticks[::-1], names[::-1])  # ascending positions: the last level at 0
    ax.set_ylim(-0.1, len(levels) - 1 + height + 0.15)
    ax.grid(False, axis="y")
    ax.set_xlabel(r"$\log_{10}\sigma$ (singular values of the product)")
    ax.set_ylabel("")
    if legend:
        ax.legend()
    return ax
