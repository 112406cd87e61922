"""The Elman cell: forward run, Jacobians, VJPs/JVPs and parameter gradients.

Every derivative is checked against central finite differences of the forward map, and
against PyTorch autograd where torch is installed. The batched products of the private
``gradflow.cells._linalg`` (``matvec``, ``rmatvec``, ``outer_sum``, ``network_sum``) are tested
here, through the Elman cell that uses all four (shared, stacked and population weights).
"""

import numpy as np
import pytest

from gradflow.cells import ACTIVATIONS, Elman, Trajectory
from gradflow.jacobians import backprop

N, D, T, B = 5, 3, 6, 4


def make_cell(activation, *, batched=False, rng=0):
    rng = np.random.default_rng(rng)
    lead = (B,) if batched else ()
    W_hh = rng.standard_normal((*lead, N, N)) * 0.8 / np.sqrt(N)
    W_xh = rng.standard_normal((*lead, N, D))
    b = rng.standard_normal((*lead, N)) * 0.3
    return Elman(W_hh, W_xh, b, activation=activation)


def inputs(rng=1, batch=None):
    rng = np.random.default_rng(rng)
    shape = (T, D) if batch is None else (T, batch, D)
    return rng.standard_normal(shape)


def step_map(cell, traj, t):
    """s_{t-1} -> s_t with the input of step t, for finite differences."""

    def f(h):
        x = None if traj.inputs is None else traj.inputs[t - 1]
        return cell.step(h, x)[0]

    return f


def fd_jacobian(f, h, eps=1e-6):
    cols = []
    for j in range(h.shape[-1]):
        e = np.zeros_like(h)
        e[..., j] = eps
        cols.append((f(h + e) - f(h - e)) / (2 * eps))
    return np.stack(cols, axis=-1)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_jacobian_matches_finite_differences(activation):
    cell = make_cell(activation)
    traj = cell.run(inputs(), h0=np.random.default_rng(2).standard_normal(N))
    for t in (1, 3, T):
        expected = fd_jacobian(step_map(cell, traj, t), traj.states[t - 1])
        np.testing.assert_allclose(cell.jacobian(traj, t), expected, atol=1e-7)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_batched_networks_jacobian_vjp_jvp(activation):
    cell = make_cell(activation, batched=True)
    traj = cell.run(inputs(batch=B), h0=np.random.default_rng(3).standard_normal((B, N)))
    rng = np.random.default_rng(4)
    v = rng.standard_normal((B, N))
    block = rng.standard_normal((B, N, 2))
    for t in (1, T):
        J = cell.jacobian(traj, t)
        expected = fd_jacobian(step_map(cell, traj, t), traj.states[t - 1])
        np.testing.assert_allclose(J, expected, atol=1e-7)
        np.testing.assert_allclose(cell.vjp(traj, t, v), np.einsum("bi,bij->bj", v, J), atol=1e-12)
        np.testing.assert_allclose(cell.jvp(traj, t, block), J @ block, atol=1e-12)
        np.testing.assert_allclose(
            cell.vjp_block(traj, t, block), np.swapaxes(J, 1, 2) @ block, atol=1e-12
        )


def test_batched_networks_equal_one_by_one():
    cell = make_cell("tanh", batched=True)
    xs = inputs(batch=B)
    h0 = np.random.default_rng(5).standard_normal((B, N))
    traj = cell.run(xs, h0)
    for i in range(B):
        single = Elman(cell.W_hh[i], cell.W_xh[i], cell.b[i]).run(xs[:, i], h0[i])
        np.testing.assert_allclose(traj.states[:, i], single.states, atol=1e-14)


