r"""Initialisation sweeps: growth rates and spectra of the recurrent matrix against the gain.

Axes-level, in seaborn's manner: a tidy frame in, the Axes out; nothing is computed here beyond
seaborn's estimators.

- :func:`growth_rates`: the fitted growth rate of the gradient norm per step against the gain,
  one line of points with confidence-interval error bars per initialiser, with theory curves;
- :func:`spectral_gap`: the spectral radius ρ(W) and the largest singular value σ_max(W)
  against the gain, median and band over random draws, with reference lines g and 2g and
  Pascanu et al.'s threshold σ_max = 1/γ.

Reference artists carry a ``gid`` (see :data:`GIDS`), so callers and tests can find them.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ._common import level_colours
from ._style import PALETTE

__all__ = ["GIDS", "QUANTITY_LABELS", "growth_rates", "spectral_gap"]

#: ``gid`` of the reference artists.
GIDS = {
    "zero": "zero-rate",
    "theory": "theory",
    "reference": "reference",
    "threshold": "pascanu-threshold",
    "vanishing": "vanishing-region",
}

#: Display names of the two spectral quantities of :func:`spectral_gap`.
QUANTITY_LABELS = {
    "spectral_radius": r"spectral radius $\rho(W)$",
    "sigma_max": r"largest singular value $\sigma_{\max}(W)$",
}

_MARKERS = ("o", "s", "D", "^", "v", "P", "X", "<", ">", "h")
_CURVE_STYLES = ("--", ":", "-.", (0, (6, 1.5, 1, 1.5, 1, 1.5)))
_REFERENCE_STYLES = (":", "-.", (0, (1, 3)), (0, (5, 1, 1, 1)))
_NEUTRAL = (0.15, 0.15, 0.15)
_QUANTITY_STYLES = {"spectral_radius": ("-", "o"), "sigma_max": ("--", "s")}


def _check(frame, columns, name: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name}: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c is not None and c not in frame.columns]
    if missing:
        raise ValueError(f"{name}: missing column(s) {missing}; columns are {list(frame.columns)}")


def _levels(data, hue, hue_order) -> list:
    if hue is None:
        return [None]
    present = list(dict.fromkeys(data[hue]))
    return [level for level in hue_order if level in present] if hue_order else present


def _label(labels, level) -> str:
    return str(labels.get(level, level)) if labels else str(level)


def growth_rates(
    data,
    *,
    ax=None,
    x: str = "gain",
    y: str = "rate",
    hue: str | None = "init",
    hue_order=None,
    palette=None,
    labels: Mapping | None = None,
    interval=("ci_low", "ci_high"),
    markers: bool = True,
    dodge: float = 0.0,
    theory=None,
    theory_y: str = "theory",
    curve: str = "curve",
    curve_styles: Mapping | None = None,
    zero_line: bool = True,
    legend: bool = True,
    **kwargs,
):
    r"""Plot growth rates per step against the gain, with error bars and theory curves.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per condition, such as :func:`gradflow.simulate.growth_rates` returns:
        columns ``x``, ``y``, optionally ``hue`` and the two ``interval`` columns.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: the current Axes).
    x, y : str, default "gain", "rate"
        Columns of the gain and of the rate (nats per step).
    hue : str or None, default "init"
        Column that sets the colour (and the marker); ignored when absent from ``data``.
    hue_order : list, optional
        Order of the hue levels.
    palette : str, list or dict, optional
        Colours (a dict maps hue levels to colours; default: the colour-blind palette).
    labels : dict, optional
        Display names of the hue levels.
    interval : (str, str) or None, default ("ci_low", "ci_high")
        Columns of the lower and upper ends of the error bars; None (or absent columns)
        draws none. Non-finite ends draw no bar.
    markers : bool, default True
        One marker shape per hue level (lines that lie on top of each other stay visible).
    dodge : float, default 0
        Shift each hue level's points along x by ``dodge`` times its offset from the
        middle level, so overlapping error bars separate (the data are not changed).
    theory : pandas.DataFrame, optional
        Theory curves: columns ``x``, ``theory_y`` and ``curve`` (the curve's legend label),
        optionally ``hue``. Each (curve, hue level) pair is one line in the hue level's
        colour; rows with a missing hue level draw in near-black. One legend entry per curve.
    theory_y : str, default "theory"
        Column of ``theory`` with the predicted rate.
    curve : str, default "curve"
        Column of ``theory`` naming the curve.
    curve_styles : dict, optional
        ``curve label -> matplotlib linestyle`` (default: dashed, dotted, dash-dot, ...).
    zero_line : bool, default True
        A horizontal line at rate 0, the boundary between vanishing and exploding.
    legend : bool, default True
        Draw a legend on the Axes.

    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.errorbar` for each level's points
        (e.g. ``alpha=0.5``); they override the defaults.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes; each hue level is one ``ErrorbarContainer`` in ``ax.containers``.

    Notes
    -----
    The gradient norm after k steps of backpropagation grows roughly as
    :math:`e^{\lambda k}`; λ > 0 explodes, λ < 0 vanishes. For a linear network
    λ = ln ρ(W), which is ln g for a scaled orthogonal W = gQ.

    References
    ----------
    Pascanu, R., Mikolov, T. & Bengio, Y. (2013). On the difficulty of training recurrent
    neural networks. ICML.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> gains = np.array([0.5, 1.0, 2.0])
    >>> rates = pd.DataFrame({"init": "orthogonal", "gain": gains, "rate": np.log(gains),
    ...                       "ci_low": np.log(gains), "ci_high": np.log(gains)})
    >>> curve = pd.DataFrame({"gain": gains, "theory": np.log(gains), "curve": "ln g"})
    >>> ax = growth_rates(rates, theory=curve)
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['orthogonal', 'ln g']
    """
    _check(data, [x, y], "data")
    if hue is not None and hue not in data.columns:
        hue = None
    if ax is None:
        ax = plt.gca()
    levels = _levels(data, hue, hue_order)
    colours = level_colours(levels, palette)
    bars = interval is not None and all(c in data.columns for c in interval)
    if zero_line:
        ax.axhline(0.0, color="0.55", linewidth=0.8, zorder=1, gid=GIDS["zero"])
    middle = 0.5 * (len(levels) - 1)
    entries = []
    for i, level in enumerate(levels):
        part = data if level is None else data[data[hue] == level]
        part = part.sort_values(x)
        xs = part[x].to_numpy(dtype=float) + dodge * (i - middle)
        ys = part[y].to_numpy(dtype=float)
        yerr = None
        if bars:
            low = part[interval[0]].to_numpy(dtype=float)
            high = part[interval[1]].to_numpy(dtype=float)
            yerr = np.vstack([ys - low, high - ys])
            yerr = np.where(np.isfinite(yerr), np.maximum(yerr, 0.0), 0.0)
        look = {
            "color": colours.get(level, sns.color_palette(PALETTE)[0]),
            "marker": _MARKERS[i % len(_MARKERS)] if markers else "o",
            "markersize": 3.5,
            "linewidth": 1.0,
            "elinewidth": 0.9,
            "capsize": 2.0,
            "label": _label(labels, level) if level is not None else y,
            "zorder": 3,
        }
        container = ax.errorbar(xs, ys, yerr=yerr, **{**look, **kwargs})
        entries.append(container)
    if theory is not None:
        entries += _draw_curves(ax, theory, x, theory_y, curve, hue, colours, curve_styles)
    ax.set_xlabel("gain $g$")
    ax.set_ylabel("growth rate per step (nats)")
    if legend:
        ax.legend(entries, [entry.get_label() for entry in entries])
    return ax


def _draw_curves(ax, theory, x, y, curve, hue, colours, curve_styles) -> list:
    """Theory lines per (curve, hue level); returns one legend proxy per curve."""
    _check(theory, [x, y, curve], "theory")
    by_hue = hue is not None and hue in theory.columns
    names = list(dict.fromkeys(theory[curve]))
    styles = dict(curve_styles or {})
    proxies = []
    for k, name in enumerate(names):
        style = styles.get(name, _CURVE_STYLES[k % len(_CURVE_STYLES)])
        rows = theory[theory[curve] == name]
        groups = rows.groupby(hue, sort=False, dropna=False) if by_hue else [(None, rows)]
        used = []
        for level, part in groups:
            level = None if level is None or pd.isna(level) else level
            colour = colours.get(level, _NEUTRAL) if level is not None else _NEUTRAL
            used.append(colour)
            part = part.sort_values(x)
            ax.plot(
                part[x].to_numpy(dtype=float),
                part[y].to_numpy(dtype=float),
                linestyle=style,
                color=colour,
                linewidth=1.1,
                label="_nolegend_",
                gid=GIDS["theory"],
                zorder=4,
            )
        proxy = used[0] if all(c == used[0] for c in used) else _NEUTRAL
        proxies += ax.plot([], [], linestyle=style, color=proxy, linewidth=1.1, label=str(name))
    return proxies


def spectral_gap(
    data,
    *,
    ax=None,
    x: str = "gain",
    hue: str | None = "init",
    hue_order=None,
    palette=None,
    labels: Mapping | None = None,
    estimator="median",
    errorbar=("pi", 80),
    references=((1.0, "$g$"), (2.0, "$2g$")),
    threshold: float | None = 1.0,
    threshold_label: str = r"Pascanu: $\sigma_{\max} = 1/\gamma = 1$ (tanh)",
    vanishing_label: str = r"$\sigma_{\max} < 1/\gamma$: vanishing guaranteed",
    legend: bool = True,
    **kwargs,
):
    r"""Plot ρ(W) and σ_max(W) against the gain: median and band over random draws.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per weight matrix, with columns ``x``, ``spectral_radius`` and
        ``sigma_max`` (and ``hue``); several rows per (hue, x), such as several seeds, are
        summarised by ``estimator`` with an ``errorbar`` band.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: the current Axes).
    x : str, default "gain"
        Column of the gain.
    hue : str or None, default "init"
        Column that sets the colour; ignored when absent from ``data``.
    hue_order : list, optional
        Order of the hue levels.
    palette : str, list or dict, optional
        Colours (default: the colour-blind palette).
    labels : dict, optional
        Display names of the hue levels.
    estimator : str or callable, default "median"
        Summary over the rows of one (hue, x).
    errorbar : tuple or None, default ("pi", 80)
        Band around the estimate (the 10–90 % percentile interval); none for single rows.
    references : sequence of (float, str), default ((1, "$g$"), (2, "$2g$"))
        Grey reference lines y = c·x with their labels: the circular-law radius g and the
        edge 2g of the singular values of a Gaussian W with entries N(0, g²/n).
    threshold : float or None, default 1.0
        Draw σ_max = ``threshold`` (1/γ; γ = 1 for tanh) as a horizontal line and shade
        the region below it, where vanishing gradients are guaranteed. None draws neither.
    threshold_label, vanishing_label : str
        Legend labels of the threshold line and of the shaded region below it.
    legend : bool, default True
        Draw a legend on the Axes.

    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.plot` for each median line (e.g. ``linewidth=3``);
        they override the defaults.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes; ρ(W) is drawn solid with round markers, σ_max(W) dashed with squares.

    Notes
    -----
    Every BPTT Jacobian obeys :math:`\lVert J_t\rVert \le \gamma\,\sigma_{\max}(W)`, so
    :math:`\sigma_{\max} < 1/\gamma` guarantees vanishing gradients (Pascanu et al. 2013),
    while a linear network's gradients grow as :math:`\rho(W)^k`. The two agree for normal
    matrices (orthogonal: ρ = σ_max = g) and differ by a factor 2 for Gaussian ones
    (ρ ≈ g by the circular law, σ_max ≈ 2g at the Marchenko–Pastur edge).

    References
    ----------
    Pascanu, R., Mikolov, T. & Bengio, Y. (2013). On the difficulty of training recurrent
    neural networks. ICML. Bai, Z. D. (1997). Circular law. Ann. Probab. 25, 494–529.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> gains = np.array([0.5, 1.0, 2.0])
    >>> data = pd.DataFrame({"init": "orthogonal", "gain": gains,
    ...                      "spectral_radius": gains, "sigma_max": gains})
    >>> ax = spectral_gap(data)
    >>> ax.get_xlabel(), len([line for line in ax.lines if line.get_gid() == "reference"])
    ('gain $g$', 2)
    """
    quantities = list(QUANTITY_LABELS)
    _check(data, [x, *quantities], "data")
    if hue is not None and hue not in data.columns:
        hue = None
    if ax is None:
        ax = plt.gca()
    levels = _levels(data, hue, hue_order)
    colours = level_colours(levels, palette)
    gains = data[x].to_numpy(dtype=float)
    span = np.array([0.0, np.nanmax(gains) * 1.04]) if gains.size else np.array([0.0, 1.0])
    # Legend proxies first (legend order): hue levels, then the two quantities.
    if len(levels) > 1:
        for level in levels:
            ax.plot([], [], color=colours[level], linewidth=3.0, label=_label(labels, level))
    for quantity, (style, marker) in _QUANTITY_STYLES.items():
        ax.plot(
            [], [], color=_NEUTRAL, linestyle=style, marker=marker, markersize=3.5,
            label=QUANTITY_LABELS[quantity],
        )  # fmt: skip
    for k, (slope, label) in enumerate(references or ()):
        ax.plot(
            span,
            float(slope) * span,
            color="0.5",
            linewidth=0.9,
            linestyle=_REFERENCE_STYLES[k % len(_REFERENCE_STYLES)],
            zorder=1,
            gid=GIDS["reference"],
            label=label,
        )
    if threshold is not None:
        ax.axhline(
            threshold, color="0.2", linewidth=1.0, zorder=2, gid=GIDS["threshold"],
            label=threshold_label,
        )  # fmt: skip
        ax.axhspan(
            0.0, threshold, color="0.93", zorder=0, linewidth=0, gid=GIDS["vanishing"],
            label=vanishing_label,
        )  # fmt: skip
    keys = [c for c in (hue, x) if c is not None]
    frame = data.melt(id_vars=keys, value_vars=quantities, var_name="quantity", value_name="value")
    if errorbar is not None and not frame.duplicated([*keys, "quantity"]).any():
        errorbar = None
    for level in levels:
        part = frame if level is None else frame[frame[hue] == level]
        colour = colours.get(level, sns.color_palette(PALETTE)[0])
        for quantity, (style, marker) in _QUANTITY_STYLES.items():
            look = {
                "color": colour, "marker": marker, "markersize": 3.5, "markeredgewidth": 0,
                "linestyle": style, "linewidth": 1.2, "zorder": 3,
            }  # fmt: skip
            sns.lineplot(
                data=part[part["quantity"] == quantity], x=x, y="value", estimator=estimator,
                errorbar=errorbar, legend=False, ax=ax, **{**look, **kwargs},
            )  # fmt: skip
    if ax.get_xscale() == "linear":  # a log axis the caller chose keeps its limits
        ax.set_xlim(left=0.0)
    ax.set_ylim(bottom=0.0)
    ax.set_xlabel("gain $g$")
    ax.set_ylabel(r"$\rho(W)$ and $\sigma_{\max}(W)$")
    if legend:
        ax.legend()
    return ax
