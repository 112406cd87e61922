"""Sequence tasks (layer 1): Pascanu's single-unit model, the adding and the copy problems.

Data arrays are time-major, as in ``torch.nn.RNN``: inputs ``(T, B, D)``. Every generator takes
``rng`` (int, Generator or None) and draws in a fixed order, so a seed fixes the data.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import expit

from gradflow._rng import as_generator
from gradflow._validation import as_array, as_float, as_int

__all__ = [
    "adding",
    "adding_baseline",
    "cliff_threshold",
    "cliff_wall",
    "copy",
    "copy_baseline",
    "single_unit",
]

_N_COPY = 10  # symbols to remember in the copy task
_N_SYMBOLS = 8  # alphabet size: ids 1..8; 0 is the blank and 9 the delimiter


def single_unit(w, b, *, steps: int = 50, x0: float = 0.5, target: float = 0.7):
    """Loss and exact gradient of Pascanu et al.'s one-neuron recurrent model.

    Parameters
    ----------
    w, b : array_like
        Recurrent weight and bias, finite, broadcast against each other to a shape S.
    steps : int, default 50
        Number of steps T >= 1.
    x0 : float, default 0.5
        Initial state.
    target : float, default 0.7
        Target of the output sigma(x_T).

    Returns
    -------
    loss, dloss_dw, dloss_db : ndarray of shape S (NumPy float scalars when S is ())

    Notes
    -----
    x_t = w sigma(x_{t-1}) + b for t = 1..T, loss = (sigma(x_T) - target)^2, sigma the logistic
    sigmoid (``scipy.special.expit``, stable for any argument). The gradients are exact, by
    forward sensitivities carried along with the state:
    dx_t/dw = sigma(x_{t-1}) + w sigma'(x_{t-1}) dx_{t-1}/dw and
    dx_t/db = 1 + w sigma'(x_{t-1}) dx_{t-1}/db, with dx_0/dw = dx_0/db = 0, and
    dloss/dx_T = 2 (sigma(x_T) - target) sigma'(x_T). Every quantity is bounded by
    ``|w|``, ``|b|`` and ``(|w|/4)^T``, so results are finite unless the exact gradient itself
    exceeds the float64 range (``|w|`` above about 10^6 held on an unstable fixed point for 50
    steps).

    References
    ----------
    Pascanu, R., Mikolov, T. & Bengio, Y. (2013). On the difficulty of training recurrent
    neural networks. ICML (the single-hidden-unit example). https://arxiv.org/abs/1211.5063

    Examples
    --------
    >>> loss, dw, db = single_unit(1.0, 0.0)
    >>> print(f"{loss:.10f} {dw:.6e} {db:.6e}")
    0.0016772245 -1.564536e-02 -2.373940e-02
    >>> single_unit(np.linspace(-5, 5, 11)[:, None], np.linspace(-2, 2, 5))[0].shape
    (11, 5)
    """
    w, b = np.broadcast_arrays(as_array(w, "w"), as_array(b, "b"))
    steps = as_int(steps, "steps", minimum=1)
    x0 = as_float(x0, "x0")
    target = as_float(target, "target")
    x = np.full(w.shape, x0)
    dx_dw = np.zeros(w.shape)
    dx_db = np.zeros(w.shape)
    for _ in range(steps):
        s = expit(x)
        gain = w * (s * (1.0 - s))  # w sigma'(x_{t-1})
        dx_dw = s + gain * dx_dw
        dx_db = 1.0 + gain * dx_db
        x = w * s + b
    s = expit(x)
    dloss_dx = 2.0 * (s - target) * (s * (1.0 - s))
    return ((s - target) ** 2)[()], (dloss_dx * dx_dw)[()], (dloss_dx * dx_db)[()]


def cliff_threshold(x0: float = 0.5) -> float:
    """The weight 1 / sigma'(x0) above which x0 is an unstable fixed point on the wall.

    Parameters
    ----------
    x0 : float, default 0.5
        Initial state of :func:`single_unit`.

    Notes
    -----
    On the line b = b*(w) of :func:`cliff_wall` the state stays at x0, a fixed point whose
    multiplier is w sigma'(x0). For w > 1 / sigma'(x0) it exceeds 1: the fixed point is
    unstable, and the trajectories for b just above and below the line run to two different
    stable fixed points. The loss jumps across the line (the "wall" on Pascanu et al.'s
    error surface) and the gradient explodes on it.

    Examples
    --------
    >>> round(cliff_threshold(), 4)
    4.2553
    """
    s = float(expit(as_float(x0, "x0")))
    return 1.0 / (s * (1.0 - s))


def cliff_wall(w, *, x0: float = 0.5):
    """The bias b*(w) = x0 - w sigma(x0) that keeps the single unit at its initial state.

    Returned for every w; the line is a wall (a bifurcation of the loss surface) only where
    w > :func:`cliff_threshold` (x0); below it x0 is a stable fixed point and the line is
    smooth ground.

    Parameters
    ----------
    w : array_like
        Recurrent weights, finite, any shape.
    x0 : float, default 0.5
        Initial state of :func:`single_unit`.

    Returns
    -------
    ndarray of the shape of ``w`` (a NumPy float scalar for a scalar ``w``)

    Notes
    -----
    x0 = w sigma(x0) + b holds exactly when b = x0 - w sigma(x0).

    References
    ----------
    Pascanu, R., Mikolov, T. & Bengio, Y. (2013). On the difficulty of training recurrent
    neural networks. ICML. https://arxiv.org/abs/1211.5063

    Examples
    --------
    >>> w = 8.0
    >>> b = cliff_wall(w)
    >>> round(float(w * expit(0.5) + b), 12)
    0.5
    """
    x0 = as_float(x0, "x0")
    return (x0 - as_array(w, "w") * expit(x0))[()]


def adding(T: int, batch: int, *, rng=None):
    """The adding problem: output the sum of the two marked numbers of a sequence.

    Parameters
    ----------
    T : int
        Sequence length, >= 2.
    batch : int
        Number of sequences, >= 1.
    rng : int, Generator or None
        Source of randomness.

    Returns
    -------
    xs : ndarray of shape (T, batch, 2)
        Channel 0: values drawn from U[0, 1). Channel 1: markers, exactly one 1 in the first
        half [0, T // 2) and one in the second half [T // 2, T), 0 elsewhere.
    ys : ndarray of shape (batch, 1)
        Sum of the two marked values.

    Notes
    -----
    The sum of two independent U[0, 1) values has mean 1 and variance 1/6, so always
    predicting 1 scores a mean squared error of 1/6 (:func:`adding_baseline`).

    References
    ----------
    Hochreiter, S. & Schmidhuber, J. (1997). Long short-term memory. Neural Computation 9(8),
    experiment 4. Le, Q. V., Jaitly, N. & Hinton, G. E. (2015). A simple way to initialize
    recurrent networks of rectified linear units, section 4.1. https://arxiv.org/abs/1504.00941

    Examples
    --------
    >>> xs, ys = adding(10, 4, rng=0)
    >>> xs.shape, ys.shape, xs[:, :, 1].sum(axis=0).tolist()
    ((10, 4, 2), (4, 1), [2.0, 2.0, 2.0, 2.0])
    >>> bool(np.allclose((xs[:, :, 0] * xs[:, :, 1]).sum(axis=0), ys[:, 0]))
    True
    """
    T = as_int(T, "T", minimum=2)
    batch = as_int(batch, "batch", minimum=1)
    gen = as_generator(rng)
    values = gen.random((T, batch))
    first = gen.integers(0, T // 2, size=batch)
    second = gen.integers(T // 2, T, size=batch)
    columns = np.arange(batch)
    markers = np.zeros((T, batch))
    markers[first, columns] = 1.0
    markers[second, columns] = 1.0
    xs = np.stack([values, markers], axis=-1)
    ys = (values[first, columns] + values[second, columns])[:, None]
    return xs, ys


def adding_baseline() -> float:
    """Mean squared error of always predicting 1 on :func:`adding`: Var(U + U') = 1/6.

    Examples
    --------
    >>> round(adding_baseline(), 6)
    0.166667
    """
    return 1.0 / 6.0


def copy(T: int, batch: int, *, rng=None, symbols: int = _N_COPY):
    """The copy-memory task: recall 10 symbols (or ``symbols``) after T steps of blanks.

    Parameters
    ----------
    T : int
        Delay, >= 1; sequences have length T + 20.
    batch : int
        Number of sequences, >= 1.
    rng : int, Generator or None
        Source of randomness.
    symbols : int, default 10
        How many symbols to recall, K (Arjovsky et al.'s task has 10); with K symbols the
        sequences have length T + 2K and the "10" below reads K. A short copy (K = 3, say)
        keeps the memory load small, so that what limits learning is the delay T.

    Returns
    -------
    xs : ndarray of shape (T + 20, batch, 10), float64
        One-hot inputs: 10 symbols drawn uniformly from ids 1..8, then T - 1 blanks (id 0), the
        delimiter (id 9), then 10 blanks.
    ys : ndarray of shape (T + 20, batch), int64
        Target class ids: blank (0) for the first T + 10 steps, then the 10 symbols.

    Notes
    -----
    A memoryless predictor that outputs blank for T + 10 steps and a uniform guess over the
    8 symbols for the last 10 scores a mean cross-entropy of 10 ln 8 / (T + 20)
    (:func:`copy_baseline`).

    References
    ----------
    Arjovsky, M., Shah, A. & Bengio, Y. (2016). Unitary evolution recurrent neural networks.
    ICML, section 4.1. https://arxiv.org/abs/1511.06464

    Examples
    --------
    >>> xs, ys = copy(5, 2, rng=0)
    >>> xs.shape, ys.shape
    ((25, 2, 10), (25, 2))
    >>> bool((xs[:10].argmax(-1) == ys[-10:]).all()), xs[:, 0].argmax(-1)[10:16].tolist()
    (True, [0, 0, 0, 0, 9, 0])
    """
    T = as_int(T, "T", minimum=1)
    batch = as_int(batch, "batch", minimum=1)
    k = as_int(symbols, "symbols", minimum=1)
    gen = as_generator(rng)
    drawn = gen.integers(1, _N_SYMBOLS + 1, size=(k, batch))
    ids = np.zeros((T + 2 * k, batch), dtype=np.int64)
    ids[:k] = drawn
    ids[T + k - 1] = _N_SYMBOLS + 1
    ys = np.zeros_like(ids)
    ys[-k:] = drawn
    xs = np.eye(_N_SYMBOLS + 2)[ids]
    return xs, ys


def copy_baseline(T: int, symbols: int = _N_COPY) -> float:
    """Mean cross-entropy (nats per step) of the memoryless baseline on :func:`copy`.

    Parameters
    ----------
    T : int
        Delay of the copy task, >= 1.
    symbols : int, default 10
        Symbols to recall, K.

    Notes
    -----
    K ln 8 / (T + 2K): zero loss on the T + K blank targets, ln 8 on each of the last K
    (10 ln 8 / (T + 20) for the standard task).

    Examples
    --------
    >>> round(copy_baseline(100), 6)
    0.173287
    """
    T = as_int(T, "T", minimum=1)
    k = as_int(symbols, "symbols", minimum=1)
    return k * math.log(_N_SYMBOLS) / (T + 2 * k)