def test_shared_weights_batch_of_sequences_and_broadcast_inputs():
    cell = make_cell("tanh")
    xs = inputs(batch=B)
    traj = cell.run(xs)
    assert traj.states.shape == (T + 1, B, N)
    for i in range(B):
        np.testing.assert_allclose(traj.states[:, i], cell.run(xs[:, i]).states, atol=1e-14)
    # (T, D) inputs shared by B stacked networks
    stacked = make_cell("tanh", batched=True)
    shared_inputs = stacked.run(inputs())
    assert shared_inputs.states.shape == (T + 1, B, N)


def test_input_free_run_and_trajectory_is_read_only():
    cell = Elman(np.eye(3) * 0.5, activation="linear")
    traj = cell.run(3, h0=np.ones(3))
    np.testing.assert_allclose(traj.states[:, 0], [1, 0.5, 0.25, 0.125])
    assert isinstance(traj, Trajectory) and traj.n_steps == 3 and traj.batch_size is None
    with pytest.raises(ValueError):
        traj.states[0, 0] = 2.0


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("batched", [False, True])
def test_param_grads_match_finite_differences(activation, batched):
    """Loss L = Σ_t ⟨c_t, h_t⟩: gradients of W_hh, W_xh, b by BPTT vs central differences."""
    cell = make_cell(activation, batched=batched)
    xs = inputs(batch=B if batched else None)
    h0 = np.random.default_rng(6).standard_normal((B, N) if batched else N) * 0.5
    traj = cell.run(xs, h0)
    c = np.random.default_rng(7).standard_normal(traj.states.shape)
    c[0] = 0.0
    grads = cell.param_grads(traj, backprop(cell, traj, c))

    def loss(params):
        states = Elman(**params, activation=activation).run(xs, h0).states
        return float(np.sum(c * states))

    params = {"W_hh": cell.W_hh, "W_xh": cell.W_xh, "b": cell.b}
    eps = 1e-6
    for name, value in params.items():
        numeric = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            plus, minus = value.copy(), value.copy()
            plus[idx] += eps
            minus[idx] -= eps
            numeric[idx] = (loss({**params, name: plus}) - loss({**params, name: minus})) / (
                2 * eps
            )
        np.testing.assert_allclose(grads[name], numeric, atol=1e-6, err_msg=name)


def test_backprop_matches_torch_autograd():
    torch = pytest.importorskip("torch")
    cell = make_cell("tanh", batched=True)
    xs = inputs(batch=B)
    h0 = np.random.default_rng(8).standard_normal((B, N))
    v = np.random.default_rng(9).standard_normal((B, N))
    traj = cell.run(xs, h0)
    adjoints = backprop(cell, traj, v)

    W = torch.tensor(cell.W_hh)
    U = torch.tensor(cell.W_xh)
    bias = torch.tensor(cell.b)
    h = torch.tensor(h0, requires_grad=True)
    states = [h]
    for t in range(T):
        x = torch.tensor(xs[t])
        a = (W @ states[-1].unsqueeze(-1)).squeeze(-1) + (U @ x.unsqueeze(-1)).squeeze(-1) + bias
        nxt = torch.tanh(a)
        nxt.retain_grad()
        states.append(nxt)
    (states[-1] * torch.tensor(v)).sum().backward()
    expected = np.stack([s.grad.numpy() for s in states])
    np.testing.assert_allclose(traj.states, np.stack([s.detach().numpy() for s in states]))
    np.testing.assert_allclose(adjoints, expected, rtol=1e-12, atol=1e-14)


def test_float32_runs_in_float32():
    cell = Elman(np.eye(4) * 0.9, dtype=np.float32)
    traj = cell.run(5, h0=np.ones(4))
    assert traj.states.dtype == np.float32
    assert cell.vjp(traj, 2, np.ones(4, np.float32)).dtype == np.float32


def test_overflowing_linear_run_is_reported():
    cell = Elman(10.0 * np.eye(2), activation="linear")
    with pytest.raises(ValueError, match="W_hh: the forward run overflowed"):
        cell.run(400, h0=np.ones(2))


