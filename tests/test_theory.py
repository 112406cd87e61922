"""Tests for gradflow.theory: published values, independent quadrature, Monte-Carlo."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import integrate, special, stats

from gradflow import theory


def _gaussian(n, gain, rng):
    return rng.normal(0.0, gain / math.sqrt(n), size=(n, n))


def _double_factorial(m: int) -> int:
    return 1 if m <= 0 else math.prod(range(m, 0, -2))


# --- orthogonal growth ---------------------------------------------------------------------


def test_orthogonal_growth_matches_iterated_haar_map():
    rng = np.random.default_rng(0)
    q = stats.ortho_group.rvs(20, random_state=rng)
    v = rng.normal(size=20)
    for gain in (0.7, 1.0, 3.0):
        x, log_norm = v / np.linalg.norm(v), 0.0
        for _ in range(500):  # renormalise so gain 3 over 500 steps stays finite
            x = gain * (q @ x)
            norm = np.linalg.norm(x)
            log_norm += math.log(norm)
            x /= norm
        assert theory.orthogonal_growth(gain, 500) == pytest.approx(log_norm, rel=1e-10)


def test_orthogonal_growth_broadcasts():
    out = theory.orthogonal_growth(np.array([[0.5], [2.0]]), np.array([0, 1, 3]))
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out[1], [0.0, math.log(2), 3 * math.log(2)])
    assert isinstance(theory.orthogonal_growth(2.0, 3), float)


@pytest.mark.parametrize(
    ("gain", "lag", "exc", "word"),
    [
        (0.0, 1, ValueError, "gain"),
        (-1.0, 1, ValueError, "gain"),
        (np.nan, 1, ValueError, "gain"),
        (np.inf, 1, ValueError, "gain"),
        (True, 1, TypeError, "gain"),
        ("2", 1, TypeError, "gain"),
        (2.0, -1, ValueError, "lag"),
        (2.0, 1.5, ValueError, "lag"),
    ],
)
def test_orthogonal_growth_rejects_bad_input(gain, lag, exc, word):
    with pytest.raises(exc, match=word) as info:
        theory.orthogonal_growth(gain, lag)
    assert "\n" not in str(info.value)


# --- Newman (1986) -------------------------------------------------------------------------


def test_gaussian_product_lyapunov_published_values():
    lam = theory.gaussian_product_lyapunov(4, 0.25)
    np.testing.assert_allclose(lam, [-0.135181, -0.328329, -0.635181, -1.328329], atol=1e-6)
    assert np.all(np.diff(theory.gaussian_product_lyapunov(10, 1.0)) < 0)


def test_gaussian_product_lyapunov_matches_benettin_monte_carlo():
    n, variance, chains, steps = 3, 0.7, 400, 100
    rng = np.random.default_rng(1)
    q = np.broadcast_to(np.eye(n), (chains, n, n))
    log_r = np.zeros((chains, n))
    for _ in range(steps):
        w = rng.normal(0.0, math.sqrt(variance), size=(chains, n, n))
        q, r = np.linalg.qr(w @ q)
        log_r += np.log(np.abs(np.diagonal(r, axis1=1, axis2=2)))
    per_chain = log_r / steps
    estimate = per_chain.mean(axis=0)
    stderr = per_chain.std(axis=0, ddof=1) / math.sqrt(chains)
    exact = theory.gaussian_product_lyapunov(n, variance)
    assert np.all(np.abs(estimate - exact) < 4 * stderr + 1e-3)


def test_gaussian_product_lyapunov_rejects_bad_input():
    for n, variance, exc in [
        (0, 1.0, ValueError),
        (2.0, 1.0, TypeError),
        (3, 0.0, ValueError),
    ]:
        with pytest.raises(exc, match=r"n:|variance:"):
            theory.gaussian_product_lyapunov(n, variance)


# --- mean-field theory ---------------------------------------------------------------------


def test_mean_field_published_values_at_gain_2():
    assert theory.mean_field_q(2.0) == pytest.approx(2.121474, abs=1e-6)
    assert theory.mean_field_lyapunov(2.0) == pytest.approx(0.154724, abs=1e-6)


def test_mean_field_ordered_phase_and_bounds():
    gains = np.array([[0.3, 1.0], [1.2, 5.0]])
    q, lam = theory.mean_field_q(gains), theory.mean_field_lyapunov(gains)
    assert q.shape == lam.shape == (2, 2)
    assert q[0].tolist() == [0.0, 0.0]
    np.testing.assert_allclose(lam[0], np.log(gains[0]))
    assert np.all((q[1] > 0) & (q[1] <= gains[1] ** 2))
    assert np.all((lam[1] > 0) & (lam[1] < np.log(gains[1])))


def test_mean_field_continuous_at_the_transition():
    gains = 1.0 + np.array([1e-2, 1e-3, 1e-4, 1e-6])
    q, lam = theory.mean_field_q(gains), theory.mean_field_lyapunov(gains)
    assert np.all(np.diff(q) < 0) and q[-1] < 1e-5
    assert np.all(np.diff(lam) < 0) and 0 < lam[-1] < 1e-11
    # Sompolinsky et al.: λ ∝ (g − 1)² above the transition (coefficient 2/3 from the series)
    excess = gains[1:] - 1.0
    assert np.all(np.abs(lam[1:] / (2 / 3 * excess**2) - 1.0) < 5 * excess)


@pytest.mark.parametrize("gain", [1.0004, 1.5])  # the series branch and the quadrature branch
def test_mean_field_matches_high_precision_mpmath(gain):
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 30
    g2 = mpmath.mpf(gain) ** 2

    def mean(f, q):
        s = mpmath.sqrt(q)

        def density(z):
            return mpmath.exp(-z * z / 2) / mpmath.sqrt(2 * mpmath.pi)

        return 2 * mpmath.quad(lambda z: f(s * z) * density(z), [0, 1, 4, mpmath.inf])

    q = mpmath.findroot(lambda q: g2 * mean(lambda x: mpmath.tanh(x) ** 2, q) - q, 0.5 * g2 - 0.5)
    chi = g2 * mean(lambda x: mpmath.sech(x) ** 4, q)
    assert theory.mean_field_q(gain) == pytest.approx(float(q), rel=1e-10)
    assert theory.mean_field_lyapunov(gain) == pytest.approx(float(mpmath.log(chi) / 2), rel=1e-8)


def _mean_field_reference(gains, mpmath):
    """q* and λ for each gain, sharing no code with gradflow.theory: Newton's method on
    F(q) = g² E[tanh²(√q z)] − q in float64 with 80-point Gauss–Hermite sums (from q = g²,
    where F < 0 and, F being concave, the iterates fall monotonically to the root; it stalls
    at a relative 1e-16/ε), then polished by Newton steps with mpmath quadrature at 25
    digits."""
    z, w = np.polynomial.hermite_e.hermegauss(80)
    w = w / math.sqrt(2 * math.pi)
    g2 = gains[:, None] ** 2
    q = gains**2
    for _ in range(60):  # enough to fall from g² to 1e-5 (halving) and then converge
        s = np.sqrt(q)[:, None]
        t = np.tanh(s * z)
        F = np.sum(w * g2 * t**2, axis=1) - q
        dF = np.sum(w * g2 * t * (1 - t**2) * z / s, axis=1) - 1
        q = q - F / dF

    def mean(f, q):
        s = mpmath.sqrt(q)
        value = mpmath.quad(lambda z: f(s * z, z) * mpmath.exp(-z * z / 2), [0, 12])  # tail e⁻⁷²
        return 2 * value / mpmath.sqrt(2 * mpmath.pi)

    out = []
    with mpmath.workdps(25):
        for gain, start in zip(gains, q):
            g2 = mpmath.mpf(gain) ** 2
            q = mpmath.mpf(start)
            slope = g2 * mean(lambda x, z: mpmath.tanh(x) * mpmath.sech(x) ** 2 * z, q)
            slope = slope / mpmath.sqrt(q) - 1  # F'(start): close enough to F'(q*) to converge
            for _ in range(5):
                step = (g2 * mean(lambda x, z: mpmath.tanh(x) ** 2, q) - q) / slope
                q -= step
                if abs(step) < mpmath.mpf(10) ** -18 * q:  # 1e-25 / ε is its noise floor
                    break
            else:
                raise AssertionError(f"mpmath's Newton iteration did not converge at gain {gain}")
            chi = g2 * mean(lambda x, z: mpmath.sech(x) ** 4, q)
            out.append((float(q), float(mpmath.log(chi) / 2)))
    return np.array(out).T


def test_mean_field_matches_mpmath_on_a_dense_grid_across_the_series_switch():
    # The series serves ε = 1 − 1/g² < 1e-3, quadrature above: 32 gains spread over
    # 1 < g < 1.2 and 8 with ε within 10 % of the switch, 4 on either side of it.
    mpmath = pytest.importorskip("mpmath")
    eps = 1e-3 * (1 + np.array([-0.1, -1e-4, -1e-8, -1e-12, 1e-12, 1e-8, 1e-4, 0.1]))
    near = 1 / np.sqrt(1 - eps)
    assert np.count_nonzero(1 - 1 / near**2 < 1e-3) == 4  # as the code computes ε
    gains = np.sort(np.concatenate([1 + np.geomspace(1e-5, 0.199, 32), near]))
    q, lam = _mean_field_reference(gains, mpmath)
    # Measured: q* within 4e-12 (the float64 rounding of ε where g − 1 is 1e-5), λ within
    # 3.4e-9 (the truncated series for χ − 1 at the switch); a series region widened to
    # ε < 0.05 errs by 2e-4 in λ and 4e-6 in q*, one widened to ε < 2e-3 by 1.8e-8 in λ.
    np.testing.assert_allclose(theory.mean_field_q(gains), q, rtol=1e-10, atol=0)
    np.testing.assert_allclose(theory.mean_field_lyapunov(gains), lam, rtol=1e-8, atol=0)


@pytest.mark.parametrize("gain", [10.0, 100.0])
def test_mean_field_matches_dense_trapezoid_at_large_gain(gain):
    z = np.linspace(-12.0, 12.0, 2_400_001)  # spacing 1e-5 resolves the 1/g-wide tanh dip
    density = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    q, lam = theory.mean_field_q(gain), theory.mean_field_lyapunov(gain)
    x = math.sqrt(q) * z
    fixed_point = gain**2 * integrate.trapezoid(np.tanh(x) ** 2 * density, z)
    chi = gain**2 * integrate.trapezoid(np.cosh(np.minimum(np.abs(x), 700)) ** -4 * density, z)
    assert fixed_point == pytest.approx(q, rel=1e-10)
    assert lam == pytest.approx(0.5 * math.log(chi), rel=1e-9)


def test_mean_field_large_gain_asymptotics():
    for gain in (1e3, 1e4):
        assert abs(theory.mean_field_q(gain) - (gain**2 - gain * math.sqrt(2 / math.pi))) < 1.0
    big = 1e4
    asymptote = 0.5 * math.log(4 * big / (3 * math.sqrt(2 * math.pi)))
    assert theory.mean_field_lyapunov(big) == pytest.approx(asymptote, abs=1e-3)


@pytest.mark.parametrize("gain", [2.0, 10.0])
def test_mean_field_fixed_point_by_monte_carlo(gain):
    q = theory.mean_field_q(gain)
    samples = gain**2 * np.tanh(math.sqrt(q) * np.random.default_rng(2).normal(size=10**6)) ** 2
    stderr = samples.std(ddof=1) / math.sqrt(samples.size)
    assert abs(samples.mean() - q) < 4 * stderr


def test_mean_field_lyapunov_matches_a_finite_tanh_network():
    n, gain, burn_in, steps = 400, 2.0, 200, 1500
    estimates = []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        w = _gaussian(n, gain, rng)
        h, u, total = rng.normal(size=n), rng.normal(size=n), 0.0
        for t in range(burn_in + steps):
            h = np.tanh(w @ h)
            u = (1.0 - h * h) * (w @ u)
            norm = np.linalg.norm(u)
            u /= norm
            total += math.log(norm) if t >= burn_in else 0.0
        estimates.append(total / steps)
    # finite-N bias is about -0.006 at N = 400; spread of a mean over 3 networks about 0.003
    assert np.mean(estimates) == pytest.approx(theory.mean_field_lyapunov(gain), abs=0.02)


@pytest.mark.parametrize("func", [theory.mean_field_q, theory.mean_field_lyapunov])
@pytest.mark.parametrize(
    ("gain", "exc"),
    [(0.0, ValueError), (-2.0, ValueError), (np.nan, ValueError), ("x", TypeError)],
)
def test_mean_field_rejects_bad_gain(func, gain, exc):
    with pytest.raises(exc, match="gain"):
        func(gain)


# --- Pascanu, Mikolov & Bengio (2013) ------------------------------------------------------


def test_activation_gamma_matches_numerical_sup_of_derivative():
    x = np.linspace(-10.0, 10.0, 200_001)
    functions = {
        "tanh": np.tanh,
        "relu": lambda x: np.maximum(x, 0.0),
        "linear": lambda x: x,
        "sigmoid": special.expit,
    }
    for name, phi in functions.items():
        sup = np.max(np.abs(np.gradient(phi(x), x)))
        assert theory.activation_gamma(name) == pytest.approx(sup, rel=1e-6)
    with pytest.raises(ValueError, match="activation") as info:
        theory.activation_gamma("gelu")
    assert "\n" not in str(info.value)


def test_pascanu_regime_labels():
    assert theory.pascanu_regime(0.99) == "vanishing"
    assert theory.pascanu_regime(1.0) == "boundary"
    assert theory.pascanu_regime(1.01, "relu") == "may explode"
    assert theory.pascanu_regime(3.9, "sigmoid") == "vanishing"
    assert theory.pascanu_regime(4.0, "sigmoid") == "boundary"
    assert theory.pascanu_regime(4.1, "sigmoid") == "may explode"
    with pytest.raises(ValueError, match="sigma_max"):
        theory.pascanu_regime(-1.0)
    with pytest.raises(ValueError, match="activation"):
        theory.pascanu_regime(1.0, "softplus")


def test_vanishing_regime_bounds_a_real_jacobian_product():
    rng = np.random.default_rng(3)
    w = _gaussian(50, 1.0, rng)
    sigma_max = 0.9
    w *= sigma_max / np.linalg.norm(w, 2)
    assert theory.pascanu_regime(sigma_max, "tanh") == "vanishing"
    h, product = rng.normal(size=50), np.eye(50)
    for t in range(1, 41):
        h = np.tanh(w @ h + rng.normal(size=50))
        product = ((1.0 - h * h)[:, None] * w) @ product
        assert np.linalg.norm(product, 2) <= sigma_max**t * (1 + 1e-12)


def test_linear_vanishing_with_non_normal_matrix():
    # ρ = 0.9 but σ_max ≈ 50: transient growth, then W^t -> 0 as ρ < 1 promises
    w = np.array([[0.9, 50.0], [0.0, 0.5]])
    rho = max(abs(np.linalg.eigvals(w)))
    assert theory.linear_vanishing(rho) is True
    assert np.linalg.norm(np.linalg.matrix_power(w, 5), 2) > 1.0
    assert np.linalg.norm(np.linalg.matrix_power(w, 400), 2) < 1e-12
    grow = np.array([[1.1, 0.0], [0.0, 0.2]])
    assert theory.linear_vanishing(max(abs(np.linalg.eigvals(grow)))) is False
    assert np.linalg.norm(np.linalg.matrix_power(grow, 400), 2) > 1e12
    assert theory.linear_vanishing([0.5, 1.0]).tolist() == [True, False]
    with pytest.raises(ValueError, match="spectral_radius"):
        theory.linear_vanishing(-0.1)


def test_gaussian_sigma_max_is_twice_the_spectral_radius():
    gain, n = 1.3, 400
    w = _gaussian(n, gain, np.random.default_rng(4))
    assert np.linalg.norm(w, 2) == pytest.approx(2 * gain, rel=0.05)
    rho = max(abs(np.linalg.eigvals(w)))
    assert rho == pytest.approx(theory.circular_law_radius(gain), rel=0.05)


# --- circular law and real eigenvalues -----------------------------------------------------


def test_circular_law_against_sampled_eigenvalues():
    gain, n = 1.7, 400
    moduli = np.abs(np.linalg.eigvals(_gaussian(n, gain, np.random.default_rng(5))))
    radii = np.array([0.25, 0.5, 0.75]) * gain
    empirical = (moduli[:, None] <= radii).mean(axis=0)
    np.testing.assert_allclose(empirical, theory.circular_law_radial_cdf(radii, gain), atol=0.03)
    assert theory.circular_law_radial_cdf(2 * gain, gain) == 1.0


def test_circular_law_density_integrates_to_one():
    for gain in (0.5, 2.0):
        total, _ = integrate.quad(
            lambda r, gain=gain: 2 * math.pi * r * theory.circular_law_density(r, gain),
            0,
            3 * gain,
            points=[gain],
        )
        assert total == pytest.approx(1.0, rel=1e-10)
    assert theory.circular_law_density(np.array([0.1, 5.0]), 2.0).shape == (2,)
    with pytest.raises(ValueError, match="r:"):
        theory.circular_law_density(-1.0, 1.0)
    with pytest.raises(ValueError, match="gain"):
        theory.circular_law_radius(0.0)


def test_expected_real_eigenvalues_published_values():
    assert theory.expected_real_eigenvalues(1) == pytest.approx(1.0, rel=1e-14)
    assert theory.expected_real_eigenvalues(4) == pytest.approx(11 * math.sqrt(2) / 8, rel=1e-12)
    assert theory.expected_real_eigenvalues(10) == pytest.approx(2.927993, abs=1e-6)


def test_expected_real_eigenvalues_matches_double_factorial_sums():
    for n in range(1, 31):
        if n % 2 == 0:
            terms = [
                Fraction(_double_factorial(4 * k - 1), _double_factorial(4 * k))
                for k in range(n // 2)
            ]
            exact = math.sqrt(2) * float(sum(terms))
        else:
            terms = [
                Fraction(_double_factorial(4 * k - 3), _double_factorial(4 * k - 2))
                for k in range(1, (n - 1) // 2 + 1)
            ]
            exact = 1 + math.sqrt(2) * float(sum(terms, Fraction(0)))
        assert theory.expected_real_eigenvalues(n) == pytest.approx(exact, rel=1e-12)


def test_expected_real_eigenvalues_monte_carlo_and_asymptote():
    eig = np.linalg.eigvals(np.random.default_rng(6).normal(size=(4000, 5, 5)))
    counts = np.count_nonzero(eig.imag == 0, axis=1)
    stderr = counts.std(ddof=1) / math.sqrt(counts.size)
    assert abs(counts.mean() - theory.expected_real_eigenvalues(5)) < 4 * stderr
    n = 10**4
    assert theory.expected_real_eigenvalues(n) - math.sqrt(2 * n / math.pi) == pytest.approx(
        0.5, abs=0.01
    )


@pytest.mark.parametrize(("n", "exc"), [(0, ValueError), (2.5, TypeError), (True, TypeError)])
def test_expected_real_eigenvalues_rejects_bad_n(n, exc):
    with pytest.raises(exc, match="n:"):
        theory.expected_real_eigenvalues(n)


# --- Fuss-Catalan --------------------------------------------------------------------------


def test_fuss_catalan_first_moments_and_catalan_numbers():
    for depth in range(1, 7):
        assert theory.fuss_catalan_moment(depth, 0) == 1
        assert theory.fuss_catalan_moment(depth, 1) == 1
        assert theory.fuss_catalan_moment(depth, 2) == depth + 1
    assert [theory.fuss_catalan_moment(1, k) for k in range(8)] == [
        1,
        1,
        2,
        5,
        14,
        42,
        132,
        429,
    ]


@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_fuss_catalan_generating_function(depth):
    # B(z) = 1 + z B(z)^(L+1): compare power-series coefficients with exact integers
    order = 12
    coeffs = [1] + [0] * order
    for k in range(1, order + 1):
        power = [1] + [0] * order
        for _ in range(depth + 1):
            power = [sum(power[i] * coeffs[j - i] for i in range(j + 1)) for j in range(order + 1)]
        coeffs[k] = power[k - 1]
    assert coeffs == [theory.fuss_catalan_moment(depth, k) for k in range(order + 1)]


def test_fuss_catalan_edge():
    assert theory.fuss_catalan_edge(1) == pytest.approx(4.0, rel=1e-15)
    assert theory.fuss_catalan_edge(10) == pytest.approx(11**11 / 10**10, rel=1e-13)
    for depth in (1, 2, 4):  # m_{k+1}/m_k -> edge as k -> infinity
        ratio = theory.fuss_catalan_moment(depth, 3001) / theory.fuss_catalan_moment(depth, 3000)
        assert ratio == pytest.approx(theory.fuss_catalan_edge(depth), rel=2e-3)
    for bad, exc in [(0, ValueError), (1.0, TypeError)]:
        with pytest.raises(exc, match="depth"):
            theory.fuss_catalan_edge(bad)
    with pytest.raises(ValueError, match="k:"):
        theory.fuss_catalan_moment(2, -1)


def test_fuss_catalan_monte_carlo_product():
    n, depth = 400, 4
    rng = np.random.default_rng(7)
    product = np.eye(n)
    for _ in range(depth):
        product = _gaussian(n, 1.0, rng) @ product
    squared = np.linalg.svd(product, compute_uv=False) ** 2
    assert squared.mean() == pytest.approx(theory.fuss_catalan_moment(depth, 1), rel=0.1)
    assert squared.var() == pytest.approx(
        theory.fuss_catalan_moment(depth, 2) - 1, rel=0.1
    )  # variance = m2 − m1² = L
    assert squared.max() <= 1.1 * theory.fuss_catalan_edge(depth)
