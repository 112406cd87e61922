r"""Clipping and training: the single-unit loss surface, descent paths, training curves.

Axes-level, in seaborn's manner: a tidy frame (or a :class:`gradflow.landscape.Surface`) in,
the Axes out; nothing is computed here beyond seaborn's estimators.

- :func:`landscape`: the single unit's loss over a (w, b) grid on a log colour scale, with the
  wall :math:`b^*(w)` (Pascanu et al. 2013, Figure 6);
- :func:`trajectories`: gradient-descent paths over that surface, one per clipping rule;
- :func:`parameter_paths`: training runs' parameter paths projected on two principal axes;
- :func:`training_curves`: a per-step quantity (loss, gradient norm, ...) against the step;
- :func:`threshold_sensitivity`: a final loss against the clipping threshold, median and band
  over seeds, with the unclipped runs as a reference.

Non-finite values (a run that overflowed) are never drawn; :func:`training_curves` and
:func:`threshold_sensitivity` mark them with ``×`` at the top edge of the Axes. Every function
takes ``labels``, a dict of display names for the hue levels.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import LogNorm, Normalize
from matplotlib.lines import Line2D
from matplotlib.ticker import LogFormatterSciNotation

from ._style import PALETTE

__all__ = [
    "GIDS",
    "PlainLogFormatter",
    "landscape",
    "parameter_paths",
    "threshold_sensitivity",
    "training_curves",
    "trajectories",
]

#: ``gid`` of the reference artists, so callers and tests can find them.
GIDS = {
    "surface": "loss-surface",
    "wall": "wall",
    "start": "start",
    "end": "end",
    "nonfinite": "nonfinite",
    "reference": "reference",
    "reference_band": "reference-band",
    "baseline": "baseline",
}


def _check(frame, columns, name: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name}: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c is not None and c not in frame.columns]
    if missing:
        raise ValueError(f"{name}: missing column(s) {missing}; columns are {list(frame.columns)}")
    return frame


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


def _axis_label(name: str) -> str:
    return f"${name}$" if len(name) == 1 else name.replace("_", " ")


def _hue(data, hue, hue_order, palette):
    """(hue or None, levels, level -> colour)."""
    if hue is not None and hue not in data.columns:
        hue = None
    if hue is None:
        return None, [None], {None: sns.color_palette(PALETTE)[0]}
    levels = list(hue_order) if hue_order is not None else list(dict.fromkeys(data[hue]))
    if isinstance(palette, Mapping):
        return hue, levels, dict(palette)
    colours = sns.color_palette(palette or PALETTE, max(len(levels), 1))
    return hue, levels, dict(zip(levels, colours))


def _name(labels, level) -> str:
    return str(labels.get(level, level)) if labels else str(level)


def _summary(data, x, y, hue, hue_order, palette, labels, ax, first_only, log, kwargs):
    """Shared body of the seaborn-drawn functions: mark non-finite values, relabel.

    Returns the frame to draw (non-finite values, and values ≤ 0 on a log axis, set to NaN),
    the hue column, its order and colours under the display names, and the Axes.
    """
    _check(data, [x, y], "data")
    ax = plt.gca() if ax is None else ax
    hue, levels, colours = _hue(data, hue, hue_order, palette)
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
    frame[hue] = frame[hue].map(lambda v: _name(labels, v))
    order = [_name(labels, v) for v in levels]
    return frame, hue, order, {_name(labels, v): colours[v] for v in levels}, ax


def landscape(
    surface, *, ax=None, x="w", y="b", z="loss", wall=None, log=True, cmap="viridis",
    vmin=None, vmax=None, colorbar=True, colorbar_label=None, wall_label=r"wall $b^*(w)$",
    **kwargs,
):  # fmt: skip
    r"""Draw a loss surface over a (w, b) grid, on a log colour scale, with the wall.

    Parameters
    ----------
    surface : Surface or pandas.DataFrame
        A :class:`gradflow.landscape.Surface` (its ``x``, ``y`` and ``z`` attributes), or a
        tidy frame with one row per grid point and columns ``x``, ``y`` and ``z``.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: the current Axes).
    x, y, z : str, default "w", "b", "loss"
        Names of the grid axes and of the drawn value.
    wall : pandas.DataFrame or (array, array), optional
        Points of the wall :math:`b^*(w)` (columns ``x`` and ``y``), drawn dashed white.
    log : bool, default True
        Logarithmic colour scale; values ≤ 0 are then left blank.
    cmap : str, default "viridis"
    vmin, vmax : float, optional
        Colour limits (default: the range of the drawn values).
    colorbar : bool, default True
    colorbar_label : str, optional
        Default ``"<z> (log scale)"``.
    wall_label : str
        Legend label of the wall.
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.pcolormesh`.

    Returns
    -------
    matplotlib.axes.Axes
        The view is fixed to the grid, so paths drawn later are clipped at its edges.

    Notes
    -----
    ``Z[i, j]`` is drawn centred on ``(x[j], y[i])`` (``shading="nearest"``). The wall is the
    line where the initial state is a fixed point, :math:`b^*(w) = x_0 - w\,\sigma(x_0)`; the
    loss jumps across it for :math:`w > 1/\sigma'(x_0)`.

    References
    ----------
    Pascanu, R., Mikolov, T. & Bengio, Y. (2013). On the difficulty of training recurrent
    neural networks. ICML, Figure 6. https://arxiv.org/abs/1211.5063

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from gradflow.landscape import surface
    >>> ax = landscape(surface(n_w=21, n_b=11), ax=plt.figure().subplots())
    >>> ax.get_xlabel(), type(ax.collections[0].norm).__name__
    ('$w$', 'LogNorm')
    """
    if isinstance(surface, pd.DataFrame):
        grid = _check(surface, [x, y, z], "surface").pivot_table(index=y, columns=x, values=z)
        if grid.isna().to_numpy().any() or grid.size != len(surface):
            raise ValueError(f"surface: expected one row per point of a full ({x}, {y}) grid")
        xs, ys, values = grid.columns.to_numpy(float), grid.index.to_numpy(float), grid.to_numpy()
    elif all(hasattr(surface, name) for name in (x, y, z)):
        xs, ys = np.asarray(getattr(surface, x), float), np.asarray(getattr(surface, y), float)
        values = np.asarray(getattr(surface, z), float)
    else:
        raise TypeError(f"surface: expected a Surface or a DataFrame, got {type(surface).__name__}")
    ax = plt.gca() if ax is None else ax
    values = np.ma.masked_invalid(values)
    if log:
        values = np.ma.masked_less_equal(values, 0.0)
        if values.count() == 0:
            raise ValueError(f"surface: log=True needs positive values of {z!r}, got none")
    norm = (LogNorm if log else Normalize)(vmin=vmin, vmax=vmax)
    kwargs.setdefault("rasterized", True)
    mesh = ax.pcolormesh(xs, ys, values, shading="nearest", cmap=cmap, norm=norm, **kwargs)
    mesh.set_gid(GIDS["surface"])
    if colorbar:
        label = colorbar_label or (f"{z} (log scale)" if log else z)
        ax.figure.colorbar(mesh, ax=ax, label=label)
    if wall is not None:
        wall_x, wall_y = (
            (_check(wall, [x, y], "wall")[x], wall[y]) if isinstance(wall, pd.DataFrame) else wall
        )
        ax.plot(np.asarray(wall_x, float), np.asarray(wall_y, float), color="white",
                linestyle="--", linewidth=1.3, label=wall_label, gid=GIDS["wall"])  # fmt: skip
    half_x = np.diff(xs).min() / 2 if xs.size > 1 else 0.5
    half_y = np.diff(ys).min() / 2 if ys.size > 1 else 0.5
    ax.set_xlim(xs.min() - half_x, xs.max() + half_x)
    ax.set_ylim(ys.min() - half_y, ys.max() + half_y)
    ax.set_xlabel(_axis_label(x))
    ax.set_ylabel(_axis_label(y))
    ax.grid(False)
    return ax


def trajectories(
    data, *, ax=None, x="w", y="b", hue="rule", hue_order=None, palette=None, labels=None,
    order="step", marker="o", start=True, end=False, legend=True, **kwargs,
):  # fmt: skip
    """Draw paths in a plane, one line with markers per hue level, the start marked.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per (path, point) with columns ``x`` and ``y`` (and ``hue``, ``order``), e.g.
        the frame of :func:`gradflow.landscape.trajectories`.
    ax : matplotlib.axes.Axes, optional
    x, y : str, default "w", "b"
    hue : str or None, default "rule"
        One path per level.
    hue_order : list, optional
    palette : str, list or dict, optional
        Colours (default: the colour-blind-safe palette).
    labels : dict, optional
        Display names of the hue levels.
    order : str or None, default "step"
        Column that orders the points along a path.
    marker : str, default "o"
    start, end : bool, default True, False
        Mark the starting points (a black star, once per distinct start) and the end points
        (a square in the path's colour).
    legend : bool, default True
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.plot`.

    Returns
    -------
    matplotlib.axes.Axes
        Axis limits are left alone: over :func:`landscape` the paths are clipped to the grid.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from gradflow.landscape import trajectories as descend
    >>> ax = trajectories(descend(n_steps=3), ax=plt.figure().subplots())
    >>> [line.get_label() for line in ax.lines]
    ['none', 'value:1', 'global:1', 'start']
    """
    _check(data, [x, y], "data")
    ax = plt.gca() if ax is None else ax
    hue, levels, colours = _hue(data, hue, hue_order, palette)
    kwargs.setdefault("linewidth", 1.3)
    kwargs.setdefault("markersize", 3)
    colour = kwargs.pop("color", None)
    starts = []
    for level in levels:
        part = data if hue is None else data[data[hue] == level]
        if order is not None and order in part.columns:
            part = part.sort_values(order, kind="stable")
        if part.empty:
            continue
        xs, ys = part[x].to_numpy(float), part[y].to_numpy(float)
        label = "_nolegend_" if hue is None else _name(labels, level)
        ax.plot(xs, ys, marker=marker, color=colour or colours[level], label=label, **kwargs)
        starts.append((xs[0], ys[0]))
        if end:
            ax.plot(xs[-1:], ys[-1:], linestyle="none", marker="s", markersize=5,
                    color=colours[level], markeredgecolor="black", markeredgewidth=0.6,
                    label="_nolegend_", gid=GIDS["end"], zorder=6)  # fmt: skip
    if start and starts:
        unique = np.unique(np.array(starts), axis=0)
        ax.plot(unique[:, 0], unique[:, 1], linestyle="none", marker="*", markersize=11,
                color="black", markeredgecolor="white", markeredgewidth=0.6, label="start",
                gid=GIDS["start"], zorder=7)  # fmt: skip
    ax.set_xlabel(_axis_label(x))
    ax.set_ylabel(_axis_label(y))
    if legend:
        ax.legend()
    return ax


def parameter_paths(
    data, *, ax=None, x="pc1", y="pc2", hue="label", hue_order=None, palette=None, labels=None,
    explained=None, order="step", marker=".", start=True, end=True, legend=True, **kwargs,
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
        As in :func:`trajectories` (here the ends are marked by default).

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
    >>> frame = pd.DataFrame({"label": ["a", "a", "b", "b"], "step": [0, 1, 0, 1],
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
        text = f"PC {name[2:]}" if name.startswith("pc") else _axis_label(name)
        if explained is not None:
            text += f" ({100 * float(explained[i]):.0f} % of variance)"
        setter(text)
    return ax


def training_curves(
    data, *, ax=None, x="step", y="loss", hue="rule", hue_order=None, palette=None,
    labels=None, log=False, estimator="median", errorbar=("pi", 80), reference=None,
    reference_label=None, legend=True, **kwargs,
):  # fmt: skip
    """Draw a per-step quantity against the step, one line per hue level.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per (run, step): a :attr:`gradflow.train.History.frame` with a rule column,
        or the steps frame of :func:`gradflow.train.compare_clipping`. Several rows per
        (hue, x), such as several seeds, are summarised by ``estimator`` with a band.
    ax : matplotlib.axes.Axes, optional
    x, y : str, default "step", "loss"
    hue : str or None, default "rule"
    hue_order, palette, labels
        As in :func:`trajectories`.
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
    >>> frame = pd.DataFrame({"rule": ["none"] * 3 + ["global:1"] * 3, "step": [0, 1, 2] * 2,
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
    ax.set_xlabel(_axis_label(x))
    ax.set_ylabel(_axis_label(y))
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
        As in :func:`trajectories`.
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
            ref = _check(reference, [y], "reference")[y].to_numpy(float)
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
    ax.set_ylabel(_axis_label(y))
    if legend:
        _legend(ax, order, colours)
    return ax
