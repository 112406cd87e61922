"""compare_clipping: a grid of clipping rules x thresholds x seeds from identical starts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import clip as _clip
from .. import optim as _optim
from .._rng import spawn_seeds
from .._validation import NonFiniteError, as_int
from ._fit import fit
from ._model import Task, init_model, make_task

__all__ = ["compare_clipping"]

_RULE_NAMES = ("none", "value", "norm", "global", "adaptive")


@dataclass(frozen=True)
class _Job:
    """One run of the grid (module-level and picklable for process executors)."""

    task: Task
    spec: str
    seed: int
    seeds: tuple  # SeedSequences: init, data, evaluation
    model_kw: tuple
    fit_kw: tuple
    target_loss: float
    window: int
    eval_batch: int
    keep_steps: bool


def _run_job(job: _Job):
    init_seq, data_seq, eval_seq = job.seeds
    model = init_model(job.task, rng=np.random.default_rng(init_seq), **dict(job.model_kw))
    history = fit(job.task, model, clip=job.spec, rng=np.random.default_rng(data_seq),
                  spectral=job.keep_steps, progress=False, **dict(job.fit_kw))  # fmt: skip
    losses = history.frame["loss"].to_numpy()
    window = min(job.window, losses.size)
    smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
    hits = np.flatnonzero(smooth <= job.target_loss)
    xs, ys = job.task.sample(job.eval_batch, np.random.default_rng(eval_seq))
    try:
        final = history.model.loss(xs, ys)
    except NonFiniteError:
        final = np.inf
    head, _, tail = job.spec.partition(":")
    row = {
        "rule": head, "threshold": float(tail) if tail else np.nan, "seed": job.seed,
        "final_loss": final, "train_loss": float(np.mean(losses[-window:])),
        "diverged": history.diverged or not np.isfinite(final),
        "steps_to_target": float(history.frame["step"].iloc[hits[0] + window - 1])
        if hits.size else np.nan,
        "clipped_fraction": float(history.frame["clipped"].mean()),
        "n_skipped": history.n_skipped, "status": history.status,
    }  # fmt: skip
    if not job.keep_steps:
        return row, None
    steps = history.frame.copy()
    steps.insert(0, "seed", job.seed)
    steps.insert(0, "threshold", row["threshold"])
    steps.insert(0, "rule", row["rule"])
    return row, steps


def _grid_specs(rules, thresholds) -> list[str]:
    if isinstance(rules, str):
        rules = rules.split(",")
    specs, need = [], False
    for rule in rules:
        if not isinstance(rule, str):
            raise TypeError(f"rules: expected rule names or specs as strings, got {rule!r}")
        rule = rule.strip()
        if rule in _RULE_NAMES[1:]:
            need = True
            specs.extend(f"{rule}:{t!r}" for t in thresholds or ())
        else:
            _clip.get(rule)  # a full spec such as "value:1"; raises a one-line error otherwise
            specs.append(rule)
    if need and not thresholds:
        raise ValueError("thresholds: bare rule names need at least one threshold, got none")
    if not specs:
        raise ValueError("rules: expected at least one rule, got none")
    return list(dict.fromkeys(specs))


def compare_clipping(
    task, rules, thresholds=None, seeds=4, *, T=None, hidden=64, init="orthogonal", gain=1.0,
    activation="tanh", optimizer="adam", lr=1e-3, steps=500, batch=32, target_loss=None,
    window=10, eval_batch=512, rng=None, executor=None, return_steps=False, cell="elman",
    forget_bias=0.0,
):  # fmt: skip
    """Train from identical starts under each clipping rule and threshold, for several seeds.

    Parameters
    ----------
    task : Task, str or callable
        See :func:`make_task` (a name or callable needs ``T``).
    rules : sequence of str, or a comma-separated str
        ``"none"``, bare names ``"value"``, ``"norm"``, ``"global"``, ``"adaptive"`` (combined
        with every threshold), or full specs such as ``"global:1"``.
    thresholds : sequence of float, optional
        Thresholds > 0 for the bare names.
    seeds : int
        Number of seeds; seed i gives the same initial model, batches and evaluation batch
        under every rule.
    T, hidden, init, gain, activation, cell, forget_bias
        Task length and model (see :func:`init_model`; ``cell`` a name or a factory).
    optimizer, lr, steps, batch
        Training (see :func:`fit`).
    target_loss : float, optional
        Loss to reach (default a tenth of the task's baseline; NaN columns without one).
    window : int, default 10
        ``steps_to_target`` is the first step at which the mean training loss over the last
        ``window`` steps is at most ``target_loss``; ``train_loss`` is that mean at the end.
    eval_batch : int, default 512
        ``final_loss`` is the final model's loss on a held-out batch of this size.
    rng : int, Generator or None
        Root of the per-seed streams (``spawn_seeds(rng, seeds)``, in order).
    executor : concurrent.futures.Executor, optional
        Runs the jobs (``executor.map``); the result is identical whichever executor runs it.
    return_steps : bool, default False
        Also return the per-step frames of every run, concatenated (with spectral columns).

    Returns
    -------
    pandas.DataFrame
        One row per (rule, threshold, seed): ``final_loss``, ``train_loss``, ``diverged``,
        ``steps_to_target`` (NaN if never), ``clipped_fraction`` (of steps), ``n_skipped``,
        ``status``. With ``return_steps``: ``(summary, steps)``.

    Examples
    --------
    >>> frame = compare_clipping("adding", ["none", "global"], [0.5], seeds=2, T=10, hidden=4,
    ...                          steps=5, batch=4, eval_batch=8, rng=0)
    >>> frame[["rule", "threshold", "seed"]].values.tolist()
    [['none', nan, 0], ['none', nan, 1], ['global', 0.5, 0], ['global', 0.5, 1]]
    """
    spec = make_task(task, T)
    thresholds = [] if thresholds is None else list(np.atleast_1d(thresholds))
    for t in thresholds:
        if isinstance(t, (bool, str)) or not np.isfinite(t) or t <= 0:
            raise ValueError(f"thresholds: expected finite numbers > 0, got {t!r}")
    specs = _grid_specs(rules, [float(t) for t in thresholds])
    n_seeds = as_int(seeds, "seeds", minimum=1)
    _optim.get(optimizer, lr)
    if target_loss is None:
        target_loss = np.nan if spec.baseline is None else spec.baseline / 10
    model_kw = {"hidden": hidden, "init": init, "gain": gain, "activation": activation,
                "cell": cell, "forget_bias": forget_bias}  # fmt: skip
    init_model(spec, **model_kw, rng=0)  # validate once, before any job starts
    fit_kw = {"optimizer": optimizer, "lr": lr, "steps": steps, "batch": batch}
    window = as_int(window, "window", minimum=1)
    eval_batch = as_int(eval_batch, "eval_batch", minimum=1)
    per_seed = [tuple(s.spawn(3)) for s in spawn_seeds(rng, n_seeds)]
    jobs = [
        _Job(spec, rule, i, per_seed[i], tuple(model_kw.items()), tuple(fit_kw.items()),
             float(target_loss), window, eval_batch, bool(return_steps))
        for rule in specs for i in range(n_seeds)
    ]  # fmt: skip
    results = list(map(_run_job, jobs) if executor is None else executor.map(_run_job, jobs))
    summary = pd.DataFrame([row for row, _ in results])
    if not return_steps:
        return summary
    return summary, pd.concat([steps for _, steps in results], ignore_index=True)
