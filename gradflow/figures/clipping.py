"""Figures of gradient clipping in training: the adding task, thresholds, update paths.

Each function computes its tidy data through the numerical layers (``tasks``, ``train``), draws
it with :mod:`gradflow.plot.clipping` and returns ``(Figure, DataFrame)``. Seeds are fixed per
figure. The training runs of :func:`clipping_adding` and :func:`update_paths` are cached per
settings, so redrawing a figure does not retrain. The cliff figure is in
:mod:`gradflow.figures.cliff` (:func:`cliff` is importable from here too), the rule names and
colours (:func:`rule_label`, :func:`rule_colours`) in ``gradflow.figures._common``.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .. import tasks as _tasks
from .. import train as _train
from .._rng import spawn_seeds
from ..plot.clipping import parameter_paths, threshold_sensitivity, training_curves
from ._catalogue import register
from ._common import _FAMILY_NAME, _freeze_layout, _labels, figure_legend, rule_colours, rule_label
from .cliff import cliff

__all__ = [
    "cliff",
    "clipping_adding",
    "clipping_thresholds",
    "rule_colours",
    "rule_label",
    "update_paths",
]


# -- training runs on the adding task (clipping_adding, update_paths) -----------------------
@functools.lru_cache(maxsize=2)
def _cached_runs(rules, settings):
    return _fit_runs(rules, settings)


def _fit_runs(rules, settings):
    """One run per rule from one start on one stream of batches: rule -> History."""
    kw = dict(settings)
    task = _train.make_task("adding", kw.pop("T"))
    init_seed, data_seed = spawn_seeds(kw.pop("rng"), 2)
    model = _train.init_model(
        task, kw.pop("hidden_size"), init=kw.pop("init"), gain=kw.pop("gain"),
        activation=kw.pop("activation"), rng=np.random.default_rng(init_seed),
    )  # fmt: skip
    return {
        rule: _train.fit(task, model, clip=rule, rng=np.random.default_rng(data_seed),
                         progress=False, **kw)
        for rule in rules
    }  # fmt: skip


def _adding_runs(rules, **settings):
    """The runs of :func:`clipping_adding` and :func:`update_paths`, trained once per session."""
    rules = tuple(rules)
    if not rules:
        raise ValueError("rules: expected at least one clipping rule, got none")
    key = tuple(settings.items())
    try:
        hash((rules, key))
    except TypeError:  # e.g. a Generator as rng: not cached
        return rules, _fit_runs(rules, key)
    return rules, _cached_runs(rules, key)


_ADDING_CAPTION = (
    "An Elman network (N = {hidden_size}, {activation}, {init} W_hh at gain {gain:g}) trained on "
    "the adding task (T = {T}, batches of {batch}) by {optimizer} (lr = {lr:g}) for {updates} "
    "updates, from one start and on the same batches under each clipping rule (c the threshold)."
)
_PANELS = {
    "loss": ("loss", True),
    "grad_norm": ("raw gradient norm ‖g‖", True),
    "update_norm": ("update norm ‖Δθ‖", True),
    "cosine": ("cosine(raw g, clipped g)", False),
    "spectral_radius": (r"spectral radius $\rho(W_{hh})$", True),
}


_CAPPED = ("loss", "grad_norm", "update_norm", "spectral_radius")
_CAP_FACTOR = 1e3  # how far above the clipped runs' largest value a panel may reach


def _cap(ax, data, column, labels) -> None:
    """Keep a panel readable when the unclipped run explodes: cut the y axis at 10³ times
    the clipped runs' largest value and say in the panel how far the cut curves go."""
    values = data[column].where(np.isfinite(data[column]))
    clipped = values[data["rule"] != "none"].max()
    if not np.isfinite(clipped) or values.max() <= _CAP_FACTOR * clipped:
        return
    top, bottom = _CAP_FACTOR * clipped, values[values > 0].min()
    if not np.isfinite(bottom):
        return
    ax.set_ylim(bottom / 1.5, top)
    lines = [
        f"{labels[rule]}: up to {peak:.0e}"
        for rule, peak in values.groupby(data["rule"], sort=False).max().items()
        if peak > top
    ]  # fmt: skip
    ax.text(0.98, 0.96, "↑ off the scale\n" + "\n".join(lines), transform=ax.transAxes,
            ha="right", va="top", fontsize=7, color="0.2")  # fmt: skip


