"""The LSTM cell: forward run, full-state Jacobians, products, parameter gradients, h-only view.

References independent of gradflow's implementation: PyTorch's ``nn.LSTM``/``nn.LSTMCell`` in
float64 (skipped without torch), a plain NumPy LSTM written here (scipy's expit), central finite
differences of one step, and known answers derived in the docstrings. The LSTM's private
modules are tested here, through the cell and its view: ``gradflow.cells._lstm_steps`` (the
step products), ``gradflow.cells._lstm_hidden`` (the h-only view) and the LSTM half of
``gradflow.cells._gated_grads`` (parameter gradients, population blocks).
"""

import numpy as np
import pytest
from _population_checks import POPULATION_LAYOUTS, POPULATIONS, check_blocks, check_population
from scipy.special import expit

from gradflow.cells import LSTM, Elman, Trajectory
from gradflow.errors import NonFiniteError
from gradflow.jacobians import backprop, log_gradient_norms, product_singular_values
from gradflow.lyapunov import along, spectrum

N, D, T, B = 4, 3, 7, 3


def weights(rng=0, lead=(), *, scale=1.0):
    rng = np.random.default_rng(rng)
    W_hh = rng.standard_normal((*lead, 4 * N, N)) * scale / np.sqrt(N)
    W_xh = rng.standard_normal((*lead, 4 * N, D)) * 0.7
    b = rng.standard_normal((*lead, 4 * N)) * 0.5
    return W_hh, W_xh, b


def data(rng=1, batch=None, lead_state=None):
    rng = np.random.default_rng(rng)
    xs = rng.standard_normal((T, D) if batch is None else (T, batch, D))
    shape = (2 * N,) if lead_state is None else (lead_state, 2 * N)
    return xs, 0.5 * rng.standard_normal(shape)


def reference_step(W_hh, W_xh, b, s, x):
    """One LSTM step in plain NumPy (shared weights): returns (s_next, gates i, f, g, o)."""
    h, c = s[..., :N], s[..., N:]
    a = h @ W_hh.T + b
    if x is not None:
        a = a + x @ W_xh.T
    i, f, o = expit(a[..., :N]), expit(a[..., N : 2 * N]), expit(a[..., 3 * N :])
    g = np.tanh(a[..., 2 * N : 3 * N])
    c_next = f * c + i * g
    return np.concatenate([o * np.tanh(c_next), c_next], axis=-1), (i, f, g, o)


def reference_run(W_hh, W_xh, b, xs, s0):
    states, gates = [s0], []
    for x in xs:
        s, gate = reference_step(W_hh, W_xh, b, states[-1], x)
        states.append(s)
        gates.append(gate)
    return np.stack(states), [np.stack(g) for g in zip(*gates, strict=True)]


def fd_jacobian(f, s, eps=1e-6):
    cols = []
    for j in range(s.shape[-1]):
        e = np.zeros_like(s)
        e[..., j] = eps
        cols.append((f(s + e) - f(s - e)) / (2 * eps))
    return np.stack(cols, axis=-1)


BLOCKS = {
    "dh/dh": (slice(None, N), slice(None, N)),
    "dh/dc": (slice(None, N), slice(N, None)),
    "dc/dh": (slice(N, None), slice(None, N)),
    "dc/dc": (slice(N, None), slice(N, None)),
}


# -- torch cross-checks ---------------------------------------------------------------------
def torch_layer(torch, W_hh, W_xh, b, *, cell=False):
    """nn.LSTM (or nn.LSTMCell) in float64 with these weights; b is split at random between
    bias_ih and bias_hh, so only their sum can agree with gradflow's b."""
    layer = (torch.nn.LSTMCell(D, N) if cell else torch.nn.LSTM(D, N)).double()
    split = np.random.default_rng(99).standard_normal(b.shape)
    suffix = "" if cell else "_l0"
    with torch.no_grad():
        getattr(layer, "weight_hh" + suffix).copy_(torch.tensor(W_hh))
        getattr(layer, "weight_ih" + suffix).copy_(torch.tensor(W_xh))
        getattr(layer, "bias_ih" + suffix).copy_(torch.tensor(b - split))
        getattr(layer, "bias_hh" + suffix).copy_(torch.tensor(split))
    return layer


