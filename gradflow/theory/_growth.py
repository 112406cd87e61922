"""Growth of gradients through recurrent maps: scaled orthogonal maps, the mean-field
order-to-chaos transition of random tanh networks, and Pascanu et al.'s conditions."""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate, optimize

from .. import _activations
from .._validation import as_float
from ._common import _out, _reals


def orthogonal_growth(gain, lag):
    """Log growth of a vector under ``lag`` steps of a scaled orthogonal map ``gain * Q``.

    Parameters
    ----------
    gain : float or array_like
        Scale g > 0 of the orthogonal matrix.
    lag : int or array_like of int
        Number of steps (>= 0); broadcast against ``gain``.

    Returns
    -------
    float or numpy.ndarray
        ln(‖(gQ)^lag v‖ / ‖v‖), natural log, for every v != 0.

    Notes
    -----
    Q preserves norms, so ‖(gQ)^lag v‖ = g^lag ‖v‖ exactly and the log growth is lag · ln g:
    all singular values of the product equal g^lag, the dynamical isometry of Saxe et al.

    References
    ----------
    A. M. Saxe, J. L. McClelland, S. Ganguli, "Exact solutions to the nonlinear dynamics of
    learning in deep linear neural networks", ICLR 2014.

    Examples
    --------
    >>> orthogonal_growth(2.0, 10) == 10 * math.log(2.0)
    True
    >>> orthogonal_growth([0.5, 1.0], 4).tolist()
    [-2.772588722239781, 0.0]
    """
    gains = _reals(gain, "gain", positive=True)
    lags = _reals(lag, "lag")
    if np.any(lags != np.round(lags)):
        raise ValueError("lag: expected whole numbers of steps, got a fractional value")
    return _out(lags * np.log(gains))


# --- mean-field theory of h_t = tanh(W h_{t-1}) ----------------------------------------------

_Z_MAX = 12.0  # the Gaussian density beyond 12 is below 1e-31 of its peak
_SERIES_EPS = 1e-3  # below this ε = 1 − 1/g², q* and χ come from their Taylor series


def _sech(x: float) -> float:
    e = math.exp(-abs(x))
    return 2.0 * e / (1.0 + e * e)


def _one_minus_sech4(x: float) -> float:
    """1 − sech⁴(x) = tanh²(x)(1 + sech²(x)), accurate at x -> 0."""
    return math.tanh(x) ** 2 * (1.0 + _sech(x) ** 2)


def _tanh2_over_x2(x: float) -> float:
    """tanh(x)²/x², accurate at x -> 0."""
    return 1.0 - 2.0 * x * x / 3.0 if abs(x) < 1e-6 else (math.tanh(x) / x) ** 2


def _gauss_mean(f, scale: float) -> float:
    """E[f(z)] for z ~ N(0, 1), f even with features on the length scale 1/scale."""
    points = [p / scale for p in (1.0, 4.0, 16.0) if p / scale < _Z_MAX] or None
    value, _ = integrate.quad(
        lambda z: f(z) * math.exp(-0.5 * z * z),
        0.0,
        _Z_MAX,
        points=points,
        epsabs=0.0,
        epsrel=1e-13,
        limit=200,
    )
    return 2.0 * value / math.sqrt(2.0 * math.pi)


def _q_star(g: float) -> float:
    if g <= 1.0:
        return 0.0
    eps = 1.0 - 1.0 / (g * g)
    if eps < _SERIES_EPS:
        return eps * (1 / 2 + eps * (17 / 24 + eps * (103 / 144 + eps * 14477 / 17280)))

    def excess(q):  # g² E[tanh²(√q z)]/q − 1: decreasing in q, positive at 0⁺
        s = math.sqrt(q)
        return g * g * _gauss_mean(lambda z: z * z * _tanh2_over_x2(s * z), s) - 1.0

    return optimize.brentq(excess, 1e-3 * eps / 2.0, g * g, xtol=1e-300, rtol=1e-15)


