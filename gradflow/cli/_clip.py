"""``gradflow clip``: train a grid of initialiser × gain × clipping rule × T × seed."""

from __future__ import annotations

import argparse
import math

from . import (
    add_cell_arguments,
    add_hidden_size_argument,
    add_rng_argument,
    comma_list,
    positive_int,
    renamed_option,
    subcommand,
)
from ._clip_plot import draw_curves, draw_grid

_DEFAULT_RULES = "none,value:1,norm:1,global:1,adaptive:0.01"


def _max_plot_rules() -> int:
    """The summary figure over T tells the rules apart by dash pattern: this many at most."""
    from ..plot.learning import STYLE_DASHES  # matplotlib only when a figure is asked for

    return len(STYLE_DASHES)


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


def _unique(text: str, convert, valid, expected: str) -> list:
    """``convert`` of each comma-separated item of ``text``, repeats dropped; an item that does
    not convert or is not ``valid`` is refused as not ``expected``."""
    values = []
    for item in comma_list(text):
        try:
            value = convert(item)
        except ValueError:
            value = None
        if value is None or not valid(value):
            raise argparse.ArgumentTypeError(f"expected comma-separated {expected}, got {item!r}")
        values.append(value)
    return list(dict.fromkeys(values))


def _lengths(text: str) -> list[int]:
    """``"20,40,80"`` -> ``[20, 40, 80]``: sequence lengths >= 1, repeats dropped."""
    return _unique(text, int, lambda v: v >= 1, "integers >= 1")


def _gains(text: str) -> list[float]:
    """``"0.8,1"`` -> ``[0.8, 1.0]``: finite gains > 0, repeats dropped."""
    return _unique(text, float, lambda v: math.isfinite(v) and v > 0, "finite numbers > 0")


def _names(text: str) -> list[str]:
    return list(dict.fromkeys(comma_list(text)))


def _clip_arguments(parser: argparse.ArgumentParser) -> None:
    task = parser.add_argument_group("task and model")
    task.add_argument("--task", default="adding", help="adding or copy (default: %(default)s)")
    task.add_argument(
        "--T",
        type=_lengths,
        default="100",
        metavar="T[,T]",
        help="sequence lengths, e.g. 20,40,80 (default: %(default)s)",
    )
    add_hidden_size_argument(task, "hidden", 64)
    renamed_option(
        task,
        "inits",
        "init",
        type=_names,
        default="orthogonal",
        metavar="NAME[,NAME]",
        help="initialisers of W_hh (default: %(default)s; also gaussian, identity, uniform, "
        "glorot_uniform)",
    )
    renamed_option(
        task,
        "gains",
        "gain",
        type=_gains,
        default="1.0",
        metavar="G[,G]",
        help="gains > 0 of W_hh's initialiser (default: %(default)s)",
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
    renamed_option(
        train,
        "updates",
        "steps",
        type=positive_int,
        default=2000,
        metavar="N",
        help="optimiser updates per run (default: %(default)s)",
    )
    train.add_argument(
        "--batch", type=positive_int, default=32, help="batch size (default: %(default)s)"
    )
    train.add_argument(
        "--seeds",
        type=positive_int,
        default=4,
        help="seeds per (init, gain, rule, T) (default: %(default)s)",
    )
    add_rng_argument(train, "the starts and batches; same seed, same CSV")
    train.add_argument(
        "--target-loss",
        type=float,
        help="held-out loss that counts as solved (default: a tenth of the task's baseline)",
    )
    train.add_argument(
        "--eval-batch",
        type=positive_int,
        default=512,
        help="held-out batch for final_loss (default: %(default)s)",
    )
    train.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        metavar="N",
        help="train the populations in N processes (default: 1, in this process; the result "
        "is the same)",
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--out",
        default="clip.csv",
        metavar="CSV",
        help="one row per run, (init, gain, rule, threshold, T, seed) (default: %(default)s)",
    )
    renamed_option(out, "updates-out", "steps-out", metavar="CSV",
                   help="also write every run's per-update record")  # fmt: skip
    out.add_argument(
        "--plot",
        metavar="IMAGE",
        help="draw a figure (.png, .svg or .pdf): training curves for one (init, gain, T), "
        "else solved fraction and updates to solve against T (at most one rule per dash pattern "
        "of the figure)",
    )
    out.add_argument("--quiet", action="store_true", help="print nothing but errors")


def _with_spec(frame):
    from ..train import rule_spec

    return frame.assign(spec=[rule_spec(r, t) for r, t in zip(frame["rule"], frame["threshold"])])


def _grid_summary(runs):
    """One row per (T, init, gain, rule spec), in that order: the number of seeds, the
    fraction solved, the median final loss, the median updates_to_solve over the seeds that
    solved (NaN if none did), the mean clipped fraction and the number diverged."""
    frame = _with_spec(runs)
    keys = ["T", "init", "gain", "spec"]
    grouped = frame.groupby(keys, sort=False)
    summary = grouped.agg(
        seeds=("seed", "size"), solved=("solved", "mean"), final_loss=("final_loss", "median"),
        clipped_fraction=("clipped_fraction", "mean"), diverged=("diverged", "sum"),
    )  # fmt: skip
    solving = frame[frame["solved"].astype(bool)].groupby(keys, sort=False)["updates_to_solve"]
    summary.insert(3, "updates_to_solve", solving.median().reindex(summary.index))
    summary = summary.reset_index().astype({"diverged": int})
    rank = {k: {v: i for i, v in enumerate(dict.fromkeys(frame[k]))} for k in keys[1:]}
    summary = summary.sort_values(  # T ascending, the rest in the order they were given
        keys, key=lambda c: c.map(rank[c.name]) if c.name in rank else c, kind="stable"
    )
    return summary.rename(columns={"spec": "rule"}).set_index(["T", "init", "gain", "rule"])


