"""Initialisation sweeps: gradient growth across initialisers, gains and seeds (layer 4).

:func:`gradient_growth` draws ``seeds`` recurrent matrices for every (initialiser, gain) pair,
runs each pair's networks as one batched Elman cell (weights ``(B, N, N)``) and records
log ‖∂⟨v, h_T⟩/∂h_{T−lag}‖ for every lag in a tidy DataFrame; :func:`growth_rates` fits the
per-step growth rate and puts the theory's prediction beside it. The unit of parallel work is
one (init, gain) pair (or a chunk of its seeds), handed to any ``concurrent.futures.Executor``;
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
from scipy import stats
from tqdm import tqdm

from . import init as _init
from . import spectral, tasks, theory
from ._rng import spawn_seeds
from ._validation import NonFiniteError, as_choice, as_float, as_int
from .cells import ACTIVATIONS, Elman
from .jacobians import log_gradient_norms

__all__ = ["COLUMNS", "Drive", "gradient_growth", "growth_rates", "parse_list"]

#: Columns of :func:`gradient_growth`'s frame, in order.
COLUMNS = (
    "init", "gain", "activation", "n", "drive", "seed", "lag",
    "log_norm", "spectral_radius", "sigma_max",
)  # fmt: skip
_DRIVE_KINDS = ("none", "gaussian", "adding", "copy")
_TASK_SIZES = {"adding": 2, "copy": 10}
_MIN_STEPS = {"adding": 2, "copy": 21}
_ISOMETRIC = ("orthogonal", "identity")  # W = g·Q: every singular value equals g
#: I.i.d. initialisers: entry standard deviation = scale · g/√n (see gradflow.init); mean-field
#: theory treats them as Gaussian with gain scale · g.
_IID_SCALE = {"gaussian": 1.0, "glorot_uniform": 1.0, "uniform": 1.0 / math.sqrt(3.0)}
#: Networks of one task run in blocks of at most this many bytes of weights, so a block's
#: W stays in cache between steps (results do not depend on it).
_BLOCK_BYTES = 1 << 22


@dataclass(frozen=True)
class Drive:
    """The input that drives the forward run (recorded in ``df.attrs["drive"]``).

    Parameters
    ----------
    kind : {"none", "gaussian", "adding", "copy"}
        ``"none"``: a free run from a random state. ``"gaussian"``: inputs x_t ~ N(0, I_D).
        ``"adding"``/``"copy"``: the inputs of :func:`gradflow.tasks.adding`/``copy``
        (one sequence per network).
    scale : float, default 1.0
        Input weights W_xh have entries N(0, scale²/D), so Gaussian inputs add a drive of
        standard deviation ``scale`` to each unit's pre-activation.
    size : int, optional
        D; default 1 for Gaussian inputs; fixed by the task (2 adding, 10 copy).

    Examples
    --------
    >>> Drive.parse("gaussian:scale=0.5,size=3")
    Drive(kind='gaussian', scale=0.5, size=3)
    >>> Drive("adding").size
    2
    """

    kind: str = "none"
    scale: float = 1.0
    size: int | None = None

    def __post_init__(self):
        as_choice(self.kind, "inputs", _DRIVE_KINDS)
        object.__setattr__(self, "scale", as_float(self.scale, "inputs.scale", positive=True))
        size = _TASK_SIZES.get(self.kind, 1) if self.size is None else self.size
        size = as_int(size, "inputs.size", minimum=1)
        if self.kind in _TASK_SIZES and size != _TASK_SIZES[self.kind]:
            raise ValueError(
                f"inputs.size: the {self.kind} task has {_TASK_SIZES[self.kind]} input "
                f"channels, got {size}"
            )
        object.__setattr__(self, "size", size)

    @classmethod
    def parse(cls, text: str) -> Drive:
        """``"kind"`` or ``"kind:scale=S,size=D"`` (the form a command line passes)."""
        if not isinstance(text, str):
            raise TypeError(f"inputs: expected a string such as 'gaussian:scale=0.5', got {text!r}")
        kind, _, rest = text.partition(":")
        fields = {}
        for item in filter(None, (part.strip() for part in rest.split(","))):
            key, eq, value = item.partition("=")
            if not eq or key.strip() not in ("scale", "size"):
                raise ValueError(f"inputs: expected key=value with key scale or size, got {item!r}")
            convert = int if key.strip() == "size" else float
            try:
                fields[key.strip()] = convert(value)
            except ValueError:
                raise ValueError(f"inputs: {key.strip()} must be a number, got {value!r}") from None
        return cls(kind.strip(), **fields)


def _as_drive(inputs) -> Drive:
    if inputs is None:
        return Drive()
    if isinstance(inputs, Drive):
        return inputs
    if isinstance(inputs, str):
        return Drive.parse(inputs)
    if isinstance(inputs, dict):
        unknown = set(inputs) - {"kind", "scale", "size"}
        if unknown:
            raise ValueError(f"inputs: unknown keys {sorted(unknown)}; expected kind, scale, size")
        return Drive(**inputs)
    raise TypeError(
        f"inputs: expected None, a Drive, a dict or a string, got {type(inputs).__name__}"
    )


def parse_list(text, name: str, *, kind=str) -> list:
    """Split a comma-separated command-line value into a list of ``kind`` (str, int or float).

    Examples
    --------
    >>> parse_list("orthogonal, gaussian", "inits")
    ['orthogonal', 'gaussian']
    >>> parse_list("0.8,1,1.2", "gains", kind=float)
    [0.8, 1.0, 1.2]
    """
    if not isinstance(text, str):
        raise TypeError(f"{name}: expected a comma-separated string, got {text!r}")
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise ValueError(
            f"{name}: expected a comma-separated list without empty items, got {text!r}"
        )
    if kind is str:
        return items
    try:
        return [kind(item) for item in items]
    except ValueError:
        raise ValueError(
            f"{name}: expected comma-separated {kind.__name__} values, got {text!r}"
        ) from None


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
    spectra: bool = True


def _stream(seq: np.random.SeedSequence, *keys: int) -> np.random.Generator:
    """The generator of ``seq.spawn(...)[k]...`` without touching ``seq``'s spawn counter."""
    child = np.random.SeedSequence(
        seq.entropy, spawn_key=(*seq.spawn_key, *keys), pool_size=seq.pool_size
    )
    return np.random.default_rng(child)


