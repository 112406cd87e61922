"""product_singular_values against direct SVDs, 250-digit arithmetic, orthogonal and normal
maps, and the Fuss–Catalan moments of products of independent Gaussian matrices."""

import numpy as np
import pytest
from _stack_cell import StackCell

from gradflow.cells import Elman
from gradflow.jacobians import product_singular_values
from gradflow.theory import fuss_catalan_moment


def product(jacobians, end, depth):
    """J_end ... J_{end-depth+1}, formed densely."""
    out = np.eye(jacobians.shape[-1])
    for t in range(end - depth + 1, end + 1):
        out = jacobians[t - 1] @ out
    return out


def test_shallow_products_agree_with_a_direct_svd():
    rng = np.random.default_rng(0)
    cell = Elman(1.5 * rng.standard_normal((20, 20)) / np.sqrt(20))
    traj = cell.run(12, rng.standard_normal(20))
    jacobians = np.stack([cell.jacobian(traj, t) for t in range(1, 13)])
    result = product_singular_values(cell, traj, [1, 2, 3, 5], end=10)
    assert result.log_singular_values.shape == (4, 20) and result.depths == (1, 2, 3, 5)
    for i, depth in enumerate(result.depths):
        direct = np.linalg.svd(product(jacobians, 10, depth), compute_uv=False)
        np.testing.assert_allclose(result.log_singular_values[i], np.log(direct), atol=1e-10)


def test_deep_products_agree_with_the_direct_svd_where_it_is_accurate():
    rng = np.random.default_rng(1)
    jacobians = rng.standard_normal((64, 96, 96)) / np.sqrt(96)
    cell = StackCell(jacobians)
    log_sv = product_singular_values(cell, cell.trajectory(), [16, 64]).log_singular_values
    for i, depth in enumerate((16, 64)):
        dense = product(jacobians, 64, depth)
        scale = np.linalg.norm(dense)
        direct = np.log(np.linalg.svd(dense / scale, compute_uv=False)) + np.log(scale)
        top = direct > direct[0] - np.log(1e4)  # relative error of the direct SVD < 1e-12 there
        np.testing.assert_allclose(log_sv[i][top], direct[top], atol=1e-10)
        assert log_sv[i][0] - log_sv[i][-1] > 50  # and the rest spans far beyond its reach


def _mpmath_log_sv(jacobians, digits):
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = digits
    out = mpmath.eye(jacobians.shape[-1])
    for J in jacobians:  # J_1 first: the product J_T ... J_1
        out = mpmath.matrix(J.tolist()) * out
    values = mpmath.svd_r(out, compute_uv=False)
    return np.sort([float(mpmath.log(v)) for v in values])[::-1]


@pytest.mark.parametrize("kind", ["graded", "clustered"])
def test_huge_spread_matches_250_digit_arithmetic(kind):
    rng = np.random.default_rng(2)
    n, depth = 6, 40
    if kind == "graded":  # singular values spread over ~340 nats (1e148)
        jacobians = np.diag(np.exp(-2.0 * np.arange(n))) @ rng.standard_normal((depth, n, n))
    else:  # near-equal singular values inside clusters, clusters 1e-3 apart per step
        rotations = np.linalg.qr(rng.standard_normal((depth, n, n)))[0]
        jacobians = rotations * np.array([1.0, 1.0, 1.001, 1e-3, 1.0001e-3, 1e-6])
    exact = _mpmath_log_sv(jacobians, 250)
    cell = StackCell(jacobians)
    log_sv = product_singular_values(cell, cell.trajectory(), depth).log_singular_values[0]
    assert exact[0] - exact[-1] > 300
    np.testing.assert_allclose(log_sv, exact, rtol=0, atol=1e-9)


def test_orthogonal_linear_products_keep_every_singular_value_at_one():
    rng = np.random.default_rng(3)
    Q = np.linalg.qr(rng.standard_normal((64, 64)))[0]
    cell = Elman(Q, activation="linear")
    result = product_singular_values(cell, cell.run(64), [1, 4, 16, 64])
    np.testing.assert_allclose(result.log_singular_values, 0.0, atol=1e-10)


def test_normal_map_powers_over_four_hundred_nats():
    # W = V diag(d) Vᵀ: the singular values of W^L are |d|^L exactly, in any order of d.
    rng = np.random.default_rng(4)
    V = np.linalg.qr(rng.standard_normal((8, 8)))[0]
    d = np.array([0.3, -2.0, 1.0, 0.05, 1.5, -0.7, 1.02, 0.98])
    cell = Elman(V @ np.diag(d) @ V.T, activation="linear")
    result = product_singular_values(cell, cell.run(150), [1, 150])
    expected = np.sort(np.log(np.abs(d)))[::-1]
    np.testing.assert_allclose(result.log_singular_values, [expected, 150 * expected], atol=1e-9)


