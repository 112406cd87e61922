"""Tests of gradflow.tasks: the single-unit model, the adding and the copy problems."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from gradflow import tasks

# ---------------------------------------------------------------- single unit


def test_single_unit_known_values():
    loss, dw, db = tasks.single_unit(1.0, 0.0)
    assert loss == pytest.approx(0.0016772245, rel=1e-8)
    assert dw == pytest.approx(-1.564536e-2, rel=1e-6)
    assert db == pytest.approx(-2.373940e-2, rel=1e-6)
    assert all(isinstance(v, np.floating) and np.ndim(v) == 0 for v in (loss, dw, db))


@pytest.mark.parametrize(
    ("steps", "x0", "target"), [(50, 0.5, 0.7), (7, -1.0, 0.2), (120, 2.0, 0.9)]
)
def test_single_unit_gradient_matches_central_differences(steps, x0, target):
    rng = np.random.default_rng(0)
    w = rng.uniform(-4.0, 4.0, size=12)  # |w| < 1 / max sigma' = 4: no cliffs, smooth loss
    b = rng.uniform(-3.0, 3.0, size=12)
    h = 1e-6

    def loss(w_, b_):
        return tasks.single_unit(w_, b_, steps=steps, x0=x0, target=target)[0]

    _, dw, db = tasks.single_unit(w, b, steps=steps, x0=x0, target=target)
    fd_w = (loss(w + h, b) - loss(w - h, b)) / (2 * h)
    fd_b = (loss(w, b + h) - loss(w, b - h)) / (2 * h)
    np.testing.assert_allclose(dw, fd_w, rtol=1e-5, atol=1e-10)
    np.testing.assert_allclose(db, fd_b, rtol=1e-5, atol=1e-10)


def test_single_unit_gradient_matches_torch_autograd():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    w = rng.uniform(-10.0, 10.0, size=20)
    b = rng.uniform(-5.0, 5.0, size=20)
    tw = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    x = torch.full_like(tw, 0.5)
    for _ in range(50):
        x = tw * torch.sigmoid(x) + tb
    t_loss = (torch.sigmoid(x) - 0.7) ** 2
    t_loss.sum().backward()
    loss, dw, db = tasks.single_unit(w, b)
    np.testing.assert_allclose(loss, t_loss.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dw, tw.grad.numpy(), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(db, tb.grad.numpy(), rtol=1e-9, atol=1e-15)


def test_single_unit_broadcasts_like_elementwise_calls():
    w = np.linspace(-6.0, 6.0, 4)[:, None]
    b = np.linspace(-2.0, 2.0, 3)
    loss, dw, db = tasks.single_unit(w, b, steps=20)
    assert loss.shape == dw.shape == db.shape == (4, 3)
    for i in range(4):
        for j in range(3):
            one = tasks.single_unit(float(w[i, 0]), float(b[j]), steps=20)
            assert (loss[i, j], dw[i, j], db[i, j]) == one


def test_single_unit_is_finite_on_a_wide_grid():
    w, b = np.meshgrid(np.linspace(-100, 100, 101), np.linspace(-100, 100, 101))
    on_wall = np.repeat([5.0, 8.0, 40.0], 20)  # and just beside the wall, where it is steepest
    beside = tasks.cliff_wall(on_wall) + np.tile(np.logspace(-15, 0, 20), 3)
    w, b = np.concatenate([w.ravel(), on_wall]), np.concatenate([b.ravel(), beside])
    for value in tasks.single_unit(w, b):
        assert np.all(np.isfinite(value))


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"w": np.nan, "b": 0.0}, ValueError, "^w:"),
        ({"w": 1.0, "b": "x"}, TypeError, "^b:"),
        ({"w": 1.0, "b": 0.0, "steps": 0}, ValueError, "^steps:"),
        ({"w": 1.0, "b": 0.0, "steps": 2.0}, TypeError, "^steps:"),
        ({"w": 1.0, "b": 0.0, "x0": np.inf}, ValueError, "^x0:"),
        ({"w": 1.0, "b": 0.0, "target": None}, TypeError, "^target:"),
        ({"w": [1.0, 2.0], "b": [0.0, 1.0, 2.0]}, ValueError, "shape"),
    ],
)
def test_single_unit_rejects_bad_arguments(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        tasks.single_unit(**kwargs)


# ---------------------------------------------------------------- the cliff


@pytest.mark.parametrize("x0", [0.5, -1.0, 2.0])
def test_cliff_threshold_is_one_over_sigmoid_slope(x0):
    slope = math.exp(-x0) / (1 + math.exp(-x0)) ** 2
    assert tasks.cliff_threshold(x0) == pytest.approx(1 / slope, rel=1e-14, abs=0)
    assert tasks.cliff_threshold() == pytest.approx(4.2553, abs=1e-4)


def test_cliff_wall_holds_the_initial_state_fixed():
    w = np.linspace(-20.0, 20.0, 41)
    for x0 in (0.5, -1.0):
        b = tasks.cliff_wall(w, x0=x0)
        assert b.shape == w.shape
        np.testing.assert_allclose(w / (1 + np.exp(-x0)) + b, x0, rtol=0, atol=1e-13)
    assert np.ndim(tasks.cliff_wall(3.0)) == 0


def test_fixed_point_is_unstable_beyond_the_threshold_and_the_loss_jumps():
    threshold = tasks.cliff_threshold()
    slope = stats.logistic.pdf(0.5)
    offsets = np.logspace(-15, -1, 29)
    for w in (6.0, 8.0, 10.0):
        assert abs(w * slope) > 1
        b = tasks.cliff_wall(w)
        above, below = tasks.single_unit(w, b + 1e-6), tasks.single_unit(w, b - 1e-6)
        assert abs(above[0] - below[0]) > 0.1  # a wall: the loss jumps across the line
        steepest = np.abs(tasks.single_unit(w, b + offsets)[2]).max()
        assert steepest > 1e4 * abs(tasks.single_unit(w, b + 1.0)[2])  # the gradient explodes
    for w in (1.0, 3.0, threshold * 0.95):
        assert abs(w * slope) < 1
        b = tasks.cliff_wall(w)
        above, below = tasks.single_unit(w, b + 1e-6), tasks.single_unit(w, b - 1e-6)
        assert abs(above[0] - below[0]) < 1e-5  # smooth ground


# ---------------------------------------------------------------- adding problem


@pytest.mark.parametrize(("T", "batch"), [(2, 5), (3, 4), (10, 7), (101, 3)])
def test_adding_structure(T, batch):
    xs, ys = tasks.adding(T, batch, rng=0)
    assert xs.shape == (T, batch, 2) and ys.shape == (batch, 1)
    assert xs.dtype == ys.dtype == np.float64
    values, markers = xs[..., 0], xs[..., 1]
    assert np.all((values >= 0) & (values < 1))
    assert set(np.unique(markers)) <= {0.0, 1.0}
    np.testing.assert_array_equal(markers[: T // 2].sum(axis=0), 1.0)
    np.testing.assert_array_equal(markers[T // 2 :].sum(axis=0), 1.0)
    np.testing.assert_allclose(ys[:, 0], (values * markers).sum(axis=0), rtol=1e-15)


def test_adding_markers_cover_each_half():
    xs, _ = tasks.adding(6, 600, rng=1)
    positions = np.argwhere(xs[..., 1].T == 1.0)[:, 1].reshape(600, 2)
    assert set(positions[:, 0]) == {0, 1, 2} and set(positions[:, 1]) == {3, 4, 5}


def test_adding_is_reproducible_and_uses_the_given_generator():
    a = tasks.adding(20, 3, rng=5)
    b = tasks.adding(20, 3, rng=np.random.default_rng(5))
    c = tasks.adding(20, 3, rng=6)
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])
    gen = np.random.default_rng(0)
    assert not np.array_equal(tasks.adding(20, 3, rng=gen)[0], tasks.adding(20, 3, rng=gen)[0])


def test_adding_baseline_is_the_variance_of_a_sum_of_two_uniforms():
    assert tasks.adding_baseline() == pytest.approx(2 * stats.uniform().var(), rel=1e-15)
    _, ys = tasks.adding(8, 200_000, rng=2)
    errors = (ys[:, 0] - 1.0) ** 2
    stderr = errors.std(ddof=1) / math.sqrt(errors.size)
    assert abs(errors.mean() - tasks.adding_baseline()) < 4 * stderr


@pytest.mark.parametrize(
    ("args", "error", "pattern"),
    [
        ((1, 3), ValueError, "^T: expected an integer >= 2"),
        ((5.0, 3), TypeError, "^T:"),
        ((5, 0), ValueError, "^batch:"),
        ((5, True), TypeError, "^batch:"),
    ],
)
def test_adding_rejects_bad_arguments(args, error, pattern):
    with pytest.raises(error, match=pattern):
        tasks.adding(*args)
    with pytest.raises(TypeError, match=r"^rng:"):
        tasks.adding(5, 3, rng="seed")


# ---------------------------------------------------------------- copy problem


@pytest.mark.parametrize(("T", "batch"), [(1, 3), (5, 4), (100, 2)])
def test_copy_structure(T, batch):
    xs, ys = tasks.copy(T, batch, rng=0)
    assert xs.shape == (T + 20, batch, 10) and ys.shape == (T + 20, batch)
    assert xs.dtype == np.float64 and ys.dtype == np.int64
    assert set(np.unique(xs)) == {0.0, 1.0}
    np.testing.assert_array_equal(xs.sum(axis=-1), 1.0)
    ids = xs.argmax(axis=-1)
    assert np.all((ids[:10] >= 1) & (ids[:10] <= 8))
    assert np.all(ids[10 : T + 9] == 0)
    assert np.all(ids[T + 9] == 9)
    assert np.all(ids[T + 10 :] == 0)
    assert np.all(ys[: T + 10] == 0)
    np.testing.assert_array_equal(ys[T + 10 :], ids[:10])


def test_copy_symbols_are_uniform_over_the_alphabet():
    _, ys = tasks.copy(1, 4000, rng=3)
    counts = np.bincount(ys[-10:].ravel(), minlength=9)
    assert counts[0] == 0
    assert stats.chisquare(counts[1:]).pvalue > 1e-3


def test_copy_is_reproducible():
    a, b = tasks.copy(4, 3, rng=9), tasks.copy(4, 3, rng=9)
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))
    assert not np.array_equal(a[1], tasks.copy(4, 3, rng=10)[1])


@pytest.mark.parametrize("T", [1, 10, 100, 1000])
def test_copy_baseline_formula_and_memoryless_predictor(T):
    assert tasks.copy_baseline(T) == pytest.approx(10 * math.log(8) / (T + 20), rel=1e-15)
    _, ys = tasks.copy(T, 16, rng=T)
    probs = np.zeros((T + 20, 10))
    probs[: T + 10, 0] = 1.0  # blank, surely
    probs[T + 10 :, 1:9] = 1 / 8  # a uniform guess over the 8 symbols
    picked = probs[np.arange(T + 20)[:, None], ys]
    with np.errstate(divide="ignore"):
        cross_entropy = -np.log(picked).mean()
    assert cross_entropy == pytest.approx(tasks.copy_baseline(T), rel=1e-12, abs=0)


@pytest.mark.parametrize(
    ("args", "error", "pattern"),
    [((0, 3), ValueError, "^T:"), ((5, 0), ValueError, "^batch:"), ((2.5, 1), TypeError, "^T:")],
)
def test_copy_rejects_bad_arguments(args, error, pattern):
    with pytest.raises(error, match=pattern):
        tasks.copy(*args)
    with pytest.raises(ValueError, match=r"^T:"):
        tasks.copy_baseline(0)


@pytest.mark.parametrize("k", [1, 3, 10])
def test_copy_with_k_symbols(k):
    T, B = 7, 5
    xs, ys = tasks.copy(T, B, rng=3, symbols=k)
    assert xs.shape == (T + 2 * k, B, 10) and ys.shape == (T + 2 * k, B)
    ids = xs.argmax(-1)
    np.testing.assert_array_equal(ys[-k:], ids[:k])  # recall the first k inputs at the end
    assert (ids[:k] >= 1).all() and (ids[:k] <= 8).all()
    np.testing.assert_array_equal(ids[T + k - 1], 9)  # the delimiter
    assert (ys[:-k] == 0).all() and (np.delete(ids, [*range(k), T + k - 1], 0) == 0).all()
    # the memoryless baseline: ln 8 on each of the k recalled symbols, 0 elsewhere
    assert tasks.copy_baseline(T, symbols=k) == pytest.approx(k * np.log(8) / (T + 2 * k))
    if k == 10:
        np.testing.assert_array_equal(xs, tasks.copy(T, B, rng=3)[0])


def test_copy_symbols_must_be_a_positive_int():
    for bad in (0, -1):
        with pytest.raises(ValueError, match="symbols"):
            tasks.copy(3, 2, symbols=bad)
    with pytest.raises(TypeError, match="symbols"):
        tasks.copy(3, 2, symbols=2.5)
