"""backprop, log_gradient_norms and log_product_norms against independent computations."""

import numpy as np
import pytest

from gradflow.cells import Elman
from gradflow.jacobians import backprop, log_gradient_norms, log_product_norms


def haar(n, rng):
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def tanh_cell(n=6, gain=1.5, batch=None, rng=0):
    rng = np.random.default_rng(rng)
    shape = (n, n) if batch is None else (batch, n, n)
    return Elman(gain * rng.standard_normal(shape) / np.sqrt(n))


def test_backprop_equals_transposed_dense_products():
    cell = tanh_cell()
    rng = np.random.default_rng(1)
    traj = cell.run(12, h0=rng.standard_normal(6))
    v = rng.standard_normal(6)
    adjoints = backprop(cell, traj, v)
    product = np.eye(6)
    for t in range(12, 0, -1):
        product = product @ cell.jacobian(traj, t)  # ∂s_T/∂s_{t-1}
        np.testing.assert_allclose(adjoints[t - 1], v @ product, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(adjoints[-1], v)


def test_backprop_with_a_cotangent_per_step_is_the_sum_of_single_ones():
    cell = tanh_cell(batch=3)
    rng = np.random.default_rng(2)
    traj = cell.run(8, h0=rng.standard_normal((3, 6)))
    c = rng.standard_normal(traj.states.shape)
    total = backprop(cell, traj, c)
    expected = np.zeros_like(total)
    for t in range(traj.n_steps + 1):
        sub = Elman(cell.W_hh).run(t, h0=traj.states[0]) if t else None
        if sub is None:
            expected[0] += c[0]
            continue
        expected[: t + 1] += backprop(cell, sub, c[t])
    np.testing.assert_allclose(total, expected, rtol=1e-12, atol=1e-13)


def test_log_gradient_norms_scaled_orthogonal_over_ten_thousand_steps():
    """W = 3Q, linear: ‖∂⟨v, h_T⟩/∂h_t‖ = 3^(T−t) exactly, far beyond float64's range."""
    n_steps = 10_000
    cell = Elman(3.0 * haar(8, np.random.default_rng(3)), activation="linear")
    traj = cell.run(n_steps)
    v = np.random.default_rng(4).standard_normal(8)
    v /= np.linalg.norm(v)
    log_norms = log_gradient_norms(cell, traj, v)
    expected = (n_steps - np.arange(n_steps + 1)) * np.log(3.0)
    assert np.all(np.isfinite(log_norms))
    np.testing.assert_allclose(log_norms, expected, rtol=1e-12, atol=1e-9)
    assert not np.all(np.isfinite(backprop(cell, traj, v)))  # exact adjoints overflow, by design


def test_log_gradient_norms_agree_with_exact_adjoints_where_finite():
    cell = tanh_cell(n=10, gain=2.5, batch=4)
    rng = np.random.default_rng(5)
    traj = cell.run(60, h0=rng.standard_normal((4, 10)))
    v = rng.standard_normal(10)  # shared by the batch
    exact = np.log(np.linalg.norm(backprop(cell, traj, v), axis=-1))
    np.testing.assert_allclose(log_gradient_norms(cell, traj, v), exact, rtol=1e-11, atol=1e-11)


def test_log_gradient_norms_batched_equals_one_by_one():
    cell = tanh_cell(n=7, batch=3)
    rng = np.random.default_rng(6)
    h0 = rng.standard_normal((3, 7))
    v = rng.standard_normal((3, 7))
    traj = cell.run(40, h0)
    batched = log_gradient_norms(cell, traj, v)
    for i in range(3):
        single = Elman(cell.W_hh[i])
        np.testing.assert_allclose(
            batched[:, i], log_gradient_norms(single, single.run(40, h0[i]), v[i]), rtol=1e-13
        )


def test_exact_zero_gradient_is_minus_infinity_not_nan():
    """A ReLU network whose units all switch off passes no gradient: log 0 = -inf, stated."""
    cell = Elman(-np.eye(3), b=-np.ones(3), activation="relu")
    traj = cell.run(5, h0=np.ones(3))
    log_norms = log_gradient_norms(cell, traj, np.ones(3))
    assert np.isfinite(log_norms[-1])
    assert np.all(np.isneginf(log_norms[:-1]))
    assert not np.any(np.isnan(log_norms))


def test_log_product_norms_against_dense_products():
    cell = tanh_cell(n=6, gain=1.3)
    traj = cell.run(30, h0=np.random.default_rng(7).standard_normal(6))
    log_norms = log_product_norms(cell, traj, end=25, max_depth=20)
    product = np.eye(6)
    for depth in range(1, 21):
        product = product @ cell.jacobian(traj, 25 - depth + 1)
        np.testing.assert_allclose(log_norms[depth - 1], np.log(np.linalg.norm(product, 2)))


def test_log_product_norms_deep_scaled_orthogonal_are_exact():
    cell = Elman(5.0 * haar(4, np.random.default_rng(8)), activation="linear")
    log_norms = log_product_norms(cell, cell.run(2000))
    np.testing.assert_allclose(log_norms, np.arange(1, 2001) * np.log(5.0), rtol=1e-12)


def test_bad_arguments_give_one_line_errors():
    cell = tanh_cell()
    traj = cell.run(5, h0=np.ones(6))
    cases = [
        (lambda: log_gradient_norms("cell", traj, np.ones(6)), "cell"),
        (lambda: log_gradient_norms(cell, traj, np.ones(5)), "v"),
        (lambda: log_gradient_norms(cell, traj, np.full(6, np.nan)), "v"),
        (lambda: backprop(cell, traj, np.ones((3, 6))), "v"),
        (lambda: backprop(tanh_cell(n=4), traj, np.ones(6)), "traj"),
        (lambda: log_product_norms(cell, traj, max_depth=6), "max_depth"),
        (lambda: log_product_norms(cell, traj, end=0), "end"),
    ]
    for call, name in cases:
        with pytest.raises((ValueError, TypeError)) as info:
            call()
        assert str(info.value).startswith(name) and "\n" not in str(info.value)
