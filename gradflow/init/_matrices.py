"""Initialisers of recurrent weight matrices (layer 1).

Every initialiser has the same signature, ``f(n, *, gain=1.0, rng=None, batch=None)``, and
returns a float64 array of shape ``(n, n)``, or ``(batch, n, n)`` when ``batch`` is an int.
A batch is drawn as one block from one generator, so its first matrix equals the unbatched
draw from the same seed and the others are independent further draws. ``gain`` scales the
matrix: every initialiser here returns ``gain`` times a unit-scale matrix.

How the scale relates to gradient flow: the orthogonal and identity matrices have all
singular values equal to ``gain``; the Gaussian and Glorot matrices have entry variance
``gain**2 / n``, so (circular law) their spectral radius tends to ``gain`` while their largest
singular value tends to ``2 * gain``; PyTorch's default has entry variance ``gain**2 / (3 n)``.
"""

from __future__ import annotations

import numpy as np

from gradflow._rng import as_generator
from gradflow._validation import as_choice, as_float, as_int

__all__ = [
    "available",
    "gaussian",
    "get",
    "glorot_uniform",
    "identity",
    "orthogonal",
    "uniform",
]


def _prepare(n, gain, rng, batch):
    """Validate the shared arguments; return ``(n, gain, generator, shape)``."""
    n = as_int(n, "n", minimum=1)
    gain = as_float(gain, "gain", positive=True)
    generator = as_generator(rng)
    shape = (n, n) if batch is None else (as_int(batch, "batch", minimum=1), n, n)
    return n, gain, generator, shape


def orthogonal(n, *, gain=1.0, rng=None, batch=None) -> np.ndarray:
    """Haar-distributed random orthogonal matrix times ``gain``.

    Parameters
    ----------
    n : int
        Number of rows and columns, ``n >= 1``.
    gain : float, default 1.0
        Scale, ``> 0``; every singular value of the result equals ``gain``.
    rng : None, int, SeedSequence or numpy.random.Generator, optional
        Source of randomness.
    batch : int, optional
        Number of independent matrices to draw.

    Returns
    -------
    numpy.ndarray
        ``(n, n)``, or ``(batch, n, n)`` when ``batch`` is given; float64.

    Notes
    -----
    Draw ``G`` with i.i.d. standard normal entries, factor ``G = QR`` and return
    ``gain * Q D`` with ``D = diag(sign(R_jj))``. Folding the signs of ``diag(R)`` into ``Q``
    makes the factorisation unique and the result Haar-distributed on O(n) (uniform with
    respect to the invariant measure). Without the sign fix the law depends on the sign
    convention of the QR routine (with LAPACK's Householder QR, ``Q[0, 0]`` is never positive)
    and is not Haar. ``Q.T @ Q = gain**2 I`` to rounding.

    References
    ----------
    F. Mezzadri, "How to generate random matrices from the classical compact groups",
    Notices of the AMS 54(5), 592-604, 2007. https://arxiv.org/abs/math-ph/0609050

    A. M. Saxe, J. L. McClelland and S. Ganguli, "Exact solutions to the nonlinear dynamics of
    learning in deep linear neural networks", ICLR 2014.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow.init import orthogonal
    >>> Q = orthogonal(4, gain=2.0, rng=0)
    >>> Q.shape, Q.dtype
    ((4, 4), dtype('float64'))
    >>> bool(np.allclose(Q.T @ Q, 4.0 * np.eye(4)))
    True
    >>> orthogonal(3, rng=0, batch=5).shape
    (5, 3, 3)
    """
    n, gain, generator, shape = _prepare(n, gain, rng, batch)
    q, r = np.linalg.qr(generator.standard_normal(shape))
    signs = np.where(np.diagonal(r, axis1=-2, axis2=-1) < 0.0, -1.0, 1.0)
    return gain * (q * signs[..., np.newaxis, :])


def gaussian(n, *, gain=1.0, rng=None, batch=None) -> np.ndarray:
    """Matrix of i.i.d. Gaussian entries with variance ``gain**2 / n``.

    Parameters
    ----------
    n : int
        Number of rows and columns, ``n >= 1``.
    gain : float, default 1.0
        Scale, ``> 0``.
    rng : None, int, SeedSequence or numpy.random.Generator, optional
        Source of randomness.
    batch : int, optional
        Number of independent matrices to draw.

    Returns
    -------
    numpy.ndarray
        ``(n, n)``, or ``(batch, n, n)`` when ``batch`` is given; float64.

    Notes
    -----
    ``W_ij ~ N(0, gain**2 / n)`` independently. By the circular law the eigenvalues of ``W``
    fill the disk of radius ``gain`` as ``n -> inf``, so the spectral radius tends to ``gain``,
    while the largest singular value tends to ``2 * gain`` (the Marchenko-Pastur edge).

    References
    ----------
    T. Tao and V. Vu, "Random matrices: universality of ESDs and the circular law",
    Annals of Probability 38(5), 2023-2065, 2010.

    Examples
    --------
    >>> from gradflow.init import gaussian
    >>> W = gaussian(500, gain=1.5, rng=0)
    >>> W.shape
    (500, 500)
    >>> bool(abs(W.var() / (1.5**2 / 500) - 1) < 0.02)  # entry variance gain**2 / n
    True
    """
    n, gain, generator, shape = _prepare(n, gain, rng, batch)
    return generator.standard_normal(shape) * (gain / np.sqrt(n))


