"""Optimisers: hand-computed steps, PyTorch's optimisers on the same gradients, bad arguments."""

import math

import numpy as np
import pytest

from gradflow import optim


def _grad_sequence(n_steps, seed=0):
    rng = np.random.default_rng(seed)
    return [
        {"W": rng.normal(size=(3, 2)) * 10.0 ** rng.integers(-3, 3), "b": rng.normal(size=3)}
        for _ in range(n_steps)
    ]


def _run(opt, params, grads_seq):
    state = opt.init(params)
    for grads in grads_seq:
        updates, state = opt.update(grads, state)
        params = optim.apply_updates(params, updates)
    return params, state


def test_sgd_step_is_minus_lr_times_gradient():
    params = {"w": np.array([1.0, -2.0])}
    (new, state) = _run(optim.sgd(0.5), params, [{"w": np.array([4.0, 2.0])}])
    assert new["w"].tolist() == [-1.0, -3.0]
    assert state.count == 1
    assert params["w"].tolist() == [1.0, -2.0]  # inputs untouched


def test_momentum_two_steps_by_hand():
    g1, g2 = np.array([1.0, -2.0]), np.array([3.0, 0.5])
    lr, beta = 0.1, 0.9
    new, state = _run(optim.momentum(lr, beta), {"w": np.zeros(2)}, [{"w": g1}, {"w": g2}])
    v1 = g1
    v2 = beta * v1 + g2
    np.testing.assert_allclose(new["w"], -lr * v1 - lr * v2, rtol=1e-15)
    np.testing.assert_allclose(state.mu["w"], v2, rtol=1e-15)
    nesterov, _ = _run(
        optim.momentum(lr, beta, nesterov=True), {"w": np.zeros(2)}, [{"w": g1}, {"w": g2}]
    )
    expected = -lr * (g1 + beta * v1) - lr * (g2 + beta * v2)
    np.testing.assert_allclose(nesterov["w"], expected, rtol=1e-15)


def test_adam_matches_algorithm_1_by_hand():
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, 0.01
    grads = [np.array([300.0, -1e-3, 0.0]), np.array([-1.0, 2.0, 5.0]), np.array([0.5, 0.5, 0.5])]
    new, _ = _run(optim.adam(lr, b1, b2, eps), {"w": np.ones(3)}, [{"w": g} for g in grads])
    theta, m, v = np.ones(3), np.zeros(3), np.zeros(3)
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    np.testing.assert_allclose(new["w"], theta, rtol=1e-13)


