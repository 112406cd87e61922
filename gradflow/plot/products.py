r"""Singular-value spectra of products of Jacobians, one histogram ridge per depth.

Axes-level, in seaborn's manner: a tidy frame in, the Axes out; nothing is computed here beyond
the summaries of a plot (histogram counts, percentile spreads).

- :func:`singular_value_spectra`: histograms of :math:`\log_{10}\sigma` of Jacobian products,
  one ridge per depth, each scaled to its peak, with the isometry line σ = 1.

Reference artists carry a ``gid`` (see :data:`GIDS`), so callers and tests can find them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from .._validation import as_float, as_int
from ..stats import band_edges
from ._common import check_frame, hue_levels, level_colours, level_label, level_rows
from ._style import PALETTE

__all__ = ["GIDS", "singular_value_spectra"]

#: ``gid`` of the reference artists.
GIDS = {
    "isometry": "isometry",
    "ridge": "ridge",
    "spread": "ridge-spread",
}


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
    **kwargs,
):
    r"""Plot histograms of :math:`\log_{10}\sigma` of Jacobian products, one ridge per depth.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per singular value, such as :meth:`gradflow.jacobians.ProductSpectrum.to_frame` with
        a log10 column: columns ``x`` and optionally ``hue``. Non-finite values (exact zeros) are
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

    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.stairs` for each filled ridge (e.g. ``alpha=0.3``);
        they override the defaults.

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
    check_frame(data, [x], "data")
    if hue is not None and hue not in data.columns:
        hue = None
    bins = as_int(bins, "bins", minimum=1)
    height = as_float(height, "height", positive=True)
    if ax is None:
        ax = plt.gca()
    levels = hue_levels(data, hue, hue_order, sort=True)
    colours = level_colours(levels, palette)
    values = data[x].to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    if min_width is None:
        span = float(finite.max() - finite.min()) if finite.size else 0.0
        min_width = span / 200.0 if span > 0 else 0.02
    min_width = as_float(min_width, "min_width", positive=True)
    ticks, names = [], []
    for i, level in enumerate(levels):
        base = float(len(levels) - 1 - i)
        part = level_rows(data, hue, level)[x].to_numpy(dtype=float)
        part = part[np.isfinite(part)]
        colour = colours.get(level, sns.color_palette(PALETTE)[0])
        ticks.append(base)
        names.append(level_label(labels, hue, level) if level is not None else "")
        if not part.size:
            continue
        edges = _edges(part, bins, min_width)
        counts, _ = np.histogram(part, edges)
        top = base + height * counts / counts.max()
        ax.stairs(top, edges, baseline=base, **{
            "fill": True, "color": colour, "alpha": 0.45, "linewidth": 0, "zorder": 2 + i,
            "gid": GIDS["ridge"], "label": names[-1], **kwargs,
        })  # fmt: skip
        ax.stairs(top, edges, baseline=base, color=colour, linewidth=1.0, zorder=2 + i)
        if annotate:
            low, high = np.quantile(part, band_edges(80.0))
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
