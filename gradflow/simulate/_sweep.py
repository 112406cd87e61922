"""The sweep: gradient growth across initialisers, gains and seeds (:func:`gradient_growth`).

The unit of parallel work is a :class:`_Task`, a chunk of the seeds of one (init, gain) pair,
run by the module-level (so picklable) :func:`_run_task` in any ``concurrent.futures.Executor``;
every seed draws from its own ``SeedSequence`` child, so the frame does not depend on the
executor, the number of workers or the chunking.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import sys
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from tqdm import tqdm

from .. import init as _init
from .. import spectral as _spectral_mod
from .. import tasks
from .._rng import spawn_seeds
from .._validation import NonFiniteError, as_choice, as_choices, as_floats, as_int, renamed
from ..cells import ACTIVATIONS
from ..cells._factory import GATES, STATE_BLOCKS, build, check_kind, initial_params
from ..jacobians import log_gradient_norms
from ._drive import _MIN_STEPS, Drive, _as_drive

__all__ = ["COLUMNS", "gradient_growth"]

#: Columns of :func:`gradient_growth`'s frame, in order.
COLUMNS = (
    "cell", "init", "gain", "activation", "hidden_size", "drive", "seed", "lag",
    "log_norm", "spectral_radius", "sigma_max",
)  # fmt: skip
#: Networks of one task run in blocks of at most this many bytes of weights, so a block's
#: W stays in cache between steps (results do not depend on it).
_BLOCK_BYTES = 1 << 22


# -- one task: a chunk of the seeds of one (init, gain) pair ----------------------------------
@dataclass(frozen=True)
class _Task:
    init: str
    gain: float
    n: int
    steps: int
    activation: str
    drive: Drive
    seed_seq: np.random.SeedSequence  # the (init, gain) pair's sequence
    first_seed: int
    n_seeds: int
    spectral: bool = True
    cell: str = "elman"
    forget_bias: float = 0.0


def _stream(seq: np.random.SeedSequence, *keys: int) -> np.random.Generator:
    """The generator of ``seq.spawn(...)[k]...`` without touching ``seq``'s spawn counter."""
    child = np.random.SeedSequence(
        seq.entropy, spawn_key=(*seq.spawn_key, *keys), pool_size=seq.pool_size
    )
    return np.random.default_rng(child)


def _draw_network(task: _Task, seed: int):
    """``(params, v, h0, xs)`` of one seed; each from its own stream of the seed.

    ``params`` holds the cell's constructor arrays (recurrent weights and biases from stream 0,
    input weights from stream 2); ``v`` is a unit cotangent on the output h of the last state
    (zero on an LSTM's c); ``h0`` and ``xs`` are None where the run does not use them.
    """
    drive = task.drive
    params = initial_params(
        task.cell, task.n, init=task.init, gain=task.gain, forget_bias=task.forget_bias,
        rng=_stream(task.seed_seq, seed, 0),
    )  # fmt: skip
    W_hh = params["W_hh"]
    state_size = STATE_BLOCKS[task.cell] * task.n
    v = np.zeros(state_size)
    v[: task.n] = _stream(task.seed_seq, seed, 1).standard_normal(task.n)
    v /= np.linalg.norm(v)
    if task.activation == "linear":  # the Jacobian is W_hh whatever the states: run from 0
        return params, v, None, None
    gen = _stream(task.seed_seq, seed, 2)
    h0 = gen.standard_normal(state_size)
    if drive.kind == "none":
        return params, v, h0, None
    rows = W_hh.shape[0]
    params["W_xh"] = gen.standard_normal((rows, drive.size)) * (drive.scale / math.sqrt(drive.size))
    if drive.kind == "gaussian":
        xs = gen.standard_normal((task.steps, drive.size))
    elif drive.kind == "adding":
        xs = tasks.adding(task.steps, 1, rng=gen)[0][:, 0]
    else:
        xs = tasks.copy(task.steps - 20, 1, rng=gen)[0][:, 0]
    return params, v, h0, xs


def _spectra(cell) -> tuple[np.ndarray, np.ndarray]:
    """ρ and σ_max of each network's recurrent weights (the largest over gate blocks)."""
    blocks = list(cell.recurrent_blocks.values())
    radius = np.max([_spectral_mod.spectral_radius(W) for W in blocks], axis=0)
    return radius, np.max([_spectral_mod.spectral_norm(W) for W in blocks], axis=0)


