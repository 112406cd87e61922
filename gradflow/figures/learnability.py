"""Figures of the initialisation × clipping experiment: what it takes to learn at length T.

One grid of training runs (:func:`gradflow.train.compare`: initialiser × clipping rule ×
sequence length × seed, trained as populations) feeds two figures: :func:`learnability`, the
fraction of seeds that solve the adding and the copy task against T, and
:func:`long_sequence_curves`, the loss curves of orthogonal or Gaussian starts, clipped or not,
at the longest T where any of them learns. The grid is computed once per session and settings
(both figures' defaults agree, so the second reuses the first's runs). Every number a caption
states is computed from the figure's own data (``numbers=``).
"""

from __future__ import annotations

import functools

import pandas as pd
from matplotlib.figure import Figure

from .. import train as _train
from .._validation import as_int
from ..plot.learning import MARKERS, STYLE_DASHES, loss_bands, solved_against_length
from ..train import rule_spec
from ._catalogue import register
from ._common import (
    _freeze_layout,
    figure_legend,
    init_colours,
    init_label,
    median_band,
    rule_label,
)

__all__ = ["COMBINATIONS", "learnability", "long_sequence_curves"]

#: The initialisers of the experiment with their nonlinearity: PyTorch's default is
#: ``uniform``; identity with ReLU is Le et al.'s (2015) IRNN.
COMBINATIONS = (("orthogonal", "tanh"), ("gaussian", "tanh"), ("uniform", "tanh"),
                ("identity", "relu"))  # fmt: skip
_TASK_LABELS = {"adding": "adding task", "copy": "copy task"}


def _start_label(init: str, activation: str) -> str:
    name = init_label(init)
    return f"{name} + ReLU (IRNN)" if activation == "relu" else f"{name}, tanh"


@functools.lru_cache(maxsize=4)
def _grid(task, lengths, hidden, updates, batch, lr, seeds, value_c, global_c, rng, workers):
    """Every run of the experiment on one task: (runs frame, per-update training losses).

    Computed once per session and settings; ``workers`` processes share the populations
    (the result is the same for any number of them).
    """
    from concurrent.futures import ProcessPoolExecutor

    rules = ["none", f"value:{value_c!r}", f"global:{global_c!r}"]
    runs, steps = [], []
    pool = ProcessPoolExecutor(workers) if workers > 1 else None
    try:
        for activation in dict.fromkeys(a for _, a in COMBINATIONS):
            inits = [i for i, a in COMBINATIONS if a == activation]
            frame, record = _train.compare(
                task, inits=inits, rules=rules, T=list(lengths), seeds=seeds, hidden_size=hidden,
                updates=updates, batch=batch, lr=lr, activation=activation, rng=rng,
                return_updates=True, executor=pool,
            )  # fmt: skip
            runs.append(frame)
            steps.append(record[["init", "rule", "T", "seed", "update", "loss"]].assign(
                activation=activation))  # fmt: skip
    finally:
        if pool is not None:
            pool.shutdown()
    return pd.concat(runs, ignore_index=True), pd.concat(steps, ignore_index=True)


def _summary(runs: pd.DataFrame, task: str) -> pd.DataFrame:
    """One row per (init, activation, rule, T): solved fraction and medians over seeds."""
    keys = ["init", "activation", "rule", "threshold", "T"]
    grouped = runs.groupby(keys, sort=False, dropna=False)
    out = grouped.agg(
        seeds=("seed", "size"), solved=("solved", "sum"), final_loss=("final_loss", "median"),
        max_grad_norm=("max_grad_norm", "median"), clipped_fraction=("clipped_fraction", "mean"),
        diverged=("diverged", "sum"), target_loss=("target_loss", "first"),
    ).reset_index()  # fmt: skip
    solved = runs[runs["solved"]].groupby(keys, sort=False, dropna=False)["updates_to_solve"]
    out = out.merge(solved.median().reset_index(), on=keys, how="left")
    out.insert(0, "task", task)
    out.insert(out.columns.get_loc("solved") + 1, "solved_fraction", out["solved"] / out["seeds"])
    return out


