"""Population: P stacked networks give every network's own loss and gradient, one at a time."""

import numpy as np
import pytest

from gradflow import train
from gradflow.cells import Elman

N, D, K, T, M, P = 5, 3, 2, 6, 4, 3


def models(kind="elman", objective=None, task="adding", n=N, count=P):
    return [
        train.init_model(task, n, cell=kind, init=init, rng=seed, objective=objective)
        for seed, init in zip(range(count), ["orthogonal", "gaussian", "uniform", "orthogonal"])
    ]


def batches(task, count=P, steps=T, size=M):
    spec = train.make_task(task, T=steps)
    pairs = [spec.sample(size, rng=10 + p) for p in range(count)]
    xs = np.stack([x for x, _ in pairs], axis=1)
    ys0 = pairs[0][1]
    per_step = ys0.ndim == (3 if spec.objective == "mse" else 2)
    ys = np.stack([y for _, y in pairs], axis=1 if per_step else 0)
    return pairs, xs, ys, per_step


@pytest.mark.parametrize("kind", ["elman", "lstm", "gru"])
@pytest.mark.parametrize("task", ["adding", "copy"])
def test_value_and_grad_is_each_networks_own(kind, task):
    mods = models(kind, task=task)
    population = train.Population.stack(mods)
    pairs, xs, ys, _ = batches(task)
    losses, grads = population.value_and_grad(xs, ys)
    assert losses.shape == (P,) and population.loss(xs, ys).shape == (P,)
    np.testing.assert_allclose(population.loss(xs, ys), losses, rtol=1e-13)
    for p, (model, (x, y)) in enumerate(zip(mods, pairs)):
        loss, own = model.value_and_grad(x, y)
        np.testing.assert_allclose(losses[p], loss, rtol=1e-12)
        assert set(own) == set(grads)
        for name, g in own.items():
            np.testing.assert_allclose(grads[name][p], g, rtol=1e-10, atol=1e-14, err_msg=name)


def test_a_network_that_overflows_leaves_the_others_alone():
    rng = np.random.default_rng(0)
    mods = models()
    # network 1 becomes a ReLU network whose state overflows; 0 and 2 must be unaffected
    big = train.Model(Elman(np.eye(N) * 1e200, rng.normal(size=(N, 2)), np.zeros(N), "relu"),
                      mods[1].W_out, mods[1].b_out)  # fmt: skip
    relu = [train.Model(Elman(m.cell.W_hh, m.cell.W_xh, m.cell.b, "relu"), m.W_out, m.b_out)
            for m in mods]  # fmt: skip
    relu[1] = big
    population = train.Population.stack(relu)
    pairs, xs, ys, _ = batches("adding")
    losses, grads = population.value_and_grad(xs, ys)
    assert np.isinf(losses[1]) and all(np.isnan(g[1]).all() for g in grads.values())
    for p in (0, 2):
        loss, own = relu[p].value_and_grad(*pairs[p])
        assert losses[p] == pytest.approx(loss, rel=1e-12)
        for name, g in own.items():
            np.testing.assert_allclose(grads[name][p], g, rtol=1e-10, atol=1e-14)
    assert np.isinf(population.loss(xs, ys)[1])


def test_a_network_whose_backward_pass_overflows_gets_nan_gradients_alone():
    mods = models(task="copy")
    W = np.eye(N) * 1e155  # linear: the forward stays finite over 2 steps, the adjoints do not
    lin = [train.Model(Elman(m.cell.W_hh, m.cell.W_xh, m.cell.b, "linear"), m.W_out, m.b_out,
                       m.objective) for m in mods]  # fmt: skip
    spec = train.make_task("copy", T=2)
    xs, ys = spec.sample(M, rng=0)
    lin[0] = train.Model(Elman(W, lin[0].cell.W_xh * 0, lin[0].cell.b, "linear"),
                         lin[0].W_out, lin[0].b_out, "xent")  # fmt: skip
    _, alone = lin[0].value_and_grad(xs, ys)
    assert np.isnan(alone["W_hh"]).all()  # the setting does overflow backwards
    population = train.Population.stack(lin)
    stacked = np.stack([xs] * P, axis=1)
    _, grads = population.value_and_grad(stacked, np.stack([ys] * P, axis=1))
    for name in lin[0].cell.params:
        assert np.isnan(alone[name]).all() == np.isnan(grads[name][0]).all()
    for p in (1, 2):
        _, own = lin[p].value_and_grad(xs, ys)
        for name, g in own.items():
            np.testing.assert_allclose(grads[name][p], g, rtol=1e-10, atol=1e-14)


def test_stack_network_and_with_params_round_trip():
    mods = models("gru")
    population = train.Population.stack(mods)
    assert population.n_networks == P and population.cell.n_networks == P
    for p, model in enumerate(mods):
        back = population.network(p)
        assert type(back.cell) is type(model.cell)
        for name, value in model.params.items():
            np.testing.assert_array_equal(back.params[name], value)
    doubled = population.with_params({k: 2 * v for k, v in population.params.items()})
    np.testing.assert_array_equal(doubled.W_out, 2 * population.W_out)


@pytest.mark.parametrize(
    ("build", "exc", "words"),
    [
        (lambda: train.Population.stack([]), TypeError, "models"),
        (lambda: train.Population.stack([1, 2]), TypeError, "models"),
        (lambda: train.Population.stack(models(n=4, count=1) + models(n=5, count=1)),
         ValueError, "models"),
        (lambda: train.Population.stack(models("lstm", count=1) + models("gru", count=1)),
         ValueError, "models"),
        (lambda: train.Population(Elman(np.eye(3)), np.zeros((1, 1, 3)), np.zeros((1, 1))),
         ValueError, "cell"),
        (lambda: train.Population(Elman(np.ones((2, 3, 3)), np.ones((2, 3, 1))),
                                  np.zeros((3, 1, 3)), np.zeros((3, 1))), ValueError, "W_out"),
        (lambda: train.Population(Elman(np.ones((2, 3, 3)), np.ones((2, 3, 1))),
                                  np.zeros((2, 1, 3)), np.zeros((2, 2))), ValueError, "b_out"),
        (lambda: train.Population("cell", 0, 0), TypeError, "cell"),
    ],
)  # fmt: skip
def test_bad_populations_give_one_line_errors(build, exc, words):
    with pytest.raises(exc) as info:
        build()
    assert words in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("xs_shape", "ys_shape", "words"),
    [
        ((T, P + 1, M, 2), (P + 1, M, 1), "xs"),
        ((T, M, 2), (P, M, 1), "xs"),
        ((T, P, M, 2), (P, M + 1, 1), "ys"),
        ((T, P, M, 2), (M, 1), "ys"),
    ],
)
def test_bad_batches_give_one_line_errors(xs_shape, ys_shape, words):
    population = train.Population.stack(models())
    with pytest.raises(ValueError) as info:
        population.value_and_grad(np.zeros(xs_shape), np.zeros(ys_shape))
    assert words in str(info.value) and "\n" not in str(info.value)
