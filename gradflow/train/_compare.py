"""compare: initialiser × clipping rule × sequence length × seed, trained as populations."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import clip as _clip
from .. import init as _init
from .. import optim as _optim
from .._rng import spawn_seeds
from .._validation import NonFiniteError, as_choice, as_int, renamed
from ._fit_population import fit_population
from ._model import init_model
from ._population import Population
from ._task import Task, make_task

__all__ = ["RUN_COLUMNS", "compare", "compare_clipping", "rule_spec", "rule_specs"]

#: The columns of :func:`compare`'s frame, one row per run.
RUN_COLUMNS = (
    "cell", "activation", "init", "gain", "rule", "threshold", "T", "seed", "final_loss",
    "train_loss", "target_loss", "solved", "updates_to_solve", "max_grad_norm",
    "clipped_fraction", "n_skipped", "diverged", "status",
)  # fmt: skip

_DEFAULT_LR = {"adam": 1e-3}  # PyTorch's default; SGD and momentum have none


@dataclass(frozen=True)
class _Run:
    """One network of the grid: what it starts from and how it is clipped."""

    init: str
    spec: str
    seed: int
    seeds: tuple  # SeedSequences: initial model, training batches, held-out batch


@dataclass(frozen=True)
class _Job:
    """One population: the runs of one T, trained together (picklable for process pools)."""

    task: Task
    runs: tuple
    model_kw: tuple
    fit_kw: tuple
    target_loss: float
    window: int
    eval_batch: int
    keep_steps: bool


def _run_job(job: _Job):
    model_kw = dict(job.model_kw)
    models = [
        init_model(job.task, init=run.init, rng=np.random.default_rng(run.seeds[0]), **model_kw)
        for run in job.runs
    ]
    history = fit_population(
        job.task, Population.stack(models), clip=[run.spec for run in job.runs],
        rng=[np.random.default_rng(run.seeds[1]) for run in job.runs], progress=False,
        **dict(job.fit_kw),
    )  # fmt: skip
    frames = dict(tuple(history.frame.groupby("network", sort=True)))
    rows, steps = [], []
    for p, run in enumerate(job.runs):
        mine = frames[p]
        losses = mine["loss"].to_numpy()
        window = min(job.window, losses.size)
        with np.errstate(invalid="ignore"):
            smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        hits = np.flatnonzero(smooth <= job.target_loss)
        xs, ys = job.task.sample(job.eval_batch, np.random.default_rng(run.seeds[2]))
        try:
            final = history.population.network(p).loss(xs, ys)
        except NonFiniteError:
            final = np.inf
        head, _, tail = run.spec.partition(":")
        norms = mine["grad_norm"].to_numpy()
        rows.append({
            "cell": model_kw["cell"], "activation": model_kw["activation"], "init": run.init,
            "gain": model_kw["gain"], "rule": head, "threshold": float(tail) if tail else np.nan,
            "T": job.task.T, "seed": run.seed, "final_loss": final,
            "train_loss": float(np.mean(losses[-window:])), "target_loss": job.target_loss,
            "solved": bool(np.isfinite(final) and final <= job.target_loss),
            "updates_to_solve": float(mine["update"].iloc[hits[0] + window - 1])
            if hits.size else np.nan,
            "max_grad_norm": float(np.nanmax(norms)) if (~np.isnan(norms)).any() else np.nan,
            "clipped_fraction": float(mine["clipped"].mean()),
            "n_skipped": int(history.n_skipped[p]),
            "diverged": bool(history.diverged[p] or not np.isfinite(final)),
            "status": str(history.status[p]),
        })  # fmt: skip
        if job.keep_steps:
            record = mine.drop(columns="network").reset_index(drop=True)
            keys = {k: rows[-1][k] for k in ("init", "rule", "threshold", "T", "seed")}
            steps.append(record.assign(**keys)[[*keys, *record.columns]])
    return rows, steps


def rule_spec(rule: str, threshold: float) -> str:
    """The spec of a run's ``rule`` and ``threshold`` columns (NaN: a rule without one).

    Examples
    --------
    >>> rule_spec("global", 1.0), rule_spec("none", float("nan"))
    ('global:1', 'none')
    """
    return rule if threshold != threshold else f"{rule}:{threshold:g}"


def rule_specs(rules, thresholds=None) -> list[str]:
    """Clipping specs from rule names and thresholds: bare names take every threshold.

    Parameters
    ----------
    rules : sequence of str, or a comma-separated str
        ``"none"``, bare names (``"value"``, ``"norm"``, ``"global"``, ``"adaptive"``:
        combined with every threshold) or full specs such as ``"global:1"``.
    thresholds : float or sequence of float, optional
        Thresholds > 0 for the bare names.

    Examples
    --------
    >>> rule_specs("none,global,value:1", [0.5, 2])
    ['none', 'global:0.5', 'global:2.0', 'value:1']
    """
    thresholds = [] if thresholds is None else list(np.atleast_1d(thresholds))
    for t in thresholds:
        if isinstance(t, (bool, str)) or not np.isfinite(t) or t <= 0:
            raise ValueError(f"thresholds: expected finite numbers > 0, got {t!r}")
    if isinstance(rules, str):
        rules = rules.split(",")
    specs, need = [], False
    for rule in rules:
        if not isinstance(rule, str):
            raise TypeError(f"rules: expected rule names or specs as strings, got {rule!r}")
        rule = rule.strip()
        if rule in _clip.RULES and rule != "none":
            need = True
            specs.extend(f"{rule}:{float(t)!r}" for t in thresholds)
        else:
            _clip.get(rule)  # a full spec such as "value:1"; raises a one-line error otherwise
            specs.append(rule)
    if need and not thresholds:
        raise ValueError("thresholds: bare rule names need at least one threshold, got none")
    if not specs:
        raise ValueError("rules: expected at least one rule, got none")
    return list(dict.fromkeys(specs))


def _names(values, name: str) -> list[str]:
    if isinstance(values, str):
        values = values.split(",")
    values = [v.strip() if isinstance(v, str) else v for v in values]
    if not values or not all(isinstance(v, str) and v for v in values):
        raise ValueError(f"{name}: expected one or more names, got {values!r}")
    return list(dict.fromkeys(values))


def _lengths(T) -> list[int]:
    values = [T] if np.ndim(T) == 0 else list(T)
    if not values:
        raise ValueError("T: expected one or more sequence lengths, got none")
    return list(dict.fromkeys(as_int(t, "T", minimum=1) for t in values))


def compare(
    task, *, inits, rules, T, seeds, hidden_size=None, updates, batch, optimizer="adam",
    lr=None, cell="elman", activation="tanh", rng=None, executor=None, thresholds=None,
    gain=1.0, forget_bias=0.0, target_loss=None, window=20, eval_batch=512,
    population_size=32, return_updates=None, spectral=False, hidden=None, return_steps=None,
):  # fmt: skip
    """Train a grid of initialiser × clipping rule × sequence length × seed, as populations.

    Every run of one T is a network of a population (:func:`fit_population`), trained by BPTT
    with its own initial model, batches and clipping. Seed i gives the same initial model
    (per initialiser), the same training batches and the same held-out batch under every
    rule, so the rules are compared on identical starts and data.

    Parameters
    ----------
    task : str, callable or Task
        ``"adding"``, ``"copy"`` or a callable ``(T, batch, rng) -> (xs, ys)`` (see
        :func:`make_task`); a :class:`Task` has its own T (then ``T`` must be it).
    inits : str or sequence of str
        Initialisers of the recurrent weights by name (:func:`gradflow.init.get`), scaled by
        ``gain``; gated cells initialise each gate block with them.
    rules : str or sequence of str
        Clipping rules: ``"none"``, full specs (``"global:1"``) or bare names combined with
        every one of ``thresholds`` (see :func:`rule_specs`).
    T : int or sequence of int
        Sequence lengths.
    seeds : int
        Number of seeds per (init, rule, T).
    hidden_size, updates, batch : int
        Hidden units N (``hidden`` is its older alias, the contract's name), optimiser
        updates per run, sequences per batch.
    optimizer : str, default "adam"
    lr : float, optional
        Learning rate (default 1e-3 for Adam; required for SGD and momentum).
    cell : {"elman", "lstm", "gru"}, default "elman"
    activation : str, default "tanh"
        The Elman nonlinearity (``"relu"`` with ``inits="identity"`` is Le et al.'s IRNN).
    rng : int, Generator or None
        Root of the per-seed streams (``spawn_seeds(rng, seeds)``; each spawns three, for the
        initial model, the batches and the held-out batch).
    executor : concurrent.futures.Executor, optional
        Runs the populations (``executor.map``); the result is identical whichever executor
        runs it, since the populations are fixed by ``population_size`` alone.
    thresholds : float or sequence of float, optional
        Thresholds for bare rule names.
    gain, forget_bias : float
        Gain of the initialiser; gated cells' forget (LSTM) or update (GRU) gate bias.
    target_loss : float, optional
        The loss that counts as solved; default a tenth of the task's baseline, the loss of
        the best memoryless predictor (the adding task's 1/6, the copy task's entropy).
    window : int, default 20
        ``updates_to_solve`` is the first update at which the mean training loss over the
        last ``window`` updates is at most ``target_loss``; ``train_loss`` is that mean at
        the end.
    eval_batch : int, default 512
        Size of the held-out batch of ``final_loss``.
    population_size : int, default 32
        Networks trained together (a population holds about P·T·batch·N states).
    return_updates : bool, default False
        Also return every run's per-update record (the columns of :class:`History`);
        ``return_steps`` is its older alias.
    spectral : bool, default False
        Record the spectral radius and σ_max of the recurrent weights at every update.

    Returns
    -------
    pandas.DataFrame
        One row per run (:data:`RUN_COLUMNS`), ordered by T, init, rule and seed:
        ``final_loss`` on the held-out batch after training, ``solved`` (``final_loss ≤
        target_loss``), ``updates_to_solve`` (NaN if never), ``max_grad_norm`` (largest raw
        gradient norm), ``clipped_fraction`` (of updates), ``n_skipped``, ``diverged`` (a
        non-finite loss or parameters), ``status``. With ``return_updates``,
        ``(runs, records)``.

    Notes
    -----
    Clipping acts on each network's own gradient (Pascanu et al. 2013, Algorithm 1, for the
    global norm), before the optimiser.

    Examples
    --------
    >>> frame = compare("adding", inits=["orthogonal", "gaussian"], rules=["none", "global:1"],
    ...                 T=[5, 10], seeds=2, hidden_size=4, updates=5, batch=4, eval_batch=8, rng=0)
    >>> len(frame), frame.groupby(["T", "init", "rule"]).size().unique().tolist()
    (16, [2])
    """
    tasks = [make_task(task, length) for length in _lengths(T)]
    init_names = [as_choice(name, "inits", _init.available()) for name in _names(inits, "inits")]
    specs = rule_specs(rules, thresholds)
    n_seeds = as_int(seeds, "seeds", minimum=1)
    if lr is None and isinstance(optimizer, str):
        lr = _DEFAULT_LR.get(optimizer)
    _optim.get(optimizer, lr)
    hidden_size = renamed(hidden_size, hidden, "hidden_size", "hidden")
    return_updates = bool(renamed(return_updates, return_steps, "return_updates", "return_steps",
                                default=False))  # fmt: skip
    model_kw = {"hidden_size": hidden_size, "gain": gain, "activation": activation, "cell": cell,
                "forget_bias": forget_bias}  # fmt: skip
    for name in init_names:  # validate once, before any job starts
        init_model(tasks[0], init=name, **model_kw, rng=0)
    fit_kw = {"optimizer": optimizer, "lr": lr, "updates": as_int(updates, "updates", minimum=1),
              "batch": as_int(batch, "batch", minimum=1), "spectral": bool(spectral)}  # fmt: skip
    window = as_int(window, "window", minimum=1)
    eval_batch = as_int(eval_batch, "eval_batch", minimum=1)
    size = as_int(population_size, "population_size", minimum=1)
    per_seed = [tuple(s.spawn(3)) for s in spawn_seeds(rng, n_seeds)]
    runs = [_Run(i, s, k, per_seed[k]) for i in init_names for s in specs for k in range(n_seeds)]
    jobs = []
    for task_T in tasks:
        target = target_loss
        if target is None:
            target = np.nan if task_T.baseline is None else task_T.baseline / 10
        for start in range(0, len(runs), size):
            jobs.append(_Job(task_T, tuple(runs[start : start + size]), tuple(model_kw.items()),
                             tuple(fit_kw.items()), float(target), window, eval_batch,
                             return_updates))  # fmt: skip
    results = list(map(_run_job, jobs) if executor is None else executor.map(_run_job, jobs))
    frame = pd.DataFrame([row for rows, _ in results for row in rows], columns=list(RUN_COLUMNS))
    if not return_updates:
        return frame
    return frame, pd.concat([s for _, steps in results for s in steps], ignore_index=True)


def compare_clipping(
    task, rules, thresholds=None, seeds=4, *, T=None, hidden_size=None, init="orthogonal",
    gain=1.0, activation="tanh", optimizer="adam", lr=1e-3, updates=None, batch=32,
    target_loss=None, window=10, eval_batch=512, rng=None, executor=None, return_updates=None,
    cell="elman", forget_bias=0.0, hidden=None, steps=None, return_steps=None,
):  # fmt: skip
    """Train from identical starts under each clipping rule and threshold, for several seeds.

    The one-initialiser, one-length case of :func:`compare`, trained the same way (as a
    population), with the columns of gradflow 0.1.

    Parameters
    ----------
    task : Task, str or callable
        See :func:`make_task` (a name or callable needs ``T``).
    rules, thresholds
        See :func:`rule_specs`.
    seeds : int
        Number of seeds; seed i gives the same initial model, batches and held-out batch
        under every rule.
    T, hidden_size, init, gain, activation, cell, forget_bias
        Task length and model (see :func:`init_model`); ``hidden_size`` defaults to 64
        (``hidden`` is its older alias).
    optimizer, lr, updates, batch
        Training: ``updates`` (default 500; older alias ``steps``) is the number of updates.
    target_loss, window, eval_batch, rng, executor
        As in :func:`compare` (``window`` defaults to 10 here).
    return_updates : bool, default False
        Also return the per-update frames of every run, concatenated (with spectral columns);
        ``return_steps`` is its older alias.

    Returns
    -------
    pandas.DataFrame
        One row per (rule, threshold, seed): ``final_loss``, ``train_loss``, ``diverged``,
        ``updates_to_solve`` (as in :func:`compare`), ``clipped_fraction`` (of updates),
        ``n_skipped``, ``status``. With ``return_updates``: ``(summary, records)``.

    Examples
    --------
    >>> frame = compare_clipping("adding", ["none", "global"], [0.5], seeds=2, T=10,
    ...                          hidden_size=4, updates=5, batch=4, eval_batch=8, rng=0)
    >>> frame[["rule", "threshold", "seed"]].values.tolist()
    [['none', nan, 0], ['none', nan, 1], ['global', 0.5, 0], ['global', 0.5, 1]]
    """
    spec = make_task(task, T)
    return_updates = bool(renamed(return_updates, return_steps, "return_updates", "return_steps",
                                default=False))  # fmt: skip
    result = compare(
        spec, inits=[init], rules=rules, thresholds=thresholds, T=spec.T, seeds=seeds,
        hidden_size=renamed(hidden_size, hidden, "hidden_size", "hidden", default=64),
        updates=renamed(updates, steps, "updates", "steps", default=500), batch=batch,
        optimizer=optimizer, lr=lr, cell=cell,
        activation=activation, gain=gain, forget_bias=forget_bias, target_loss=target_loss,
        window=window, eval_batch=eval_batch, rng=rng, executor=executor,
        return_updates=return_updates, spectral=return_updates,
    )  # fmt: skip
    runs, records = result if return_updates else (result, None)
    summary = runs[[
        "rule", "threshold", "seed", "final_loss", "train_loss", "diverged", "updates_to_solve",
        "clipped_fraction", "n_skipped", "status",
    ]]  # fmt: skip
    if not return_updates:
        return summary
    return summary, records.drop(columns=["init", "T"])