def _task_sentence(part: pd.DataFrame) -> str:
    """What the data of one task show, in a sentence or two (for the caption)."""
    task = _TASK_LABELS.get(part["task"].iloc[0], part["task"].iloc[0])
    name = {(i, a): _start_label(i, a) for i, a in COMBINATIONS}
    part = part.assign(spec=[rule_spec(r, t) for r, t in zip(part["rule"], part["threshold"])])
    learnt = part[part["solved_fraction"] >= 0.5]
    if learnt.empty:
        return f"On the {task} no combination solves half of its seeds at any T tried."
    longest = int(learnt["T"].max())
    at = part[part["T"] == longest].sort_values("solved_fraction", ascending=False, kind="stable")
    best = at.iloc[0]
    tied = at[(at["solved"] == best["solved"]) & (at.index != best.name)]
    advice = at[(at["init"] == "orthogonal") & (at["rule"] == "global")]
    plain = at[(at["init"] == "orthogonal") & (at["rule"] == "none")]
    text = (
        f"On the {task} the longest T at which a combination solves at least half of its "
        f"seeds is {longest}: {name[best['init'], best['activation']]} with "
        f"{rule_label(best['spec'])} solves {best['solved']:.0f} of {best['seeds']:.0f}"
    )
    if len(tied):
        text += " (as does " + ", ".join(
            f"{name[row['init'], row['activation']]} with {rule_label(row['spec'])}"
            for _, row in tied.iterrows()
        ) + ")"  # fmt: skip
    if len(advice) and len(plain):
        a, p = advice.iloc[0], plain.iloc[0]
        text += (
            f"; orthogonal with global-norm clipping {a['solved']:.0f}, orthogonal unclipped "
            f"{p['solved']:.0f}"
        )
        if a["solved"] < best["solved"]:
            text += " (here the usual advice is not the best choice)"
    clipped = part[part["rule"] != "none"]
    unclipped = part[part["rule"] == "none"]
    return text + (
        f". Over all lengths, clipped runs solve {clipped['solved'].sum():.0f} of "
        f"{clipped['seeds'].sum():.0f} and unclipped runs {unclipped['solved'].sum():.0f} of "
        f"{unclipped['seeds'].sum():.0f}."
    )


def _learnability_numbers(data: pd.DataFrame) -> dict:
    return {f"{task}_summary": _task_sentence(part) for task, part in data.groupby("task")}


