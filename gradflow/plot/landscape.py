r"""The single-unit loss surface and descent paths over it.

Axes-level, in seaborn's manner: a tidy frame (or a :class:`gradflow.landscape.Surface`) in,
the Axes out; nothing is computed here.

- :func:`landscape`: the single unit's loss over a (w, b) grid on a log colour scale, with the
  wall :math:`b^*(w)` (Pascanu et al. 2013, Figure 6);
- :func:`trajectories`: gradient-descent paths over that surface, one per clipping rule.

Both take ``labels``, a dict of display names for the hue levels, where they draw hue levels.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm, Normalize

from ._common import axis_label, check_frame, display_name, hue_palette

__all__ = ["GIDS", "landscape", "trajectories"]

#: ``gid`` of the reference artists, so callers and tests can find them.
GIDS = {
    "surface": "loss-surface",
    "wall": "wall",
    "start": "start",
    "end": "end",
}


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
        grid = check_frame(surface, [x, y, z], "surface").pivot_table(index=y, columns=x, values=z)
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
            (check_frame(wall, [x, y], "wall")[x], wall[y])
            if isinstance(wall, pd.DataFrame)
            else wall
        )
        ax.plot(np.asarray(wall_x, float), np.asarray(wall_y, float), color="white",
                linestyle="--", linewidth=1.3, label=wall_label, gid=GIDS["wall"])  # fmt: skip
    half_x = np.diff(xs).min() / 2 if xs.size > 1 else 0.5
    half_y = np.diff(ys).min() / 2 if ys.size > 1 else 0.5
    ax.set_xlim(xs.min() - half_x, xs.max() + half_x)
    ax.set_ylim(ys.min() - half_y, ys.max() + half_y)
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(axis_label(y))
    ax.grid(False)
    return ax


def trajectories(
    data, *, ax=None, x="w", y="b", hue="rule", hue_order=None, palette=None, labels=None,
    order="update", marker="o", start=True, end=False, legend=True, **kwargs,
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
    order : str or None, default "update"
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
    >>> ax = trajectories(descend(updates=3), ax=plt.figure().subplots())
    >>> [line.get_label() for line in ax.lines]
    ['none', 'value:1', 'global:1', 'start']
    """
    check_frame(data, [x, y], "data")
    ax = plt.gca() if ax is None else ax
    hue, levels, colours = hue_palette(data, hue, hue_order, palette)
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
        label = "_nolegend_" if hue is None else display_name(labels, level)
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
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(axis_label(y))
    if legend:
        ax.legend()
    return ax
