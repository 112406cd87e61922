"""The cliff figure: Pascanu et al.'s single-unit loss surface and descent under clipping.

:func:`cliff` computes the surface and the descent paths through :mod:`gradflow.landscape`,
draws them with :mod:`gradflow.plot.landscape` and :mod:`gradflow.plot.clipping` and returns
``(Figure, DataFrame)``. The training-based clipping figures are in
:mod:`gradflow.figures.clipping`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .. import landscape as _landscape
from .. import tasks as _tasks
from .._validation import as_int
from ..plot.clipping import training_curves
from ..plot.landscape import landscape, trajectories
from ._catalogue import register
from ._common import _freeze_layout, _labels, figure_legend, rule_colours

__all__ = ["cliff"]


def _surface_frame(surf, panel: str) -> pd.DataFrame:
    frame = surf.to_frame()[["w", "b", "loss"]].assign(layer="surface", panel=panel)
    w_wall = surf.w[surf.w > _tasks.cliff_threshold()]
    wall = pd.DataFrame({"layer": "wall", "panel": panel, "w": w_wall})
    wall["b"] = _tasks.cliff_wall(w_wall)
    return pd.concat([frame, wall], ignore_index=True)


def _cliff_numbers(data: pd.DataFrame) -> dict:
    """The caption's numbers, from the descent paths of the figure's data."""
    paths = data[data["layer"] == "path"]
    runs = {rule: part.sort_values("update") for rule, part in paths.groupby("rule", sort=False)}
    first = next(iter(runs.values())).iloc[0]
    out = {"w_threshold": f"{_tasks.cliff_threshold():.3g}",
           "start_norm": f"{first['grad_norm']:.3g}"}  # fmt: skip
    none = runs.pop("none", None)
    if none is not None and len(none) > 1:
        step = np.hypot(*(none[["w", "b"]].iloc[1] - none[["w", "b"]].iloc[0]))
        end = none.iloc[-1]
        out["none_step"] = f"{step:.3g}"
        out["none_end"] = f"({none['w'].iloc[1]:.1f}, {none['b'].iloc[1]:.1f})"
        out["none_loss"] = f"{end['loss']:.3f}"
        out["none_grad"] = f"{end['grad_norm']:.1g}"
    if runs:
        clipped = pd.concat(runs.values())
        dist = np.hypot(clipped["w"] - first["w"], clipped["b"] - first["b"])
        out["clipped_distance"] = f"{dist.max():.2g}"
        out["clipped_loss_max"] = f"{clipped['loss'].max():.2g}"
        lows = [part["loss"].min() for part in runs.values()]
        out["clipped_loss_min"] = f"{min(lows):.1e}–{max(lows):.1e}"
    return out


@register(
    "cliff",
    caption=(
        "Pascanu et al.'s cliff: the loss (σ(x_T) − 0.7)² of the single unit "
        "x_t = w σ(x_(t−1)) + b (T = {steps} steps, x_0 = 0.5) on a log colour scale, with "
        "the wall b*(w) = 0.5 − w σ(0.5) (dashed), where x_0 is an unstable fixed point "
        "(w > {w_threshold}), and {updates} updates of gradient descent (lr = {lr:g}) from one "
        "start on the face of the wall under each rule (star: the start; squares: the ends). "
        "Left: a wide view; middle: the box around the start; right: the loss along each path. "
        "The gradient at the start has norm {start_norm}: the unclipped step has length "
        "{none_step} and throws the parameters to (w, b) = {none_end}, on a flat plateau (loss "
        "{none_loss}, gradient norm {none_grad} at the end) that they never leave. Clipped, "
        "every step from the face has length lr·c (global norm) or lr·c·√2 (value): the runs "
        "stay within {clipped_distance} of the start, crossing the wall back and forth, so that "
        "the loss jumps between up to {clipped_loss_max} and lows of {clipped_loss_min} (the "
        "lowest of each clipped run), but they are never thrown away."
    ),
    quick={"n_grid": 31, "updates": 10},
    numbers=_cliff_numbers,
)
def cliff(
    *, n_grid=101, rules=("none", "value:1", "global:1"), lr=0.1, updates=30, steps=50,
    overview=((0.0, 24.0), (-15.0, 28.0)), zoom=((4.35, 4.85), (-2.6, -2.1)),
):  # fmt: skip
    """The single unit's loss surface with the wall and gradient descent under each rule.

    Parameters
    ----------
    n_grid : int, default 101
        Grid points along w and along b in each surface panel.
    rules : sequence of str, default ("none", "value:1", "global:1")
        Clipping specs (:func:`gradflow.clip.get`).
    lr : float, default 0.1
        Gradient-descent step size.
    updates : int, default 30
        Descent steps.
    steps : int, default 50
        Time steps T of the single unit.
    overview, zoom : ((w_min, w_max), (b_min, b_max))
        Windows of the two surface panels (the start is
        :data:`gradflow.landscape.DEFAULT_START`).

    Returns
    -------
    fig : matplotlib.figure.Figure
    data : pandas.DataFrame
        ``layer`` ("surface", "wall" or "path"), ``panel`` ("overview" or "zoom" for the
        surfaces and walls), ``rule`` and ``update`` (paths), ``w``, ``b``, ``loss`` (surfaces
        and paths) and ``grad_norm`` (paths: it is annotated where a path ends far away).
    """
    n_grid = as_int(n_grid, "n_grid", minimum=2)
    rules = list(rules)
    windows = {"overview": overview, "zoom": zoom}
    surfaces = {
        panel: _landscape.surface(np.linspace(*ws, n_grid), np.linspace(*bs, n_grid), steps=steps)
        for panel, (ws, bs) in windows.items()
    }
    paths = _landscape.trajectories(rules, lr=lr, updates=updates, steps=steps)
    columns = ["layer", "panel", "rule", "update", "w", "b", "loss", "grad_norm"]
    data = pd.concat(
        [*(_surface_frame(s, panel) for panel, s in surfaces.items()), paths.assign(layer="path")],
        ignore_index=True,
    )[columns]

    colours, labels = rule_colours(rules), _labels(rules)
    fig = Figure(figsize=(12.0, 3.9), layout="constrained")
    axes = fig.subplots(1, 3, width_ratios=[1, 1.2, 1])
    for ax, (panel, surf) in zip(axes, surfaces.items()):
        part = data[(data["layer"] == "wall") & (data["panel"] == panel)]
        landscape(surf, ax=ax, wall=part, vmin=1e-4, vmax=0.5, colorbar=panel == "zoom",
                  colorbar_label="loss (log scale)")  # fmt: skip
        trajectories(paths, ax=ax, palette=colours, labels=labels, end=True, legend=False)
    (ow0, ow1), (ob0, ob1) = overview
    for rule, end in paths.groupby("rule", sort=False).last().iterrows():
        if ow0 <= end["w"] <= ow1 and ob0 <= end["b"] <= ob1 and end["loss"] > 0.05:
            axes[0].annotate(
                f"{labels[rule]}: ends at ({end['w']:.1f}, {end['b']:.1f})\n"
                f"loss {end['loss']:.3f}, gradient norm {end['grad_norm']:.1g}",
                xy=(end["w"], end["b"]), xytext=(-6, -10), textcoords="offset points",
                ha="right", va="top", fontsize=7.5,
            )  # fmt: skip
    axes[0].set_title("wide view")
    axes[1].set_title("around the start")
    training_curves(paths, ax=axes[2], y="loss", palette=colours, labels=labels, log=True,
                    marker="o", markersize=3, legend=False)  # fmt: skip
    axes[2].set_xlabel("gradient-descent update")
    axes[2].set_title("loss along the paths")
    figure_legend(fig, axes, ncols=len(rules) + 2)
    for handle, text in zip(fig.legends[0].legend_handles, fig.legends[0].get_texts()):
        if text.get_text().startswith("wall"):  # drawn white on the surface: grey on the page
            handle.set_color("0.35")
    return _freeze_layout(fig), data