def torch_states_and_adjoints(torch, W_hh, W_xh, b, xs, s0, v):
    """States s_t = [h_t, c_t] and ∂⟨v, s_T⟩/∂s_t from nn.LSTMCell run step by step.

    In torch's graph c_t also feeds h_t inside the cell, so the gradient of the cell's own c_t
    would include the path through h_t. gradflow's adjoints treat h_t and c_t as independent
    coordinates of the state; clones of h_t and c_t (with ``retain_grad``) are exactly those
    coordinates: each feeds only the next step (and the loss).
    """
    cell = torch_layer(torch, W_hh, W_xh, b, cell=True)
    hs = [torch.tensor(s0[..., :N], requires_grad=True)]
    cs = [torch.tensor(s0[..., N:], requires_grad=True)]
    for x in xs:
        h, c = cell(torch.tensor(x), (hs[-1], cs[-1]))
        h, c = h.clone(), c.clone()
        h.retain_grad()
        c.retain_grad()
        hs.append(h)
        cs.append(c)
    (torch.cat([hs[-1], cs[-1]], -1) * torch.tensor(v)).sum().backward()
    states = np.stack([torch.cat([h, c], -1).detach().numpy() for h, c in zip(hs, cs, strict=True)])
    adjoints = np.stack(
        [torch.cat([h.grad, c.grad], -1).numpy() for h, c in zip(hs, cs, strict=True)]
    )
    return states, adjoints


