"""One vocabulary (DESIGN.md): every renamed argument answers to its older name with the same
result, refuses both at once with a one-line error, and the renamed fields keep an alias."""

import numpy as np
import pandas as pd
import pytest

from gradflow import clip, landscape, lyapunov, optim, simulate, train
from gradflow._validation import renamed
from gradflow.cells import Elman
from gradflow.init import gaussian

SWEEP = dict(steps=6, seeds=2, activation="linear", rng=3, progress=False)
FIT = dict(T=5, clip="global:1", lr=1e-2, batch=3, rng=1, spectral=False, progress=False)
TINY = dict(rules=["none", "global:1"], T=4, seeds=2, batch=3, eval_batch=4, rng=0)


def test_renamed_returns_the_one_given_or_the_default_and_refuses_both():
    assert renamed(5, None, "updates", "steps") == 5
    assert renamed(None, 7, "updates", "steps") == 7
    assert renamed(None, None, "updates", "steps", default=30) == 30
    assert renamed(0, None, "updates", "steps", default=30) == 0  # 0 is a value, not absent
    with pytest.raises(TypeError, match=r"^updates: given both updates= and its older alias "):
        renamed(5, 5, "updates", "steps")
    with pytest.raises(TypeError, match=r"^updates: missing required argument updates="):
        renamed(None, None, "updates", "steps")


# name -> (call with the new names, call with the older ones); each returns a comparable value
def _sweep(**kw):
    return simulate.gradient_growth(["orthogonal"], [0.5, 2.0], **SWEEP, **kw)


def _fit(**kw):
    model = train.init_model("adding", 4, rng=0)
    return train.fit("adding", model, **FIT, **kw).frame


def _compare(**kw):
    return train.compare("adding", inits=["orthogonal"], updates=3, **TINY, **kw)


def _compare_clipping(**kw):
    return train.compare_clipping("adding", ["none", "global:1"], seeds=2, T=4, batch=3,
                                  eval_batch=4, rng=0, **kw)  # fmt: skip


CASES = {
    "gradient_growth hidden_size/n": (
        lambda: _sweep(hidden_size=4, spectral=False),
        lambda: _sweep(n=4, spectra=False),
    ),
    "fit updates/steps": (lambda: _fit(updates=3), lambda: _fit(steps=3)),
    "init_model hidden_size/hidden": (
        lambda: train.init_model("adding", hidden_size=5, rng=2).W_out,
        lambda: train.init_model("adding", hidden=5, rng=2).W_out,
    ),
    "compare hidden_size/hidden (contract)": (
        lambda: _compare(hidden_size=4),
        lambda: _compare(hidden=4),
    ),
    "compare return_updates/return_steps": (
        lambda: _compare(hidden_size=4, return_updates=True)[1],
        lambda: _compare(hidden_size=4, return_steps=True)[1],
    ),
    "compare_clipping hidden_size, updates": (
        lambda: _compare_clipping(hidden_size=4, updates=3),
        lambda: _compare_clipping(hidden=4, steps=3),
    ),
    "trajectories updates/n_steps": (
        lambda: landscape.trajectories(updates=4),
        lambda: landscape.trajectories(n_steps=4),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_older_name_gives_the_identical_result(case):
    new, old = CASES[case]
    a, b = new(), old()
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    else:
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: _sweep(hidden_size=4, n=4), "hidden_size"),
        (lambda: _sweep(hidden_size=4, spectral=True, spectra=True), "spectral"),
        (lambda: _fit(updates=3, steps=3), "updates"),
        (lambda: train.init_model("adding", 4, hidden=4), "hidden_size"),
        (lambda: _compare(hidden_size=4, hidden=4), "hidden_size"),
        (lambda: landscape.trajectories(updates=2, n_steps=2), "updates"),
        (lambda: optim.adam(0.1, beta1=0.9, b1=0.9), "beta1"),
    ],
)
def test_both_names_at_once_is_a_one_line_type_error(call, name):
    with pytest.raises(TypeError, match=rf"^{name}: given both {name}= and its older alias"):
        call()


def test_required_renamed_arguments_are_still_required():
    with pytest.raises(TypeError, match=r"^hidden_size: missing required argument"):
        simulate.gradient_growth(["orthogonal"], [1.0], **SWEEP)
    with pytest.raises(TypeError, match=r"^updates: missing required argument"):
        _fit()
    with pytest.raises(TypeError, match=r"^hidden_size: missing required argument"):
        train.init_model("adding")


def test_new_names_in_frames_and_fields():
    frame = _sweep(hidden_size=4, spectral=False)
    assert "hidden_size" in frame.columns and "n" not in frame.columns
    assert frame.attrs["hidden_size"] == 4
    history_frame = _fit(updates=3)
    assert {"update", "entries_clipped"} <= set(history_frame.columns)
    assert not {"step", "fraction_clipped"} & set(history_frame.columns)
    assert list(landscape.trajectories(updates=1).columns[:2]) == ["rule", "update"]
    assert "updates_to_solve" in _compare_clipping(hidden_size=4, updates=3).columns


def test_older_field_names_remain_as_read_only_aliases():
    _, info = clip.by_value(0.5)({"w": np.array([1.0, 0.1, -2.0, 0.2])})
    assert info.entries_clipped == 0.5 and info.fraction_clipped == info.entries_clipped
    model = train.init_model("adding", 4, rng=0)
    history = train.fit("adding", model, updates=4, **FIT)
    np.testing.assert_array_equal(history.snapshot_steps, history.snapshot_updates)
    cell = Elman(gaussian(4, gain=1.5, rng=0))
    result = lyapunov.along(cell, cell.run(30, h0=np.ones(4)), k=2, burn_in=5, rng=0)
    assert result.steps == 25 and result.n_steps == result.steps


def test_adam_betas_by_either_name():
    assert optim.adam(0.1, beta1=0.8, beta2=0.99) == optim.adam(0.1, b1=0.8, b2=0.99)
    default = optim.adam(0.1)
    assert (default.beta1, default.beta2) == (0.9, 0.999)
    assert optim.adam(0.1, 0.5).beta1 == 0.5  # positional, as before


def test_lyapunov_rng_defaults_to_none_and_an_int_reproduces():
    cell = Elman(gaussian(6, gain=2.0, rng=1))
    traj = cell.run(60, h0=np.ones(6))
    same = [lyapunov.along(cell, traj, k=3, rng=4).exponents for _ in range(2)]
    np.testing.assert_array_equal(*same)
    fresh = [lyapunov.along(cell, traj, k=3).exponents for _ in range(2)]
    assert not np.array_equal(*fresh)  # a fresh frame each call: finite-sample values differ


def test_renamed_defaults_are_the_documented_ones():
    frame = landscape.trajectories()  # 30 descent updates from the default start
    assert frame.groupby("rule").size().unique().tolist() == [31]