def _adding_numbers(data: pd.DataFrame) -> dict:
    """The caption's numbers: the unclipped run's fate, the clipped runs' final losses."""
    updates = int(data["update"].max()) + 1
    tail = max(1, updates // 10)
    last = data[data["update"] >= updates - tail]
    none = data[data["rule"] == "none"]
    out = {"tail": tail}
    if len(none):
        norms = none["grad_norm"].to_numpy(float)
        out["none_peak"] = f"{np.nanmax(np.where(np.isfinite(norms), norms, np.nan)):.3g}"
        bad = none.loc[~np.isfinite(none["loss"].to_numpy(float)), "update"]
        out["none_fate"] = (
            f"its loss overflows at update {int(bad.iloc[0])} (×); every later update is skipped"
            if len(bad)
            else "its median loss over the last "
            f"{tail} updates is {last.loc[last['rule'] == 'none', 'loss'].median():.3g}"
        )
    clipped = last[last["rule"] != "none"].groupby("rule", sort=False)["loss"].median()
    out["clipped_losses"] = ", ".join(f"{rule_label(r)} {loss:.3g}" for r, loss in clipped.items())
    out["learners"] = f"{int((clipped < _tasks.adding_baseline() / 2).sum())} of {len(clipped)}"
    radius = data.loc[data["rule"] != "none", "spectral_radius"]
    out["rho_max"] = f"{radius.max():.2g}"
    cosines = data.groupby("rule", sort=False)["cosine"].min()
    out["cosines"] = ", ".join(
        f"{rule_label(rule)} down to {c:.2f}" for rule, c in cosines.items()
        if rule != "none" and not rule.startswith("global")
    )  # fmt: skip
    return out


@register(
    "clipping_adding",
    caption=_ADDING_CAPTION + " Per update: the loss on the batch (dotted: the memoryless "
    "baseline 1/6), the raw gradient norm, the length of the update, the cosine between the "
    "raw and the clipped gradient and the spectral radius of W_hh (panels are cut at 10³ "
    "times the clipped runs' largest value). Without clipping the gradient reaches norm "
    "{none_peak} and {none_fate}. {learners} clipped runs end below half the baseline: the "
    "median batch loss over the last {tail} updates is {clipped_losses} (baseline 0.167), with "
    "ρ(W_hh) at most {rho_max}. Value and per-tensor clipping turn the gradient ({cosines}); "
    "global-norm clipping keeps its direction (cosine 1).",
    quick={"hidden_size": 8, "updates": 40},
    numbers=_adding_numbers,
)
def clipping_adding(
    *, T=30, hidden_size=32, init="orthogonal", gain=1.25, activation="tanh", optimizer="sgd",
    lr=0.15, updates=3000, batch=32, rules=("none", "value:0.1", "norm:1", "global:1"), rng=0,
):  # fmt: skip
    """Training curves on the adding task under each clipping rule, one panel per quantity.

    Parameters
    ----------
    T, hidden_size, init, gain, activation
        Task length and model (:func:`gradflow.train.init_model`).
    optimizer, lr, updates, batch
        Training (:func:`gradflow.train.fit`).
    rules : sequence of str
        Clipping specs, one run each.
    rng : int, default 0
        Seed of the initial model and of the batches (the same for every rule).

    Returns
    -------
    fig : matplotlib.figure.Figure
    data : pandas.DataFrame
        One row per (rule, update): ``rule, update, loss, grad_norm, update_norm, cosine,
        spectral_radius``.
    """
    rules, runs = _adding_runs(
        rules, T=T, hidden_size=hidden_size, init=init, gain=gain, activation=activation,
        optimizer=optimizer, lr=lr, updates=updates, batch=batch, rng=rng,
    )  # fmt: skip
    data = pd.concat(
        [h.frame[["update", *_PANELS]].assign(rule=rule) for rule, h in runs.items()],
        ignore_index=True,
    )[["rule", "update", *_PANELS]]

    colours, labels = rule_colours(rules), _labels(rules)
    fig = Figure(figsize=(9.6, 5.4), layout="constrained")
    axes = fig.subplots(2, 3, sharex=True).ravel()
    for ax, (column, (label, log)) in zip(axes, _PANELS.items()):
        training_curves(data, ax=ax, y=column, palette=colours, labels=labels, log=log,
                        legend=False, linewidth=0.9,
                        reference=1 / 6 if column == "loss" else None,
                        reference_label="memoryless baseline 1/6")  # fmt: skip
        ax.set_ylabel(label)
        if column in _CAPPED:
            _cap(ax, data, column, labels)
    axes[3].set_ylim(top=1.02)
    handles, names = axes[0].get_legend_handles_labels()
    handles = [Line2D([], [], color=colours[r]) for r in rules] + handles
    names = [labels[r] for r in rules] + names
    if any(line.get_gid() == "nonfinite" for ax in axes for line in ax.lines):
        handles.append(Line2D([], [], color="0.2", marker="x", linestyle="none"))
        names.append("first NaN/inf (overflow)")
    axes[5].axis("off")
    axes[5].legend(handles, names, loc="center")
    for ax in axes[2:5]:
        ax.xaxis.set_tick_params(labelbottom=True)
    fig.suptitle(f"Clipping on the adding task (T = {T}, gain {gain:g}, {optimizer}, lr = {lr:g})")
    return _freeze_layout(fig), data


# -- threshold sensitivity ---------------------------------------------------------------------
def _threshold_numbers(data: pd.DataFrame) -> dict:
    """The caption's numbers: per rule the best threshold, and where clipping hurts."""
    none = data.loc[data["rule"] == "none", "final_loss"].median()
    parts = []
    for rule, part in data[data["rule"] != "none"].groupby("rule", sort=False):
        medians = part.groupby("threshold")["final_loss"].median()
        best = medians.idxmin()
        text = (f"{_FAMILY_NAME.get(rule, rule)} clipping does best at c = {best:g} (median "
                f"{medians[best]:.2g})")  # fmt: skip
        worse = medians.index[medians > none]
        if len(worse):
            text += f", and is worse than not clipping at c = {', '.join(f'{c:g}' for c in worse)}"
        parts.append(text)
    return {"none_median": f"{none:.2g}", "by_rule": "; ".join(parts)}


@register(
    "clipping_thresholds",
    caption=(
        "Final loss (on a held-out batch of 512) against the clipping threshold c for value "
        "and global-norm clipping: median (line) and range (band) over {seeds} seeds, dots the "
        "single seeds; dashed: the unclipped runs' median (grey band: their range), dotted: "
        "the memoryless baseline 1/6. Elman network (N = {hidden_size}, tanh, {init} W_hh at gain "
        "{gain:g}) on the adding task (T = {T}), {optimizer} (lr = {lr:g}), {updates} updates of "
        "batches of {batch}; seed i gives the same start and batches under every rule. The "
        "unclipped runs end at a median of {none_median}; {by_rule}."
    ),
    quick={"T": 5, "updates": 30, "seeds": 2, "thresholds": (0.1, 1.0)},
    numbers=_threshold_numbers,
)
def clipping_thresholds(
    *, T=10, hidden_size=16, init="orthogonal", gain=1.5, activation="tanh", optimizer="momentum",
    lr=0.03, updates=1000, batch=32, rules=("value", "global"),
    thresholds=(0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0), seeds=3, rng=0,
):  # fmt: skip
    """Final loss against the clipping threshold, median and band over seeds.

    Parameters
    ----------
    T, hidden_size, init, gain, activation, optimizer, lr, updates, batch
        As in :func:`gradflow.train.compare_clipping`.
    rules : sequence of str, default ("value", "global")
        Rule names, each combined with every threshold.
    thresholds : sequence of float
    seeds : int, default 3
    rng : int, default 0

    Returns
    -------
    fig : matplotlib.figure.Figure
    data : pandas.DataFrame
        One row per (rule, threshold, seed), the unclipped runs with rule ``"none"`` and
        threshold NaN: ``rule, threshold, seed, final_loss, diverged``.
    """
    rules = list(rules)
    summary = _train.compare_clipping(
        "adding", ["none", *rules], list(thresholds), seeds, T=T, hidden_size=hidden_size,
        init=init, gain=gain, activation=activation, optimizer=optimizer, lr=lr, updates=updates,
        batch=batch, rng=rng,
    )  # fmt: skip
    data = summary[["rule", "threshold", "seed", "final_loss", "diverged"]]
    colours, labels = rule_colours(rules), _labels(rules)
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.subplots()
    threshold_sensitivity(
        data[data["rule"] != "none"], ax=ax, hue_order=rules, palette=colours, labels=labels,
        reference=data[data["rule"] == "none"], baseline=_tasks.adding_baseline(),
        baseline_label="memoryless baseline 1/6",
    )  # fmt: skip
    # Below the axes: inside, every corner holds a band or the seeds' dots at some threshold.
    legend = ax.get_legend()
    handles, names = legend.legend_handles, [t.get_text() for t in legend.get_texts()]
    legend.remove()
    fig.legend(handles, names, loc="outside lower center", ncols=len(names))
    ax.set_ylabel("final loss (held-out batch)")
    ax.set_title(f"Threshold sensitivity: adding task, T = {T}, gain {gain:g}, lr = {lr:g}")
    return _freeze_layout(fig), data


# -- update paths ------------------------------------------------------------------------------
_PATH_COLUMNS = ("loss", "grad_norm", "update_norm", "spectral_radius")


def _path_numbers(data: pd.DataFrame) -> dict:
    """The caption's numbers, from the snapshots of the common basis ("all runs")."""
    part = data[data["basis"] == "all runs"]
    runs = dict(tuple(part.groupby("rule", sort=False)))
    out = {"snapshots": int(part.groupby("rule").size().median())}
    start = part[part["update"] == 0]
    out["first_norm"] = f"{start['grad_norm'].iloc[0]:.3g}"
    out["rho_start"] = f"{start['spectral_radius'].iloc[0]:.2g}"

    def tail(frame):  # the last fifth of a run's snapshots (the end point has no loss)
        return frame[frame["update"] >= 0.8 * frame["update"].max()]

    none = runs.get("none")
    if none is not None:
        first = none.sort_values("update").iloc[0]
        out["none_first_step"] = f"{first['update_norm']:.2g}"
        out["none_distance"] = f"{none['distance'].iloc[-1]:.2g}"
        out["none_rho"] = f"{none['spectral_radius'].max():.2g}"
        out["none_loss"] = f"{tail(none)['loss'].median():.3g}"
    clipped = {rule: frame for rule, frame in runs.items() if rule != "none"}
    if clipped:
        ends = [frame["distance"].iloc[-1] for frame in clipped.values()]
        losses = [tail(frame)["loss"].median() for frame in clipped.values()]
        out["clipped_distance"] = f"{min(ends):.2g}–{max(ends):.2g}"
        out["clipped_losses"] = f"{min(losses):.3g}–{max(losses):.3g}"
        steps = {rule: frame["update_norm"].max() for rule, frame in clipped.items()}
        out["clipped_steps"] = "; ".join(f"{v:.2g} for {rule_label(r)}" for r, v in steps.items())
    return out


@register(
    "update_paths",
    caption=_ADDING_CAPTION + " The path of all parameters "
    "({snapshots} snapshots per run) projected on two principal axes of the snapshots: left, "
    "of all runs together; right, of the clipped runs only. Star: the common start; squares: "
    "the ends. The first raw gradient has norm {first_norm}, and the first unclipped update "
    "has length {none_first_step}: the unclipped run ends {none_distance} from the start "
    "(Euclidean distance of all parameters), its ρ(W_hh) reaches {none_rho} (from "
    "{rho_start}), and its median loss over the last fifth of the snapshots is {none_loss}. "
    "The clipped runs move in steps "
    "of at most lr·c for global norm (largest update length at a snapshot: {clipped_steps}) "
    "and end {clipped_distance} from the start with losses {clipped_losses}; seen on their "
    "own axes they head in different directions, as value and per-tensor clipping turn the "
    "gradient.",
    quick={"hidden_size": 8, "updates": 40},
    numbers=_path_numbers,
)
def update_paths(
    *, T=100, hidden_size=16, init="orthogonal", gain=1.5, activation="tanh", optimizer="sgd",
    lr=0.06, updates=1000, batch=32, rules=("none", "value:0.1", "norm:1", "global:1"), rng=0,
):  # fmt: skip
    """Parameter paths of the adding-task runs in common 2-D PCA bases.

    Parameters
    ----------
    T, hidden_size, init, gain, activation, optimizer, lr, updates, batch, rules, rng
        As in :func:`clipping_adding` (a milder setting by default: the unclipped run
        stalls instead of overflowing, so all paths share one finite scale).

    Returns
    -------
    fig : matplotlib.figure.Figure
    data : pandas.DataFrame
        One row per (basis, rule, snapshot): ``basis`` ("all runs" or "clipped runs"),
        ``rule, update, pc1, pc2``, ``explained_pc1, explained_pc2`` (the variance fractions
        of that basis), ``distance`` (‖θ − θ₀‖ of all parameters at the snapshot) and the
        run's ``loss, grad_norm, update_norm, spectral_radius`` at that update (NaN at the
        final snapshot, taken after the last update), from which the caption's numbers come.
    """
    rules, runs = _adding_runs(
        rules, T=T, hidden_size=hidden_size, init=init, gain=gain, activation=activation,
        optimizer=optimizer, lr=lr, updates=updates, batch=batch, rng=rng,
    )  # fmt: skip
    clipped = [rule for rule in rules if rule != "none"]
    bases = {"all runs": list(rules)}
    if clipped and len(clipped) < len(rules):
        bases["clipped runs"] = clipped
    titles = {"all runs": "all runs, their common axes", "clipped runs": "the clipped runs only"}
    frames, explained = [], {}
    for basis, members in bases.items():
        frame, explained[basis] = _train.project_paths({rule: runs[rule] for rule in members})
        frame = frame.rename(columns={"label": "rule"}).assign(
            basis=basis, explained_pc1=explained[basis][0], explained_pc2=explained[basis][1],
        )  # fmt: skip
        frame["distance"] = np.concatenate([
            np.linalg.norm(runs[r].snapshots - runs[r].snapshots[0], axis=1) for r in members
        ])  # fmt: skip
        records = pd.concat(
            [runs[r].frame[["update", *_PATH_COLUMNS]].assign(rule=r) for r in members]
        )
        frames.append(frame.merge(records, on=["rule", "update"], how="left"))
    columns = ["basis", "rule", "update", "pc1", "pc2", "explained_pc1", "explained_pc2",
               "distance", *_PATH_COLUMNS]  # fmt: skip
    data = pd.concat(frames, ignore_index=True)[columns]

    colours, labels = rule_colours(rules), _labels(rules)
    fig = Figure(figsize=(4.2 * len(bases) + 0.4, 4.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(bases)))
    for ax, (basis, members) in zip(axes, bases.items()):
        parameter_paths(data[data["basis"] == basis], ax=ax, hue="rule", hue_order=members,
                        palette=colours, labels=labels, explained=explained[basis],
                        legend=False)  # fmt: skip
        ax.set_title(titles[basis])
    figure_legend(fig, axes, ncols=len(rules) + 1)
    fig.suptitle(
        f"Parameter paths on principal axes (adding task, T = {T}, gain {gain:g}, "
        f"{optimizer}, lr = {lr:g})"
    )
    return _freeze_layout(fig), data
