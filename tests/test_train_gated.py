"""Training LSTM and GRU models: BPTT through the full state, fit, compare_clipping, init_model."""

import numpy as np
import pytest

from gradflow import spectral, train
from gradflow.cells import GRU, LSTM, Elman

N, D, K, T, B = 4, 3, 2, 6, 3


def gated_model(kind, objective="mse", *, rng=0):
    rng = np.random.default_rng(rng)
    rows = {"lstm": 4, "gru": 3}[kind] * N
    W_hh, W_xh = rng.normal(size=(rows, N)) * 0.6, rng.normal(size=(rows, D)) * 0.6
    if kind == "lstm":
        cell = LSTM(W_hh, W_xh, rng.normal(size=rows) * 0.3)
    else:
        cell = GRU(W_hh, W_xh, rng.normal(size=rows) * 0.3, rng.normal(size=rows) * 0.3)
    return train.Model(cell, rng.normal(size=(K, N)), rng.normal(size=K) * 0.1, objective)


def batch(objective, per_step, rng=1):
    rng = np.random.default_rng(rng)
    xs = rng.normal(size=(T, B, D))
    lead = (T, B) if per_step else (B,)
    if objective == "mse":
        return xs, rng.normal(size=(*lead, K))
    return xs, rng.integers(0, K, size=lead)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize(("objective", "per_step"), [("mse", False), ("xent", True)])
def test_gated_model_gradients_match_central_differences(kind, objective, per_step):
    model = gated_model(kind, objective)
    xs, ys = batch(objective, per_step)
    loss, grads = model.value_and_grad(xs, ys)
    assert loss == pytest.approx(model.loss(xs, ys), rel=1e-14)
    params = model.params
    assert sorted(grads) == sorted(params)
    eps = 1e-6
    for name, value in params.items():
        numeric = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            shifted = {k: v.copy() for k, v in params.items()}
            shifted[name][index] = value[index] + eps
            up = model.with_params(shifted).loss(xs, ys)
            shifted[name][index] = value[index] - eps
            down = model.with_params(shifted).loss(xs, ys)
            numeric[index] = (up - down) / (2 * eps)
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-6, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gated_model_matches_torch_autograd(kind):
    torch = pytest.importorskip("torch")
    model = gated_model(kind, "mse")
    xs, ys = batch("mse", per_step=False)
    loss, grads = model.value_and_grad(xs, ys)
    module = getattr(torch.nn, kind.upper())(D, N, dtype=torch.float64)
    readout = torch.nn.Linear(N, K, dtype=torch.float64)
    cell = model.cell
    with torch.no_grad():
        module.weight_hh_l0.copy_(torch.tensor(cell.W_hh))
        module.weight_ih_l0.copy_(torch.tensor(cell.W_xh))
        if kind == "lstm":  # ours is b = b_ih + b_hh
            module.bias_ih_l0.copy_(torch.tensor(cell.b))
            module.bias_hh_l0.zero_()
        else:
            module.bias_ih_l0.copy_(torch.tensor(cell.b_ih))
            module.bias_hh_l0.copy_(torch.tensor(cell.b_hh))
        readout.weight.copy_(torch.tensor(model.W_out))
        readout.bias.copy_(torch.tensor(model.b_out))
    hidden, _ = module(torch.tensor(xs))
    torch_loss = ((readout(hidden[-1]) - torch.tensor(ys)) ** 2).mean()
    torch_loss.backward()
    assert loss == pytest.approx(torch_loss.item(), rel=1e-12)
    expected = {
        "W_hh": module.weight_hh_l0.grad,
        "W_xh": module.weight_ih_l0.grad,
        "W_out": readout.weight.grad,
        "b_out": readout.bias.grad,
    }
    if kind == "lstm":
        expected["b"] = module.bias_ih_l0.grad
    else:
        expected.update(b_ih=module.bias_ih_l0.grad, b_hh=module.bias_hh_l0.grad)
    for name, value in expected.items():
        np.testing.assert_allclose(grads[name], value.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_init_model_builds_gated_cells_from_the_factory(kind):
    model = train.init_model("adding", 8, cell=kind, forget_bias=1.0, rng=0)
    rows = {"lstm": 4, "gru": 3}[kind] * 8
    assert type(model.cell).__name__ == kind.upper()
    assert model.cell.W_hh.shape == (rows, 8) and model.cell.W_xh.shape == (rows, 2)
    assert model.W_out.shape == (1, 8)
    blocks = list(model.cell.recurrent_blocks.values())
    for W in blocks:  # orthogonal per gate block
        np.testing.assert_allclose(W @ W.T, np.eye(8), atol=1e-12)
    bias = model.cell.b if kind == "lstm" else model.cell.b_hh
    np.testing.assert_array_equal(bias[8:16], 1.0)  # the forget (LSTM) / update (GRU) rows
    again = train.init_model("adding", 8, cell=kind, forget_bias=1.0, rng=0)
    np.testing.assert_array_equal(again.cell.W_hh, model.cell.W_hh)


def test_init_model_elman_draws_are_unchanged_by_the_cell_choice():
    default = train.init_model("adding", 6, rng=3)
    named = train.init_model("adding", 6, cell="elman", rng=3)
    for name, value in default.params.items():
        np.testing.assert_array_equal(named.params[name], value)


def test_init_model_takes_a_cell_factory():
    def factory(hidden, input_size, rng):
        return Elman(np.eye(hidden) * 0.5, rng.normal(size=(hidden, input_size)), np.zeros(hidden))

    model = train.init_model("adding", 5, cell=factory, rng=0)
    np.testing.assert_array_equal(model.cell.W_hh, np.eye(5) * 0.5)
    with pytest.raises(ValueError, match=r"^cell: a cell factory takes no gain"):
        train.init_model("adding", 5, cell=factory, gain=2.0)
    with pytest.raises(TypeError, match=r"^cell: expected the factory to return"):
        train.init_model("adding", 5, cell=lambda h, d, rng: None)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cell": "lstm", "activation": "relu"}, "^activation: the lstm cell has fixed"),
        ({"cell": "elman", "forget_bias": 1.0}, "^forget_bias: an Elman cell has no forget"),
        ({"cell": "transformer"}, "^cell: "),
    ],
)
def test_init_model_bad_cell_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        train.init_model("adding", 4, **kwargs)