def test_gaussian_products_have_fuss_catalan_moments():
    rng = np.random.default_rng(5)
    n, depth = 400, 4
    cell = StackCell(rng.standard_normal((depth, n, n)) / np.sqrt(n))
    squares = np.exp(
        2 * product_singular_values(cell, cell.trajectory(), depth).log_singular_values
    )
    m1, m2 = fuss_catalan_moment(depth, 1), fuss_catalan_moment(depth, 2)
    assert squares.mean() == pytest.approx(m1, rel=0.1)
    assert squares.var() == pytest.approx(m2 - m1**2, rel=0.1)  # = depth
    assert m2 - m1**2 == depth


def test_batched_networks_agree_with_one_by_one():
    rng = np.random.default_rng(6)
    W = 1.2 * rng.standard_normal((3, 16, 16)) / 4.0
    cell = Elman(W)
    traj = cell.run(30, rng.standard_normal((3, 16)))
    batched = product_singular_values(cell, traj, [1, 8, 30]).log_singular_values
    assert batched.shape == (3, 3, 16)
    for b in range(3):
        single = Elman(W[b])
        one = product_singular_values(single, single.run(30, traj.states[0, b]), [1, 8, 30])
        np.testing.assert_allclose(batched[:, b], one.log_singular_values, atol=1e-10)


def test_exact_zeros_are_minus_infinity():
    rng = np.random.default_rng(7)
    jacobians = rng.standard_normal((6, 5, 5))
    jacobians[2] = np.diag([1.0, 2.0, 0.0, 3.0, 0.0])  # rank 3 from step 3 on
    cell = StackCell(jacobians)
    log_sv = product_singular_values(cell, cell.trajectory(), [1, 4, 6]).log_singular_values
    assert not np.isnan(log_sv).any()
    assert np.all(log_sv[0] > -10) and np.all(log_sv[1:, 3:] < -600)  # -inf here, or underflow
    direct = np.linalg.svd(product(jacobians, 6, 4), compute_uv=False)[:3]
    np.testing.assert_allclose(log_sv[1, :3], np.log(direct), atol=1e-10)
    zero = StackCell(np.zeros((3, 4, 4)))
    assert np.all(
        product_singular_values(zero, zero.trajectory(), 2).log_singular_values == -np.inf
    )


def test_to_frame_and_bad_arguments():
    cell = Elman(np.diag([2.0, 0.5]), activation="linear")
    traj = cell.run(5)
    frame = product_singular_values(cell, traj, [1, 5]).to_frame()
    assert list(frame.columns) == ["depth", "index", "log_sv", "sv"] and len(frame) == 4
    for kwargs, name in (({"tol": 0.0}, "tol"), ({"max_sweeps": -1}, "max_sweeps")):
        with pytest.raises(ValueError, match=name):
            product_singular_values(cell, traj, 2, **kwargs)
    with pytest.raises(ValueError, match="depths"):
        product_singular_values(cell, traj, 6)


def test_a_product_whose_scaled_columns_underflow_when_squared():
    # Found in notebook 02: a column of the accumulated factor with entries near 1e-163 has
    # squares below float64's range; its norm came out 0, its log scale -inf, and the sweeps
    # turned NaN (LinAlgError: SVD did not converge).
    from gradflow import init
    from gradflow.jacobians import product_singular_values

    W = init.gaussian(48, gain=1.0, rng=3, batch=2)[1]
    cell = Elman(W, activation="linear")
    traj = cell.run(64, h0=np.random.default_rng(0).standard_normal(48))
    log_sv = product_singular_values(cell, traj, [64]).log_singular_values[0]
    assert np.all(np.isfinite(log_sv))
    # the sum of the log singular values is log|det W^64| = 64 log|det W|, exactly
    _, logdet = np.linalg.slogdet(W)
    assert log_sv.sum() == pytest.approx(64 * logdet, rel=1e-10)
    # the large ones are those of the formed product
    direct = np.log(np.linalg.svd(np.linalg.matrix_power(W, 64), compute_uv=False))
    top = direct > direct[0] - np.log(1e8)
    np.testing.assert_allclose(log_sv[top], direct[top], atol=1e-6)
