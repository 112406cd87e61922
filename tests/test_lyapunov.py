"""gradflow.lyapunov against known answers: Newman's Gaussian spectrum, eigenvalues of a fixed
map, QR every step, dense Jacobians, one network at a time, and exact zeros."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gradflow import lyapunov
from gradflow.cells import Elman
from gradflow.lyapunov import (
    LyapunovSpectrum,
    along,
    batch_means,
    finite_time,
    kaplan_yorke_dimension,
    spectrum,
)

try:
    from gradflow.theory import gaussian_product_lyapunov
except ImportError:  # pragma: no cover - theory is written in parallel
    from scipy.special import digamma

    def gaussian_product_lyapunov(n, variance):
        i = np.arange(1, n + 1)
        return 0.5 * (np.log(2 * variance) + digamma((n - i + 1) / 2))


def gaussian_stream(n, steps, variance, seed):
    """i.i.d. (n, n) Gaussian matrices, one at a time (a generator: consumed once)."""
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        yield rng.normal(0.0, np.sqrt(variance), (n, n))


def tanh_network(n, gain, steps, seed=0, batch=None):
    rng = np.random.default_rng(seed)
    shape = (n, n) if batch is None else (batch, n, n)
    cell = Elman(gain * rng.standard_normal(shape) / np.sqrt(n))
    h0 = rng.standard_normal(shape[:-1])
    h0 = cell.run(100, h0).states[-1]  # start on the attractor
    return cell, cell.run(steps, h0)


def dense_jacobians(cell, traj):
    return np.stack([cell.jacobian(traj, t) for t in range(1, traj.n_steps + 1)])


# -- known answers ------------------------------------------------------------------------------
@pytest.mark.parametrize("n, steps", [(4, 20000), (16, 6000)])
def test_iid_gaussian_products_give_newmans_spectrum(n, steps):
    variance = 1.0 / n
    exact = gaussian_product_lyapunov(n, variance)
    result = spectrum(gaussian_stream(n, steps, variance, seed=n), rng=0)
    z = (result.exponents - exact) / result.stderr
    assert np.all(np.abs(z) < 4.5), z
    assert np.all(result.stderr < 0.02)
    assert result.n_steps == steps


def test_standard_errors_are_calibrated_on_gaussian_products():
    # For i.i.d. Gaussian matrices the diagonals of the per-step QR are independent across
    # steps and exponents (rotation invariance; the Bartlett decomposition), so with 16 batches
    # of one 16-step interval each, z = (λ̂ − λ)/stderr is Student t with 15 degrees of freedom
    # (batch means taken as normal). Then u = Φ⁻¹(F_t(z)) ~ N(0, 1) and Σu² over the K z-scores
    # is χ²_K: the RMS window fails correct standard errors with probability 1e-4, and errors
    # 5 % too large or too small (RMS ≈ 0.955 or 1.047) miss it by about 6 standard deviations
    # (16 other seeds with 5000 networks: RMS 0.998 ± 0.006, as χ²_K predicts). The bottom
    # exponent (sums of ln χ²_1, strongly skewed) is left out. QR every 16 steps (a spread of
    # 19 nats) runs the 8000 networks as one batch; "adaptive" factorises them one by one.
    n, k, steps, interval, networks = 4, 3, 256, 16, 8000
    variance = 1.0 / n
    exact = gaussian_product_lyapunov(n, variance)[:k]
    rng = np.random.default_rng(0)
    stream = (rng.normal(0.0, np.sqrt(variance), (networks, n, n)) for _ in range(steps))
    result = spectrum(stream, k, local_steps=interval, reortho=interval, rng=0)
    n_batches = round(np.sqrt(steps))  # batch_means' default, here one interval per batch
    assert n_batches == steps // interval
    z = (result.exponents - exact) / result.stderr
    u = stats.norm.ppf(stats.t.cdf(z, n_batches - 1))
    false_failure = 1e-4
    low, high = np.sqrt(stats.chi2.ppf([false_failure / 2, 1 - false_failure / 2], u.size) / u.size)
    assert low < np.sqrt(np.mean(u**2)) < high, (low, np.sqrt(np.mean(u**2)), high)
    assert abs(np.mean(z)) < 0.5


@pytest.mark.parametrize("reortho", ["adaptive", 1, 5])
def test_fixed_linear_map_gives_log_moduli_of_its_eigenvalues(reortho):
    rng = np.random.default_rng(3)
    W = rng.standard_normal((6, 6)) / np.sqrt(6)  # real and complex eigenvalues
    exact = np.sort(np.log(np.abs(np.linalg.eigvals(W))))[::-1]
    stream = np.broadcast_to(W, (4000, 6, 6))
    result = spectrum(stream, burn_in=200, reortho=reortho, rng=0)
    np.testing.assert_allclose(result.exponents, exact, atol=3e-3)
    top = spectrum(stream, k=3, burn_in=200, reortho=reortho, rng=0)
    np.testing.assert_allclose(top.exponents, exact[:3], atol=3e-3)


def test_burn_in_discards_the_transient_exactly():
    # Upper triangular W keeps the standard flag: once the frame is aligned, R_t = W exactly.
    W = np.array([[2.0, 1.0, -3.0], [0.0, 1.0, 0.5], [0.0, 0.0, 0.25]])
    stream = np.broadcast_to(W, (300, 3, 3))
    exact = np.log([2.0, 1.0, 0.25])
    for reortho in ("adaptive", 1):
        aligned = spectrum(stream, burn_in=80, reortho=reortho, rng=0)
        assert aligned.n_steps == 220 and aligned.burn_in == 80
        np.testing.assert_allclose(aligned.exponents, exact, atol=1e-12)
        transient = spectrum(stream, reortho=reortho, rng=0)
        assert np.abs(transient.exponents - exact).max() > 1e-4


def test_adjoint_exponents_of_a_linear_map_are_the_same():
    rng = np.random.default_rng(5)
    W = rng.standard_normal((5, 5)) / np.sqrt(5)
    exact = np.sort(np.log(np.abs(np.linalg.eigvals(W))))[::-1]
    cell = Elman(W, activation="linear")
    traj = cell.run(3000, rng.standard_normal(5))
    for adjoint in (False, True):
        result = along(cell, traj, burn_in=200, adjoint=adjoint, rng=0)
        np.testing.assert_allclose(result.exponents, exact, atol=3e-3)


# -- agreement between methods ------------------------------------------------------------------
@pytest.mark.parametrize("n", [64, 128])
def test_adaptive_agrees_with_qr_every_step_on_a_chaotic_network(n):
    cell, traj = tanh_network(n, 2.0, 800, seed=n)
    every_step = along(cell, traj, burn_in=50, reortho=1, rng=0)
    adaptive = along(cell, traj, burn_in=50, rng=0)
    assert every_step.exponents[0] > 3 * every_step.stderr[0]  # chaotic
    np.testing.assert_allclose(adaptive.exponents, every_step.exponents, atol=1e-3, rtol=0)
    assert np.abs(adaptive.exponents - every_step.exponents).max() < 1e-5  # in practice
    assert adaptive.n_factorizations < 0.6 * every_step.n_factorizations
    np.testing.assert_allclose(adaptive.stderr, every_step.stderr, rtol=1e-2)


def test_along_agrees_with_spectrum_of_the_dense_jacobians():
    cell, traj = tanh_network(32, 2.0, 400)  # chaotic: lambda_1 about 0.08
    jacobians = dense_jacobians(cell, traj)
    for kwargs in ({}, {"reortho": 3}, {"k": 5}, {"k": 1}):
        via_cell = along(cell, traj, burn_in=20, **kwargs, rng=0)
        dense = spectrum(jacobians, burn_in=20, **kwargs, rng=0)
        streamed = spectrum(iter(list(jacobians)), burn_in=20, **kwargs, rng=0)
        # J(Y) through the cell rounds differently from dense J @ Y (1e-16 · max_growth noise)
        np.testing.assert_allclose(via_cell.exponents, dense.exponents, rtol=0, atol=1e-5)
        np.testing.assert_allclose(via_cell.stderr, dense.stderr, rtol=1e-4)
        np.testing.assert_array_equal(streamed.exponents, dense.exponents)


def test_adjoint_along_equals_spectrum_of_reversed_transposed_jacobians():
    cell, traj = tanh_network(16, 1.5, 300)
    backward = np.swapaxes(dense_jacobians(cell, traj), -1, -2)[::-1]
    np.testing.assert_allclose(
        along(cell, traj, adjoint=True, burn_in=10, rng=0).exponents,
        spectrum(backward, burn_in=10, rng=0).exponents,
        atol=1e-10,
    )


def test_batched_networks_agree_with_one_by_one():
    cell, traj = tanh_network(16, 2.0, 300, batch=3)
    for reortho, tol in (("adaptive", 1e-6), (1, 1e-10)):
        batched = along(cell, traj, burn_in=20, reortho=reortho, rng=0)
        assert batched.exponents.shape == batched.stderr.shape == (3, 16)
        dense = spectrum(dense_jacobians(cell, traj), burn_in=20, reortho=reortho, rng=0)
        np.testing.assert_allclose(dense.exponents, batched.exponents, atol=tol)
        for b in range(3):
            single = Elman(cell.W_hh[b])
            one = along(
                single, single.run(300, traj.states[0, b]), burn_in=20, reortho=reortho, rng=0
            )
            np.testing.assert_allclose(batched.exponents[b], one.exponents, rtol=0, atol=tol)
            np.testing.assert_allclose(batched.stderr[b], one.stderr, rtol=1e-3)
        assert batched.kaplan_yorke_dimension.shape == (3,)


def test_top_exponent_alone_equals_the_top_of_the_full_spectrum():
    cell, traj = tanh_network(32, 2.0, 500)
    full = along(cell, traj, burn_in=50, rng=0)
    top = along(cell, traj, k=1, burn_in=50, rng=0)
    assert top.exponents.shape == (1,)
    np.testing.assert_allclose(top.exponents[0], full.exponents[0], atol=1e-10)
    assert top.n_factorizations == 500  # renormalised every step, O(N) extra


def test_local_exponents_average_to_the_exponents():
    cell, traj = tanh_network(12, 1.5, 500)
    result = along(cell, traj, burn_in=13, local=True, local_steps=40, rng=0)
    assert result.local.shape == (13, 12) and result.local_steps.sum() == result.n_steps == 487
    assert result.local_steps[-1] == 487 - 12 * 40
    weighted = (result.local * result.local_steps[:, None]).sum(0) / result.n_steps
    np.testing.assert_allclose(weighted, result.exponents, atol=1e-12)
    mean, stderr = batch_means(result.local, result.local_steps)
    np.testing.assert_allclose(mean, result.exponents, atol=1e-12)
    np.testing.assert_allclose(stderr, result.stderr, rtol=1e-12)
    assert along(cell, traj, rng=0).local is None


def test_interval_totals_merge_into_bounded_memory():
    stream = np.random.default_rng(8).standard_normal((4500, 3, 3)) / np.sqrt(3)
    kept = spectrum(stream, local_steps=2, local=True, rng=0)  # 2250 intervals: all kept
    merged = spectrum(stream, local_steps=2, rng=0)  # more than 2048: merged pairwise
    np.testing.assert_allclose(merged.exponents, kept.exponents, atol=1e-12)
    np.testing.assert_allclose(merged.stderr, kept.stderr, rtol=0.3)
    assert kept.local.shape == (2250, 3)


def test_initial_frame_comes_from_rng():
    stream = np.random.default_rng(9).standard_normal((50, 4, 4))
    same = [spectrum(stream, rng=rng).exponents for rng in (5, np.random.default_rng(5))]
    np.testing.assert_array_equal(same[0], same[1])
    assert np.abs(spectrum(stream, rng=6).exponents - same[0]).max() > 1e-6  # finite-T effect


def test_finite_time_windows_average_to_the_exponents():
    cell, traj = tanh_network(10, 2.0, 300)
    for adjoint in (False, True):
        frame = finite_time(cell, traj, window=25, k=3, burn_in=50, adjoint=adjoint, rng=0)
        assert list(frame.columns) == ["window", "start", "stop", "index", "exponent"]
        assert len(frame) == 10 * 3 and set(frame["stop"] - frame["start"]) == {24}
        first = frame.iloc[0]
        assert (first.start, first.stop) == ((51, 75) if not adjoint else (226, 250))
        mean = frame.groupby("index")["exponent"].mean().to_numpy()
        whole = along(cell, traj, k=3, burn_in=50, adjoint=adjoint, rng=0).exponents
        np.testing.assert_allclose(mean, whole, atol=1e-10)


def test_finite_time_of_a_batch_has_a_network_column():
    cell, traj = tanh_network(8, 1.5, 60, batch=2)
    frame = finite_time(cell, traj, window=20, rng=0)
    assert list(frame.columns) == ["window", "start", "stop", "network", "index", "exponent"]
    assert len(frame) == 3 * 2


# -- exact zeros, huge and tiny growth ----------------------------------------------------------
@pytest.mark.parametrize("reortho", ["adaptive", 1])
def test_products_that_vanish_give_minus_infinity_not_nan(reortho):
    nilpotent = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    zeros = np.zeros((50, 3, 3))
    rng = np.random.default_rng(0)
    mixed = rng.standard_normal((60, 3, 3))
    mixed[30] = 0.0
    for stream in (zeros, np.broadcast_to(nilpotent, (50, 3, 3)), mixed):
        for k in (1, 2, 3):
            result = spectrum(stream, k=k, reortho=reortho, rng=0)
            assert np.all(result.exponents == -np.inf)
            assert np.all(result.stderr == 0.0)
    partial = spectrum(
        np.broadcast_to(np.diag([2.0, 0.0]), (40, 2, 2)), reortho=reortho, burn_in=2, rng=0
    )
    np.testing.assert_allclose(partial.exponents, [np.log(2.0), -np.inf])
    assert not np.isnan(partial.stderr).any()
    assert partial.kaplan_yorke_dimension == 1.0


@pytest.mark.parametrize("scale", [1e200, 1e-200])
def test_huge_and_tiny_jacobians_stay_finite(scale):
    stream = np.broadcast_to(scale * np.diag([1.0, 0.5, 0.25]), (40, 3, 3))
    for k in (1, 3):
        result = spectrum(stream, k=k, burn_in=30, rng=0)  # the frame aligns with the axes
        exact = np.log(scale) + np.log([1.0, 0.5, 0.25])[:k]
        np.testing.assert_allclose(result.exponents, exact, rtol=1e-9)


# -- results ------------------------------------------------------------------------------------
def test_kaplan_yorke_dimension_and_its_edge_cases():
    assert kaplan_yorke_dimension([0.5, -0.1, -1.0]) == pytest.approx(2 + 0.4 / 1.0)
    assert kaplan_yorke_dimension([-0.1, -0.2]) == 0.0
    assert kaplan_yorke_dimension([0.3, 0.1, -0.05]) == 3.0  # every partial sum >= 0
    assert kaplan_yorke_dimension([0.0]) == 1.0
    assert kaplan_yorke_dimension([0.2, -np.inf]) == 1.0
    batch = kaplan_yorke_dimension([[0.5, -0.1, -1.0], [-1.0, -2.0, -3.0]])
    np.testing.assert_allclose(batch, [2.4, 0.0])


def test_to_frame_is_tidy():
    result = LyapunovSpectrum(np.array([0.1, -0.5]), np.array([0.01, 0.02]), steps=10)
    frame = result.to_frame()
    assert list(frame.columns) == ["index", "exponent", "stderr"]
    assert frame["index"].tolist() == [1, 2]
    batched = LyapunovSpectrum(np.zeros((3, 2)), np.ones((3, 2)), steps=10).to_frame()
    assert list(batched.columns) == ["network", "index", "exponent", "stderr"]
    assert len(batched) == 6 and isinstance(batched, pd.DataFrame)


def test_batch_means_of_an_ar1_chain_knows_its_autocorrelation():
    # AR(1), phi = 0.9: var(mean) = var(x) * (1 + phi) / (1 - phi) / n, tau = 19 (emcee's test).
    rng = np.random.default_rng(42)
    phi, n = 0.9, 200_000
    noise = rng.standard_normal(n)
    x = np.empty(n)
    x[0] = noise[0] / np.sqrt(1 - phi**2)
    for i in range(1, n):
        x[i] = phi * x[i - 1] + noise[i]
    expected = np.sqrt(1 / (1 - phi**2) * (1 + phi) / (1 - phi) / n)
    mean, stderr = batch_means(x)
    assert abs(mean) < 4 * expected
    assert stderr == pytest.approx(expected, rel=0.2)
    naive = x.std() / np.sqrt(n)
    assert stderr > 3 * naive


def test_batch_means_weighs_intervals_by_their_steps():
    mean, stderr = batch_means([1.0, 4.0], steps=[3, 1])
    assert mean == pytest.approx(7.0 / 4.0)
    assert np.isfinite(stderr)
    assert batch_means([2.0], steps=[5])[1] == np.inf


# -- bad input ----------------------------------------------------------------------------------
def _one_line_error(exc_type, fn, name):
    with pytest.raises(exc_type) as info:
        fn()
    message = str(info.value)
    assert "\n" not in message and message.startswith(name), message


def test_bad_jacobians_give_one_line_errors():
    good = np.broadcast_to(np.eye(3), (10, 3, 3))
    nan = good.copy()
    nan[4, 1, 1] = np.nan
    cases = [
        (ValueError, lambda: spectrum(np.ones((10, 3, 4)), rng=0), "jacobians"),
        (ValueError, lambda: spectrum([np.eye(3), np.eye(3), np.eye(4)], rng=0), "jacobians"),
        (ValueError, lambda: spectrum([np.ones((2, 3))], rng=0), "jacobians"),
        (ValueError, lambda: spectrum(np.eye(3), rng=0), "jacobians"),
        (ValueError, lambda: spectrum(nan, rng=0), "jacobians"),
        (
            ValueError,
            lambda: spectrum(iter([np.eye(2), np.full((2, 2), np.inf)]), rng=0),
            "jacobians",
        ),
        (ValueError, lambda: spectrum([], rng=0), "jacobians"),
        (ValueError, lambda: spectrum(np.empty((0, 3, 3)), rng=0), "jacobians"),
        (ValueError, lambda: spectrum(iter([]), rng=0), "jacobians"),
        (TypeError, lambda: spectrum([np.eye(2) * 1j], rng=0), "jacobians"),
        (TypeError, lambda: spectrum(None, rng=0), "jacobians"),
        (ValueError, lambda: spectrum(good, k=4, rng=0), "k"),
        (ValueError, lambda: spectrum(good, k=0, rng=0), "k"),
        (TypeError, lambda: spectrum(good, k=1.5, rng=0), "k"),
        (ValueError, lambda: spectrum(good, burn_in=10, rng=0), "burn_in"),
        (ValueError, lambda: spectrum(iter(list(good)), burn_in=10, rng=0), "burn_in"),
        (ValueError, lambda: spectrum(good, burn_in=-1, rng=0), "burn_in"),
        (ValueError, lambda: spectrum(good, reortho="every", rng=0), "reortho"),
        (ValueError, lambda: spectrum(good, reortho=0, rng=0), "reortho"),
        (ValueError, lambda: spectrum(good, max_growth=1.0, rng=0), "max_growth"),
        (ValueError, lambda: spectrum(good, local_steps=0, rng=0), "local_steps"),
        (ValueError, lambda: spectrum(good, n_batches=1, rng=0), "n_batches"),
        (ValueError, lambda: batch_means([1.0, 2.0, 3.0], n_batches=1), "n_batches"),
        (ValueError, lambda: batch_means([1.0, 2.0], steps=[1, 0]), "steps"),
    ]
    for exc_type, fn, name in cases:
        _one_line_error(exc_type, fn, name)


def test_bad_cells_and_trajectories_give_one_line_errors():
    cell, traj = tanh_network(4, 1.0, 10)
    other = Elman(np.eye(5))
    cases = [
        (TypeError, lambda: along("cell", traj, rng=0), "cell"),
        (TypeError, lambda: along(cell, traj.states, rng=0), "traj"),
        (ValueError, lambda: along(other, traj, rng=0), "traj"),
        (ValueError, lambda: along(cell, traj, k=5, rng=0), "k"),
        (ValueError, lambda: along(cell, traj, burn_in=10, rng=0), "burn_in"),
        (ValueError, lambda: finite_time(cell, traj, window=11, rng=0), "window"),
        (ValueError, lambda: finite_time(cell, traj, window=5, burn_in=6, rng=0), "window"),
        (TypeError, lambda: finite_time(None, traj, window=2, rng=0), "cell"),
    ]
    for exc_type, fn, name in cases:
        _one_line_error(exc_type, fn, name)


def test_module_exports():
    assert set(lyapunov.__all__) >= {"spectrum", "along", "finite_time", "LyapunovSpectrum"}