BAD_CONSTRUCTORS = [
    (dict(W_hh=np.ones((3, 4))), "W_hh", "square"),
    (dict(W_hh=np.ones(3)), "W_hh", "2-D or 3-D"),
    (dict(W_hh=np.full((2, 2), np.nan)), "W_hh", "finite"),
    (dict(W_hh=np.array([[1.0, np.inf], [0, 1]])), "W_hh", "finite"),
    (dict(W_hh=np.ones((0, 0))), "W_hh", "non-empty"),
    (dict(W_hh=np.ones((2, 2), complex)), "W_hh", "real"),
    (dict(W_hh=[["a", "b"], ["c", "d"]]), "W_hh", "real"),
    (dict(W_hh=np.eye(3), W_xh=np.ones((4, 2))), "W_xh", "match"),
    (dict(W_hh=np.eye(3), b=np.ones(4)), "b", "match"),
    (dict(W_hh=np.ones((2, 3, 3)), b=np.ones(3)), "b", "2-D"),
    (dict(W_hh=np.eye(3), activation="softplus"), "activation", "tanh"),
]


@pytest.mark.parametrize(("kwargs", "name", "words"), BAD_CONSTRUCTORS)
def test_bad_constructor_arguments_give_one_line_errors(kwargs, name, words):
    with pytest.raises((ValueError, TypeError)) as info:
        Elman(**kwargs)
    message = str(info.value)
    assert message.startswith(name) and words in message and "\n" not in message


def test_bad_run_arguments_give_one_line_errors():
    cell = make_cell("tanh")
    batched = make_cell("tanh", batched=True)
    cases = [
        (lambda: cell.run(0), "xs"),
        (lambda: cell.run(2.5), "xs"),
        (lambda: cell.run(np.ones((T, D + 1))), "xs"),
        (lambda: cell.run(np.full((T, D), np.nan)), "xs"),
        (lambda: cell.run(inputs(), h0=np.ones(N + 1)), "h0"),
        (lambda: cell.run(inputs(batch=3), h0=np.ones((2, N))), "h0"),
        (lambda: batched.run(inputs(batch=B + 1)), "xs"),
        (lambda: Elman(np.eye(3)).run(np.ones((4, 2))), "xs"),
        (lambda: cell.jacobian(cell.run(inputs()), 0), "t"),
        (lambda: cell.jacobian(cell.run(inputs()), T + 1), "t"),
        (lambda: cell.jacobian("not a trajectory", 1), "traj"),
        (lambda: cell.vjp(cell.run(inputs()), 1, np.ones(N + 1)), "v"),
        (lambda: cell.param_grads(cell.run(inputs()), np.ones((T, N))), "adjoints"),
    ]
    for call, name in cases:
        with pytest.raises((ValueError, TypeError)) as info:
            call()
        message = str(info.value)
        assert message.startswith(name), message
        assert "\n" not in message


def test_with_params_keeps_activation_and_dtype():
    cell = Elman(np.eye(3) * 0.5, np.ones((3, 2)), activation="relu", dtype=np.float32)
    new = cell.with_params({"W_hh": 2 * cell.W_hh, "W_xh": cell.W_xh})
    assert new.activation == "relu" and new.dtype == np.float32 and new.b is None
    np.testing.assert_array_equal(new.W_hh, 2 * cell.W_hh)


def test_one_input_sequence_drives_a_batch_of_initial_states():
    rng = np.random.default_rng(0)
    cell = Elman(rng.normal(size=(3, 3)) / 2, rng.normal(size=(3, 2)), rng.normal(size=3))
    xs, h0 = rng.normal(size=(4, 2)), rng.normal(size=(5, 3))
    batched = cell.run(xs, h0=h0).states
    assert batched.shape == (5, 5, 3)
    for i in range(5):
        np.testing.assert_allclose(batched[:, i], cell.run(xs, h0=h0[i]).states, atol=1e-15)


