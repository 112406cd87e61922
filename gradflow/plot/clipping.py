r"""Clipping and training: parameter paths, training curves, threshold sensitivity.

Axes-level, in seaborn's manner: a tidy frame in, the Axes out; nothing is computed here beyond
seaborn's estimators.

- :func:`parameter_paths`: training runs' parameter paths projected on two principal axes;
- :func:`training_curves`: a per-step quantity (loss, gradient norm, ...) against the step;
- :func:`threshold_sensitivity`: a final loss against the clipping threshold, median and band
  over seeds, with the unclipped runs as a reference.

The single-unit loss surface and descent paths over it are drawn by
:mod:`gradflow.plot.landscape`. Non-finite values (a run that overflowed) are never drawn;
:func:`training_curves` and :func:`threshold_sensitivity` mark them with ``×`` at the top edge
of the Axes. Every function takes ``labels``, a dict of display names for the hue levels.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.ticker import LogFormatterSciNotation

from ._common import axis_label, check_frame, display_name, hue_palette
from .landscape import GIDS as _LANDSCAPE_GIDS
from .landscape import trajectories

__all__ = [
    "GIDS",
    "PlainLogFormatter",
    "parameter_paths",
    "threshold_sensitivity",
    "training_curves",
]

#: ``gid`` of the reference artists (with those of :data:`gradflow.plot.landscape.GIDS`, which
#: :func:`parameter_paths` draws through :func:`~gradflow.plot.landscape.trajectories`).
GIDS = {
    **_LANDSCAPE_GIDS,
    "nonfinite": "nonfinite",
    "reference": "reference",
    "reference_band": "reference-band",
    "baseline": "baseline",
}


class PlainLogFormatter(LogFormatterSciNotation):
    """Log-axis tick labels as plain numbers between 0.001 and 10⁴ (``0.2``, ``5``), as
    powers of ten outside; minor ticks are labelled only where matplotlib would."""

    def __call__(self, x, pos=None):
        label = super().__call__(x, pos)
        return f"{x:g}" if label and 1e-3 <= abs(x) < 1e4 else label


def _log_axis(ax, axis: str = "y") -> None:
    with np.errstate(over="ignore"):  # margins around values near the float64 limit
        getattr(ax, f"set_{axis}scale")("log")
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(PlainLogFormatter())
    target.set_minor_formatter(PlainLogFormatter(labelOnlyBase=False, minor_thresholds=(1, 0.4)))


def _summary(data, x, y, hue, hue_order, palette, labels, ax, first_only, log, kwargs):
    """Shared body of the seaborn-drawn functions: mark non-finite values, relabel.

    Returns the frame to draw (non-finite values, and values ≤ 0 on a log axis, set to NaN),
    the hue column, its order and colours under the display names, and the Axes.
    """
    check_frame(data, [x, y], "data")
    ax = plt.gca() if ax is None else ax
    hue, levels, colours = hue_palette(data, hue, hue_order, palette)
    values = data[y].to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    for level in levels:
        mask = bad if hue is None else bad & (data[hue] == level).to_numpy()
        xs = np.unique(data[x].to_numpy(dtype=float)[mask])[: 1 if first_only else None]
        if xs.size:
            ax.plot(xs, np.ones(xs.size), linestyle="none", marker="x", markersize=5,
                    color=colours[level], clip_on=False, transform=ax.get_xaxis_transform(),
                    gid=GIDS["nonfinite"], label="_nolegend_", zorder=5)  # fmt: skip
    hidden = bad | (values <= 0) if log else bad
    frame = data.assign(**{y: np.where(hidden, np.nan, values)})
    if hue is None:
        kwargs.setdefault("color", colours[None])
        return frame, None, None, None, ax
    frame[hue] = frame[hue].map(lambda v: display_name(labels, v))
    order = [display_name(labels, v) for v in levels]
    return frame, hue, order, {display_name(labels, v): colours[v] for v in levels}, ax


def parameter_paths(
    data, *, ax=None, x="pc1", y="pc2", hue="label", hue_order=None, palette=None, labels=None,
    explained=None, order="update", marker=".", start=True, end=True, legend=True, **kwargs,
):  # fmt: skip
    """Draw parameter paths projected on two principal axes, one line per run.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per (run, snapshot) with columns ``x``, ``y``, ``hue`` and ``order``: the
        frame of :func:`gradflow.train.project_paths`.
    ax : matplotlib.axes.Axes, optional
    x, y : str, default "pc1", "pc2"
    hue : str or None, default "label"
    explained : (float, float), optional
        Fractions of the variance along the two axes, shown in the axis labels.
    hue_order, palette, labels, order, marker, start, end, legend, **kwargs
        As in :func:`~gradflow.plot.trajectories` (here the ends are marked by default).

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    The coordinates are those of the centred snapshots along the leading right singular
    vectors of the pooled snapshots (Li et al. 2018), so distances in the plot are Euclidean
    distances in parameter space, shortened by the projection.

    References
    ----------
    Li, H., Xu, Z., Taylor, G., Studer, C. & Goldstein, T. (2018). Visualizing the loss
    landscape of neural nets. NeurIPS.

    Examples
    --------
    >>> import matplotlib.pyplot as plt, pandas as pd
    >>> frame = pd.DataFrame({"label": ["a", "a", "b", "b"], "update": [0, 1, 0, 1],
    ...                       "pc1": [0.0, 1.0, 0.0, -1.0], "pc2": [0.0, 0.5, 0.0, 0.2]})
    >>> ax = parameter_paths(frame, explained=(0.9, 0.1), ax=plt.figure().subplots())
    >>> ax.get_xlabel()
    'PC 1 (90 % of variance)'
    """
    ax = plt.gca() if ax is None else ax
    trajectories(data, ax=ax, x=x, y=y, hue=hue, hue_order=hue_order, palette=palette,
                 labels=labels, order=order, marker=marker, start=start, end=end, legend=legend,
                 **kwargs)  # fmt: skip
    for i, (setter, name) in enumerate([(ax.set_xlabel, x), (ax.set_ylabel, y)]):
        text = f"PC {name[2:]}" if name.startswith("pc") else axis_label(name)
        if explained is not None:
            text += f" ({100 * float(explained[i]):.0f} % of variance)"
        setter(text)
    return ax


def training_curves(
    data, *, ax=None, x="update", y="loss", hue="rule", hue_order=None, palette=None,
    labels=None, log=False, estimator="median", errorbar=("pi", 80), reference=None,
    reference_label=None, legend=True, **kwargs,
):  # fmt: skip
    """Draw a per-step quantity against the step, one line per hue level.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per (run, step): a ``frame`` of :class:`gradflow.train.History` with a rule column,
        or the steps frame of :func:`gradflow.train.compare_clipping`. Several rows per
        (hue, x), such as several seeds, are summarised by ``estimator`` with a band.
    ax : matplotlib.axes.Axes, optional
    x, y : str, default "update", "loss"
    hue : str or None, default "rule"
    hue_order, palette, labels
        As in :func:`~gradflow.plot.trajectories`.
    log : bool, default False
        Logarithmic y axis (values ≤ 0 are then not drawn).
    estimator, errorbar
        Passed to :func:`seaborn.lineplot` (median and 10–90 % band); with one row per
        (hue, x) the raw values are drawn.
    reference : float, optional
        A horizontal dotted grey line (e.g. the task's memoryless baseline).
    reference_label : str, optional
    legend : bool, default True
    **kwargs
        Passed to :func:`seaborn.lineplot`.

    Returns
    -------
    matplotlib.axes.Axes
        NaN and infinite values are not drawn; each level's first one is marked ``×`` at the
        top edge.

    Examples
    --------
    >>> import matplotlib.pyplot as plt, pandas as pd
    >>> frame = pd.DataFrame({"rule": ["none"] * 3 + ["global:1"] * 3, "update": [0, 1, 2] * 2,
    ...                       "loss": [1.0, 10.0, float("inf"), 1.0, 0.5, 0.4]})
    >>> ax = training_curves(frame, log=True, ax=plt.figure().subplots())
    >>> ax.get_yscale(), [line.get_gid() for line in ax.lines][0]
    ('log', 'nonfinite')
    """
    frame, hue, order, colours, ax = _summary(
        data, x, y, hue, hue_order, palette, labels, ax, True, log, kwargs
    )
    if not frame.duplicated([c for c in (hue, x) if c is not None]).any():
        estimator, errorbar = None, None
    sns.lineplot(data=frame, x=x, y=y, hue=hue, hue_order=order, palette=colours,
                 estimator=estimator, errorbar=errorbar, legend=False, ax=ax, **kwargs)  # fmt: skip
    if reference is not None:
        ax.axhline(float(reference), color="0.4", linestyle=":", linewidth=1.0,
                   label=reference_label or "_nolegend_", gid=GIDS["baseline"])  # fmt: skip
    if log:
        _log_axis(ax)
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(axis_label(y))
    if legend:
        _legend(ax, order, colours)
    return ax


def _legend(ax, order, colours, **kwargs) -> None:
    """A legend: one line per hue level, then the labelled reference artists of ``ax``."""
    handles = [Line2D([], [], color=colours[level]) for level in order or ()]
    names = list(order or ())
    for handle, label in zip(*ax.get_legend_handles_labels()):
        if label not in names:
            handles.append(handle)
            names.append(label)
    if handles:
        ax.legend(handles, names, **kwargs)


def threshold_sensitivity(
    data, *, ax=None, x="threshold", y="final_loss", hue="rule", hue_order=None, palette=None,
    labels=None, reference=None, reference_label="no clipping", baseline=None,
    baseline_label="baseline", estimator="median", errorbar=("pi", 100), points=True, log=True,
    legend=True, **kwargs,
):  # fmt: skip
    """Draw a final loss against the clipping threshold (log axis), median and band over seeds.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per (rule, threshold, seed): the clipped rows of
        :func:`gradflow.train.compare_clipping`.
    ax : matplotlib.axes.Axes, optional
    x, y : str, default "threshold", "final_loss"
    hue : str or None, default "rule"
    hue_order, palette, labels
        As in :func:`~gradflow.plot.trajectories`.
    reference : pandas.DataFrame or float, optional
        The unclipped runs, one row per seed with column ``y``: a dashed black line at their
        median and a grey band over their range; or one value.
    reference_label : str, default "no clipping"
    baseline : float, optional
        A dotted grey line (e.g. the task's memoryless baseline).
    baseline_label : str, default "baseline"
    estimator, errorbar
        Passed to :func:`seaborn.lineplot` (default: the median, and a band from the
        smallest to the largest seed).
    points : bool, default True
        Also draw every seed as a small faint dot.
    log : bool, default True
        Logarithmic y axis (the x axis is always logarithmic).
    legend : bool, default True
    **kwargs
        Passed to :func:`seaborn.lineplot`.

    Returns
    -------
    matplotlib.axes.Axes
        Non-finite losses (diverged runs) are left out of the median and marked ``×`` at the
        top edge above their threshold.

    Examples
    --------
    >>> import matplotlib.pyplot as plt, pandas as pd
    >>> runs = pd.DataFrame({"rule": "global", "threshold": [0.1, 0.1, 1.0, 1.0],
    ...                      "seed": [0, 1, 0, 1], "final_loss": [0.2, 0.3, 0.1, 0.15]})
    >>> ax = threshold_sensitivity(runs, reference=0.5, ax=plt.figure().subplots())
    >>> ax.get_xscale(), ax.get_xlabel()
    ('log', 'clipping threshold')
    """
    frame, hue, order, colours, ax = _summary(
        data, x, y, hue, hue_order, palette, labels, ax, False, log, kwargs
    )
    if reference is not None:
        centre = reference
        if isinstance(reference, pd.DataFrame):
            ref = check_frame(reference, [y], "reference")[y].to_numpy(float)
            ref = ref[np.isfinite(ref)]
            centre = np.median(ref) if ref.size else np.nan
            if ref.size > 1 and ref.max() > ref.min():
                ax.axhspan(ref.min(), ref.max(), color="0.5", alpha=0.15, linewidth=0,
                           gid=GIDS["reference_band"])  # fmt: skip
        ax.axhline(float(centre), color="0.1", linestyle="--", linewidth=1.1,
                   label=reference_label, gid=GIDS["reference"])  # fmt: skip
    if baseline is not None:
        ax.axhline(float(baseline), color="0.4", linestyle=":", linewidth=1.0,
                   label=baseline_label, gid=GIDS["baseline"])  # fmt: skip
    if points:
        sns.scatterplot(data=frame, x=x, y=y, hue=hue, hue_order=order, palette=colours, s=12,
                        alpha=0.45, legend=False, ax=ax, color=kwargs.get("color"))  # fmt: skip
    kwargs.setdefault("marker", "o")
    sns.lineplot(data=frame, x=x, y=y, hue=hue, hue_order=order, palette=colours,
                 estimator=estimator, errorbar=errorbar, legend=False, ax=ax, **kwargs)  # fmt: skip
    _log_axis(ax, "x")
    if log:
        _log_axis(ax)
    ax.set_xlabel("clipping threshold")
    ax.set_ylabel(axis_label(y))
    if legend:
        _legend(ax, order, colours)
    return ax
