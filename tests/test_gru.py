"""The GRU cell against torch.nn.GRU, finite differences and answers derived by hand.

Every reference here is independent of gradflow's implementation: PyTorch's own GRU (float64,
same weights), central differences of :func:`ref_step` (the GRU equations of the PyTorch
documentation, written out below), and closed forms for weights that are all zero. The GRU
half of the private ``gradflow.cells._gated_grads`` (gate deltas, population blocks) is tested
here, through the cell.
"""

import numpy as np
import pytest
from _population_checks import POPULATION_LAYOUTS, POPULATIONS, check_blocks, check_population
from scipy.special import expit

from gradflow.cells import GRU, Trajectory
from gradflow.errors import NonFiniteError
from gradflow.jacobians import backprop
from gradflow.lyapunov import along

N, D, T, B = 4, 3, 6, 3


def make_params(*, batched=False, biases=True, rng=0, scale=1.0):
    rng = np.random.default_rng(rng)
    lead = (B,) if batched else ()
    params = {
        "W_hh": rng.standard_normal((*lead, 3 * N, N)) * scale / np.sqrt(N),
        "W_xh": rng.standard_normal((*lead, 3 * N, D)) * scale,
    }
    if biases:
        params["b_ih"] = rng.standard_normal((*lead, 3 * N)) * 0.5
        params["b_hh"] = rng.standard_normal((*lead, 3 * N)) * 0.5
    return params


def inputs(rng=1, batch=None, steps=T):
    shape = (steps, D) if batch is None else (steps, batch, D)
    return np.random.default_rng(rng).standard_normal(shape)


def ref_step(params, h, x):
    """One GRU step, PyTorch's equations, for one network: h (…, N), x (…, D) or None."""
    W, U = params["W_hh"], params.get("W_xh")
    b_ih = params.get("b_ih", np.zeros(3 * N))
    b_hh = params.get("b_hh", np.zeros(3 * N))
    gi = b_ih + (0.0 if x is None else x @ U.T)
    gh = h @ W.T + b_hh
    r = expit(gi[..., :N] + gh[..., :N])
    z = expit(gi[..., N : 2 * N] + gh[..., N : 2 * N])
    n = np.tanh(gi[..., 2 * N :] + r * gh[..., 2 * N :])
    return (1 - z) * n + z * h


def fd_jacobian(f, h, eps=1e-6):
    cols = []
    for j in range(h.shape[-1]):
        e = np.zeros_like(h)
        e[..., j] = eps
        cols.append((f(h + e) - f(h - e)) / (2 * eps))
    return np.stack(cols, axis=-1)


def torch_gru(params, torch):
    gru = torch.nn.GRU(D, N, bias="b_ih" in params, dtype=torch.float64)
    with torch.no_grad():
        gru.weight_hh_l0.copy_(torch.tensor(params["W_hh"]))
        gru.weight_ih_l0.copy_(torch.tensor(params["W_xh"]))
        if "b_ih" in params:
            gru.bias_ih_l0.copy_(torch.tensor(params["b_ih"]))
            gru.bias_hh_l0.copy_(torch.tensor(params["b_hh"]))
    return gru


# --------------------------------------------------------------------------- against torch


