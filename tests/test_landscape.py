"""The single-unit loss surface and clipped gradient descent on the cliff."""

import numpy as np
import pandas as pd
import pytest

from gradflow import clip, landscape, tasks


def test_surface_matches_single_unit_pointwise():
    w = np.array([-1.0, 0.5, 4.6, 7.0])
    b = np.array([-3.0, -2.3633, 0.0])
    s = landscape.surface(w, b, steps=30, x0=0.2, target=0.6)
    assert s.loss.shape == s.grad_norm.shape == (3, 4)
    for i, bi in enumerate(b):
        for j, wj in enumerate(w):
            loss, dw, db = tasks.single_unit(wj, bi, steps=30, x0=0.2, target=0.6)
            assert s.loss[i, j] == loss
            assert s.grad_norm[i, j] == pytest.approx(np.hypot(dw, db), rel=1e-15)
    np.testing.assert_allclose(s.log10_loss, np.log10(s.loss))


def test_surface_default_grid_and_frame():
    s = landscape.surface(n_w=7, n_b=5)
    assert s.w.shape == (7,) and s.b.shape == (5,) and s.loss.shape == (5, 7)
    frame = s.to_frame()
    assert list(frame.columns) == ["w", "b", "loss", "log10_loss", "grad_norm"]
    assert len(frame) == 35
    row = frame.iloc[8]  # second row of the grid, second column
    assert (row["w"], row["b"]) == (s.w[1], s.b[1])
    assert row["loss"] == s.loss[1, 1]
    # the wall crosses the default window: the loss jumps from one side to the other
    assert s.loss.max() > 0.3 and s.loss.min() < 0.02


def test_default_start_sits_on_the_face_of_the_wall():
    w0, b0 = landscape.DEFAULT_START
    assert w0 > tasks.cliff_threshold()
    assert b0 == pytest.approx(tasks.cliff_wall(w0) - 1e-3)
    _, dw, db = tasks.single_unit(w0, b0)
    _, dw_far, db_far = tasks.single_unit(w0, b0 - 0.05)  # further down the slope
    assert np.hypot(dw, db) > 100 * np.hypot(dw_far, db_far)


def test_unclipped_step_shoots_off_the_clipped_one_stays_near():
    lr, threshold = 0.1, 1.0
    frame = landscape.trajectories(
        ["none", f"value:{threshold}", f"global:{threshold}"], lr=lr, updates=30
    )
    assert list(frame.columns) == ["rule", "update", "w", "b", "loss", "grad_norm", "update_norm"]
    assert len(frame) == 3 * 31
    first = frame[frame["update"] == 0].set_index("rule")
    _, dw, db = tasks.single_unit(*landscape.DEFAULT_START)
    raw = np.hypot(dw, db)
    assert first.loc["none", "update_norm"] == pytest.approx(lr * raw, rel=1e-12)
    assert first.loc["global:1.0", "update_norm"] == pytest.approx(lr * threshold, rel=1e-12)
    # value clipping bounds each component by the threshold: both are clipped here
    assert first.loc["value:1.0", "update_norm"] == pytest.approx(lr * np.sqrt(2), rel=1e-12)
    assert first.loc["none", "update_norm"] > 100 * first.loc["global:1.0", "update_norm"]
    end = frame[frame["update"] == 30].set_index("rule")
    start = np.array(landscape.DEFAULT_START)
    far = np.hypot(*(end.loc["none", ["w", "b"]] - start))
    near = np.hypot(*(end.loc["global:1.0", ["w", "b"]] - start))
    assert far > 10 and near < 0.5
    assert end.loc["global:1.0", "loss"] < end.loc["none", "loss"]
    assert np.isnan(frame[frame["update"] == 30]["update_norm"]).all()


def test_trajectories_follow_gradient_descent_by_hand():
    start, lr = (1.0, 0.0), 0.5
    frame = landscape.trajectories(["none"], start=start, lr=lr, n_steps=3)
    w, b = start
    for _, row in frame.iterrows():
        loss, dw, db = tasks.single_unit(w, b)
        assert (row["w"], row["b"], row["loss"]) == (w, b, loss)
        w, b = w - lr * dw, b - lr * db


def test_trajectories_accept_clippers():
    rule = clip.by_global_norm(0.5)
    frame = landscape.trajectories([rule, "none"], n_steps=2)
    assert set(frame["rule"]) == {repr(rule), "none"}
    assert isinstance(frame, pd.DataFrame)


@pytest.mark.parametrize(
    ("kwargs", "exc", "words"),
    [
        ({"lr": 0.0}, ValueError, "lr"),
        ({"lr": -1.0}, ValueError, "lr"),
        ({"rules": ["value:-1"]}, ValueError, "threshold"),
        ({"rules": ["bogus"]}, ValueError, "rule"),
        ({"rules": []}, ValueError, "rules"),
        ({"rules": ["none", "none"]}, ValueError, "rules"),
        ({"start": (1.0, 2.0, 3.0)}, ValueError, "start"),
        ({"start": (np.nan, 0.0)}, ValueError, "start"),
        ({"updates": -1}, ValueError, "updates"),
        ({"n_steps": -1}, ValueError, "updates"),
        ({"steps": 0}, ValueError, "steps"),
    ],
)
def test_trajectories_bad_input(kwargs, exc, words):
    with pytest.raises(exc) as info:
        landscape.trajectories(**kwargs)
    assert words in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"w": [1.0, 0.5]}, "w"),
        ({"b": [[0.0, 1.0]]}, "b"),
        ({"w": [np.inf, 1.0]}, "w"),
        ({"n_w": 1}, "n_w"),
        ({"steps": 0}, "steps"),
    ],
)
def test_surface_bad_input(kwargs, words):
    with pytest.raises(ValueError) as info:
        landscape.surface(**kwargs)
    assert words in str(info.value) and "\n" not in str(info.value)