def _draw_network(task: _Task, seed: int):
    """``(W_hh, v, h0, W_xh, xs)`` of one seed; each from its own stream of the seed.

    ``h0``, ``W_xh`` and ``xs`` are None where the run does not use them.
    """
    drive = task.drive
    W = _init.get(task.init)(task.n, gain=task.gain, rng=_stream(task.seed_seq, seed, 0))
    v = _stream(task.seed_seq, seed, 1).standard_normal(task.n)
    v /= np.linalg.norm(v)
    if task.activation == "linear":  # the Jacobian is W_hh whatever the states: run from 0
        return W, v, None, None, None
    gen = _stream(task.seed_seq, seed, 2)
    h0 = gen.standard_normal(task.n)
    if drive.kind == "none":
        return W, v, h0, None, None
    W_xh = gen.standard_normal((task.n, drive.size)) * (drive.scale / math.sqrt(drive.size))
    if drive.kind == "gaussian":
        xs = gen.standard_normal((task.steps, drive.size))
    elif drive.kind == "adding":
        xs = tasks.adding(task.steps, 1, rng=gen)[0][:, 0]
    else:
        xs = tasks.copy(task.steps - 20, 1, rng=gen)[0][:, 0]
    return W, v, h0, W_xh, xs


def _run_task(task: _Task) -> dict:
    """Log gradient norms ``(B, steps+1)`` by lag, spectral radii and σ_max of one chunk."""
    block = max(1, _BLOCK_BYTES // (8 * task.n * task.n))
    pieces = []
    stop = task.first_seed + task.n_seeds
    for start in range(task.first_seed, stop, block):
        draws = [_draw_network(task, s) for s in range(start, min(start + block, stop))]
        W, v, h0, W_xh, xs = (None if d[0] is None else np.stack(d) for d in zip(*draws))
        cell = Elman(W, W_xh=W_xh, activation=task.activation)
        try:
            traj = cell.run(task.steps if xs is None else np.swapaxes(xs, 0, 1), h0=h0)
        except NonFiniteError as exc:
            raise NonFiniteError(
                f"gradient_growth: the forward run overflowed for init {task.init!r}, gain "
                f"{task.gain:g}, activation {task.activation!r}; lower the gain or the steps"
            ) from exc
        log_norm = log_gradient_norms(cell, traj, v)[::-1].T  # (B, steps+1), by lag
        if task.spectra:
            pieces.append((log_norm, spectral.spectral_radius(W), spectral.spectral_norm(W)))
        else:
            pieces.append((log_norm, *np.full((2, len(draws)), np.nan)))
    return {
        key: np.concatenate([piece[i] for piece in pieces])
        for i, key in enumerate(("log_norm", "spectral_radius", "sigma_max"))
    }


# -- the sweep --------------------------------------------------------------------------------
def _names(inits) -> list[str]:
    names = [inits] if isinstance(inits, str) else list(inits)
    if not names:
        raise ValueError("inits: expected at least one initialiser name, got none")
    available = tuple(_init.available())
    for name in names:
        as_choice(name, "inits", available)
    if len(set(names)) < len(names):
        raise ValueError(f"inits: expected distinct names, got {names}")
    return names


def _gains(gains) -> list[float]:
    values = np.atleast_1d(np.asarray(gains, dtype=object)).ravel().tolist()
    if not values:
        raise ValueError("gains: expected at least one gain, got none")
    out = [as_float(g, "gains", positive=True) for g in values]
    if len(set(out)) < len(out):
        raise ValueError(f"gains: expected distinct values, got {out}")
    return out


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
    n: int,
    steps: int,
    seeds: int,
    activation: str = "tanh",
    rng=None,
    executor=None,
    inputs=None,
    progress: bool = True,
    seeds_per_task: int | None = None,
    spectra: bool = True,
) -> pd.DataFrame:
    r"""Gradient norm against time lag for every initialiser, gain and seed (tidy frame).

    Parameters
    ----------
    inits : str or sequence of str
        Initialiser names from :func:`gradflow.init.available`.
    gains : float or sequence of float
        Gains g > 0 passed to each initialiser.
    n : int
        Hidden size N (>= 1).
    steps : int
        Length T of each run (>= 1); lags run 0..T.
    seeds : int
        Number of random networks per (init, gain), seed index 0..seeds−1 (>= 1).
    activation : {"tanh", "relu", "sigmoid", "linear"}
        The Elman cell's nonlinearity.
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
    spectra : bool, default True
        Record each W's spectral radius and σ_max (:mod:`gradflow.spectral`; a dense
        eigensolve costs about as much as the whole simulation at N = 128, and more at
        larger N). False leaves those two columns NaN.

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
    >>> df = gradient_growth(["orthogonal"], [0.5, 2.0], n=4, steps=3, seeds=2,
    ...                      activation="linear", rng=0, progress=False)
    >>> df.shape
    (16, 10)
    >>> bool(np.allclose(df.log_norm, df.lag * np.log(df.gain)))
    True
    """
    names, gain_list = _names(inits), _gains(gains)
    n = as_int(n, "n", minimum=1)
    steps = as_int(steps, "steps", minimum=1)
    seeds = as_int(seeds, "seeds", minimum=1)
    activation = as_choice(activation, "activation", ACTIVATIONS)
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
    for flag, value in (("progress", progress), ("spectra", spectra)):
        if not isinstance(value, bool):
            raise TypeError(f"{flag}: expected True or False, got {value!r}")
    chunk = seeds if seeds_per_task is None else as_int(seeds_per_task, "seeds_per_task", minimum=1)
    pairs = [(name, g) for name in names for g in gain_list]
    pair_seqs = spawn_seeds(rng, len(pairs))
    run_tasks = [
        _Task(name, g, n, steps, activation, drive, seq, first, min(chunk, seeds - first), spectra)
        for (name, g), seq in zip(pairs, pair_seqs)
        for first in range(0, seeds, chunk)
    ]
    results = _execute(run_tasks, executor, progress and sys.stderr.isatty())
    joined = {key: np.concatenate([r[key] for r in results]) for key in results[0]}
    n_lags = steps + 1
    per_network = len(pairs) * seeds
    frame = pd.DataFrame(
        {
            "init": np.repeat([name for name, _ in pairs], seeds * n_lags),
            "gain": np.repeat(np.array([g for _, g in pairs]), seeds * n_lags),
            "activation": activation,
            "n": np.full(per_network * n_lags, n, dtype=np.int64),
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
        "n": n,
        "steps": steps,
        "seeds": seeds,
        "activation": activation,
        "inits": names,
        "gains": gain_list,
        "h0": "zeros" if activation == "linear" else "standard normal",
        "rng_entropy": pair_seqs[0].entropy,
        "rng_spawn_key": list(pair_seqs[0].spawn_key[:-1]),
    }
    return frame


# -- summaries --------------------------------------------------------------------------------
def _theory(init, gain, activation, drive, log_radius):
    """(prediction, name) of the growth rate of one group (see :func:`growth_rates`)."""
    if activation == "linear":
        if init in _ISOMETRIC:
            return math.log(gain), "orthogonal_growth"
        return log_radius, "log_spectral_radius"
    if activation == "tanh" and drive == "none":
        if init in _IID_SCALE:
            return theory.mean_field_lyapunov(gain * _IID_SCALE[init]), "mean_field_lyapunov"
        if init in _ISOMETRIC and gain <= 1.0:
            return math.log(gain), "orthogonal_growth"
    return math.nan, "none"


def _window(df, lag_window):
    last = int(df["lag"].max())
    if lag_window is None:
        return last // 2, last
    if not isinstance(lag_window, (tuple, list)) or len(lag_window) != 2:
        raise TypeError(f"lag_window: expected a pair (first, last) of lags, got {lag_window!r}")
    first = as_int(lag_window[0], "lag_window", minimum=0)
    stop = as_int(lag_window[1], "lag_window", minimum=first + 1, maximum=last)
    return first, stop


def growth_rates(
    df: pd.DataFrame, *, lag_window=None, confidence: float = 0.95, per_seed: bool = False
) -> pd.DataFrame:
    r"""Per-step growth rate of the gradient norm for each condition, beside the theory.

    Parameters
    ----------
    df : pandas.DataFrame
        A frame of :func:`gradient_growth` (at least ``init, gain, seed, lag, log_norm``;
        ``activation``, ``n``, ``drive``, ``spectral_radius`` are used where present).
    lag_window : (int, int), optional
        First and last lag of the fit, inclusive (default: the later half, ⌊T/2⌋..T).
    confidence : float, default 0.95
        Level of the t-based confidence interval of the mean rate.
    per_seed : bool, default False
        Return one row per seed (its slope and, for ``log_spectral_radius``, its own ln ρ)
        instead of the mean over seeds.

    Returns
    -------
    pandas.DataFrame
        One row per condition (init, gain, activation, n, drive) in the order of ``df``:
        ``rate`` (nats per step, mean over seeds), ``ci_low``, ``ci_high`` (NaN for one
        seed), ``n_seeds``, ``lag_low``, ``lag_high``, ``theory`` and ``theory_name``.

    Notes
    -----
    Each seed's rate is the least-squares slope of ``log_norm`` against lag over the
    window; seeds are independent, so the interval is mean ± t_{k−1} s/√k over k seeds.
    The window skips the short lags, where v has not yet turned towards the most
    expanding direction (‖(Wᵀ)^lag v‖ ≈ c ρ^lag only for long lags).

    Predictions (``theory_name``):

    - ``orthogonal_growth``, ln g: linear cells with orthogonal or identity W = gQ (exact);
      free-running tanh cells with those W and g <= 1, whose state decays to 0 so that
      φ' → 1 (the limit of long runs; slow at g = 1).
    - ``log_spectral_radius``, the mean of ln ρ(W) over the seeds: linear cells with any
      other W (the growth rate of (Wᵀ)^lag v for almost every v).
    - ``mean_field_lyapunov``: free-running tanh cells with i.i.d. W (Gaussian, Glorot,
      PyTorch's uniform), the N → ∞ mean-field exponent
      :func:`gradflow.theory.mean_field_lyapunov` at the gain of a Gaussian W of the same
      entry variance (g, g and g/√3); finite N comes close.
    - ``none`` (NaN): everything else (driven tanh, relu, sigmoid, tanh with g > 1 and
      orthogonal or identity W).

    References
    ----------
    Poole, B. et al. (2016). Exponential expressivity in deep neural networks through
    transient chaos. NeurIPS. Saxe, A. M. et al. (2014). Exact solutions to the nonlinear
    dynamics of learning in deep linear neural networks. ICLR.

    Examples
    --------
    >>> df = gradient_growth(["orthogonal"], [0.5, 2.0], n=4, steps=6, seeds=3,
    ...                      activation="linear", rng=0, progress=False)
    >>> rates = growth_rates(df)
    >>> bool(np.allclose(rates.rate, rates.theory)), rates.theory_name.tolist()
    (True, ['orthogonal_growth', 'orthogonal_growth'])
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df: expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in ("init", "gain", "seed", "lag", "log_norm") if c not in df.columns]
    if missing or df.empty:
        raise ValueError(f"df: expected a non-empty gradient_growth frame, missing {missing}")
    confidence = as_float(confidence, "confidence")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence: expected a level in (0, 1), got {confidence:g}")
    first, last = _window(df, lag_window)
    keys = [c for c in ("init", "gain", "activation", "n", "drive") if c in df.columns]
    window = df.loc[df["lag"].between(first, last), [*keys, "seed", "lag", "log_norm"]].copy()
    window["x"] = window["lag"] - 0.5 * (first + last)
    finite = np.isfinite(window["log_norm"].to_numpy())
    window["y"] = np.where(finite, window["log_norm"], 0.0)
    window["xy"], window["xx"], window["bad"] = window.x * window.y, window.x**2, ~finite
    sums = window.groupby([*keys, "seed"], sort=False).agg(
        k=("x", "size"), sx=("x", "sum"), sy=("y", "sum"),
        sxy=("xy", "sum"), sxx=("xx", "sum"), bad=("bad", "any"),
    )  # fmt: skip
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (sums.sxy - sums.sx * sums.sy / sums.k) / (sums.sxx - sums.sx**2 / sums.k)
    seeds = slope.where(~sums.bad, -np.inf).rename("rate").reset_index()
    if "spectral_radius" in df.columns:
        radius = df.groupby([*keys, "seed"], sort=False)["spectral_radius"].first()
        with np.errstate(divide="ignore"):
            seeds["log_radius"] = np.log(radius.to_numpy())
    else:
        seeds["log_radius"] = np.nan
    seeds["lag_low"], seeds["lag_high"] = first, last
    attrs_drive = df.attrs.get("drive", {}).get("kind", "none")

    def predict(row, log_radius):
        return _theory(
            row["init"], float(row["gain"]), row.get("activation", df.attrs.get("activation")),
            row.get("drive", attrs_drive), log_radius,
        )  # fmt: skip

    if per_seed:
        predictions = [predict(row, row["log_radius"]) for _, row in seeds.iterrows()]
        seeds["theory"] = [p[0] for p in predictions]
        seeds["theory_name"] = [p[1] for p in predictions]
        return seeds.drop(columns="log_radius")
    rows = []
    for group_keys, group in seeds.groupby(keys, sort=False):
        row = dict(zip(keys, group_keys))
        rates = group["rate"].to_numpy()
        k = rates.size
        mean = rates.mean()
        half = math.nan
        if k > 1 and np.all(np.isfinite(rates)):
            t_crit = stats.t.ppf(0.5 + 0.5 * confidence, k - 1)
            half = t_crit * rates.std(ddof=1) / math.sqrt(k)
        with np.errstate(invalid="ignore"):
            log_radius = group["log_radius"].mean()
        value, name = predict(row, log_radius)
        row.update(
            rate=mean, ci_low=mean - half, ci_high=mean + half, n_seeds=k,
            lag_low=first, lag_high=last, theory=value, theory_name=name,
        )  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows)