def test_run_leaves_the_callers_inputs_writeable():
    xs = np.random.default_rng(0).normal(size=(5, 2))
    cell = Elman(np.eye(3) * 0.5, np.ones((3, 2)))
    traj = cell.run(xs)
    assert xs.flags.writeable and not traj.inputs.flags.writeable
    xs[0] = 99.0  # the trajectory kept its own copy
    assert not np.shares_memory(xs, traj.inputs) and traj.inputs[0, 0] != 99.0


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "linear"])
@pytest.mark.parametrize(("P", "M"), [(3, 4), (3, 3)])  # P == M catches a wrong broadcast
def test_population_run_equals_each_network_alone(activation, P, M):
    from gradflow.jacobians import backprop

    rng = np.random.default_rng(5)
    N, D, T = 4, 2, 6
    W, U, b = rng.normal(size=(P, N, N)) / 2, rng.normal(size=(P, N, D)), rng.normal(size=(P, N))
    xs, h0 = rng.normal(size=(T, P, M, D)), rng.normal(size=(P, M, N)) * 0.5
    v = rng.normal(size=(T + 1, P, M, N))
    cell = Elman(W, U, b, activation)
    for kwargs in ({"xs": xs}, {"xs": xs, "h0": h0}):
        traj = cell.run(**kwargs)
        assert traj.states.shape == (T + 1, P, M, N) and traj.n_sequences == M
        adjoints = backprop(cell, traj, v)
        grads = cell.param_grads(traj, adjoints)
        for p in range(P):
            alone = Elman(W[p], U[p], b[p], activation)
            own = alone.run(xs[:, p], None if "h0" not in kwargs else h0[p])
            np.testing.assert_allclose(traj.states[:, p], own.states, rtol=1e-13, atol=1e-15)
            own_adj = backprop(alone, own, v[:, p])
            np.testing.assert_allclose(adjoints[:, p], own_adj, rtol=1e-12, atol=1e-14)
            for name, g in alone.param_grads(own, own_adj).items():
                np.testing.assert_allclose(grads[name][p], g, rtol=1e-11, atol=1e-13)
    free = Elman(W, activation=activation).run(T, h0=h0)  # no inputs: W_hh alone
    for p in range(P):
        own = Elman(W[p], activation=activation).run(T, h0=h0[p])
        np.testing.assert_allclose(free.states[:, p], own.states, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", ["tanh", "relu", "sigmoid", "linear"])
def test_activation_forward_in_place_equals_forward(name):
    from gradflow import _activations

    phi = _activations.get(name).forward
    a = np.linspace(-3, 3, 13)
    expected = phi(a.copy())
    out = a.copy()
    assert phi(out, out=out) is out
    np.testing.assert_array_equal(out, expected)
    other = np.empty_like(a)
    np.testing.assert_array_equal(phi(a, out=other), expected)
    np.testing.assert_array_equal(other, expected)
    derivative = _activations.get(name).derivative
    h = phi(a.copy())
    fresh = derivative(h)
    buffer = np.full_like(h, np.nan)
    assert derivative(h, out=buffer) is buffer
    np.testing.assert_array_equal(buffer, fresh)
    a = np.linspace(-3, 3, 12)  # no a = 0, where relu has no derivative
    h = phi(a.copy())
    fresh = derivative(h)
    step = 1e-6  # φ'(a) by central differences, at the a behind each h
    finite = (phi(a + step) - phi(a - step)) / (2 * step)
    np.testing.assert_allclose(fresh, finite, rtol=1e-6, atol=1e-8)


def test_population_run_refuses_mismatched_initial_states():
    cell = Elman(np.ones((3, 2, 2)) * 0.1, np.ones((3, 2, 1)))
    with pytest.raises(ValueError, match="h0") as info:
        cell.run(np.zeros((4, 3, 5, 1)), h0=np.zeros((3, 2)))
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="traj"):
        cell.jacobian(cell.run(np.zeros((4, 3, 5, 1))), 1)
