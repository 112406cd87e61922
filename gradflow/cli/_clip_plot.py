"""The figures of ``gradflow clip --plot``: training curves, or solved fraction against T.

:func:`draw_curves` draws a grid of one (init, gain, T): median training loss and raw gradient
norm per rule spec, and final loss against threshold when a rule ran at several; :func:`draw_grid`
a grid over T: the fraction of seeds solved and the median updates to solve, colour per (init,
gain), dashes per rule spec. matplotlib and the figure helpers are imported when drawing, so the
command line answers ``--help`` without them. Tested through the command, in
``tests/test_cli_clip.py``.
"""

from __future__ import annotations

__all__ = ["draw_curves", "draw_grid"]


def draw_curves(summary, steps, path, baseline) -> None:
    """Median training loss and raw gradient norm against update per rule; final loss against
    threshold when a rule was run at several thresholds (one init, gain and T). ``summary``
    holds the runs, ``steps`` their per-update records with a ``spec`` column (the rule spec,
    ``"global:1"``, of each row)."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from ..figures import save_figure
    from ..figures.clipping import rule_colours, rule_label
    from ..plot import palette, style_context
    from ..plot.clipping import threshold_sensitivity, training_curves

    specs = list(dict.fromkeys(steps["spec"]))
    labels = {s: rule_label(s) for s in specs}
    families = [s.partition(":")[0] for s in specs]
    if len(set(families)) == len(families):  # one spec per rule: the catalogue's colours
        colours = rule_colours(specs)
    else:  # several thresholds of a rule: one colour per spec
        colours = palette([s for s in specs if s != "none"])
        colours.update(rule_colours(["none"]))
    clipped = summary[summary["rule"] != "none"]
    sweep = bool((clipped.groupby("rule")["threshold"].nunique() > 1).any())
    with style_context():
        fig = Figure(figsize=(4.0 * (2 + sweep), 3.9), layout="constrained")
        axes = fig.subplots(1, 2 + sweep)
        for ax, column, title in [(axes[0], "loss", "training loss"),
                                  (axes[1], "grad_norm", "raw gradient norm")]:  # fmt: skip
            training_curves(steps, ax=ax, y=column, hue="spec", hue_order=specs,
                            palette=colours, labels=labels, log=True, legend=False,
                            linewidth=0.9,
                            reference=baseline if column == "loss" else None)  # fmt: skip
            ax.set_title(f"{title} (median over seeds)")
        if sweep:
            reference = summary[summary["rule"] == "none"]
            threshold_sensitivity(clipped, ax=axes[2], palette=rule_colours(clipped["rule"]),
                                  labels={r: rule_label(r) for r in clipped["rule"]},
                                  reference=reference if len(reference) else None)  # fmt: skip
            axes[2].set_title("final loss against threshold")
        handles = [Line2D([], [], color=colours[s]) for s in specs]
        names = [labels[s] for s in specs]
        if baseline is not None:
            handles.append(Line2D([], [], color="0.4", linestyle=":"))
            names.append("memoryless baseline")
        fig.legend(handles, names, loc="outside lower center", ncols=min(len(names), 4))
        save_figure(fig, path)


def _start_label(init: str, gain: float) -> str:
    from ..figures._common import init_label

    return f"{init_label(init)}, gain {gain:g}"


def draw_grid(summary, path, task_name: str) -> None:
    """Solved fraction (left) and median updates to solve (right) against T: colour per
    (init, gain), dashes and markers per rule spec."""
    import numpy as np
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from ..figures import save_figure
    from ..figures.clipping import rule_label
    from ..plot import palette, style_context
    from ..plot.learning import MARKERS, STYLE_DASHES, solved_against_length

    data = summary.reset_index().rename(columns={"rule": "spec", "solved": "solved_fraction"})
    data["start"] = [_start_label(i, g) for i, g in zip(data["init"], data["gain"])]
    starts = list(dict.fromkeys(data["start"]))
    specs = list(dict.fromkeys(data["spec"]))
    labels = {s: rule_label(s) for s in specs}
    colours = palette(starts)
    common = dict(hue="start", style="spec", hue_order=starts, style_order=specs,
                  palette=colours, labels=labels, dodge=0.03 if len(starts) > 1 else 0.0,
                  legend=False)  # fmt: skip
    solved_any = bool(np.isfinite(data["updates_to_solve"].to_numpy(float)).any())
    with style_context():
        fig = Figure(figsize=(9.0, 4.2), layout="constrained")
        left, right = fig.subplots(1, 2, sharex=True)
        solved_against_length(data, ax=left, y="solved_fraction", **common)
        left.set_ylim(-0.04, 1.04)
        left.set_ylabel("fraction of seeds solved")
        left.set_title(f"{task_name} task: runs that solve it")
        solved_against_length(data, ax=right, y="updates_to_solve", log_y=solved_any, **common)
        right.set_ylabel("updates to solve (median over solving seeds)")
        right.set_title("updates needed")
        if not solved_any:
            right.set_yticks([])
            right.text(0.5, 0.5, "no run solved the task", transform=right.transAxes,
                       ha="center", va="center", color="0.4")  # fmt: skip
        for ax in (left, right):
            ax.set_xlabel("T (sequence length)")
        handles = [Line2D([], [], color=colours[s]) for s in starts]
        handles += [Line2D([], [], color="0.3", dashes=d or (None, None), marker=m)
                    for d, m in zip(STYLE_DASHES, MARKERS[: len(specs)])]  # fmt: skip
        names = starts + [labels[s] for s in specs]
        fig.legend(handles, names, loc="outside lower center", ncols=min(len(names), 4))
        save_figure(fig, path)