def mean_field_q(gain):
    """Mean-field fixed point q* of the squared activity of a random tanh network.

    Parameters
    ----------
    gain : float or array_like
        g > 0 in h_t = tanh(W h_{t−1}) with W_ij ~ N(0, g²/N).

    Returns
    -------
    float or numpy.ndarray
        q* = lim ‖W h‖²/N as N → ∞ (0 for g <= 1).

    Notes
    -----
    q* solves q = g² E[tanh²(√q z)], z ~ N(0, 1). For g <= 1 the only fixed point is q* = 0;
    for g > 1 the positive root is found by ``scipy.optimize.brentq`` on (0, g²] with the
    Gaussian expectation from adaptive quadrature (``scipy.integrate.quad``), accurate for
    large gains where tanh saturates (q* ≈ g² − g√(2/π) as g → ∞). Close to g = 1,
    q* = ε/2 + 17ε²/24 + 103ε³/144 + 14477ε⁴/17280 + O(ε⁵) with ε = 1 − 1/g², and that
    series is used for ε < 1e-3.

    References
    ----------
    B. Poole, S. Lahiri, M. Raghu, J. Sohl-Dickstein, S. Ganguli, "Exponential expressivity in
    deep neural networks through transient chaos", NeurIPS 2016.
    H. Sompolinsky, A. Crisanti, H. J. Sommers, "Chaos in random neural networks",
    Phys. Rev. Lett. 61, 259 (1988).

    Examples
    --------
    >>> round(mean_field_q(2.0), 6)
    2.121474
    >>> mean_field_q([0.5, 1.0]).tolist()
    [0.0, 0.0]
    """
    gains = _reals(gain, "gain", positive=True)
    return _out(np.vectorize(_q_star, otypes=[np.float64])(gains))


def _lyapunov(g: float) -> float:
    if g <= 1.0:
        return math.log(g)
    eps = 1.0 - 1.0 / (g * g)
    if eps < _SERIES_EPS:
        chi_minus_1 = eps * eps * (1 / 3 + eps * (-1 / 18 + eps * 1297 / 2160))
    else:  # χ − 1 = (g² − 1) − g² E[1 − sech⁴], without cancellation in E
        s = math.sqrt(_q_star(g))
        chi_minus_1 = g * g - 1.0 - g * g * _gauss_mean(lambda z: _one_minus_sech4(s * z), s)
    return 0.5 * math.log1p(chi_minus_1)


def mean_field_lyapunov(gain):
    """Mean-field top Lyapunov exponent of h_t = tanh(W h_{t−1}), W_ij ~ N(0, g²/N).

    Parameters
    ----------
    gain : float or array_like
        g > 0.

    Returns
    -------
    float or numpy.ndarray
        λ in nats per step: the log growth rate of a perturbation (and of a gradient).

    Notes
    -----
    λ = ½ ln χ with χ = g² E[sech⁴(√q* z)] = g² E[tanh'(√q* z)²], z ~ N(0, 1), q* from
    :func:`mean_field_q`. For g <= 1, q* = 0 and λ = ln g (ordered phase); for g > 1,
    λ > 0 (chaos) but λ < ln g because saturation shrinks tanh'. λ is continuous at g = 1
    but its slope jumps from 1 to 0: χ − 1 = ε²/3 − ε³/18 + 1297ε⁴/2160 + O(ε⁵) with
    ε = 1 − 1/g², so λ ≈ (2/3)(g − 1)² just above the transition (the series is used for
    ε < 1e-3). For large g, λ ≈ ½ ln(4g / (3√(2π))).

    References
    ----------
    B. Poole et al., "Exponential expressivity in deep neural networks through transient
    chaos", NeurIPS 2016.
    S. S. Schoenholz, J. Gilmer, S. Ganguli, J. Sohl-Dickstein, "Deep information
    propagation", ICLR 2017.
    H. Sompolinsky, A. Crisanti, H. J. Sommers, Phys. Rev. Lett. 61, 259 (1988).

    Examples
    --------
    >>> round(mean_field_lyapunov(2.0), 6)
    0.154724
    >>> mean_field_lyapunov(0.5) == math.log(0.5)
    True
    """
    gains = _reals(gain, "gain", positive=True)
    return _out(np.vectorize(_lyapunov, otypes=[np.float64])(gains))


