"""fit_population: P networks trained at once, each exactly as :func:`fit` would train it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import clip as _clip
from .. import optim as _optim
from .._rng import as_generator, spawn_seeds
from .._validation import as_int
from ._fit import COLUMNS, _progress, _spectral, record_row
from ._population import Population
from ._task import make_task

__all__ = ["PopulationHistory", "fit_population"]


@dataclass(frozen=True, eq=False)
class PopulationHistory:
    """The record of one :func:`fit_population` run.

    Attributes
    ----------
    frame : pandas.DataFrame
        ``network`` (0..P-1), then the columns of :class:`History`'s frame (``step`` counts
        the updates made before it), one row per network and recorded step. Network p's
        rows are the frame :func:`fit` records for it.
    population : Population
        The final networks (each at its last finite parameters).
    status : ndarray of str, shape (P,)
        ``"completed"`` or ``"nonfinite_params"`` (an update made a parameter NaN/inf; the
        network stopped there, the others went on).
    n_skipped, n_nonfinite_loss : ndarray of int, shape (P,)
        Per network: updates skipped, and steps whose loss was NaN/inf.
    """

    frame: pd.DataFrame
    population: Population
    status: np.ndarray
    n_skipped: np.ndarray
    n_nonfinite_loss: np.ndarray

    @property
    def diverged(self) -> np.ndarray:
        """Per network: a loss was NaN/inf, or the parameters became non-finite."""
        return (self.status != "completed") | (self.n_nonfinite_loss > 0)


def _clippers(clip, n_networks: int) -> list:
    if isinstance(clip, (str, _clip.Clipper)):
        return [_clip.get(clip)] * n_networks
    if not isinstance(clip, Sequence) or len(clip) != n_networks:
        raise ValueError(
            f"clip: expected one rule or a sequence of {n_networks} (one per network), got {clip!r}"
        )
    return [_clip.get(rule) for rule in clip]


def _generators(rng, n_networks: int) -> list[np.random.Generator]:
    if isinstance(rng, Sequence) and not isinstance(rng, str):
        if len(rng) != n_networks:
            raise ValueError(
                f"rng: expected one seed or Generator per network ({n_networks}), got {len(rng)}"
            )
        return [as_generator(r) for r in rng]
    return [np.random.default_rng(s) for s in spawn_seeds(rng, n_networks)]


def fit_population(
    task,
    population,
    *,
    clip="none",
    optimizer="adam",
    lr=None,
    updates,
    batch,
    rng=None,
    T=None,
    record_every=1,
    spectral=False,
    progress=True,
) -> PopulationHistory:
    """Train the P networks of ``population`` at once, each on its own stream of batches.

    Network p is trained exactly as ``fit(task, population.network(p), clip=clip[p],
    rng=rng[p], ...)`` would train it (the same batches, clipping, optimiser state and stops,
    to rounding), but every step runs the P networks as one batched stack.

    Parameters
    ----------
    task : Task, str or callable
        See :func:`make_task` (a name or callable needs ``T``).
    population : Population
        The starting networks (not modified).
    clip : str, Clipper or sequence of them
        One rule for every network or one per network (a spec for :func:`gradflow.clip.get`);
        the global norm is that of each network's own gradient.
    optimizer : str or Optimizer, default "adam"
        As in :func:`fit`; each network has its own moments and update count.
    lr : float
        Learning rate, > 0 (None with an Optimizer instance).
    updates, batch : int
        Number of updates and sequences per batch (per network).
    rng : int, Generator, None or sequence of them
        One data stream per network: a sequence of P seeds or Generators, or a root from
        which P streams are spawned (``spawn_seeds(rng, P)``, in order).
    T : int, optional
        Sequence length for a named or callable task.
    record_every : int, default 1
        Record every this many updates (and the last).
    spectral : bool, default False
        Compute the spectral radius and σ_max of every network's recurrent weights at
        recorded steps (an O(N³) cost per block and network).
    progress : bool, default True
        Show a tqdm progress bar.

    Returns
    -------
    PopulationHistory

    Examples
    --------
    >>> from gradflow.train import Population, fit, fit_population, init_model
    >>> models = [init_model("adding", 8, rng=seed) for seed in range(3)]
    >>> run = fit_population("adding", Population.stack(models), T=10, clip="global:1",
    ...                      lr=1e-2, updates=5, batch=4, rng=[10, 11, 12], progress=False)
    >>> alone = fit("adding", models[2], T=10, clip="global:1", lr=1e-2, updates=5, batch=4,
    ...             rng=12, spectral=False, progress=False)
    >>> mine = run.frame[run.frame.network == 2]
    >>> bool(np.allclose(mine.loss, alone.frame.loss, rtol=1e-12))
    True
    """
    spec = make_task(task, T)
    if not isinstance(population, Population):
        raise TypeError(
            f"population: expected a gradflow.train.Population, got {type(population).__name__}"
        )
    P = population.n_networks
    clippers = _clippers(clip, P)
    opt = _optim.get(optimizer, lr)
    updates = as_int(updates, "updates", minimum=1)
    batch = as_int(batch, "batch", minimum=1)
    record_every = as_int(record_every, "record_every", minimum=1)
    gens = _generators(rng, P)
    params = population.params
    state = opt.init(params)
    state = _optim.OptState(np.zeros(P, dtype=int), state.mu, state.nu)
    active = np.ones(P, dtype=bool)
    status = np.array(["completed"] * P, dtype=object)
    n_skipped, n_nonfinite = np.zeros(P, dtype=int), np.zeros(P, dtype=int)
    rows = []
    for step in _progress(range(updates), progress, "fit_population"):
        record = step % record_every == 0 or step == updates - 1
        spectra = [
            _spectral(_network_cell(population, p)) if spectral and record and active[p]
            else (np.nan, np.nan)
            for p in range(P)
        ]  # fmt: skip
        xs, ys = _sample(spec, batch, gens)
        losses, grads = population.value_and_grad(xs, ys)
        clipped = {k: np.zeros_like(v) for k, v in grads.items()}
        infos = [None] * P
        for p in np.flatnonzero(active):
            mine = {k: g[p] for k, g in grads.items()}
            weights = (
                {k: v[p] for k, v in params.items()} if clippers[p].name == "adaptive" else None
            )
            out, infos[p] = clippers[p](mine, weights)
            if not infos[p].skip:
                for k, v in out.items():
                    clipped[k][p] = v
        stepped = np.array([active[p] and not infos[p].skip for p in range(P)])
        with np.errstate(over="ignore", invalid="ignore"):  # checked just below
            steps_taken, new_state = opt.update(clipped, state)
            new = _optim.apply_updates(params, steps_taken)
        finite = np.ones(P, dtype=bool)
        for v in new.values():
            finite &= np.isfinite(v.reshape(P, -1)).all(axis=1)
        stopped = stepped & ~finite
        apply = stepped & finite
        params = {k: _where(apply, new[k], params[k]) for k in params}
        state = _optim.OptState(
            np.where(apply, new_state.count, state.count),
            {k: _where(apply, new_state.mu[k], state.mu[k]) for k in state.mu},
            {k: _where(apply, new_state.nu[k], state.nu[k]) for k in state.nu},
        )
        population = population.with_params(params)
        status[stopped] = "nonfinite_params"
        for p in np.flatnonzero(active):
            info = infos[p]
            skipped = bool(info.skip or stopped[p])
            n_skipped[p] += skipped
            n_nonfinite[p] += not np.isfinite(losses[p])
            if record or stopped[p]:
                radius, sigma = spectra[p]
                if spectral and not record:  # stopped: the network is still the one of this step
                    radius, sigma = _spectral(_network_cell(population, p))
                norm = (
                    0.0
                    if info.skip
                    else _clip.global_norm({k: u[p] for k, u in steps_taken.items()})
                )
                rows.append((p, *record_row(step, losses[p], info, norm, stopped[p], radius,
                                            sigma)))  # fmt: skip
        active &= ~stopped
        if not active.any():
            break
    frame = pd.DataFrame(rows, columns=["network", *COLUMNS])
    frame = frame.sort_values(["network", "update"], kind="stable", ignore_index=True)
    return PopulationHistory(frame, population, status.astype(str), n_skipped, n_nonfinite)


def _sample(spec, batch: int, gens):
    """One batch per network, stacked: xs ``(T, P, M, D)``, ys on the network axis."""
    pairs = [spec.sample(batch, gen) for gen in gens]
    xs = np.stack([x for x, _ in pairs], axis=1)
    ys0 = np.asarray(pairs[0][1])
    per_step = ys0.ndim == (3 if spec.objective == "mse" else 2)
    ys = np.stack([y for _, y in pairs], axis=1 if per_step else 0)
    return xs, ys


def _where(mask: np.ndarray, new: np.ndarray, old: np.ndarray) -> np.ndarray:
    """``new`` for the networks in ``mask`` (a ``(P,)`` bool), ``old`` for the others."""
    return np.where(mask.reshape(-1, *[1] * (new.ndim - 1)), new, old)


def _network_cell(population: Population, p: int):
    """Network p's cell (views of its weights), for the spectra of its recurrent blocks."""
    cell = population.cell
    return cell.with_params({k: v[p] for k, v in cell.params.items()})