@register(
    "learnability",
    caption=(
        "What it takes to learn at length T. Elman networks of N = {hidden_size} units trained by "
        "Adam (lr = {lr:g}, {updates} updates of batches of {batch}) on the adding task (top) "
        "and the copy task recalling {copy_symbols} symbols after a delay T (bottom); a "
        "run solves the task when its loss on a held-out batch "
        "of 512 ends below a tenth of the memoryless baseline. First three columns, one per "
        "clipping rule: the fraction of {seeds} seeds that solve it against T; last column: the "
        "median number of updates the solving seeds needed "
        "(the first update at which the mean training loss over 20 updates is below "
        "the target). Colour: the start (orthogonal, Gaussian and PyTorch's uniform default "
        "with tanh; identity with ReLU, Le et al.'s IRNN); dashes: no clipping, value "
        "clipping at c = {value_c:g}, global-norm clipping at c = {global_c:g} (Pascanu et al. "
        "2013). Seed i gives the same start and batches under every rule. {adding_summary} "
        "{copy_summary}"
    ),
    quick={
        "adding_T": (4, 8),
        "copy_T": (2,),
        "hidden_size": 6,
        "updates": 30,
        "seeds": 2,
        "workers": 1,
    },
    numbers=_learnability_numbers,
)
def learnability(
    *, adding_T=(10, 20, 40, 80), copy_T=(5, 10, 20, 40), copy_symbols=2, hidden_size=32,
    updates=4000, batch=32, lr=2e-3, seeds=4, value_c=0.1, global_c=1.0, rng=0, workers=2,
):  # fmt: skip
    """Fraction of seeds that solve the adding and copy tasks against T, per start × clipping.

    Parameters
    ----------
    adding_T, copy_T : sequence of int
        Sequence lengths of the adding task and delays of the copy task.
    copy_symbols : int, default 2
        Symbols the copy task recalls (:func:`gradflow.tasks.copy`; 10 is Arjovsky et al.'s
        task, which an Elman network of this size does not learn in this budget at any
        delay: a short copy keeps the memory load small, so that the delay is what limits
        learning).
    hidden, updates, batch, lr, seeds, rng
        As in :func:`gradflow.train.compare` (Adam).
    value_c, global_c : float
        Thresholds of value and global-norm clipping.
    workers : int, default 2
        Processes that train the populations (1: in this process); the data do not depend
        on it.

    Returns
    -------
    fig : matplotlib.figure.Figure
    data : pandas.DataFrame
        One row per (task, init, activation, rule, T): ``seeds``, ``solved`` (how many),
        ``solved_fraction``, ``final_loss`` (median over seeds), ``max_grad_norm`` (median),
        ``clipped_fraction`` (mean over seeds, of updates), ``diverged`` (how many),
        ``target_loss``, ``updates_to_solve`` (median over the solving seeds).
    """
    settings = (hidden_size, updates, batch, lr, seeds, float(value_c), float(global_c), rng,
                as_int(workers, "workers", minimum=1))  # fmt: skip
    copy = "copy" if int(copy_symbols) == 10 else f"copy:{as_int(copy_symbols, 'copy_symbols')}"
    frames = [_summary(_grid(name, tuple(lengths), *settings)[0], task)
              for task, name, lengths in (("adding", "adding", adding_T),
                                          ("copy", copy, copy_T))]  # fmt: skip
    data = pd.concat(frames, ignore_index=True)
    data.insert(data.columns.get_loc("rule"), "start",
                [_start_label(i, a) for i, a in zip(data["init"], data["activation"])])  # fmt: skip
    data["clipping"] = [
        rule_label(rule_spec(r, t)) for r, t in zip(data["rule"], data["threshold"])
    ]
    colours = init_colours()
    starts = [_start_label(i, a) for i, a in COMBINATIONS]
    palette = {_start_label(i, a): colours[i] for i, a in COMBINATIONS}
    clippings = list(dict.fromkeys(data["clipping"]))
    symbols = int(copy_symbols)
    titles = {**_TASK_LABELS, "copy": f"copy task ({symbols} symbol{'s' * (symbols != 1)})"}
    fig = Figure(figsize=(13.0, 6.6), layout="constrained")
    axes = fig.subplots(2, len(clippings) + 1)
    for row, task in zip(axes, ("adding", "copy")):
        part = data[data["task"] == task]
        for ax, clipping in zip(row, clippings):
            solved_against_length(part[part["clipping"] == clipping], ax=ax, hue="start",
                                  style="clipping", hue_order=starts, style_order=clippings,
                                  palette=palette, dodge=0.04, legend=False)  # fmt: skip
            ax.set_ylim(-0.04, 1.04)
            ax.set_title(f"{titles[task]}: {clipping}")
            ax.set_ylabel("fraction of seeds solved" if ax is row[0] else "")
        solved_against_length(part, ax=row[-1], y="updates_to_solve", hue="start",
                              style="clipping", hue_order=starts, style_order=clippings,
                              palette=palette, log_y=True, dodge=0.04, legend=False)  # fmt: skip
        row[-1].set_ylabel("updates to solve (median)")
        row[-1].set_title(f"{titles[task]}: updates needed")
        for ax in row:
            ax.set_xlabel("T (sequence length)" if task == "adding" else "T (copy delay)")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=palette[s]) for s in starts]
    handles += [Line2D([], [], color="0.3", dashes=d or (None, None), marker=m)
                for d, m in zip(STYLE_DASHES, MARKERS[: len(clippings)])]  # fmt: skip
    fig.legend(handles, starts + clippings, loc="outside lower center", ncols=7)
    return _freeze_layout(fig), data


# -- the combination on one long task ------------------------------------------------------------
_CURVE_STARTS = ("orthogonal", "gaussian")


def _curve_numbers(data: pd.DataFrame) -> dict:
    out = {"T_long": int(data["T"].iloc[0])}
    out["why"] = (
        "the longest length of the learnability experiment at which any of these four "
        "combinations solves a seed"
        if data["solved"].max() > 0
        else "the shortest length of the learnability experiment (none of these four "
        "combinations solves a seed at any length tried)"
    )
    finals = data.groupby("combination", sort=False).agg(
        solved=("solved", "first"), seeds=("seeds", "first"), final=("final_loss", "first")
    )
    parts = [f"{name}: {row.solved:.0f} of {row.seeds:.0f} solved, median held-out loss "
             f"{row.final:.3g}" for name, row in finals.iterrows()]  # fmt: skip
    out["outcomes"] = "; ".join(parts)
    return out