def identity(n, *, gain=1.0, rng=None, batch=None) -> np.ndarray:
    """``gain`` times the identity matrix (the IRNN initialisation).

    Parameters
    ----------
    n : int
        Number of rows and columns, ``n >= 1``.
    gain : float, default 1.0
        Scale, ``> 0``.
    rng : None, int, SeedSequence or numpy.random.Generator, optional
        Checked and ignored; accepted so that every initialiser has the same signature.
    batch : int, optional
        Number of (identical) matrices to return.

    Returns
    -------
    numpy.ndarray
        ``(n, n)``, or ``(batch, n, n)`` when ``batch`` is given; float64.

    Notes
    -----
    ``W = gain * I``: deterministic, every eigenvalue and singular value equals ``gain``.

    References
    ----------
    Q. V. Le, N. Jaitly and G. E. Hinton, "A simple way to initialize recurrent networks of
    rectified linear units", arXiv:1504.00941, 2015.

    Examples
    --------
    >>> from gradflow.init import identity
    >>> identity(2, gain=0.5)
    array([[0.5, 0. ],
           [0. , 0.5]])
    """
    n, gain, _, shape = _prepare(n, gain, rng, batch)
    return np.broadcast_to(gain * np.eye(n), shape).copy()


def glorot_uniform(n, *, gain=1.0, rng=None, batch=None) -> np.ndarray:
    """Glorot (Xavier) uniform matrix: entries ``U(-a, a)``, ``a = gain * sqrt(6 / (n + n))``.

    Parameters
    ----------
    n : int
        Number of rows and columns (fan-in = fan-out = n), ``n >= 1``.
    gain : float, default 1.0
        Scale, ``> 0``.
    rng : None, int, SeedSequence or numpy.random.Generator, optional
        Source of randomness.
    batch : int, optional
        Number of independent matrices to draw.

    Returns
    -------
    numpy.ndarray
        ``(n, n)``, or ``(batch, n, n)`` when ``batch`` is given; float64.

    Notes
    -----
    ``W_ij ~ U(-a, a)`` independently with ``a = gain * sqrt(6 / (fan_in + fan_out))
    = gain * sqrt(3 / n)``, so ``Var W_ij = a**2 / 3 = gain**2 / n``, the same variance as
    :func:`gaussian` (and hence the same circular-law limit of the spectrum).

    References
    ----------
    X. Glorot and Y. Bengio, "Understanding the difficulty of training deep feedforward neural
    networks", AISTATS 2010.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow.init import glorot_uniform
    >>> W = glorot_uniform(300, rng=0)
    >>> bool(np.abs(W).max() <= np.sqrt(3 / 300))
    True
    """
    n, gain, generator, shape = _prepare(n, gain, rng, batch)
    bound = gain * np.sqrt(6.0 / (n + n))
    return generator.uniform(-bound, bound, size=shape)


def uniform(n, *, gain=1.0, rng=None, batch=None) -> np.ndarray:
    """PyTorch's ``nn.RNN`` default: entries ``U(-1/sqrt(n), 1/sqrt(n))`` times ``gain``.

    Parameters
    ----------
    n : int
        Number of rows and columns (the hidden size), ``n >= 1``.
    gain : float, default 1.0
        Scale, ``> 0``.
    rng : None, int, SeedSequence or numpy.random.Generator, optional
        Source of randomness.
    batch : int, optional
        Number of independent matrices to draw.

    Returns
    -------
    numpy.ndarray
        ``(n, n)``, or ``(batch, n, n)`` when ``batch`` is given; float64.

    Notes
    -----
    ``W_ij ~ U(-a, a)`` with ``a = gain / sqrt(n)``, so ``Var W_ij = gain**2 / (3 n)``: the
    spectral radius tends to ``gain / sqrt(3)`` (circular law), which is why PyTorch's default
    recurrent weights make gradients vanish over long horizons.

    References
    ----------
    PyTorch, ``torch.nn.RNN`` (``reset_parameters``: every weight ``U(-k, k)``,
    ``k = 1 / sqrt(hidden_size)``). https://pytorch.org/docs/stable/generated/torch.nn.RNN.html

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow.init import uniform
    >>> W = uniform(100, gain=2.0, rng=0)
    >>> bool(np.abs(W).max() <= 2.0 / np.sqrt(100))
    True
    """
    n, gain, generator, shape = _prepare(n, gain, rng, batch)
    bound = gain / np.sqrt(n)
    return generator.uniform(-bound, bound, size=shape)


_INITIALISERS = {
    "orthogonal": orthogonal,
    "gaussian": gaussian,
    "identity": identity,
    "glorot_uniform": glorot_uniform,
    "uniform": uniform,
}


def available() -> tuple[str, ...]:
    """Names of the initialisers, in a fixed order.

    Examples
    --------
    >>> from gradflow.init import available
    >>> available()
    ('orthogonal', 'gaussian', 'identity', 'glorot_uniform', 'uniform')
    """
    return tuple(_INITIALISERS)


def get(name):
    """The initialiser called ``name`` (one of :func:`available`).

    Parameters
    ----------
    name : str
        ``"orthogonal"``, ``"gaussian"``, ``"identity"``, ``"glorot_uniform"`` or ``"uniform"``.

    Returns
    -------
    callable
        ``f(n, *, gain=1.0, rng=None, batch=None) -> ndarray``.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the available ones.

    Examples
    --------
    >>> from gradflow.init import get
    >>> get("identity")(2, gain=3.0)
    array([[3., 0.],
           [0., 3.]])
    """
    return _INITIALISERS[as_choice(name, "name", _INITIALISERS)]