@pytest.mark.parametrize("batch", [None, B])
def test_forward_h_and_c_match_torch(batch):
    torch = pytest.importorskip("torch")
    W_hh, W_xh, b = weights()
    xs, s0 = data(batch=batch, lead_state=batch)
    traj = LSTM(W_hh, W_xh, b).run(xs, s0)
    layer = torch_layer(torch, W_hh, W_xh, b)
    hc0 = tuple(torch.tensor(s0[..., k * N : (k + 1) * N])[None] for k in (0, 1))
    with torch.no_grad():
        out, (_, c_T) = layer(torch.tensor(xs), hc0)
    np.testing.assert_allclose(traj.states[1:, ..., :N], out.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(traj.states[-1, ..., N:], c_T[0].numpy(), rtol=0, atol=1e-10)
    states, _ = torch_states_and_adjoints(torch, W_hh, W_xh, b, xs, s0, np.ones_like(s0))
    np.testing.assert_allclose(traj.states, states, rtol=0, atol=1e-10)  # every c_t too


@pytest.mark.parametrize("batch", [None, B])
def test_full_state_adjoints_match_torch(batch):
    torch = pytest.importorskip("torch")
    W_hh, W_xh, b = weights(2, scale=1.5)
    xs, s0 = data(3, batch=batch, lead_state=batch)
    v = np.random.default_rng(4).standard_normal(s0.shape)
    cell = LSTM(W_hh, W_xh, b)
    _, expected = torch_states_and_adjoints(torch, W_hh, W_xh, b, xs, s0, v)
    np.testing.assert_allclose(backprop(cell, cell.run(xs, s0), v), expected, rtol=0, atol=1e-10)


def torch_param_grads(torch, W_hh, W_xh, b, xs, s0, w_h, u_c):
    """Gradients of L = Σ_t ⟨w_t, h_t⟩ + ⟨u, c_T⟩ from nn.LSTM autograd."""
    layer = torch_layer(torch, W_hh, W_xh, b)
    hc0 = tuple(torch.tensor(s0[..., k * N : (k + 1) * N])[None] for k in (0, 1))
    out, (_, c_T) = layer(torch.tensor(xs), hc0)
    ((out * torch.tensor(w_h)).sum() + (c_T[0] * torch.tensor(u_c)).sum()).backward()
    assert torch.allclose(layer.bias_ih_l0.grad, layer.bias_hh_l0.grad)
    return {
        "W_hh": layer.weight_hh_l0.grad.numpy(),
        "W_xh": layer.weight_ih_l0.grad.numpy(),
        "b": layer.bias_ih_l0.grad.numpy(),
    }


def loss_cotangent(shape, rng=5):
    """v for backprop of L = Σ_t ⟨w_t, h_t⟩ + ⟨u, c_T⟩: (v, w, u)."""
    rng = np.random.default_rng(rng)
    v = np.zeros(shape)
    v[1:, ..., :N] = rng.standard_normal(v[1:, ..., :N].shape)
    v[-1, ..., N:] = rng.standard_normal(v[-1, ..., N:].shape)
    return v, v[1:, ..., :N], v[-1, ..., N:]


@pytest.mark.parametrize("batch", [None, B])
def test_param_grads_match_torch(batch):
    """A batch of sequences through one network: gradients summed over the batch."""
    torch = pytest.importorskip("torch")
    W_hh, W_xh, b = weights(6)
    xs, s0 = data(7, batch=batch, lead_state=batch)
    cell = LSTM(W_hh, W_xh, b)
    traj = cell.run(xs, s0)
    v, w_h, u_c = loss_cotangent(traj.states.shape)
    grads = cell.param_grads(traj, backprop(cell, traj, v))
    expected = torch_param_grads(torch, W_hh, W_xh, b, xs, s0, w_h, u_c)
    assert grads.keys() == expected.keys()
    for name, value in expected.items():
        np.testing.assert_allclose(grads[name], value, rtol=0, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("shared_inputs", [False, True])
def test_stacked_networks_match_torch_network_by_network(shared_inputs):
    torch = pytest.importorskip("torch")
    W_hh, W_xh, b = weights(8, lead=(B,))
    xs, s0 = data(9, batch=None if shared_inputs else B, lead_state=B)
    cell = LSTM(W_hh, W_xh, b)
    traj = cell.run(xs, s0)
    v, w_h, u_c = loss_cotangent(traj.states.shape, rng=10)
    grads = cell.param_grads(traj, backprop(cell, traj, v))
    for k in range(B):
        x_k = xs if shared_inputs else xs[:, k]
        expected = torch_param_grads(torch, W_hh[k], W_xh[k], b[k], x_k, s0[k], w_h[:, k], u_c[k])
        for name, value in expected.items():
            np.testing.assert_allclose(grads[name][k], value, rtol=0, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("layout", ["sequences", "networks, shared inputs"])
def test_param_grads_match_finite_differences(layout):
    """Loss L = Σ_t ⟨w_t, h_t⟩ + ⟨u, c_T⟩ through the plain NumPy LSTM, central differences in
    every parameter entry: a batch of sequences sums over the batch, stacked networks do not."""
    stacked = layout.startswith("networks")
    W_hh, W_xh, b = weights(28, (B,) if stacked else ())
    xs, s0 = data(29, batch=None if stacked else B, lead_state=B)
    cell = LSTM(W_hh, W_xh, b)
    traj = cell.run(xs, s0)
    v, _, _ = loss_cotangent(traj.states.shape, rng=30)
    grads = cell.param_grads(traj, backprop(cell, traj, v))

    def loss(params):
        if not stacked:
            return np.sum(v * reference_run(*params, xs, s0)[0])
        nets = [reference_run(*(p[k] for p in params), xs, s0[k])[0] for k in range(B)]
        return np.sum(v * np.stack(nets, axis=1))

    params, eps = [W_hh, W_xh, b], 1e-6
    for index, name in enumerate(["W_hh", "W_xh", "b"]):
        numeric = np.zeros_like(params[index])
        for entry in np.ndindex(numeric.shape):
            shifted = []
            for sign in (1, -1):
                value = params[index].copy()
                value[entry] += sign * eps
                shifted.append(loss([*params[:index], value, *params[index + 1 :]]))
            numeric[entry] = (shifted[0] - shifted[1]) / (2 * eps)
        np.testing.assert_allclose(grads[name], numeric, rtol=0, atol=1e-7, err_msg=name)


# -- Jacobians and block products -----------------------------------------------------------
def test_forward_and_gates_match_plain_numpy():
    W_hh, W_xh, b = weights()
    xs, s0 = data(batch=B, lead_state=B)
    cell = LSTM(W_hh, W_xh, b)
    traj = cell.run(xs, s0)
    states, (i, f, g, o) = reference_run(W_hh, W_xh, b, xs, s0)
    np.testing.assert_allclose(traj.states, states, rtol=0, atol=1e-14)
    summary = cell.step_summary(traj)
    for name, gate in zip("ifgo", (i, f, g, o), strict=True):
        assert summary[f"mean_{name}"].shape == (T, B)
        np.testing.assert_allclose(summary[f"mean_{name}"], gate.mean(-1), atol=1e-14)


@pytest.mark.parametrize("t", [1, 4, T])
def test_full_state_jacobian_blocks_match_finite_differences(t):
    W_hh, W_xh, b = weights(11, scale=2.0)
    xs, s0 = data(12)
    cell = LSTM(W_hh, W_xh, b)
    traj = cell.run(xs, s0)
    expected = fd_jacobian(
        lambda s: reference_step(W_hh, W_xh, b, s, xs[t - 1])[0], traj.states[t - 1]
    )
    J = cell.jacobian(traj, t)
    assert J.shape == (2 * N, 2 * N)
    for name, (rows, cols) in BLOCKS.items():
        np.testing.assert_allclose(J[rows, cols], expected[rows, cols], atol=1e-8, err_msg=name)
    np.testing.assert_allclose(np.diag(J[N:, N:]), np.diag(expected[N:, N:]), atol=1e-8)


@pytest.mark.parametrize("layout", ["one", "sequences", "networks"])
def test_block_products_match_the_dense_jacobian(layout):
    lead = (B,) if layout == "networks" else ()
    W_hh, W_xh, b = weights(13, lead, scale=1.5)
    batch = None if layout == "one" else B
    xs, s0 = data(14, batch=batch, lead_state=batch)
    cell = LSTM(W_hh, W_xh, b)
    traj = cell.run(xs, s0)
    rng = np.random.default_rng(15)
    V = rng.standard_normal((*traj.states.shape[1:], 5))
    u = rng.standard_normal(traj.states.shape[1:])
    for t in (1, 3, T):
        J = cell.jacobian(traj, t)
        Jt = np.swapaxes(J, -1, -2)
        np.testing.assert_allclose(cell.jvp_block(traj, t, V), J @ V, atol=1e-13)
        np.testing.assert_allclose(cell.vjp_block(traj, t, V), Jt @ V, atol=1e-13)
        np.testing.assert_allclose(
            cell.vjp_vector(traj, t, u), (Jt @ u[..., None])[..., 0], atol=1e-13
        )
        np.testing.assert_allclose(cell.jvp(traj, t, V), J @ V, atol=1e-13)
        np.testing.assert_allclose(cell.vjp(traj, t, u), (Jt @ u[..., None])[..., 0], atol=1e-13)
        dense = list(cell.iter_jacobians(traj, t, t))
        np.testing.assert_array_equal(dense[0], J)


def test_batched_networks_equal_one_network_at_a_time():
    W_hh, W_xh, b = weights(16, (B,))
    xs, s0 = data(17, batch=B, lead_state=B)
    cell = LSTM(W_hh, W_xh, b)
    traj = cell.run(xs, s0)
    v, _, _ = loss_cotangent(traj.states.shape, rng=18)
    grads = cell.param_grads(traj, backprop(cell, traj, v))
    for k in range(B):
        one = LSTM(W_hh[k], W_xh[k], b[k])
        single = one.run(xs[:, k], s0[k])
        np.testing.assert_allclose(traj.states[:, k], single.states, atol=1e-14)
        np.testing.assert_allclose(cell.jacobian(traj, 3)[k], one.jacobian(single, 3), atol=1e-14)
        for name, value in one.param_grads(single, backprop(one, single, v[:, k])).items():
            np.testing.assert_allclose(grads[name][k], value, atol=1e-12, err_msg=name)


def test_one_input_sequence_drives_a_batch_of_initial_states():
    W_hh, W_xh, b = weights(31)
    xs, s0 = data(32, lead_state=B)
    cell = LSTM(W_hh, W_xh, b)
    traj = cell.run(xs, s0)  # xs (T, D), h0 (B, 2N)
    v, _, _ = loss_cotangent(traj.states.shape, rng=33)
    grads = cell.param_grads(traj, backprop(cell, traj, v))
    total = {name: 0.0 for name in grads}
    for k in range(B):
        single = cell.run(xs, s0[k])
        np.testing.assert_allclose(traj.states[:, k], single.states, atol=1e-14)
        for name, value in cell.param_grads(single, backprop(cell, single, v[:, k])).items():
            total[name] = total[name] + value
    for name, value in total.items():
        np.testing.assert_allclose(grads[name], value, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("lead", [(), (B,)])
def test_chunked_run_and_param_grads_equal_one_chunk(lead, monkeypatch):
    """Runs and parameter gradients go through chunks of a few steps: 3 steps per chunk (a
    ragged last chunk at T = 7) and one step per chunk give what a single chunk gives."""
    import gradflow.cells.lstm as module

    W_hh, W_xh, b = weights(34, lead)
    xs, s0 = data(35, batch=B, lead_state=B)
    cell = LSTM(W_hh, W_xh, b)
    traj = cell.run(xs, s0)
    v, _, _ = loss_cotangent(traj.states.shape, rng=36)
    grads = cell.param_grads(traj, backprop(cell, traj, v))
    for steps in (3, 1):
        monkeypatch.setattr(module, "_CHUNK", steps * B * 4 * N)
        chunked = cell.run(xs, s0)
        # the same arithmetic but for the blocking of the input GEMM (BLAS rounding)
        np.testing.assert_allclose(chunked.states, traj.states, rtol=0, atol=1e-14)
        for key, value in traj.cache.items():
            np.testing.assert_allclose(chunked.cache[key], value, rtol=0, atol=1e-14, err_msg=key)
        adjoints = backprop(cell, chunked, v)
        for name, value in cell.param_grads(chunked, adjoints).items():
            np.testing.assert_allclose(value, grads[name], rtol=0, atol=1e-13, err_msg=name)


def test_float32_runs_in_float32_close_to_float64():
    W_hh, W_xh, b = weights(19)
    xs, s0 = data(20, batch=B, lead_state=B)
    cell64, cell32 = LSTM(W_hh, W_xh, b), LSTM(W_hh, W_xh, b, dtype=np.float32)
    traj64, traj32 = cell64.run(xs, s0), cell32.run(xs, s0)
    assert cell32.dtype == np.float32 and cell32.W_hh.dtype == np.float32
    assert traj32.states.dtype == np.float32
    assert all(value.dtype == np.float32 for value in traj32.cache.values())
    np.testing.assert_allclose(traj32.states, traj64.states, atol=1e-5)
    v = np.ones((B, 2 * N), np.float32)
    assert cell32.vjp(traj32, 2, v).dtype == np.float32
    np.testing.assert_allclose(cell32.jacobian(traj32, 2), cell64.jacobian(traj64, 2), atol=1e-5)
    adj32 = backprop(cell32, traj32, v)
    np.testing.assert_allclose(adj32, backprop(cell64, traj64, v), rtol=1e-4, atol=1e-5)
    g32, g64 = cell32.param_grads(traj32, adj32), cell64.param_grads(traj64, adj32)
    assert all(value.dtype == np.float32 for value in g32.values())
    for name in g64:
        np.testing.assert_allclose(g32[name], g64[name], rtol=1e-4, atol=1e-4, err_msg=name)


# -- the population layout: stacked weights, each network on its own M sequences -------------
def population(P, M, layout, rng=40, dtype=np.float64):
    """A stacked LSTM of P networks and population run arguments ``(cell, xs, h0)``;
    "bare" has neither W_xh nor b (an input-free run)."""
    gen = np.random.default_rng(rng + 1)
    W_hh, W_xh, b = weights(rng, (P,), scale=1.5)
    if layout == "bare":
        W_xh = b = None
    xs = {"steps and h0": T, "bare": T, "shared inputs": gen.standard_normal((T, D))}.get(
        layout, gen.standard_normal((T, P, M, D))
    )
    h0 = None if layout == "inputs, no h0" else 0.5 * gen.standard_normal((P, M, 2 * N))
    return LSTM(W_hh, W_xh, b, dtype=dtype), xs, h0


@pytest.mark.parametrize("layout", POPULATION_LAYOUTS)
@pytest.mark.parametrize(("P", "M"), POPULATIONS)
def test_population_run_equals_each_network_on_its_own_sequences(P, M, layout):
    """A population run of stacked LSTMs (states [h, c]; the cached gates and factors;
    adjoints and parameter gradients) is, network by network, network p's run alone on its M
    sequences."""
    check_population(*population(P, M, layout), T, rng=42)


def test_population_in_float32_stays_float32_and_matches_network_by_network():
    check_population(*population(3, 4, "inputs and h0", rng=43, dtype=np.float32), T, rng=44)


@pytest.mark.parametrize("layout", ["inputs and h0", "shared inputs"])
def test_chunked_population_run_and_param_grads_equal_one_block(layout, monkeypatch):
    """A population's run and gradients go through chunks and blocks of networks and steps:
    groups of 2 of the 3 networks (a ragged last group), one network with every step, one
    network in chunks of 3 steps (ragged at T = 7) and of one step all give what one block of
    everything gives."""
    per_step = 4 * 4 * N  # entries of δ per network and step, M = 4
    sizes = (2 * T * per_step, T * per_step, 3 * per_step, per_step)
    budget = "gradflow.cells.lstm._CHUNK"
    check_blocks(*population(3, 4, layout, rng=45), monkeypatch, budget, sizes, rng=46)


def test_population_runs_are_refused_by_jacobian_analyses_and_the_h_only_view():
    cell, xs, h0 = population(3, 4, "inputs and h0", rng=47)
    traj = cell.run(xs, h0)
    with pytest.raises(ValueError, match=r"^traj: expected one sequence per network"):
        cell.jacobian(traj, 1)
    view = cell.h_only()
    for call in (
        lambda: view.check_trajectory(traj),
        lambda: view.run(xs),
        lambda: backprop(view, traj, np.ones((3, 4, N))),
    ):
        with pytest.raises(ValueError, match=r"^traj: the h-only view") as info:
            call()
        assert "\n" not in str(info.value)


# -- the h-only view ------------------------------------------------------------------------
@pytest.mark.parametrize("lead", [(), (B,)])
def test_h_only_view_is_the_top_left_block(lead):
    W_hh, W_xh, b = weights(21, lead, scale=2.0)
    batch = B if lead else None
    xs, s0 = data(22, batch=batch, lead_state=batch)
    cell = LSTM(W_hh, W_xh, b)
    view = cell.h_only()
    traj = cell.run(xs, s0)
    derived = view.check_trajectory(traj)
    assert derived.states.shape == (T + 1, *lead, N) and np.shares_memory(
        derived.states, traj.states
    )
    np.testing.assert_array_equal(derived.states, traj.states[..., :N])
    assert view.check_trajectory(derived) is derived
    assert view.state_size == view.hidden_size == N and view.n_networks == cell.n_networks
    rng = np.random.default_rng(23)
    V, u = rng.standard_normal((*lead, N, 3)), rng.standard_normal((*lead, N))
    blocks = []
    for t in range(1, T + 1):
        top_left = cell.jacobian(traj, t)[..., :N, :N]
        blocks.append(top_left)
        np.testing.assert_allclose(view.jacobian(traj, t), top_left, atol=1e-14)
        np.testing.assert_allclose(view.jvp(traj, t, V), top_left @ V, atol=1e-13)
        Jt = np.swapaxes(top_left, -1, -2)
        np.testing.assert_allclose(view.vjp_block(derived, t, V), Jt @ V, atol=1e-13)
        np.testing.assert_allclose(view.vjp(traj, t, u), (Jt @ u[..., None])[..., 0], atol=1e-13)
    # the analyses of layer 3 take the LSTM's own trajectory unchanged
    expected = spectrum(np.stack(blocks), reortho=1, rng=0)
    np.testing.assert_allclose(
        along(view, traj, reortho=1, rng=0).exponents, expected.exponents, atol=1e-10
    )
    norms = log_gradient_norms(view, traj, u)
    w = u.copy()
    for t in range(T, 0, -1):
        w = (np.swapaxes(blocks[t - 1], -1, -2) @ w[..., None])[..., 0]
    np.testing.assert_allclose(norms[0], np.log(np.linalg.norm(w, axis=-1)), atol=1e-10)
    product = blocks[T - 1] @ blocks[T - 2] @ blocks[T - 3]
    svs = product_singular_values(view, traj, depths=[3]).log_singular_values[0]
    np.testing.assert_allclose(svs, np.log(np.linalg.svd(product, compute_uv=False)), atol=1e-8)
    assert view.step_summary(traj).keys() == cell.step_summary(traj).keys()


def test_h_only_view_runs_params_and_refusals():
    W_hh, W_xh, b = weights(24)
    xs, s0 = data(25)
    cell = LSTM(W_hh, W_xh, b)
    view = cell.h_only()
    full = cell.run(xs, np.concatenate([s0[:N], np.zeros(N)]))
    np.testing.assert_array_equal(view.run(xs, s0[:N]).states, full.states[:, :N])
    assert view.params.keys() == cell.params.keys()
    assert view.recurrent_blocks.keys() == cell.recurrent_blocks.keys()
    again = view.with_params(cell.params)
    np.testing.assert_array_equal(again.run(xs).states, view.run(xs).states)
    with pytest.raises(TypeError, match=r"^cell: the h-only view"):
        view.param_grads(full, np.zeros(full.states.shape))
    with pytest.raises(ValueError, match=r"^traj: "):
        view.check_trajectory(Elman(np.eye(N)).run(3))
    with pytest.raises(ValueError, match=r"^traj: "):
        LSTM(np.zeros((4 * (N + 1), N + 1))).h_only().check_trajectory(full)


# -- known answers ---------------------------------------------------------------------------
def forget_only(beta, n=N):
    """Zero weights, no input, bias β on the forget gate only."""
    b = np.zeros(4 * n)
    b[n : 2 * n] = beta
    return LSTM(np.zeros((4 * n, n)), b=b)


@pytest.mark.parametrize("beta", [-1.0, 0.5, 3.0])
def test_zero_weight_lstm_keeps_n_exponents_at_log_sigma_of_the_forget_bias(beta):
    """With W = 0 and only a forget bias β, every gate is constant: i = o = σ(0) = 1/2,
    f = σ(β), g = tanh(0) = 0, so c_t = f c_{t-1} stays 0 from c_0 = 0 and K = o(1 − tanh² c) = 1/2.
    All paths through W vanish, so J = [[0, X], [0, F]] with F = σ(β) I and X = K F = F/2.
    J = σ(β) P with P = [[0, I/2], [0, I]] a projection (P² = P) onto {[x/2, x]}: one step puts
    the frame in its range, on which J is σ(β) I, so after a burn-in of one step N Lyapunov
    exponents are exactly ln σ(β); the other N are -inf (J has rank N; rounding leaves them at
    about ln 1e-16 per step). Adjoints Jᵀ [λ_h, λ_c] =
    [0, X λ_h + F λ_c], so from v = [0, e] the gradient norm at t is exactly σ(β)^(T - t), and from
    v = [e, 0] it is σ(β)^(T - t) / 2 for t < T.
    """
    steps = 60
    cell = forget_only(beta)
    traj = cell.run(steps)
    sig = expit(beta)
    J = cell.jacobian(traj, 5)
    np.testing.assert_array_equal(J[:, :N], 0.0)
    np.testing.assert_allclose(J[:N, N:], np.diag(np.full(N, sig / 2)), atol=1e-15)
    np.testing.assert_allclose(J[N:, N:], np.diag(np.full(N, sig)), atol=1e-15)
    result = along(cell, traj, burn_in=1, rng=0)
    np.testing.assert_allclose(result.exponents[:N], np.log(sig), atol=1e-12)
    assert np.all(result.exponents[N:] < np.log(sig) - 20)  # -inf, or rounding far below
    e = np.zeros(2 * N)
    e[N] = 1.0
    lags = steps - np.arange(steps + 1)
    np.testing.assert_allclose(log_gradient_norms(cell, traj, e), lags * np.log(sig), atol=1e-12)
    e = np.roll(e, -N)
    expected = np.where(lags > 0, lags * np.log(sig) - np.log(2.0), 0.0)
    np.testing.assert_allclose(log_gradient_norms(cell, traj, e), expected, atol=1e-12)


def test_h_only_spectrum_misses_the_memory_in_c():
    """The same zero-weight LSTM seen through h alone: J^h = ∂h_t/∂h_{t-1} at fixed c is
    D^o W_ho + K C_t = 0, because every path from h_{t-1} goes through W = 0. So all N h-only
    exponents are -inf, while the full state keeps N at ln σ(β): the memory the forget gate keeps
    lives in c, which the h-only Jacobian holds fixed. A 1-D LSTM with only W_hg = w and a
    forget bias β shows the same gap with finite numbers: its run stays at s = 0
    (g = tanh(w h) = 0), where i = o = 1/2, f = σ(β), K = 1/2 and D^g = i (1 - g²) = 1/2, so
    J^h = K D^g w = w/4 (h-only exponent ln(w/4)), while the full state has
    J = [[w/4, f/2], [w/2, f]], of rank 1 with eigenvalues w/4 + f and 0: exponents
    ln(w/4 + σ(β)) and -inf. The h-only view misses the forget gate's share f of the growth.
    """
    view = forget_only(2.0).h_only()
    result = along(view, view.run(40), rng=0)
    assert np.all(result.exponents == -np.inf) and np.all(result.stderr == 0)
    w, beta = 0.8, 2.0
    cell = LSTM(np.array([[0.0], [0.0], [w], [0.0]]), b=np.array([0.0, beta, 0.0, 0.0]))
    traj = cell.run(50)
    np.testing.assert_array_equal(traj.states, 0.0)
    f = expit(beta)
    np.testing.assert_allclose(cell.jacobian(traj, 7), [[w / 4, f / 2], [w / 2, f]], atol=1e-15)
    np.testing.assert_allclose(
        along(cell.h_only(), traj, rng=0).exponents, [np.log(w / 4)], atol=1e-12
    )
    full = along(cell, traj, burn_in=1, rng=0).exponents  # one step aligns the frame with J's range
    np.testing.assert_allclose(full[0], np.log(w / 4 + f), atol=1e-12)
    assert full[1] < full[0] - 20


# -- API surface -----------------------------------------------------------------------------
def test_attributes_params_blocks_and_with_params():
    W_hh, W_xh, b = weights(26, (B,))
    cell = LSTM(W_hh, W_xh, b)
    assert (cell.hidden_size, cell.state_size, cell.input_size, cell.n_networks) == (N, 2 * N, D, B)
    assert cell.dtype == np.float64
    np.testing.assert_array_equal(cell.W_hh, W_hh)
    assert list(cell.params) == ["W_hh", "W_xh", "b"]
    assert list(LSTM(W_hh[0]).params) == ["W_hh"] and LSTM(W_hh[0]).input_size == 0
    blocks = cell.recurrent_blocks
    assert list(blocks) == ["W_hi", "W_hf", "W_hg", "W_ho"]
    for k, block in enumerate(blocks.values()):
        assert block.shape == (B, N, N) and np.shares_memory(block, cell.W_hh)
        np.testing.assert_array_equal(block, W_hh[:, k * N : (k + 1) * N])
    clone = cell.with_params({name: 2 * value for name, value in cell.params.items()})
    assert isinstance(clone, LSTM)
    np.testing.assert_array_equal(clone.b, 2 * b)
    assert LSTM(W_hh, dtype=np.float32).with_params({"W_hh": W_hh}).dtype == np.float32


def test_input_free_run_and_read_only_trajectory_and_cache():
    cell = forget_only(1.0)
    traj = cell.run(3, h0=np.concatenate([np.zeros(N), np.ones(N)]))
    np.testing.assert_allclose(traj.states[:, N:], np.outer(expit(1.0) ** np.arange(4), np.ones(N)))
    assert isinstance(traj, Trajectory) and traj.n_steps == 3 and traj.inputs is None
    with pytest.raises(ValueError):
        traj.states[0, 0] = 1.0
    with pytest.raises(ValueError):
        traj.cache["dgates"][0, 0] = 1.0


def test_run_leaves_the_callers_inputs_writeable_and_unshared():
    W_hh, W_xh, b = weights()
    xs, _ = data()
    traj = LSTM(W_hh, W_xh, b).run(xs)
    assert xs.flags.writeable and not np.shares_memory(traj.inputs, xs)
    xs[0, 0] = 123.0  # no error, and the trajectory keeps its own copy
    assert traj.inputs[0, 0] != 123.0


def test_param_grads_without_inputs_or_bias_and_input_free_runs():
    W_hh, W_xh, _ = weights(27)
    cell = LSTM(W_hh, W_xh)
    traj = cell.run(T, h0=np.full(2 * N, 0.3))
    grads = cell.param_grads(traj, backprop(cell, traj, np.ones(2 * N)))
    assert list(grads) == ["W_hh", "W_xh"]
    np.testing.assert_array_equal(grads["W_xh"], 0.0)


W4, X4 = np.zeros((4 * N, N)), np.zeros((4 * N, D))
BAD_CONSTRUCTORS = [
    (dict(W_hh=np.zeros((10, 3))), "W_hh", "multiple of 4"),
    (dict(W_hh=np.zeros((4 * N, N + 1))), "W_hh", f"{N} columns"),
    (dict(W_hh=np.zeros((4 * N, 2))), "W_hh", "proj_size=2"),
    (dict(W_hh=np.zeros((N, N))), "W_hh", "(…, 4N, N)"),
    (dict(W_hh=np.zeros(4 * N)), "W_hh", "2-D or 3-D"),
    (dict(W_hh=np.full((4 * N, N), np.nan)), "W_hh", "finite"),
    (dict(W_hh=W4, W_xh=np.zeros((4 * N + 1, D))), "W_xh", "match"),
    (dict(W_hh=W4, W_xh=np.zeros((B, 4 * N, D))), "W_xh", "2-D"),
    (dict(W_hh=W4, b=np.zeros(N)), "b", "match"),
    (dict(W_hh=np.zeros((B, 4 * N, N)), b=np.zeros(4 * N)), "b", "2-D"),
    (dict(W_hh=np.zeros((B, 4 * N, N)), W_xh=np.zeros((B + 1, 4 * N, D))), "W_xh", "match"),
    (dict(W_hh=W4, dtype=np.int64), "dtype", "float64 or float32"),
]


@pytest.mark.parametrize(("kwargs", "name", "words"), BAD_CONSTRUCTORS)
def test_bad_constructor_arguments_give_one_line_errors(kwargs, name, words):
    with pytest.raises((ValueError, TypeError), match=rf"^{name}: ") as info:
        LSTM(**kwargs)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_bad_run_and_derivative_arguments_give_one_line_errors():
    cell = LSTM(W4, X4)
    xs = np.zeros((T, D))
    cases = [
        (lambda: cell.run(xs, h0=np.zeros(N)), "h0", "size 8"),
        (lambda: cell.run(np.zeros((T, D + 1))), "xs", f"{D} features"),
        (lambda: LSTM(W4).run(xs), "xs", "no W_xh"),
        (lambda: cell.run(np.zeros((T, 2, D)), h0=np.zeros((3, 2 * N))), "h0", "batch sizes"),
        (lambda: cell.jacobian(Elman(np.eye(2 * N)).run(2), 1), "traj", "LSTM"),
        (lambda: cell.jacobian(cell.run(xs), T + 1), "t", f"<= {T}"),
        (lambda: cell.param_grads(cell.run(xs), np.zeros((T, 2 * N))), "adjoints", "shape"),
        (lambda: cell.vjp(cell.run(xs), 1, np.zeros(N)), "v", "size 8"),
    ]
    for call, name, words in cases:
        with pytest.raises((ValueError, TypeError), match=rf"^{name}: ") as info:
            call()
        assert words in str(info.value) and "\n" not in str(info.value), str(info.value)


def test_a_forward_run_that_turns_nan_raises_non_finite_error():
    """W_hh h overflows to -inf (entries -1e308, h = 0.9) while W_xh x overflows to +inf:
    inf - inf is NaN in every pre-activation (±inf alone would saturate the gates harmlessly)."""
    cell = LSTM(np.full((4 * N, N), -1e308), np.full((4 * N, 1), 1e308))
    h0 = np.concatenate([np.full(N, 0.9), np.zeros(N)])
    with pytest.raises(NonFiniteError, match=r"^xs: the forward run became non-finite") as info:
        cell.run(np.full((3, 1), 10.0), h0)
    assert "\n" not in str(info.value)