@register(
    "long_sequence_curves",
    caption=(
        "Initialisation and clipping together on the adding task at T = {T_long}, {why}: "
        "orthogonal or Gaussian W_hh (tanh, N = {hidden_size}), with or without global-norm "
        "clipping at c = {global_c:g}, Adam (lr = {lr:g}). Training loss (running mean over "
        "{window} updates), median and 10–90 % band over {seeds} seeds; dotted: the memoryless "
        "baseline 1/6. {outcomes}."
    ),
    quick={
        "adding_T": (4, 8),
        "hidden_size": 6,
        "updates": 30,
        "seeds": 2,
        "window": 5,
        "workers": 1,
    },
    numbers=_curve_numbers,
)
def long_sequence_curves(
    *, adding_T=(10, 20, 40, 80), hidden_size=32, updates=4000, batch=32, lr=2e-3, seeds=4,
    value_c=0.1, global_c=1.0, rng=0, window=50, workers=2,
):  # fmt: skip
    """Loss curves of orthogonal/Gaussian × clipped/unclipped at the longest learnable T.

    Parameters
    ----------
    adding_T, hidden, updates, batch, lr, seeds, value_c, global_c, rng, workers
        The settings of :func:`learnability` (the same runs).
    window : int, default 50
        Running mean of the training loss over this many updates, before the median.

    Returns
    -------
    fig : matplotlib.figure.Figure
    data : pandas.DataFrame
        One row per (combination, step), every ``updates // 400``-th update and the last:
        ``T``, ``init``, ``rule``, ``loss`` (median over
        seeds of the running mean), ``loss_low``, ``loss_high`` (10 % and 90 %), ``seeds``,
        ``solved`` (seeds solved), ``final_loss`` (median held-out loss).
    """
    settings = (hidden_size, updates, batch, lr, seeds, float(value_c), float(global_c), rng,
                as_int(workers, "workers", minimum=1))  # fmt: skip
    runs, steps = _grid("adding", tuple(adding_T), *settings)
    rules = ("none", "global")
    chosen = runs[runs["init"].isin(_CURVE_STARTS) & runs["rule"].isin(rules)]
    learnt = chosen.groupby("T")["solved"].sum()
    T_long = int(learnt[learnt > 0].index.max()) if (learnt > 0).any() else int(learnt.index.min())
    chosen = chosen[chosen["T"] == T_long]
    curves = steps[(steps["T"] == T_long) & steps["init"].isin(_CURVE_STARTS)
                   & steps["rule"].isin(rules)].copy()  # fmt: skip
    curves["loss"] = curves.groupby(["init", "rule", "seed"], sort=False)["loss"].transform(
        lambda s: s.rolling(window, min_periods=1).mean())  # fmt: skip
    combo = {(i, r): f"{init_label(i)}, {rule_label(r if r == 'none' else f'{r}:{global_c:g}')}"
             for i in _CURVE_STARTS for r in rules}  # fmt: skip
    curves["combination"] = [combo[i, r] for i, r in zip(curves["init"], curves["rule"])]
    stride = max(1, int(updates) // 400)  # about 400 points a curve: the CSV stays small
    last = curves["update"].max()
    curves = curves[(curves["update"] % stride == 0) | (curves["update"] == last)]
    data = median_band(curves, ["combination", "init", "rule", "update"], "loss")
    outcome = (
        chosen.groupby(["init", "rule"])
        .agg(solved=("solved", "sum"), final_loss=("final_loss", "median"))
        .reset_index()
    )
    data = data.merge(outcome, on=["init", "rule"], how="left")
    data.insert(0, "T", T_long)
    order = [combo[i, r] for i in _CURVE_STARTS for r in reversed(rules)]
    colours = init_colours()
    palette = {combo[i, r]: colours[i] for i, r in combo}
    dashes = {combo[i, r]: STYLE_DASHES[0 if r == "global" else 1] for i, r in combo}
    fig = Figure(figsize=(6.8, 4.6), layout="constrained")
    ax = fig.subplots()
    loss_bands(data, ax=ax, hue="combination", hue_order=order, palette=palette,
               dashes=dashes, reference=1 / 6, reference_label="memoryless baseline 1/6",
               legend=False)  # fmt: skip
    ax.set_xlabel("update")
    ax.set_ylabel(f"training loss (running mean over {window})")
    ax.set_title(f"Adding task, T = {T_long}: initialisation × clipping")
    figure_legend(fig, [ax], ncols=3)
    return _freeze_layout(fig), data
