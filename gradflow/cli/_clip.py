"""``gradflow clip``: compare gradient-clipping rules on a sequence task."""

from __future__ import annotations

import argparse

from . import add_cell_arguments, comma_list, subcommand

_DEFAULT_RULES = "none,value:1,norm:1,global:1,adaptive:0.01"


def _float_list(text: str) -> list[float]:
    values = []
    for item in comma_list(text):
        try:
            values.append(float(item))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated numbers, got {item!r}"
            ) from None
    return values


def _clip_arguments(parser: argparse.ArgumentParser) -> None:
    task = parser.add_argument_group("task and model")
    task.add_argument("--task", default="adding", help="adding or copy (default: %(default)s)")
    task.add_argument("--T", type=int, default=100, help="sequence length (default: %(default)s)")
    task.add_argument("--hidden", type=int, default=64, help="hidden units (default: %(default)s)")
    task.add_argument(
        "--init", default="orthogonal", help="initialiser of W_hh (default: %(default)s)"
    )
    task.add_argument(
        "--gain", type=float, default=1.0, help="gain of W_hh's initialiser (default: %(default)s)"
    )
    task.add_argument(
        "--activation", default="tanh", help="tanh, relu, sigmoid or linear (default: %(default)s)"
    )
    add_cell_arguments(task)
    train = parser.add_argument_group("training")
    train.add_argument(
        "--rules",
        type=comma_list,
        default=comma_list(_DEFAULT_RULES),
        metavar="RULE[,RULE]",
        help="clipping rules: none, value:C, norm:C, global:C, adaptive:C, or bare names "
        f"combined with --thresholds (default: {_DEFAULT_RULES})",
    )
    train.add_argument(
        "--thresholds",
        type=_float_list,
        metavar="C[,C]",
        help="thresholds for bare rule names, e.g. --rules none,value,global --thresholds 0.1,1",
    )
    train.add_argument(
        "--optimizer", default="adam", help="sgd, momentum or adam (default: %(default)s)"
    )
    train.add_argument(
        "--lr", type=float, default=1e-3, help="learning rate (default: %(default)s)"
    )
    train.add_argument("--steps", type=int, default=2000, help="updates (default: %(default)s)")
    train.add_argument("--batch", type=int, default=32, help="batch size (default: %(default)s)")
    train.add_argument("--seeds", type=int, default=4, help="seeds per rule (default: %(default)s)")
    train.add_argument(
        "--rng", type=int, default=0, metavar="SEED", help="root seed (default: %(default)s)"
    )
    train.add_argument(
        "--target-loss",
        type=float,
        help="loss for steps_to_target (default: a tenth of the task's baseline)",
    )
    train.add_argument(
        "--eval-batch",
        type=int,
        default=512,
        help="held-out batch for final_loss (default: %(default)s)",
    )
    train.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="run the jobs in N processes (default: 1, in this process)",
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--out",
        default="clip.csv",
        metavar="CSV",
        help="one row per (rule, threshold, seed) (default: %(default)s)",
    )
    out.add_argument("--steps-out", metavar="CSV", help="also write every run's per-step record")
    out.add_argument("--plot", metavar="IMAGE", help="draw a summary figure (.png, .svg or .pdf)")
    out.add_argument("--quiet", action="store_true", help="print nothing but errors")


def _spec(rule, threshold) -> str:
    return rule if threshold != threshold else f"{rule}:{threshold:g}"  # NaN: no threshold


def _summary_table(summary):
    frame = summary.assign(spec=[_spec(r, t) for r, t in zip(summary.rule, summary.threshold)])
    return frame.groupby("spec", sort=False).agg(
        final_loss=("final_loss", "median"),
        diverged=("diverged", "sum"),
        steps_to_target=("steps_to_target", "median"),
        clipped_fraction=("clipped_fraction", "mean"),
    )


def _draw(summary, steps, path, baseline) -> None:
    """Median training loss and raw gradient norm against step per rule; final loss against
    threshold when a rule was run at several thresholds."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from ..figures import save_figure
    from ..figures.clipping import rule_colours, rule_label
    from ..plot import palette, style_context
    from ..plot.clipping import threshold_sensitivity, training_curves

    steps = steps.assign(spec=[_spec(r, t) for r, t in zip(steps.rule, steps.threshold)])
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


@subcommand("clip", help="compare gradient-clipping rules on a task", arguments=_clip_arguments)
def _clip(args: argparse.Namespace) -> int:
    """Train an Elman network on a sequence task from identical starts under each clipping
    rule and seed, and write one CSV row per (rule, threshold, seed): final loss on a held-out
    batch, divergence, steps to a target loss, fraction of steps clipped.

    Example: gradflow clip --task adding --T 100 --rules none,value:1,global:1 --seeds 4
    --out clip.csv --plot clip.png
    """
    from .._validation import as_int
    from ..clip import get as clip_get
    from ..optim import get as optim_get
    from ..train import compare_clipping, make_task

    task = make_task(args.task, args.T)
    workers = as_int(args.workers, "workers", minimum=1)
    if args.plot is not None:
        from ..figures import FORMATS

        suffix = args.plot.rsplit(".", 1)[-1].lower() if "." in args.plot else ""
        if suffix not in FORMATS:
            raise ValueError(
                f"plot: expected a file name ending in .png, .svg or .pdf, got {args.plot!r}"
            )
    for rule in args.rules:  # the common mistakes fail before the header is printed
        if rule not in ("value", "norm", "global", "adaptive"):
            clip_get(rule)
    optim_get(args.optimizer, args.lr)
    keep_steps = args.plot is not None or args.steps_out is not None
    kwargs = dict(
        T=None, hidden=args.hidden, init=args.init, gain=args.gain, activation=args.activation,
        cell=args.cell, forget_bias=args.forget_bias,
        optimizer=args.optimizer, lr=args.lr, steps=args.steps, batch=args.batch,
        target_loss=args.target_loss, eval_batch=args.eval_batch, rng=args.rng,
        return_steps=keep_steps,
    )  # fmt: skip
    if not args.quiet:
        print(f"gradflow clip: {task.name} (T = {task.T}), rules {','.join(args.rules)}, "
              f"{args.seeds} seed(s), {args.steps} steps", flush=True)  # fmt: skip
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as executor:
            result = compare_clipping(task, args.rules, args.thresholds, args.seeds,
                                      executor=executor, **kwargs)  # fmt: skip
    else:
        result = compare_clipping(task, args.rules, args.thresholds, args.seeds, **kwargs)
    summary, steps = result if keep_steps else (result, None)
    summary.to_csv(args.out, index=False)
    written = [args.out]
    if args.steps_out is not None:
        steps.to_csv(args.steps_out, index=False)
        written.append(args.steps_out)
    if args.plot is not None:
        _draw(summary, steps, args.plot, task.baseline)
        written.append(args.plot)
    if not args.quiet:
        print(_summary_table(summary).to_string(float_format=lambda v: f"{v:.4g}"))
        print("wrote " + ", ".join(written))
    return 0
