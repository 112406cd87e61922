"""Random-matrix results: Newman's Lyapunov spectrum of Gaussian products, the circular law,
the expected number of real eigenvalues, and the Fuss-Catalan moments of deep products."""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from .._validation import as_float, as_int
from ._common import _out, _reals


def gaussian_product_lyapunov(n, variance) -> np.ndarray:
    """Exact Lyapunov spectrum of products of i.i.d. ``(n, n)`` Gaussian matrices.

    Parameters
    ----------
    n : int
        Matrix size (>= 1).
    variance : float
        Entry variance σ² > 0 (σ² = g²/n for ``gradflow.init.gaussian`` with gain g).

    Returns
    -------
    numpy.ndarray, shape (n,)
        λ_1 >= ... >= λ_n in nats per step.

    Notes
    -----
    λ_i = ½ [ln(2σ²) + ψ((n − i + 1)/2)], i = 1..n, with ψ the digamma function. The top
    exponent is E ln‖Wv‖/‖v‖ = ½ E ln(σ² χ²_n); with σ² = g²/n it tends to ln g as n → ∞.

    References
    ----------
    C. M. Newman, "The distribution of Lyapunov exponents: exact results for random
    matrices", Commun. Math. Phys. 103, 121-126 (1986).

    Examples
    --------
    >>> np.round(gaussian_product_lyapunov(4, 0.25), 6).tolist()
    [-0.135181, -0.328329, -0.635181, -1.328329]
    """
    n = as_int(n, "n", minimum=1)
    variance = as_float(variance, "variance", positive=True)
    i = np.arange(1, n + 1)
    return 0.5 * (math.log(2.0 * variance) + special.digamma((n - i + 1) / 2.0))


# --- random matrix spectra ----------------------------------------------------------------


def circular_law_radius(gain):
    """Radius g of the disk holding the eigenvalues of W with i.i.d. N(0, g²/N) entries.

    Parameters
    ----------
    gain : float or array_like
        g > 0.

    Returns
    -------
    float or numpy.ndarray
        g: the spectral radius of W tends to g as N → ∞.

    Notes
    -----
    The empirical eigenvalue distribution of W tends to the uniform law on the disk
    ``|z| <= g`` (the circular law), and the largest ``|eigenvalue|`` to g.

    References
    ----------
    V. L. Girko, "Circular law", Theory Probab. Appl. 29, 694-706 (1985).
    Z. D. Bai, "Circular law", Ann. Probab. 25, 494-529 (1997).

    Examples
    --------
    >>> circular_law_radius(1.5)
    1.5
    """
    return _out(_reals(gain, "gain", positive=True).copy())


def circular_law_density(r, gain):
    """Density (per unit area of the complex plane) of the circular law at modulus ``r``.

    Parameters
    ----------
    r : float or array_like
        ``|z| >= 0``.
    gain : float or array_like
        g > 0, broadcast against ``r``.

    Returns
    -------
    float or numpy.ndarray
        1/(π g²) for r <= g, 0 outside.

    References
    ----------
    Z. D. Bai, "Circular law", Ann. Probab. 25, 494-529 (1997).

    Examples
    --------
    >>> circular_law_density([0.5, 2.0], 1.0).tolist() == [1 / math.pi, 0.0]
    True
    """
    radius = _reals(r, "r")
    gains = _reals(gain, "gain", positive=True)
    return _out(np.where(radius <= gains, 1.0 / (math.pi * gains**2), 0.0))


def circular_law_radial_cdf(r, gain):
    """Fraction of circular-law eigenvalues with modulus at most ``r``: min(r/g, 1)².

    Parameters
    ----------
    r : float or array_like
        Radius >= 0.
    gain : float or array_like
        g > 0, broadcast against ``r``.

    Returns
    -------
    float or numpy.ndarray

    References
    ----------
    Z. D. Bai, "Circular law", Ann. Probab. 25, 494-529 (1997).

    Examples
    --------
    >>> circular_law_radial_cdf(0.5, 1.0)
    0.25
    """
    radius = _reals(r, "r")
    gains = _reals(gain, "gain", positive=True)
    return _out(np.minimum(radius / gains, 1.0) ** 2)


