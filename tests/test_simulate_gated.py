"""Initialisation sweeps of gated cells: the sweep's numbers against documented draws."""

import concurrent.futures as cf

import numpy as np
import pytest

from gradflow import cells
from gradflow.simulate import gradient_growth, growth_rates


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_each_gated_network_matches_its_draws_and_a_dense_product(kind):
    # Seed s of pair k draws its recurrent weights and biases from child 0, v (on h only) from
    # child 1, and h0, W_xh and the inputs from child 2 (SeedSequence children, as for Elman).
    n, steps, scale = 4, 12, 0.7
    df = gradient_growth(
        ["orthogonal"], [1.4], hidden_size=n, steps=steps, seeds=2, cell=kind, forget_bias=0.5,
        rng=5,
        inputs={"kind": "gaussian", "scale": scale, "size": 3}, progress=False,
    )  # fmt: skip
    assert (df["cell"] == kind).all() and df.attrs["cell"] == kind
    (pair,) = np.random.SeedSequence(5).spawn(1)
    state = 2 * n if kind == "lstm" else n
    for s, seed_seq in enumerate(pair.spawn(2)):
        w_seq, v_seq, x_seq = (np.random.default_rng(q) for q in seed_seq.spawn(3))
        params = cells.initial_params(kind, n, gain=1.4, forget_bias=0.5, rng=w_seq)
        v = np.zeros(state)
        v[:n] = v_seq.standard_normal(n)
        v /= np.linalg.norm(v)
        h0 = x_seq.standard_normal(state)
        params["W_xh"] = x_seq.standard_normal((params["W_hh"].shape[0], 3)) * scale / np.sqrt(3)
        xs = x_seq.standard_normal((steps, 3))
        cell = cells.build(kind, params)
        traj = cell.run(xs, h0=h0)
        adjoint, dense = v.copy(), [np.log(np.linalg.norm(v[:n]))]
        for t in range(steps, 0, -1):
            adjoint = cell.jacobian(traj, t).T @ adjoint
            dense.append(np.log(np.linalg.norm(adjoint[:n])))  # ∂⟨v, h_T⟩/∂h_{T-lag}
        rows = df[df.seed == s]
        np.testing.assert_allclose(rows["log_norm"], dense, rtol=1e-10, atol=1e-12)
        radius = max(np.abs(np.linalg.eigvals(W)).max() for W in cell.recurrent_blocks.values())
        np.testing.assert_allclose(rows["spectral_radius"], radius, rtol=1e-10)
        np.testing.assert_allclose(rows["spectral_radius"], 1.4, rtol=1e-10)  # gain · Q per block


def test_gated_sweep_spectra_are_the_largest_over_gate_blocks():
    df = gradient_growth(["gaussian"], [1.0], hidden_size=6, steps=3, seeds=3, cell="lstm", rng=8,
                         progress=False)  # fmt: skip
    (pair,) = np.random.SeedSequence(8).spawn(1)
    for s, seed_seq in enumerate(pair.spawn(3)):
        params = cells.initial_params("lstm", 6, init="gaussian",
                                      rng=np.random.default_rng(seed_seq.spawn(3)[0]))  # fmt: skip
        blocks = cells.build("lstm", params).recurrent_blocks.values()
        radii = [np.abs(np.linalg.eigvals(W)).max() for W in blocks]
        sigmas = [np.linalg.svd(W, compute_uv=False)[0] for W in blocks]
        rows = df[df.seed == s]
        np.testing.assert_allclose(rows["spectral_radius"], max(radii), rtol=1e-10)
        np.testing.assert_allclose(rows["sigma_max"], max(sigmas), rtol=1e-10)
        assert max(radii) > 1.01 * min(radii)


def test_gated_sweeps_are_identical_under_any_executor():
    kwargs = dict(hidden_size=6, steps=20, seeds=4, cell="lstm", rng=2, progress=False)
    serial = gradient_growth(["orthogonal", "gaussian"], [1.0, 2.0], **kwargs)
    with cf.ProcessPoolExecutor(2) as pool:
        pooled = gradient_growth(
            ["orthogonal", "gaussian"], [1.0, 2.0], executor=pool, seeds_per_task=2, **kwargs
        )
    assert serial.equals(pooled)


def test_growth_rates_give_no_elman_theory_for_gated_cells():
    df = gradient_growth(["orthogonal"], [0.5], hidden_size=4, steps=30, seeds=2, cell="gru", rng=0,
                         progress=False)  # fmt: skip
    rates = growth_rates(df)
    assert rates["cell"].tolist() == ["gru"]
    assert rates["theory_name"].tolist() == ["none"] and np.isnan(rates["theory"]).all()


def test_a_large_forget_bias_slows_the_decay_of_lstm_gradients():
    # With weak recurrent weights the LSTM's cell path multiplies the gradient by f_t ≈ σ(b_f)
    # per step (exactly so for zero weights): the decay rate sits near ln σ(b_f), and a larger
    # forget bias makes gradients decay more slowly.
    rates = []
    for b in (0.0, 3.0):
        frame = gradient_growth(["orthogonal"], [0.1], hidden_size=16, steps=120, seeds=4,
                                cell="lstm",
                                forget_bias=b, rng=3, progress=False)  # fmt: skip
        rates.append(growth_rates(frame)["rate"].iloc[0])
        assert rates[-1] == pytest.approx(-np.logaddexp(0.0, -b), abs=0.1)
    assert rates[0] < rates[1] < 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cell": "lstm", "activation": "linear"}, "^activation: the lstm cell"),
        ({"cell": "elman", "forget_bias": 1.0}, "^forget_bias: "),
        ({"cell": "rnn"}, "^cell: "),
    ],
)
def test_bad_cell_options_fail_early(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gradient_growth(
            ["orthogonal"], [1.0], hidden_size=3, steps=4, seeds=1, progress=False, **kwargs
        )