def test_adam_first_step_moves_each_entry_by_lr():
    opt = optim.adam(0.01)
    g = {"w": np.array([1e6, -1e-2, 3.0])}
    updates, _ = opt.update(g, opt.init({"w": np.zeros(3)}))
    np.testing.assert_allclose(np.abs(updates["w"]), 0.01, rtol=1e-5)
    assert np.all(np.sign(updates["w"]) == -np.sign(g["w"]))


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (lambda: optim.sgd(0.05), lambda p, t: t.optim.SGD(p, lr=0.05)),
        (
            lambda: optim.momentum(0.05, 0.9),
            lambda p, t: t.optim.SGD(p, lr=0.05, momentum=0.9),
        ),
        (
            lambda: optim.momentum(0.05, 0.8, nesterov=True),
            lambda p, t: t.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True),
        ),
        (lambda: optim.adam(1e-2), lambda p, t: t.optim.Adam(p, lr=1e-2)),
        (
            lambda: optim.adam(3e-3, 0.8, 0.99, 1e-6),
            lambda p, t: t.optim.Adam(p, lr=3e-3, betas=(0.8, 0.99), eps=1e-6),
        ),
    ],
    ids=["sgd", "momentum", "nesterov", "adam", "adam-custom"],
)
def test_matches_torch_on_same_gradients(ours, theirs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    start = {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=3)}
    grads_seq = _grad_sequence(12)
    new, _ = _run(ours(), start, grads_seq)
    tensors = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in start.items()}
    opt = theirs(list(tensors.values()), torch)
    for grads in grads_seq:
        for k, tensor in tensors.items():
            tensor.grad = torch.tensor(grads[k])
        opt.step()
    for k, tensor in tensors.items():
        np.testing.assert_allclose(new[k], tensor.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_update_is_pure():
    opt = optim.adam(0.1)
    params = {"w": np.array([1.0, 2.0])}
    state = opt.init(params)
    grads = {"w": np.array([0.3, -0.4])}
    first, state1 = opt.update(grads, state)
    again, _ = opt.update(grads, state)
    np.testing.assert_array_equal(first["w"], again["w"])
    assert state.count == 0 and state1.count == 1
    assert np.all(state.mu["w"] == 0) and np.all(state.nu["w"] == 0)


def test_get_by_name_and_instance():
    assert optim.get("momentum", 0.1) == optim.momentum(0.1)
    opt = optim.adam(0.5)
    assert optim.get(opt) is opt
    assert optim.OPTIMIZERS == ("sgd", "momentum", "adam")


@pytest.mark.parametrize(
    ("call", "exc", "words"),
    [
        (lambda: optim.sgd(0.0), ValueError, "lr"),
        (lambda: optim.adam(-1e-3), ValueError, "lr"),
        (lambda: optim.sgd(math.nan), ValueError, "lr"),
        (lambda: optim.sgd("0.1"), TypeError, "lr"),
        (lambda: optim.momentum(0.1, beta=1.0), ValueError, "beta1"),
        (lambda: optim.adam(0.1, b2=-0.1), ValueError, "beta2"),
        (lambda: optim.adam(0.1, eps=-1.0), ValueError, "eps"),
        (lambda: optim.get("rmsprop", 0.1), ValueError, "optimizer"),
        (lambda: optim.get(3, 0.1), TypeError, "optimizer"),
        (lambda: optim.get("adam"), ValueError, "lr"),
        (lambda: optim.get(optim.adam(0.1), 0.2), ValueError, "lr"),
        (lambda: optim.sgd(0.1).init([1.0]), TypeError, "params"),
    ],
)
def test_bad_arguments_give_one_line_errors(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    message = str(info.value)
    assert words in message and "\n" not in message


# -- float32 ----------------------------------------------------------------------------------
OPTIMIZERS32 = {
    "sgd": lambda: optim.sgd(0.05),
    "momentum": lambda: optim.momentum(0.05, 0.9),
    "nesterov": lambda: optim.momentum(0.05, 0.8, nesterov=True),
    "adam": lambda: optim.adam(1e-2),
}


def _single(tree):
    return {k: v.astype(np.float32) for k, v in tree.items()}


@pytest.mark.parametrize("name", OPTIMIZERS32)
def test_float32_parameters_get_float32_moments_and_updates(name):
    opt = OPTIMIZERS32[name]()
    rng = np.random.default_rng(3)
    start = {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=3)}
    grads_seq = _grad_sequence(12)
    params64, state64 = _run(opt, start, grads_seq)
    params, state = _single(start), opt.init(_single(start))
    for moments in (state.mu, state.nu):
        assert all(m.dtype == np.float32 for m in moments.values())
    for grads in grads_seq:
        updates, state = opt.update(_single(grads), state)
        assert all(u.dtype == np.float32 for u in updates.values())
        params = optim.apply_updates(params, updates)
        assert all(p.dtype == np.float32 for p in params.values())
    for moments in (state.mu, state.nu):
        assert all(m.dtype == np.float32 for m in moments.values())
    assert len(state.mu) == (0 if name == "sgd" else 2) and len(state.nu) == 2 * (name == "adam")
    for k in params:  # float32 arithmetic on float32-rounded gradients
        np.testing.assert_allclose(params[k], params64[k], rtol=1e-5, atol=1e-6, err_msg=k)
    for k in state.mu:
        np.testing.assert_allclose(state.mu[k], state64.mu[k], rtol=1e-5, atol=1e-6)


def test_float32_adam_with_per_network_counts_stays_float32():
    opt = optim.adam(1e-2)
    rng = np.random.default_rng(0)
    start = {"W": rng.normal(size=(3, 4, 2)), "b": rng.normal(size=(3, 4))}
    grads = [{k: rng.normal(size=v.shape) for k, v in start.items()} for _ in range(4)]
    results = {}
    for dtype in (np.float64, np.float32):
        params = {k: v.astype(dtype) for k, v in start.items()}
        state = opt.init(params)
        state = optim.OptState(np.array([0, 2, 5]), state.mu, state.nu)  # networks of any age
        for g in grads:
            updates, state = opt.update({k: v.astype(dtype) for k, v in g.items()}, state)
            assert all(u.dtype == dtype for u in updates.values())
            params = optim.apply_updates(params, updates)
        assert state.count.tolist() == [4, 6, 9]
        assert all(m.dtype == dtype for m in [*state.mu.values(), *state.nu.values()])
        results[dtype] = params
    for k in start:
        np.testing.assert_allclose(results[np.float32][k], results[np.float64][k], rtol=1e-5)


def test_float32_matches_torch_float32_adam():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    start = _single({"W": rng.normal(size=(3, 2)), "b": rng.normal(size=3)})
    grads_seq = [_single(g) for g in _grad_sequence(12)]
    new, _ = _run(optim.adam(1e-2), start, grads_seq)
    tensors = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in start.items()}
    opt = torch.optim.Adam(list(tensors.values()), lr=1e-2)
    for grads in grads_seq:
        for k, tensor in tensors.items():
            tensor.grad = torch.from_numpy(grads[k])
        opt.step()
    for k, tensor in tensors.items():
        assert new[k].dtype == np.float32
        np.testing.assert_allclose(new[k], tensor.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_non_float32_parameters_still_get_float64_moments():
    opt = optim.momentum(0.1)
    state = opt.init({"w": np.arange(3), "v": np.zeros(2, np.float16), "u": [1.0, 2.0]})
    assert {k: m.dtype for k, m in state.mu.items()} == dict.fromkeys("wvu", np.float64)