def test_fit_records_the_largest_gate_block_spectrum():
    for init, gain in (("orthogonal", 1.3), ("gaussian", 1.0)):
        model = train.init_model("adding", 6, cell="lstm", init=init, gain=gain, rng=0)
        history = train.fit("adding", model, T=8, lr=1e-2, steps=3, batch=4, rng=1,
                            progress=False)  # fmt: skip
        first = history.frame.iloc[0]
        blocks = model.cell.recurrent_blocks.values()
        radii = [np.max(np.abs(np.linalg.eigvals(W))) for W in blocks]
        sigmas = [np.linalg.svd(W, compute_uv=False)[0] for W in blocks]
        assert first["spectral_radius"] == pytest.approx(max(radii), rel=1e-10)
        assert first["sigma_max"] == pytest.approx(max(sigmas), rel=1e-10)
        if init == "orthogonal":  # scaled orthogonal blocks: every one has ρ = σ = g
            assert first["spectral_radius"] == pytest.approx(1.3, rel=1e-10)
        else:  # independent Gaussian blocks differ: the largest is reported
            assert max(radii) > min(radii) * 1.01
    assert spectral.spectral_radius(history.model.cell.recurrent_blocks["W_hf"]) > 0


def test_fit_learns_with_a_gru():
    model = train.init_model("adding", 16, cell="gru", rng=0)
    history = train.fit("adding", model, T=10, clip="global:1", lr=1e-2, steps=300, batch=32,
                        rng=1, spectral=False, progress=False)  # fmt: skip
    losses = history.frame["loss"].to_numpy()
    assert losses[-30:].mean() < 0.5 * 1 / 6  # well below the memoryless baseline


def test_compare_clipping_with_an_lstm_from_identical_starts():
    frame, steps = train.compare_clipping(
        "adding", ["none", "global:0.5"], seeds=2, T=6, hidden=4, steps=4, batch=4,
        eval_batch=8, rng=0, cell="lstm", forget_bias=1.0, return_steps=True,
    )  # fmt: skip
    assert frame.shape[0] == 4
    first = steps[steps["update"] == 0]
    # the first recorded loss is of the same start and batch under both rules
    for seed in (0, 1):
        losses = first[first["seed"] == seed]["loss"].to_numpy()
        assert losses[0] == losses[1]
