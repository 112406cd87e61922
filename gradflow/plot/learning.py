r"""Learning long sequences: what fraction of runs solve a task against T, and loss curves.

Axes-level: a tidy frame of summaries in (computed by the figures from
:func:`gradflow.train.compare`), the Axes out; nothing is estimated here.

- :func:`solved_against_length`: a per-(combination, T) summary (the fraction of seeds that
  solve the task, or the median number of updates they needed) against the sequence length T,
  one line per combination: colour for the hue (the initialiser), dashes for the style (the
  clipping rule);
- :func:`loss_bands`: a median curve with its band against the update, one per hue level.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.lines import Line2D

from ._common import axis_label, check_frame, display_name, hue_palette
from .clipping import _log_axis

__all__ = ["MARKERS", "STYLE_DASHES", "loss_bands", "solved_against_length"]

#: Dash patterns of the style levels, in order: solid, dashed, dotted, dash-dot.
STYLE_DASHES = ("", (4, 2), (1, 1.5), (5, 1.5, 1, 1.5))
#: Markers of the style levels, in order.
MARKERS = ("o", "s", "^", "D")


def solved_against_length(
    data, *, ax=None, x="T", y="solved_fraction", hue="init", style="rule", hue_order=None,
    style_order=None, palette=None, labels=None, log_x=True, log_y=False, dodge=0.0,
    legend=True, **kwargs,
):  # fmt: skip
    """Draw a summary per combination against the sequence length, one line per combination.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per (hue, style, x): e.g. ``solved_fraction`` or ``updates_to_solve`` of
        the runs of an initialiser and a clipping rule at one T. NaN values (no run solved)
        are not drawn.
    ax : matplotlib.axes.Axes, optional
    x, y : str, default "T", "solved_fraction"
    hue, style : str, default "init", "rule"
        Columns for the colour and for the dash pattern and marker.
    hue_order, style_order : list, optional
    palette : dict, optional
        Hue level -> colour.
    labels : dict, optional
        Display names of the hue and style levels.
    log_x, log_y : bool, default True, False
    dodge : float, default 0.0
        Shift the hue levels apart along x so that equal values stay visible: level k of K
        is drawn at x·exp(dodge·(k − (K−1)/2)) on a log x axis (x + dodge·(k − (K−1)/2) on a
        linear one). The data are not changed; the ticks stay at the x values.
    legend : bool, default True
    **kwargs
        Passed to :func:`seaborn.lineplot`.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib.pyplot as plt, pandas as pd
    >>> frame = pd.DataFrame({"init": ["orthogonal"] * 4, "rule": ["none", "none", "global:1",
    ...                       "global:1"], "T": [10, 20, 10, 20],
    ...                       "solved_fraction": [1.0, 0.0, 1.0, 0.5]})
    >>> ax = solved_against_length(frame, ax=plt.figure().subplots())
    >>> len(ax.lines), ax.get_xscale()
    (2, 'log')
    """
    check_frame(data, [x, y, hue, style], "data")
    ax = plt.gca() if ax is None else ax
    hue, levels, colours = hue_palette(data, hue, hue_order, palette)
    styles = list(dict.fromkeys(data[style])) if style_order is None else list(style_order)
    if len(styles) > len(STYLE_DASHES):
        raise ValueError(f"style: expected at most {len(STYLE_DASHES)} levels, got {styles}")
    frame = data.assign(**{y: np.where(np.isfinite(data[y].to_numpy(float)), data[y], np.nan)})
    if dodge:
        offset = frame[hue].map({v: k - (len(levels) - 1) / 2 for k, v in enumerate(levels)})
        xs = frame[x].to_numpy(float)
        frame[x] = xs * np.exp(dodge * offset) if log_x else xs + dodge * offset
    frame[hue] = frame[hue].map(lambda v: display_name(labels, v))
    frame[style] = frame[style].map(lambda v: display_name(labels, v))
    hue_names = [display_name(labels, v) for v in levels]
    style_names = [display_name(labels, v) for v in styles]
    kwargs.setdefault("markersize", 5)
    sns.lineplot(
        data=frame, x=x, y=y, hue=hue, hue_order=hue_names, style=style, style_order=style_names,
        palette={display_name(labels, v): colours[v] for v in levels},
        dashes=dict(zip(style_names, STYLE_DASHES)), markers=dict(zip(style_names, MARKERS)),
        estimator=None, legend=False, ax=ax, **kwargs,
    )  # fmt: skip
    if log_x:
        _log_axis(ax, "x")
        ticks = sorted(set(data[x]))
        ax.set_xticks(ticks, labels=[f"{t:g}" for t in ticks])
        ax.minorticks_off()
    if log_y:
        _log_axis(ax)
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(axis_label(y))
    if legend:
        handles = [Line2D([], [], color=colours[v]) for v in levels]
        handles += [Line2D([], [], color="0.3", dashes=d or (None, None), marker=m)
                    for d, m in zip(STYLE_DASHES, MARKERS[: len(styles)])]  # fmt: skip
        ax.legend(handles, hue_names + style_names)
    return ax


def loss_bands(
    data, *, ax=None, x="update", y="loss", band=("loss_low", "loss_high"), hue="combination",
    hue_order=None, palette=None, labels=None, dashes=None, log=True, reference=None,
    reference_label=None, legend=True, alpha=0.18, **kwargs,
):  # fmt: skip
    """Draw median curves with their bands against the update, one per hue level.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per (hue, x): the median ``y`` and the band's edges ``band``.
    ax : matplotlib.axes.Axes, optional
    x, y : str, default "update", "loss"
    band : (str, str), default ("loss_low", "loss_high")
    hue : str, default "combination"
    hue_order, palette, labels
        Levels, colours and display names.
    dashes : dict, optional
        Hue level -> dash pattern (``""`` solid).
    log : bool, default True
        Logarithmic y axis.
    reference : float, optional
        A horizontal dotted grey line (the task's memoryless baseline, say).
    reference_label : str, optional
    legend : bool, default True
    alpha : float, default 0.18
        Opacity of the bands.
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.plot`.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib.pyplot as plt, pandas as pd
    >>> frame = pd.DataFrame({"combination": ["a"] * 3, "update": [0, 1, 2],
    ...                       "loss": [1.0, 0.5, 0.2], "loss_low": [0.9, 0.4, 0.1],
    ...                       "loss_high": [1.1, 0.6, 0.3]})
    >>> ax = loss_bands(frame, ax=plt.figure().subplots())
    >>> len(ax.lines), len(ax.collections), ax.get_yscale()
    (1, 1, 'log')
    """
    check_frame(data, [x, y, *band, hue], "data")
    ax = plt.gca() if ax is None else ax
    hue, levels, colours = hue_palette(data, hue, hue_order, palette)
    for level in levels:
        part = data[data[hue] == level].sort_values(x)
        style = {} if not dashes or not dashes.get(level) else {"dashes": dashes[level]}
        name = display_name(labels, level)
        ax.plot(part[x], part[y], color=colours[level], label=name, **style, **kwargs)
        ax.fill_between(part[x], part[band[0]], part[band[1]], color=colours[level],
                        alpha=alpha, linewidth=0, label="_nolegend_")  # fmt: skip
    if reference is not None:
        ax.axhline(float(reference), color="0.4", linestyle=":", linewidth=1.0,
                   label=reference_label or "_nolegend_")  # fmt: skip
    if log:
        _log_axis(ax)
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(axis_label(y))
    if legend:
        ax.legend()
    return ax
