r"""The panels of a weight diagnosis: singular values of the recurrent blocks and the measured
gradient norm against the lag, with the references the verdict is read against.

Axes-level, in seaborn's manner: the tidy frames of a :class:`gradflow.diagnose.Report`
(``singular_value_frame()``, ``curves()``) in, the Axes out; nothing is computed here. The
eigenvalues of each block are drawn by :func:`gradflow.plot.eigenvalues` (unit circle,
circular-law disk, σ_max circle).

- :func:`singular_values`: :math:`\sigma_i` against i, one line per block, on a log axis,
  with Pascanu's bound :math:`1/\gamma` of each block and the line σ = 1;
- :func:`gradient_forecast`: the log gradient norm against the lag, one line (and range
  band) per input kind, over the near-critical cone :math:`\pm\varepsilon\cdot\text{lag}`
  of the verdict, optionally with the long-run exponents as dashed lines.

Reference artists carry a ``gid`` (see :data:`GIDS`).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter

from ._common import check_frame, hue_levels, level_colours
from .growth import growth

__all__ = ["GIDS", "gradient_forecast", "singular_values"]

#: ``gid`` of the reference artists.
GIDS = {
    "unit": "sigma-one",
    "bound": "pascanu-bound",
    "cone": "near-critical",
    "exponent": "lambda",
}

_LOG10_E = 1.0 / math.log(10.0)


def _minor_label(ax, value) -> str:
    """Minor ticks labelled as plain numbers when the view spans less than a decade."""
    low, high = ax.get_ylim()
    return f"{value:.3g}" if low > 0 and high < 10 * low else ""


def singular_values(
    data,
    *,
    ax=None,
    x: str = "index",
    y: str = "sigma",
    hue: str | None = "block",
    hue_order=None,
    palette=None,
    bound: str | None = "bound",
    legend: bool = True,
    **kwargs,
):
    r"""Singular values against their index, one line per block, log y axis.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per singular value: columns ``x`` (0 = largest), ``y`` and optionally
        ``hue`` and ``bound`` (:math:`1/\gamma` of the row's block), such as
        ``Report.singular_value_frame()``.
    ax : matplotlib.axes.Axes, optional
    x, y, hue : str
    hue_order : list, optional
    palette : str, list or dict, optional
    bound : str or None, default "bound"
        Column of Pascanu's bound; each distinct value is drawn as a dotted horizontal line in
        the colour of its blocks (grey when several blocks share it). None: no bound lines.
    legend : bool, default True
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.plot` for the data lines.

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    Pascanu, Mikolov & Bengio (2013): a step through a block multiplies a gradient by at most
    :math:`\gamma\sigma_{\max}`; a block whose whole curve lies under its bound contracts
    every direction, one whose top lies over it is able to expand some.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> frame = pd.DataFrame({"block": "W_hh", "index": np.arange(4),
    ...                       "sigma": [2.0, 1.0, 0.5, 0.1], "bound": 1.0})
    >>> ax = singular_values(frame)
    >>> ax.get_yscale(), ax.get_ylabel()
    ('log', 'singular value $\\sigma_i$')
    """
    check_frame(data, [x, y, bound], "data")
    if hue is not None and hue not in data.columns:
        hue = None
    if ax is None:
        ax = plt.gca()
    levels = hue_levels(data, hue, hue_order)
    colours = level_colours(levels, palette) if hue else {None: "C0"}
    kwargs.setdefault("linewidth", 1.4)
    for level in levels:
        part = data if level is None else data[data[hue] == level]
        part = part.sort_values(x)
        ax.plot(part[x].to_numpy(), part[y].to_numpy(), color=colours[level],
                label=None if level is None else str(level), **kwargs)  # fmt: skip
    unit = ax.axhline(1.0, color="0.2", linewidth=0.8, linestyle="--", label=r"$\sigma = 1$")
    unit.set_gid(GIDS["unit"])
    if bound is not None:
        for value, part in data.groupby(bound, sort=True):
            if value == 1.0:
                continue  # the σ = 1 line already
            owners = list(dict.fromkeys(part[hue])) if hue else [None]
            colour = colours[owners[0]] if len(owners) == 1 else "0.45"
            line = ax.axhline(value, color=colour, linewidth=0.9, linestyle=":",
                              label=rf"$1/\gamma$ = {value:g}")  # fmt: skip
            line.set_gid(GIDS["bound"])
    ax.set_yscale("log")
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda value, pos: _minor_label(ax, value)))
    ax.set_xlabel("index $i$ (descending)")
    ax.set_ylabel(r"singular value $\sigma_i$")
    if legend:
        ax.legend(loc="best")
    return ax


def gradient_forecast(
    data,
    *,
    ax=None,
    x: str = "lag",
    y: str = "log_norm",
    hue: str | None = "inputs",
    hue_order=None,
    palette=None,
    band=("log_norm_low", "log_norm_high"),
    threshold: float | None = None,
    exponents=None,
    legend: bool = True,
    **kwargs,
):
    r"""The measured gradient norm against the lag, one line per input kind, log y axis.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per (input kind, lag): columns ``x``, ``y`` (natural log of the norm) and
        ``band`` (the range over samples), such as ``Report.curves()``.
    ax : matplotlib.axes.Axes, optional
    x, y, hue : str
    hue_order : list, optional
    palette : str, list or dict, optional
    band : (str, str) or None
        Columns of the band; None: no band.
    threshold : float, optional
        The verdict's near-critical rate ε (nats per step): the cone
        :math:`|\ln\lVert g\rVert| \le \varepsilon\cdot\text{lag}` is shaded.
    exponents : mapping, optional
        ``hue level -> λ₁`` (nats per step): the line :math:`\lambda_1\cdot\text{lag}` of each
        level, dashed in its colour.
    legend : bool, default True
    **kwargs
        Passed to :func:`gradflow.plot.growth`.

    Returns
    -------
    matplotlib.axes.Axes
        y data are log10 of the norm, as in :func:`gradflow.plot.growth`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> lags = np.arange(11)
    >>> frame = pd.DataFrame({"inputs": "zero", "lag": lags, "log_norm": -0.1 * lags,
    ...                       "log_norm_low": -0.2 * lags, "log_norm_high": -0.05 * lags})
    >>> ax = gradient_forecast(frame, threshold=0.01, exponents={"zero": -0.1})
    >>> [c.get_gid() for c in ax.collections if c.get_gid()]
    ['near-critical']
    """
    check_frame(data, [x, y, *(band or ())], "data")
    if hue is not None and hue not in data.columns:
        hue = None
    if ax is None:
        ax = plt.gca()
    levels = hue_levels(data, hue, hue_order)
    colours = level_colours(levels, palette) if hue else {None: "C0"}
    palette_arg = {k: v for k, v in colours.items() if k is not None} if hue else None
    growth(data, ax=ax, x=x, y=y, hue=hue, hue_order=levels if hue else None,
           palette=palette_arg, band=tuple(band) if band else None,
           errorbar=None, legend=legend, **kwargs)  # fmt: skip
    lags = np.array([0.0, float(data[x].max())])
    if threshold is not None:
        edge = float(threshold) * lags * _LOG10_E
        cone = ax.fill_between(lags, -edge, edge, color="0.5", alpha=0.13, linewidth=0, zorder=0,
                               label=f"near-critical (±{threshold:g}/step)")  # fmt: skip
        cone.set_gid(GIDS["cone"])
    for level, value in (exponents or {}).items():
        if value is None or not math.isfinite(value):
            continue
        (line,) = ax.plot(lags, value * lags * _LOG10_E, linestyle="--", linewidth=1.0,
                          color=colours.get(level, "0.2"), zorder=4,
                          label=rf"$\lambda_1 \cdot$lag ({level})")  # fmt: skip
        line.set_gid(GIDS["exponent"])
    ax.set_xlabel(r"lag $k$ (steps back from $T$)")
    ax.set_ylabel(r"$\|\partial \langle v, h_T\rangle / \partial h_{T-k}\|$")
    if legend:
        ax.legend(loc="best")
    return ax