# --- Pascanu, Mikolov & Bengio (2013) ------------------------------------------------------


def activation_gamma(activation: str) -> float:
    """γ = sup ``|φ'(x)|``, the bound on the activation's derivative.

    Parameters
    ----------
    activation : {"tanh", "relu", "linear", "sigmoid"}

    Returns
    -------
    float
        1 for tanh, relu and linear; 1/4 for the logistic sigmoid.

    References
    ----------
    R. Pascanu, T. Mikolov, Y. Bengio, "On the difficulty of training recurrent neural
    networks", ICML 2013, Section 2.1.

    Examples
    --------
    >>> activation_gamma("sigmoid")
    0.25
    """
    return _activations.get(activation).gamma


def pascanu_regime(sigma_max, activation: str = "tanh", *, rtol: float = 1e-12) -> str:
    """Pascanu et al.'s sufficient / necessary conditions on the recurrent weights.

    Parameters
    ----------
    sigma_max : float
        Largest singular value of W_hh (>= 0).
    activation : {"tanh", "relu", "linear", "sigmoid"}, default "tanh"
    rtol : float, default 1e-12
        Relative tolerance within which σ_max γ = 1 counts as the boundary.

    Returns
    -------
    str
        ``"vanishing"`` when σ_max < 1/γ (vanishing is guaranteed), ``"may explode"`` when
        σ_max > 1/γ (exploding is possible, not guaranteed), ``"boundary"`` when σ_max = 1/γ.

    Notes
    -----
    The BPTT Jacobian J_t = diag(φ'(a_t)) W obeys ‖J_t‖ <= γ σ_max, so
    ‖∂h_T/∂h_t‖ <= (γ σ_max)^(T−t) → 0 when γ σ_max < 1; γ σ_max > 1 is therefore necessary
    for exploding gradients. For W with i.i.d. N(0, g²/N) entries, σ_max ≈ 2g while the
    spectral radius is ≈ g (Marchenko-Pastur edge versus circular law), so the sufficient
    condition for vanishing, g < 1/(2γ), is far from the observed transition near g = 1/γ.

    References
    ----------
    R. Pascanu, T. Mikolov, Y. Bengio, "On the difficulty of training recurrent neural
    networks", ICML 2013.

    Examples
    --------
    >>> pascanu_regime(0.9), pascanu_regime(3.0, "sigmoid"), pascanu_regime(5.0, "sigmoid")
    ('vanishing', 'vanishing', 'may explode')
    """
    sigma_max = as_float(sigma_max, "sigma_max", nonnegative=True)
    rtol = as_float(rtol, "rtol", nonnegative=True)
    product = sigma_max * activation_gamma(activation)
    if abs(product - 1.0) <= rtol:
        return "boundary"
    return "vanishing" if product < 1.0 else "may explode"


def linear_vanishing(spectral_radius):
    """Whether gradients of a linear recurrence h_t = W h_{t−1} vanish: ρ(W) < 1.

    Parameters
    ----------
    spectral_radius : float or array_like
        ρ(W) >= 0.

    Returns
    -------
    bool or numpy.ndarray of bool

    Notes
    -----
    W^t → 0 if and only if ρ(W) < 1 (Gelfand: ‖W^t‖^(1/t) → ρ), so ρ < 1 suffices for
    vanishing however large σ_max is (non-normal W may grow transiently first); ρ > 1 is
    necessary for exploding. The spectral radius of a Gaussian W with gain g is ≈ g.

    References
    ----------
    R. Pascanu, T. Mikolov, Y. Bengio, "On the difficulty of training recurrent neural
    networks", ICML 2013, Section 2.1.

    Examples
    --------
    >>> linear_vanishing([0.5, 1.0, 2.0]).tolist()
    [True, False, False]
    """
    rho = _reals(spectral_radius, "spectral_radius")
    result = rho < 1.0
    return bool(result) if result.ndim == 0 else result