@pytest.mark.parametrize("biases", [True, False])
@pytest.mark.parametrize("batch", [None, B])
def test_forward_matches_torch(batch, biases):
    torch = pytest.importorskip("torch")
    params = make_params(biases=biases)
    xs = inputs(batch=batch)
    h0 = np.random.default_rng(2).standard_normal((N,) if batch is None else (batch, N))
    traj = GRU(**params).run(xs, h0)
    out, h_last = torch_gru(params, torch)(torch.tensor(xs), torch.tensor(h0)[None])
    np.testing.assert_allclose(traj.states[1:], out.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(traj.states[-1], h_last[0].detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_array_equal(traj.states[0], h0)


def test_adjoints_match_torch_step_by_step():
    torch = pytest.importorskip("torch")
    params = make_params(scale=1.5)
    xs = inputs(batch=B, steps=12)
    h0 = np.random.default_rng(3).standard_normal((B, N))
    v = np.random.default_rng(4).standard_normal((B, N))
    cell = GRU(**params)
    traj = cell.run(xs, h0)
    adjoints = backprop(cell, traj, v)

    gru = torch_gru(params, torch)
    h = torch.tensor(h0, requires_grad=True)
    states = [h]
    for x in xs:
        _, h = gru(torch.tensor(x)[None], states[-1][None])
        h = h[0]
        h.retain_grad()
        states.append(h)
    (states[-1] * torch.tensor(v)).sum().backward()
    expected = np.stack([s.grad.numpy() for s in states])
    np.testing.assert_allclose(traj.states, np.stack([s.detach().numpy() for s in states]),
                               rtol=0, atol=1e-10)  # fmt: skip
    np.testing.assert_allclose(adjoints, expected, rtol=0, atol=1e-10)
    assert np.abs(adjoints[0]).max() > 1e-4  # the test is not vacuous


@pytest.mark.parametrize("per_step", [False, True])
@pytest.mark.parametrize("biases", [True, False])
def test_param_grads_match_torch(biases, per_step):
    """Shared weights, a batch of sequences; loss ⟨v, h_T⟩ or Σ_t ⟨c_t, h_t⟩."""
    torch = pytest.importorskip("torch")
    params = make_params(biases=biases)
    xs = inputs(batch=B)
    h0 = np.random.default_rng(5).standard_normal((B, N))
    cell = GRU(**params)
    traj = cell.run(xs, h0)
    rng = np.random.default_rng(6)
    c = rng.standard_normal(traj.states.shape) if per_step else rng.standard_normal((B, N))
    grads = cell.param_grads(traj, backprop(cell, traj, c))

    gru = torch_gru(params, torch)
    out, _ = gru(torch.tensor(xs), torch.tensor(h0)[None])
    loss = (out * torch.tensor(c[1:])).sum() if per_step else (out[-1] * torch.tensor(c)).sum()
    loss.backward()
    expected = {"W_hh": gru.weight_hh_l0.grad, "W_xh": gru.weight_ih_l0.grad}
    if biases:
        expected |= {"b_ih": gru.bias_ih_l0.grad, "b_hh": gru.bias_hh_l0.grad}
    assert set(grads) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(grads[name], value.numpy(), rtol=0, atol=1e-10, err_msg=name)
        assert grads[name].shape == params[name].shape


def test_param_grads_over_a_long_run():
    """Thousands of steps and a loss at every step: every step contributes to the gradient.

    Against torch where installed, and always against central differences of a few entries
    (each step adds O(1) to the gradient of Σ_t ⟨c_t, h_t⟩, so a lost step shows)."""
    params = make_params(scale=1.5)
    steps = 3000
    xs, h0 = inputs(batch=B, steps=steps), np.full((B, N), 0.2)
    cell = GRU(**params)
    traj = cell.run(xs, h0)
    c = np.random.default_rng(16).standard_normal(traj.states.shape)
    grads = cell.param_grads(traj, backprop(cell, traj, c))

    def loss(name, idx, eps):
        value = params[name].copy()
        value[idx] += eps
        return float(np.sum(c * GRU(**{**params, name: value}).run(xs, h0).states))

    for name, idx in [("b_hh", (2 * N,)), ("b_ih", (1,)), ("W_hh", (N + 1, 2)), ("W_xh", (3, 0))]:
        numeric = (loss(name, idx, 1e-5) - loss(name, idx, -1e-5)) / 2e-5
        assert abs(grads[name][idx] - numeric) < 1e-5 * max(1.0, abs(numeric)), name
    try:
        import torch
    except ImportError:
        return
    gru = torch_gru(params, torch)
    out, _ = gru(torch.tensor(xs), torch.tensor(h0)[None])
    (out * torch.tensor(c[1:])).sum().backward()
    for name, tensor in [("W_hh", gru.weight_hh_l0), ("W_xh", gru.weight_ih_l0),
                         ("b_ih", gru.bias_ih_l0), ("b_hh", gru.bias_hh_l0)]:  # fmt: skip
        np.testing.assert_allclose(grads[name], tensor.grad.numpy(), rtol=1e-10, atol=1e-9)


# --------------------------------------------------------------------------- Jacobians


@pytest.mark.parametrize("batched", [False, True])
def test_jacobian_matches_finite_differences(batched):
    params = make_params(batched=batched, scale=1.3)
    cell = GRU(**params)
    xs = inputs()
    traj = cell.run(xs, h0=np.random.default_rng(7).standard_normal(N) * 0.7)
    for t in (1, 3, T):
        J = cell.jacobian(traj, t)
        for i in range(B) if batched else [None]:
            one = params if i is None else {k: v[i] for k, v in params.items()}
            h = traj.states[t - 1] if i is None else traj.states[t - 1, i]
            expected = fd_jacobian(lambda h, one=one, x=xs[t - 1]: ref_step(one, h, x), h)
            got = J if i is None else J[i]
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-8)


def test_jacobian_paths_through_each_gate():
    """Only W_hr non-zero: J = diag(z) + diag(d_n ⊙ hn ⊙ r(1 - r)) W_hr, with hn = b_hn."""
    params = make_params()
    W = np.zeros((3 * N, N))
    W[:N] = params["W_hh"][:N]
    cell = GRU(W, params["W_xh"], params["b_ih"], params["b_hh"])
    xs = inputs()
    traj = cell.run(xs, np.random.default_rng(8).standard_normal(N))
    t = 2
    expected = fd_jacobian(lambda h: ref_step(cell.params, h, xs[t - 1]), traj.states[t - 1])
    np.testing.assert_allclose(cell.jacobian(traj, t), expected, rtol=0, atol=1e-8)
    assert np.abs(expected - np.diag(np.diag(expected))).max() > 1e-3


@pytest.mark.parametrize("layout", ["one", "sequences", "networks"])
def test_block_products_match_dense_jacobian(layout):
    params = make_params(batched=layout == "networks", scale=1.2)
    cell = GRU(**params)
    traj = cell.run(inputs(batch=None if layout == "one" else B))
    lead = () if layout == "one" else (B,)
    rng = np.random.default_rng(9)
    v = rng.standard_normal((*lead, N))
    block = rng.standard_normal((*lead, N, 3))
    for t in (1, T):
        J = cell.jacobian(traj, t)
        JT = np.swapaxes(J, -1, -2)
        np.testing.assert_allclose(cell.jvp(traj, t, block), J @ block, rtol=0, atol=1e-12)
        np.testing.assert_allclose(cell.vjp_block(traj, t, block), JT @ block, atol=1e-12)
        expected_v = (JT @ v[..., None])[..., 0]
        np.testing.assert_allclose(cell.vjp(traj, t, v), expected_v, rtol=0, atol=1e-12)
        np.testing.assert_allclose(cell.vjp_vector(traj, t, v), expected_v, atol=1e-12)
        np.testing.assert_array_equal(next(cell.iter_jacobians(traj, t, t)), J)


# --------------------------------------------------------------------------- stacks and batches


def test_stacked_networks_equal_one_at_a_time():
    params = make_params(batched=True)
    cell = GRU(**params)
    xs = inputs(batch=B)
    h0 = np.random.default_rng(10).standard_normal((B, N))
    v = np.random.default_rng(11).standard_normal((B, N))
    traj = cell.run(xs, h0)
    adjoints = backprop(cell, traj, v)
    grads = cell.param_grads(traj, adjoints)
    assert cell.n_networks == B and traj.states.shape == (T + 1, B, N)
    for i in range(B):
        one = GRU(**{k: p[i] for k, p in params.items()})
        single = one.run(xs[:, i], h0[i])
        np.testing.assert_allclose(traj.states[:, i], single.states, rtol=0, atol=1e-14)
        single_adjoints = backprop(one, single, v[i])
        np.testing.assert_allclose(adjoints[:, i], single_adjoints, rtol=0, atol=1e-13)
        for name, g in one.param_grads(single, single_adjoints).items():
            np.testing.assert_allclose(grads[name][i], g, rtol=0, atol=1e-13, err_msg=name)
    # (T, D) inputs shared by the stacked networks
    shared = cell.run(xs[:, 0])
    grads_shared = cell.param_grads(shared, backprop(cell, shared, v))
    for i in range(B):
        one = GRU(**{k: p[i] for k, p in params.items()})
        single = one.run(xs[:, 0])
        g = one.param_grads(single, backprop(one, single, v[i]))
        np.testing.assert_allclose(grads_shared["W_xh"][i], g["W_xh"], rtol=0, atol=1e-13)


@pytest.mark.parametrize("shared_inputs", [False, True])
def test_shared_weights_sum_gradients_over_sequences(shared_inputs):
    params = make_params()
    cell = GRU(**params)
    xs = inputs(batch=None if shared_inputs else B)
    h0 = np.random.default_rng(12).standard_normal((B, N))
    v = np.random.default_rng(13).standard_normal((B, N))
    traj = cell.run(xs, h0)
    grads = cell.param_grads(traj, backprop(cell, traj, v))
    total = {name: np.zeros_like(p) for name, p in params.items()}
    for i in range(B):
        single = cell.run(xs if shared_inputs else xs[:, i], h0[i])
        np.testing.assert_allclose(traj.states[:, i], single.states, rtol=0, atol=1e-14)
        for name, g in cell.param_grads(single, backprop(cell, single, v[i])).items():
            total[name] += g
    for name in params:
        np.testing.assert_allclose(grads[name], total[name], rtol=0, atol=1e-12, err_msg=name)


def test_float32_near_float64():
    params = make_params(batched=True)
    xs, v = inputs(batch=B), np.random.default_rng(14).standard_normal((B, N))
    runs = {}
    for dtype in (np.float64, np.float32):
        cell = GRU(**params, dtype=dtype)
        traj = cell.run(xs)
        adjoints = backprop(cell, traj, v)
        grads = cell.param_grads(traj, adjoints)
        assert cell.dtype == dtype and traj.states.dtype == dtype
        assert all(a.dtype == dtype for a in (*traj.cache.values(), adjoints, *grads.values()))
        assert cell.jacobian(traj, 2).dtype == dtype
        runs[dtype] = (traj.states, adjoints, grads["W_hh"], cell.jacobian(traj, T))
    for lo, hi in zip(runs[np.float32], runs[np.float64]):
        np.testing.assert_allclose(lo, hi, rtol=0, atol=2e-5)


# --------------------------------------------------------------------------- the population layout


def population(P, M, layout, rng=40, dtype=np.float64):
    """A stacked GRU of P networks and population run arguments ``(cell, xs, h0)``;
    "bare" has neither W_xh nor biases (an input-free run)."""
    gen = np.random.default_rng(rng)
    params = {
        "W_hh": gen.standard_normal((P, 3 * N, N)) * 1.5 / np.sqrt(N),
        "W_xh": gen.standard_normal((P, 3 * N, D)),
        "b_ih": gen.standard_normal((P, 3 * N)),
        "b_hh": gen.standard_normal((P, 3 * N)),  # b_hn sits inside r ⊙ (W_hn h + b_hn)
    }
    if layout == "bare":
        params = {"W_hh": params["W_hh"]}
    xs = {"steps and h0": T, "bare": T, "shared inputs": gen.standard_normal((T, D))}.get(
        layout, gen.standard_normal((T, P, M, D))
    )
    h0 = None if layout == "inputs, no h0" else gen.standard_normal((P, M, N))
    return GRU(**params, dtype=dtype), xs, h0


@pytest.mark.parametrize("layout", POPULATION_LAYOUTS)
@pytest.mark.parametrize(("P", "M"), POPULATIONS)
def test_population_run_equals_each_network_on_its_own_sequences(P, M, layout):
    """A population run of stacked GRUs (states h; the cache of r, z, n and hn; adjoints and
    parameter gradients) is, network by network, network p's run alone on its M sequences."""
    check_population(*population(P, M, layout), T, rng=41)


def test_population_in_float32_stays_float32_and_matches_network_by_network():
    check_population(*population(3, 4, "inputs and h0", rng=42, dtype=np.float32), T, rng=43)


@pytest.mark.parametrize("layout", ["inputs and h0", "shared inputs"])
def test_population_param_grads_in_blocks_equal_one_block(layout, monkeypatch):
    """A population's gradients go through blocks of networks and steps: groups of 2 of the 3
    networks (a ragged last group), one network with every step, one network in chunks of 4
    steps (ragged at T = 6) and of one step all give what one block of everything gives."""
    M = 4
    sizes = (2 * T * M * N, T * M * N, 4 * M * N, M * N)  # entries of a gate per block
    budget = "gradflow.cells.gru._BLOCK_SIZE"
    check_blocks(*population(3, M, layout, rng=45), monkeypatch, budget, sizes, rng=46)


def test_population_runs_are_refused_by_jacobian_analyses():
    cell, xs, h0 = population(3, 4, "inputs and h0", rng=44)
    traj = cell.run(xs, h0)
    for call in (lambda: cell.jacobian(traj, 1), lambda: cell.vjp(traj, 1, np.ones((3, N)))):
        with pytest.raises(ValueError, match=r"^traj: expected one sequence per network"):
            call()


# --------------------------------------------------------------------------- known answers


def test_zero_weights_decay_and_lyapunov_exponents_are_log_sigma_bz():
    """All weights zero: r = σ(b_r), z = σ(b_z) and n* = tanh(b_in + r b_hn) are constants,
    so h_t = n* + z^t (h_0 - n*), J_t = diag(z) and the Lyapunov exponents are ln σ(b_z)."""
    rng = np.random.default_rng(15)
    b_ih, b_hh = rng.standard_normal(3 * N), rng.standard_normal(3 * N)
    b_ih[N : 2 * N] = 0.0
    b_hh[N : 2 * N] = [0.0, 3.0, -4.0, -2.0]  # gaps of at least 0.6 nats between exponents
    cell = GRU(np.zeros((3 * N, N)), np.zeros((3 * N, D)), b_ih, b_hh)
    r = expit(b_ih[:N] + b_hh[:N])
    z = expit(b_ih[N : 2 * N] + b_hh[N : 2 * N])
    n_star = np.tanh(b_ih[2 * N :] + r * b_hh[2 * N :])
    h0 = rng.standard_normal(N)
    traj = cell.run(inputs(steps=200), h0)
    t = np.arange(201)[:, None]
    np.testing.assert_allclose(traj.states, n_star + z**t * (h0 - n_star), rtol=0, atol=1e-14)
    np.testing.assert_allclose(cell.jacobian(traj, 7), np.diag(z), rtol=0, atol=1e-15)
    for adjoint in (False, True):
        # once the frame has aligned with the axes (burn-in), R_t = diag(z) exactly
        exponents = along(cell, traj, burn_in=60, adjoint=adjoint, rng=0).exponents
        np.testing.assert_allclose(exponents, np.sort(np.log(z))[::-1], rtol=0, atol=1e-12)
    means = cell.step_summary(traj)
    np.testing.assert_allclose(means["mean_z"], np.full(200, z.mean()), atol=1e-15)
    np.testing.assert_allclose(means["mean_r"], np.full(200, r.mean()), atol=1e-15)
    np.testing.assert_allclose(means["mean_n"], np.full(200, n_star.mean()), atol=1e-15)


def test_input_free_run_and_cache():
    params = make_params()
    cell = GRU(params["W_hh"], b_ih=params["b_ih"])
    traj = cell.run(5, h0=np.full(N, 0.3))
    assert isinstance(traj, Trajectory) and traj.inputs is None and traj.n_steps == 5
    expected = [np.full(N, 0.3)]
    for _ in range(5):
        expected.append(ref_step({"W_hh": params["W_hh"], "b_ih": params["b_ih"]},
                                 expected[-1], None))  # fmt: skip
    np.testing.assert_allclose(traj.states, np.stack(expected), rtol=0, atol=1e-14)
    assert set(traj.cache) == {"r", "z", "n", "hn"}
    np.testing.assert_allclose(traj.cache["hn"], traj.states[:-1] @ params["W_hh"][2 * N :].T)
    for value in traj.cache.values():
        assert value.shape == (5, N) and not value.flags.writeable
    assert set(cell.params) == {"W_hh", "b_ih"}
    assert set(cell.param_grads(traj, backprop(cell, traj, np.ones(N)))) == {"W_hh", "b_ih"}
    # W_xh without inputs: its gradient is zero
    with_inputs = GRU(**params)
    free = with_inputs.run(4)
    grads = with_inputs.param_grads(free, backprop(with_inputs, free, np.ones(N)))
    np.testing.assert_array_equal(grads["W_xh"], np.zeros((3 * N, D)))


def test_attributes_blocks_and_with_params():
    params = make_params(batched=True)
    cell = GRU(**params, dtype=np.float32)
    assert (cell.hidden_size, cell.state_size, cell.input_size, cell.n_networks) == (N, N, D, B)
    for name, value in params.items():
        np.testing.assert_array_equal(getattr(cell, name), value.astype(np.float32))
    blocks = cell.recurrent_blocks
    assert list(blocks) == ["W_hr", "W_hz", "W_hn"]
    for k, name in enumerate(blocks):
        np.testing.assert_array_equal(blocks[name], cell.W_hh[:, k * N : (k + 1) * N])
        assert blocks[name].shape == (B, N, N)
    assert list(cell.params) == ["W_hh", "W_xh", "b_ih", "b_hh"]
    new = cell.with_params({**cell.params, "W_hh": 2 * cell.W_hh})
    assert isinstance(new, GRU) and new.dtype == np.float32
    np.testing.assert_array_equal(new.W_hh, 2 * cell.W_hh)
    assert "GRU(" in repr(cell) and f"n_networks={B}" in repr(cell)
    assert GRU(np.zeros((3, 1))).hidden_size == 1


def test_caller_arrays_stay_writeable():
    cell = GRU(**make_params())
    xs = inputs()
    h0 = np.ones(N)
    traj = cell.run(xs, h0)
    assert xs.flags.writeable and h0.flags.writeable
    assert not np.may_share_memory(traj.inputs, xs)
    xs[0, 0] = 5.0
    h0[0] = 5.0
    assert traj.inputs[0, 0] != 5.0 and traj.states[0, 0] == 1.0
    with pytest.raises(ValueError):
        traj.states[0, 0] = 2.0


# --------------------------------------------------------------------------- errors


BAD_CONSTRUCTORS = [
    (dict(W_hh=np.ones((4, 2))), "W_hh", "multiple of 3"),
    (dict(W_hh=np.ones((6, 3))), "W_hh", "(6, 3)"),
    (dict(W_hh=np.ones((4, 4))), "W_hh", "a GRU"),
    (dict(W_hh=np.ones(6)), "W_hh", "2-D or 3-D"),
    (dict(W_hh=np.full((6, 2), np.nan)), "W_hh", "finite"),
    (dict(W_hh=np.ones((6, 2)), W_xh=np.ones((4, 3))), "W_xh", "match"),
    (dict(W_hh=np.ones((6, 2)), W_xh=np.ones(6)), "W_xh", "2-D"),
    (dict(W_hh=np.ones((6, 2)), b_ih=np.ones(4)), "b_ih", "match"),
    (dict(W_hh=np.ones((6, 2)), b_hh=np.ones(2)), "b_hh", "match"),
    (dict(W_hh=np.ones((6, 2)), b_hh=np.ones((6, 1))), "b_hh", "1-D"),
    (dict(W_hh=np.ones((2, 6, 2)), b_ih=np.ones(6)), "b_ih", "2-D"),
    (dict(W_hh=np.ones((2, 6, 2)), b_ih=np.ones((3, 6))), "b_ih", "match"),
    (dict(W_hh=np.ones((6, 2)), dtype=np.int64), "dtype", "float"),
]


@pytest.mark.parametrize(("kwargs", "name", "words"), BAD_CONSTRUCTORS)
def test_bad_constructor_arguments_give_one_line_errors(kwargs, name, words):
    with pytest.raises((ValueError, TypeError)) as info:
        GRU(**kwargs)
    message = str(info.value)
    assert message.startswith(name) and words in message and "\n" not in message, message


def test_bad_run_arguments_give_one_line_errors():
    cell = GRU(**make_params())
    traj = cell.run(inputs())
    cases = [
        (lambda: cell.run(np.ones((T, D + 1))), "xs"),
        (lambda: cell.run(0), "xs"),
        (lambda: cell.run(inputs(), h0=np.ones(N + 1)), "h0"),
        (lambda: GRU(np.zeros((3, 1))).run(np.ones((2, 1))), "xs"),
        (lambda: cell.jacobian(traj, 0), "t"),
        (lambda: cell.vjp(traj, 1, np.ones(N + 1)), "v"),
        (lambda: cell.param_grads(traj, np.ones((T, N))), "adjoints"),
        (lambda: GRU(**make_params(batched=True)).run(inputs(batch=B + 1)), "xs"),
    ]
    for call, name in cases:
        with pytest.raises((ValueError, TypeError)) as info:
            call()
        message = str(info.value)
        assert message.startswith(name) and "\n" not in message, message


def test_non_finite_forward_is_a_one_line_error():
    big = np.zeros((6, 2), np.float32)
    big[4:] = 3e38  # W_hn h overflows float32 for h = (1, 1): hn = inf
    with pytest.raises(NonFiniteError) as info:
        GRU(big, dtype=np.float32).run(3, h0=np.ones(2))
    assert "\n" not in str(info.value) and str(info.value).startswith("W_hh")
    nan = np.zeros((6, 2), np.float32)
    nan[:2] = 3e38  # r's pre-activation: inf from W_hr h, -inf from W_ir x -> NaN
    with pytest.raises(NonFiniteError):
        GRU(nan, -nan, dtype=np.float32).run(np.ones((3, 2)), h0=np.ones(2))
