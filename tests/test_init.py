"""Tests of gradflow.init: shapes, exact identities and the distributions of the draws."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from gradflow import init

NAMES = ("orthogonal", "gaussian", "identity", "glorot_uniform", "uniform")
RANDOM_NAMES = tuple(name for name in NAMES if name != "identity")


# --------------------------------------------------------------------------- registry


def test_available_order_and_get():
    assert init.available() == NAMES
    for name in NAMES:
        assert init.get(name) is getattr(init, name)


@pytest.mark.parametrize("bad", ["nope", "Orthogonal", 3, None])
def test_get_unknown_name_lists_available(bad):
    with pytest.raises(ValueError) as info:
        init.get(bad)
    message = str(info.value)
    assert "name" in message and "\n" not in message
    for name in NAMES:
        assert name in message


# --------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n", [1, 2, 7])
def test_shape_and_dtype(name, n):
    W = init.get(name)(n, rng=0)
    assert W.shape == (n, n) and W.dtype == np.float64
    Wb = init.get(name)(n, rng=0, batch=3)
    assert Wb.shape == (3, n, n) and Wb.dtype == np.float64
    assert np.all(np.isfinite(Wb))


@pytest.mark.parametrize("name", RANDOM_NAMES)
def test_batch_members_are_independent_draws(name):
    f = init.get(name)
    Wb = f(6, gain=1.3, rng=5, batch=4)
    for i in range(4):
        for j in range(i + 1, 4):
            assert not np.allclose(Wb[i], Wb[j])
    # The batch is one block from one generator: its first matrix is the unbatched draw.
    np.testing.assert_allclose(Wb[0], f(6, gain=1.3, rng=5), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", RANDOM_NAMES)
def test_reproducible_with_seed_and_different_seeds_differ(name):
    f = init.get(name)
    np.testing.assert_array_equal(f(5, rng=42), f(5, rng=42))
    g1, g2 = np.random.default_rng(3), np.random.default_rng(3)
    np.testing.assert_array_equal(f(5, rng=g1, batch=2), f(5, rng=g2, batch=2))
    assert not np.allclose(f(5, rng=1), f(5, rng=2))
    # A Generator passed in advances: two calls on it give different matrices.
    g = np.random.default_rng(0)
    assert not np.allclose(f(5, rng=g), f(5, rng=g))


# --------------------------------------------------------------------------- identity


@pytest.mark.parametrize("gain", [0.5, 1.0, 2.5])
def test_identity_exact(gain):
    np.testing.assert_array_equal(init.identity(4, gain=gain), gain * np.eye(4))
    np.testing.assert_array_equal(
        init.identity(4, gain=gain, rng=1), init.identity(4, gain=gain, rng=2)
    )
    Wb = init.identity(3, gain=gain, batch=2)
    np.testing.assert_array_equal(Wb, np.stack([gain * np.eye(3)] * 2))
    Wb[0, 0, 0] = 99.0  # a writable copy, not a broadcast view
    assert Wb[1, 0, 0] == gain


# --------------------------------------------------------------------------- orthogonal


@pytest.mark.parametrize("gain", [0.3, 1.0, 2.0])
@pytest.mark.parametrize("n", [1, 2, 5, 64])
def test_orthogonal_gram_is_gain_squared_identity(n, gain):
    Q = init.orthogonal(n, gain=gain, rng=11)
    np.testing.assert_allclose(Q.T @ Q, gain**2 * np.eye(n), rtol=0, atol=1e-12 * max(1, gain**2))
    np.testing.assert_allclose(Q @ Q.T, gain**2 * np.eye(n), rtol=0, atol=1e-12 * max(1, gain**2))
    Qb = init.orthogonal(n, gain=gain, rng=11, batch=3)
    gram = np.swapaxes(Qb, -1, -2) @ Qb
    np.testing.assert_allclose(
        gram, np.broadcast_to(gain**2 * np.eye(n), gram.shape), atol=1e-12 * max(1, gain**2)
    )


def _orthogonal_without_sign_fix(n, batch, rng):
    """The common mistake: Q of the QR factorisation of a Gaussian matrix, signs as they come."""
    q, _ = np.linalg.qr(np.random.default_rng(rng).standard_normal((batch, n, n)))
    return q


# For Haar O(n), the first column is uniform on the sphere S^{n-1}, so the entry x = Q_11 has
# density proportional to (1 - x^2)^((n-3)/2) on [-1, 1]:  (Q_11 + 1) / 2 ~ Beta((n-1)/2, (n-1)/2).
# (For n = 2 this is the arcsine law of cos(theta), theta uniform.)
@pytest.mark.parametrize("n", [2, 3, 6])
def test_orthogonal_entry_follows_haar_law_and_the_unfixed_qr_does_not(n):
    draws = 4000
    law = stats.beta((n - 1) / 2, (n - 1) / 2)
    haar = init.orthogonal(n, rng=2024, batch=draws)
    p_haar = stats.kstest((haar[:, 0, 0] + 1) / 2, law.cdf).pvalue
    assert p_haar > 1e-3
    # Any entry has the same law (Haar measure is invariant under permutations).
    assert stats.kstest((haar[:, -1, 1 % n] + 1) / 2, law.cdf).pvalue > 1e-3
    unfixed = _orthogonal_without_sign_fix(n, draws, rng=2024)
    p_unfixed = stats.kstest((unfixed[:, 0, 0] + 1) / 2, law.cdf).pvalue
    assert p_unfixed < 1e-12


def test_orthogonal_trace_moments_and_the_unfixed_qr_fails_them():
    # For Haar O(n), n >= 2: E[tr Q] = 0 and E[tr(Q)^2] = 1 exactly.
    n, draws = 8, 6000
    for sample, should_pass in [
        (init.orthogonal(n, rng=7, batch=draws), True),
        (_orthogonal_without_sign_fix(n, draws, rng=7), False),
    ]:
        trace = np.trace(sample, axis1=-2, axis2=-1)
        z_mean = trace.mean() / (trace.std(ddof=1) / math.sqrt(draws))
        z_square = (np.mean(trace**2) - 1.0) / ((trace**2).std(ddof=1) / math.sqrt(draws))
        passed = bool(abs(z_mean) < 4.5 and abs(z_square) < 4.5)
        assert passed is should_pass, (z_mean, z_square)


def test_orthogonal_gain_scales_the_same_draw():
    np.testing.assert_allclose(
        init.orthogonal(5, gain=3.0, rng=1), 3.0 * init.orthogonal(5, rng=1), rtol=1e-14
    )


# --------------------------------------------------------------------------- gaussian


@pytest.mark.parametrize("gain", [0.5, 1.0, 3.0])
def test_gaussian_entries_have_variance_gain_squared_over_n(gain):
    n = 200
    entries = init.gaussian(n, gain=gain, rng=99).ravel()
    count = entries.size
    target = gain**2 / n
    # Sample variance of N normal draws has relative standard deviation sqrt(2 / (N - 1)).
    assert abs(entries.var(ddof=1) / target - 1) < 5 * math.sqrt(2 / (count - 1))
    assert abs(entries.mean()) < 5 * math.sqrt(target / count)
    assert stats.kstest(entries, "norm", args=(0.0, math.sqrt(target))).pvalue > 1e-3


# --------------------------------------------------------------------------- uniform families


@pytest.mark.parametrize(
    ("name", "bound"),
    [
        ("glorot_uniform", lambda n, gain: gain * math.sqrt(6 / (n + n))),
        ("uniform", lambda n, gain: gain / math.sqrt(n)),
    ],
)
@pytest.mark.parametrize("gain", [0.7, 1.0, 2.0])
def test_uniform_families_bounds_variance_and_law(name, bound, gain):
    n = 200
    a = bound(n, gain)
    entries = init.get(name)(n, gain=gain, rng=123).ravel()
    count = entries.size
    assert np.abs(entries).max() <= a
    assert np.abs(entries).max() > 0.999 * a  # the bound is reached, not a smaller one
    # Var U(-a, a) = a^2/3; the variance estimate has relative sd sqrt(Var(X^2)) / E[X^2]
    # = sqrt(4 a^4 / 45) / (a^2 / 3) / sqrt(N) = sqrt(0.8 / N).
    assert abs(entries.var() / (a**2 / 3) - 1) < 5 * math.sqrt(0.8 / count)
    assert stats.kstest(entries, "uniform", args=(-a, 2 * a)).pvalue > 1e-3


def test_glorot_has_the_gaussian_variance():
    n = 150
    glorot = init.glorot_uniform(n, gain=1.7, rng=0)
    assert abs(glorot.var() / (1.7**2 / n) - 1) < 5 * math.sqrt(0.8 / n**2)


def test_uniform_matches_torch_rnn_default():
    torch = pytest.importorskip("torch")
    n = 64
    with torch.random.fork_rng():
        torch.manual_seed(0)
        weights = torch.nn.RNN(3, n).weight_hh_l0.detach().double().numpy().ravel()
    ours = init.uniform(n, rng=0).ravel()
    bound = 1 / math.sqrt(n)
    assert np.abs(weights).max() <= bound + 1e-7
    assert stats.ks_2samp(ours, weights).pvalue > 1e-3


# --------------------------------------------------------------------------- bad input


BAD_INPUTS = [
    ({"n": 0}, "n"),
    ({"n": -3}, "n"),
    ({"n": 2.5}, "n"),
    ({"n": 2.0}, "n"),
    ({"n": True}, "n"),
    ({"n": "4"}, "n"),
    ({"n": 3, "gain": 0}, "gain"),
    ({"n": 3, "gain": -1.0}, "gain"),
    ({"n": 3, "gain": float("nan")}, "gain"),
    ({"n": 3, "gain": float("inf")}, "gain"),
    ({"n": 3, "gain": True}, "gain"),
    ({"n": 3, "gain": "1"}, "gain"),
    ({"n": 3, "batch": 0}, "batch"),
    ({"n": 3, "batch": 2.0}, "batch"),
    ({"n": 3, "batch": False}, "batch"),
    ({"n": 3, "rng": "seed"}, "rng"),
    ({"n": 3, "rng": 1.5}, "rng"),
    ({"n": 3, "rng": -1}, "rng"),
]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("kwargs", "argument"), BAD_INPUTS)
def test_bad_input_raises_one_line_error_naming_the_argument(name, kwargs, argument):
    kwargs = dict(kwargs)
    n = kwargs.pop("n")
    with pytest.raises((ValueError, TypeError)) as info:
        init.get(name)(n, **kwargs)
    message = str(info.value)
    assert message.startswith(f"{argument}:")
    assert "\n" not in message


@pytest.mark.parametrize("name", NAMES)
def test_arguments_after_n_are_keyword_only(name):
    with pytest.raises(TypeError):
        init.get(name)(3, 2.0)
