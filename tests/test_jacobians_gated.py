"""Layer 3 on gated cells: adjoints, output-part norms, product and Lyapunov spectra."""

import numpy as np
import pytest

from gradflow import cells, jacobians, lyapunov


def driven(kind, *, n=5, steps=30, batch=None, gain=1.2, rng=0):
    gen = np.random.default_rng(rng)
    params = cells.initial_params(kind, n, gain=gain, forget_bias=1.0, rng=gen, batch=batch)
    lead = () if batch is None else (batch,)
    params["W_xh"] = gen.normal(size=(*lead, params["W_hh"].shape[-2], 3)) * 0.5
    cell = cells.build(kind, params)
    xs = gen.normal(size=(steps, *lead, 3))
    return cell, cell.run(xs)


def dense_product(cell, traj, end, depth):
    out = np.eye(cell.state_size)
    for t in range(end - depth + 1, end + 1):
        out = cell.jacobian(traj, t) @ out
    return out


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_log_gradient_norms_of_state_and_output_against_dense_products(kind):
    cell, traj = driven(kind)
    v = np.random.default_rng(1).normal(size=cell.state_size)
    state = jacobians.log_gradient_norms(cell, traj, v)
    output = jacobians.log_gradient_norms(cell, traj, v, part="output")
    adjoints = jacobians.backprop(cell, traj, v)
    n, T = cell.hidden_size, traj.n_steps
    for t in (0, 7, T - 1, T):
        adjoint = dense_product(cell, traj, T, T - t).T @ v if t < T else v
        np.testing.assert_allclose(adjoints[t], adjoint, rtol=1e-10, atol=1e-14)
        assert state[t] == pytest.approx(np.log(np.linalg.norm(adjoint)), rel=1e-10)
        assert output[t] == pytest.approx(np.log(np.linalg.norm(adjoint[:n])), rel=1e-10)
    if kind == "gru":  # the whole state is h
        np.testing.assert_array_equal(state, output)
    else:
        assert np.all(output <= state + 1e-12)


def test_part_is_checked():
    cell, traj = driven("lstm", steps=3)
    with pytest.raises(ValueError, match=r"^part: expected 'state' or 'output'"):
        jacobians.log_gradient_norms(cell, traj, np.ones(cell.state_size), part="h")


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_product_singular_values_of_gated_cells_against_a_dense_svd(kind):
    cell, traj = driven(kind, steps=12)
    spectrum = jacobians.product_singular_values(cell, traj, [1, 6, 12])
    for i, depth in enumerate((1, 6, 12)):
        dense = np.linalg.svd(dense_product(cell, traj, 12, depth), compute_uv=False)
        np.testing.assert_allclose(np.exp(spectrum.log_singular_values[i]), dense, rtol=1e-8,
                                   atol=1e-14)  # fmt: skip
    norms = jacobians.log_product_norms(cell, traj)
    np.testing.assert_allclose(
        norms[5], np.log(np.linalg.norm(dense_product(cell, traj, 12, 6), 2))
    )


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_lyapunov_along_a_gated_cell_matches_its_dense_jacobians(kind):
    cell, traj = driven(kind, steps=400, batch=2)
    along = lyapunov.along(cell, traj, burn_in=50, reortho=1, rng=0)
    for b in range(2):
        stream = (J[b] for J in cell.iter_jacobians(traj))
        dense = lyapunov.spectrum(stream, burn_in=50, reortho=1, rng=0)
        np.testing.assert_allclose(along.exponents[b], dense.exponents, rtol=1e-8, atol=1e-10)