def _run_task(task: _Task) -> dict:
    """Log gradient norms ``(B, steps+1)`` by lag, spectral radii and σ_max of one chunk."""
    block = max(1, _BLOCK_BYTES // (8 * GATES[task.cell] * task.n * task.n))
    pieces = []
    stop = task.first_seed + task.n_seeds
    for start in range(task.first_seed, stop, block):
        draws = [_draw_network(task, s) for s in range(start, min(start + block, stop))]
        params = {name: np.stack([d[0][name] for d in draws]) for name in draws[0][0]}
        v, h0, xs = (None if d[0] is None else np.stack(d) for d in list(zip(*draws))[1:])
        cell = build(task.cell, params, activation=task.activation)
        try:
            traj = cell.run(task.steps if xs is None else np.swapaxes(xs, 0, 1), h0=h0)
        except NonFiniteError as exc:
            raise NonFiniteError(
                f"gradient_growth: the forward run overflowed for cell {task.cell!r}, init "
                f"{task.init!r}, gain "
                f"{task.gain:g}, activation {task.activation!r}; lower the gain or the steps"
            ) from exc
        log_norm = log_gradient_norms(cell, traj, v, part="output")[::-1].T  # (B, steps+1)
        if task.spectral:
            pieces.append((log_norm, *_spectra(cell)))
        else:
            pieces.append((log_norm, *np.full((2, len(draws)), np.nan)))
    return {
        key: np.concatenate([piece[i] for piece in pieces])
        for i, key in enumerate(("log_norm", "spectral_radius", "sigma_max"))
    }


# -- the sweep --------------------------------------------------------------------------------
def _execute(run_tasks, executor, show: bool) -> list:
    results = [None] * len(run_tasks)
    with tqdm(total=len(run_tasks), desc="gradient_growth", unit="task", disable=not show) as bar:
        if executor is None:
            for i, task in enumerate(run_tasks):
                results[i] = _run_task(task)
                bar.update()
            return results
        futures = {executor.submit(_run_task, task): i for i, task in enumerate(run_tasks)}
        try:
            for future in cf.as_completed(futures):
                results[futures[future]] = future.result()
                bar.update()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return results


def gradient_growth(
    inits,
    gains,
    *,
    hidden_size: int | None = None,
    steps: int,
    seeds: int,
    activation: str = "tanh",
    cell: str = "elman",
    rng=None,
    executor=None,
    inputs=None,
    forget_bias: float = 0.0,
    progress: bool = True,
    seeds_per_task: int | None = None,
    spectral: bool | None = None,
    n: int | None = None,
    spectra: bool | None = None,
) -> pd.DataFrame:
    r"""Gradient norm against time lag for every initialiser, gain and seed (tidy frame).

    Parameters
    ----------
    inits : str or sequence of str
        Initialiser names from :func:`gradflow.init.available`.
    gains : float or sequence of float
        Gains g > 0 passed to each initialiser.
    hidden_size : int
        Hidden size N (>= 1). ``n`` is its older alias (the contract's name).
    steps : int
        Length T of each run (>= 1); lags run 0..T.
    seeds : int
        Number of random networks per (init, gain), seed index 0..seeds−1 (>= 1).
    activation : {"tanh", "relu", "sigmoid", "linear"}
        The Elman cell's nonlinearity (gated cells: "tanh" only, their nonlinearities are
        fixed).
    cell : {"elman", "lstm", "gru"}, default "elman"
        The recurrent cell. For gated cells ``inits`` and ``gains`` apply to every gate block
        of the recurrent weights (:func:`gradflow.cells.initial_params`), the input weights to
        all gate rows, and ``log_norm`` is the norm of the h part of the full-state adjoint
        (:func:`gradflow.jacobians.log_gradient_norms` with ``part="output"``).
    rng : int, Generator, SeedSequence or None
        Root of the randomness: pair k (init-major order) gets child k of
        ``SeedSequence.spawn``, seed s child s of that, and the seed's W, v and
        state/inputs its children 0, 1, 2; a network depends only on (rng, k, s).
    executor : concurrent.futures.Executor, optional
        Runs the tasks (``ProcessPoolExecutor``, ``dask.distributed.Client(...)
        .get_executor()``, ...); None runs them in this process. The result is identical.
    inputs : None, Drive, dict or str
        The drive (see :class:`Drive`): None for a free run, e.g. ``{"kind": "gaussian",
        "scale": 0.5, "size": 4}``, ``"adding"``.
    progress : bool, default True
        A tqdm bar over tasks, shown only when standard error is a terminal.
    seeds_per_task : int, optional
        Split each pair's seeds into tasks of this many (default: one task per pair), to
        balance few pairs over many workers. Does not change the result.
    forget_bias : float, default 0.0
        Gated cells: added to the LSTM's forget-gate or the GRU's update-gate bias.
    spectral : bool, default True
        Record each W's spectral radius and σ_max (gated cells: the largest over gate
        blocks; :mod:`gradflow.spectral`; a dense
        eigensolve costs about as much as the whole simulation at N = 128, and more at
        larger N). False leaves those two columns NaN. ``spectra`` is its older alias.

    Returns
    -------
    pandas.DataFrame
        One row per (init, gain, seed, lag), columns :data:`COLUMNS`: ``log_norm`` is
        :math:`\ln\lVert\partial\langle v, h_T\rangle/\partial h_{T-\mathrm{lag}}\rVert_2`,
        ``spectral_radius`` and ``sigma_max`` belong to the seed's W; ``df.attrs`` records
        the drive, the sizes, the initial state and the rng's entropy.

    Notes
    -----
    Each network gets a random unit read-out vector v, so lag 0 has ``log_norm`` 0 and
    :math:`\ell(\mathrm{lag}) = \ln\lVert J_{T-\mathrm{lag}+1}^\top\cdots J_T^\top v\rVert` with
    :math:`J_t = \operatorname{diag}(\varphi'(a_t)) W`, computed in the log domain by
    :func:`gradflow.jacobians.log_gradient_norms`. Non-linear runs start from
    :math:`h_0 \sim N(0, I)`. A linear cell's Jacobian is W whatever the states, so linear
    runs start from :math:`h_0 = 0` without inputs: exact, and free of overflow at any gain.

    Give each worker process one BLAS thread (``OMP_NUM_THREADS=1`` in its environment, as
    dask's nannies do): the matrices are small, and BLAS threads competing with other
    workers for the cores slow LAPACK's eigenvalue routines down many times over.

    References
    ----------
    Pascanu, R., Mikolov, T. & Bengio, Y. (2013). On the difficulty of training recurrent
    neural networks. ICML.

    Examples
    --------
    >>> df = gradient_growth(["orthogonal"], [0.5, 2.0], hidden_size=4, steps=3, seeds=2,
    ...                      activation="linear", rng=0, progress=False)
    >>> df.shape
    (16, 11)
    >>> bool(np.allclose(df.log_norm, df.lag * np.log(df.gain)))
    True
    """
    names = as_choices(inits, "inits", _init.available(), what="initialiser name", distinct=True)
    gain_list = as_floats(gains, "gains", what="gain", positive=True, distinct=True)
    n = as_int(renamed(hidden_size, n, "hidden_size", "n"), "hidden_size", minimum=1)
    spectral = renamed(spectral, spectra, "spectral", "spectra", default=True)
    steps = as_int(steps, "steps", minimum=1)
    seeds = as_int(seeds, "seeds", minimum=1)
    activation = as_choice(activation, "activation", ACTIVATIONS)
    kind = check_kind(cell, activation, forget_bias)
    forget_bias = float(forget_bias)
    drive = _as_drive(inputs)
    if activation != "linear" and steps < _MIN_STEPS.get(drive.kind, 1):
        raise ValueError(
            f"steps: the {drive.kind} task needs steps >= {_MIN_STEPS[drive.kind]}, got {steps}"
        )
    if executor is not None and not isinstance(executor, cf.Executor):
        raise TypeError(
            "executor: expected None or a concurrent.futures.Executor (a process pool, "
            f"dask Client.get_executor()), got {type(executor).__name__}"
        )
    for flag, value in (("progress", progress), ("spectral", spectral)):
        if not isinstance(value, bool):
            raise TypeError(f"{flag}: expected True or False, got {value!r}")
    chunk = seeds if seeds_per_task is None else as_int(seeds_per_task, "seeds_per_task", minimum=1)
    pairs = [(name, g) for name in names for g in gain_list]
    pair_seqs = spawn_seeds(rng, len(pairs))
    run_tasks = [
        _Task(
            name,
            g,
            n,
            steps,
            activation,
            drive,
            seq,
            first,
            min(chunk, seeds - first),
            spectral,
            kind,
            forget_bias,
        )
        for (name, g), seq in zip(pairs, pair_seqs)
        for first in range(0, seeds, chunk)
    ]
    results = _execute(run_tasks, executor, progress and sys.stderr.isatty())
    joined = {key: np.concatenate([r[key] for r in results]) for key in results[0]}
    n_lags = steps + 1
    per_network = len(pairs) * seeds
    frame = pd.DataFrame(
        {
            "cell": kind,
            "init": np.repeat([name for name, _ in pairs], seeds * n_lags),
            "gain": np.repeat(np.array([g for _, g in pairs]), seeds * n_lags),
            "activation": activation,
            "hidden_size": np.full(per_network * n_lags, n, dtype=np.int64),
            "drive": drive.kind,
            "seed": np.tile(np.repeat(np.arange(seeds, dtype=np.int64), n_lags), len(pairs)),
            "lag": np.tile(np.arange(n_lags, dtype=np.int64), per_network),
            "log_norm": joined["log_norm"].ravel(),
            "spectral_radius": np.repeat(joined["spectral_radius"], n_lags),
            "sigma_max": np.repeat(joined["sigma_max"], n_lags),
        }
    )
    frame.attrs = {
        "drive": asdict(drive),
        "hidden_size": n,
        "steps": steps,
        "seeds": seeds,
        "activation": activation,
        "cell": kind,
        "forget_bias": forget_bias,
        "inits": names,
        "gains": gain_list,
        "h0": "zeros" if activation == "linear" else "standard normal",
        "rng_entropy": pair_seqs[0].entropy,
        "rng_spawn_key": list(pair_seqs[0].spawn_key[:-1]),
    }
    return frame