def expected_real_eigenvalues(n) -> float:
    """Expected number of real eigenvalues of an ``(n, n)`` matrix with i.i.d. N(0, 1) entries.

    Parameters
    ----------
    n : int
        Matrix size (>= 1). The entry variance does not matter.

    Returns
    -------
    float
        E_n.

    Notes
    -----
    E_n = 1/2 + √2 ₂F₁(1, −1/2; n; 1/2) / B(n, 1/2), equal to √2 Σ_{k=0}^{n/2−1}
    (4k−1)!!/(4k)!! for even n and 1 + √2 Σ_{k=1}^{(n−1)/2} (4k−3)!!/(4k−2)!! for odd n.
    As n → ∞, E_n = √(2n/π) + 1/2 + O(n^(−1/2)).

    References
    ----------
    A. Edelman, E. Kostlan, M. Shub, "How many eigenvalues of a random matrix are real?",
    J. Amer. Math. Soc. 7, 247-267 (1994), Corollary 5.2.

    Examples
    --------
    >>> math.isclose(expected_real_eigenvalues(4), 11 * math.sqrt(2) / 8)
    True
    """
    n = as_int(n, "n", minimum=1)
    return float(0.5 + math.sqrt(2.0) * special.hyp2f1(1.0, -0.5, n, 0.5) / special.beta(n, 0.5))


def fuss_catalan_moment(depth, k) -> int:
    """k-th moment of the squared singular values of a product of ``depth`` Gaussian matrices.

    Parameters
    ----------
    depth : int
        Number L >= 1 of i.i.d. (N, N) factors with entry variance 1/N.
    k : int
        Moment order (>= 0).

    Returns
    -------
    int
        m_k = lim_{N→∞} (1/N) E tr[(M Mᵀ)^k], M = W_L ... W_1 (exact integer).

    Notes
    -----
    m_k is the Fuss-Catalan number binom((L+1)k, k) / (Lk + 1): m_1 = 1 and m_2 = L + 1, so
    the squared singular values keep mean 1 but their variance L grows with depth, unlike an
    orthogonal product (variance 0). L = 1 gives the Catalan numbers (Marchenko-Pastur).

    References
    ----------
    K. A. Penson, K. Życzkowski, "Product of Ginibre matrices: Fuss-Catalan and Raney
    distributions", Phys. Rev. E 83, 061118 (2011).
    J. Pennington, S. S. Schoenholz, S. Ganguli, "Resurrecting the sigmoid in deep learning
    through dynamical isometry: theory and practice", NeurIPS 2017.

    Examples
    --------
    >>> [fuss_catalan_moment(1, k) for k in range(5)]
    [1, 1, 2, 5, 14]
    >>> fuss_catalan_moment(4, 2)
    5
    """
    depth = as_int(depth, "depth", minimum=1)
    k = as_int(k, "k", minimum=0)
    return math.comb((depth + 1) * k, k) // (depth * k + 1)


def fuss_catalan_edge(depth) -> float:
    """Upper edge of the Fuss-Catalan law: the largest squared singular value as N → ∞.

    Parameters
    ----------
    depth : int
        Number L >= 1 of factors.

    Returns
    -------
    float
        (L + 1)^(L+1) / L^L (4 for L = 1, the Marchenko-Pastur edge; ≈ e(L + 1) for large L).

    References
    ----------
    K. A. Penson, K. Życzkowski, Phys. Rev. E 83, 061118 (2011).

    Examples
    --------
    >>> fuss_catalan_edge(1)
    4.0
    """
    depth = as_int(depth, "depth", minimum=1)
    return (depth + 1) * math.exp(depth * math.log1p(1.0 / depth))  # (L+1)(1 + 1/L)^L