def _check(args: argparse.Namespace):
    """Check everything a run needs before any training starts: (tasks, rule specs, whether
    the grid has a single (init, gain, T))."""
    from .. import init
    from .._validation import as_choices
    from ..optim import get as optim_get
    from ..train import init_model, make_task, rule_specs

    tasks = [make_task(args.task, T) for T in args.T]
    inits = as_choices(args.inits, "inits", init.available(), what="initialiser name")
    specs = rule_specs(args.rules, args.thresholds)
    optim_get(args.optimizer, args.lr)
    for name in inits:  # the cell, activation and initialiser fit together
        for gain in args.gains:
            init_model(tasks[0], args.hidden_size, init=name, gain=gain, activation=args.activation,
                       cell=args.cell, forget_bias=args.forget_bias, rng=0)  # fmt: skip
    if args.plot is not None:
        from ..figures import FORMATS

        suffix = args.plot.rpartition(".")[2].lower()
        if "." not in args.plot or suffix not in FORMATS:
            raise ValueError(
                f"plot: expected a file name ending in .png, .svg or .pdf, got {args.plot!r}"
            )
    single = len(inits) == len(args.gains) == len(tasks) == 1  # one (init, gain, T)
    if args.plot is not None and not single and len(specs) > (most := _max_plot_rules()):
        raise ValueError(
            f"plot: the summary figure over (init, gain, T) draws at most {most} "
            f"rule specs, got {len(specs)} ({', '.join(specs)}); pass fewer --rules or leave "
            "out --plot"
        )
    return tasks, specs, single


@subcommand(
    "clip",
    help="train initialiser × gain × clipping rule × T × seed on a task",
    arguments=_clip_arguments,
)
def _clip(args: argparse.Namespace) -> int:
    """Train a grid of initialiser × gain × clipping rule × sequence length T × seed on a
    sequence task (gradflow.train.compare, as populations, from identical starts and batches
    under every rule) and write one CSV row per run: held-out final loss, solved, updates to
    solve, largest gradient norm, fraction of updates clipped, divergence.

    The summary printed groups the runs by (T, init, gain, rule): the fraction solved, the
    median final loss, the median updates to solve over the seeds that solved, the mean
    clipped fraction and the number diverged. --plot draws the training curves when the grid
    has one (init, gain, T), else the solved fraction and updates to solve against T.

    Example: gradflow clip --task adding --T 20,40,80 --inits orthogonal,gaussian
    --rules none,global:1 --updates 2000 --seeds 4 --workers 4 --out clip.csv --plot clip.png
    """
    tasks, specs, single = _check(args)  # the common mistakes fail before the header is printed
    import pandas as pd

    from ..train import compare

    keep_steps = args.updates_out is not None or (args.plot is not None and single)
    kwargs = dict(
        inits=args.inits, rules=specs, T=args.T, seeds=args.seeds, hidden_size=args.hidden_size,
        updates=args.updates, batch=args.batch, optimizer=args.optimizer, lr=args.lr,
        cell=args.cell, activation=args.activation, forget_bias=args.forget_bias,
        target_loss=args.target_loss, eval_batch=args.eval_batch, rng=args.rng,
        return_updates=keep_steps, spectral=args.updates_out is not None,
    )  # fmt: skip
    if not args.quiet:
        print(f"gradflow clip: {tasks[0].name} (T = {','.join(map(str, args.T))}), "
              f"{args.cell}, inits {','.join(args.inits)}, gains "
              f"{','.join(f'{g:g}' for g in args.gains)}, rules {','.join(specs)}, "
              f"{args.seeds} seed(s), {args.updates} updates", flush=True)  # fmt: skip

    def run(executor):
        results = []
        for gain in args.gains:  # compare takes one gain; seed i is the same under each
            result = compare(args.task, gain=gain, executor=executor, **kwargs)
            runs, steps = result if keep_steps else (result, None)
            if steps is not None:
                steps.insert(steps.columns.get_loc("init") + 1, "gain", gain)
            results.append((runs, steps))
        return results

    if args.workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=args.workers) as executor:
            results = run(executor)
    else:
        results = run(None)
    runs = pd.concat([r for r, _ in results], ignore_index=True)
    runs.to_csv(args.out, index=False)
    written = [args.out]
    if args.updates_out is not None:
        pd.concat([s for _, s in results], ignore_index=True).to_csv(args.updates_out, index=False)
        written.append(args.updates_out)
    summary = _grid_summary(runs)
    if args.plot is not None:
        if single:
            steps = pd.concat([s for _, s in results], ignore_index=True)
            draw_curves(runs, _with_spec(steps), args.plot, tasks[0].baseline)
        else:
            draw_grid(summary, args.plot, tasks[0].name)
        written.append(args.plot)
    if not args.quiet:
        table = summary.rename(columns={"solved": "solved_fraction"}).drop(columns="seeds")
        print(table.to_string(float_format=lambda v: f"{v:.4g}"))
        print("wrote " + ", ".join(written))
    return 0
