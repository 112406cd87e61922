"""fit_population: P networks trained at once give the histories of P separate fit runs."""

import numpy as np
import pandas as pd
import pytest

from gradflow import train
from gradflow._rng import spawn_seeds
from gradflow.train._fit import COLUMNS

RULES = ["none", "value:0.01", "norm:0.1", "global:0.5", "adaptive:0.05"]
INITS = ["orthogonal", "gaussian", "uniform", "identity", "orthogonal"]


def check_same_as_fit(task, kind, *, T, rules, optimizer="adam", lr=1e-2, updates=12, **kw):
    kw.setdefault("spectral", False)
    task = train.make_task(task, T)
    models = [train.init_model(task, 5, cell=kind, init=init, rng=seed)
              for seed, init in enumerate(INITS[: len(rules)])]  # fmt: skip
    run = train.fit_population(
        task, train.Population.stack(models), clip=rules, optimizer=optimizer, lr=lr,
        updates=updates, batch=4, rng=[20 + p for p in range(len(rules))], progress=False, **kw,
    )  # fmt: skip
    assert list(run.frame.columns) == ["network", *COLUMNS]
    for p, model in enumerate(models):
        alone = train.fit(task, model, clip=rules[p], optimizer=optimizer, lr=lr,
                          steps=updates, batch=4, rng=20 + p, progress=False, **kw)  # fmt: skip
        mine = run.frame[run.frame.network == p].drop(columns="network").reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, alone.frame, rtol=1e-9, atol=1e-13)
        assert run.status[p] == alone.status and run.n_skipped[p] == alone.n_skipped
        assert run.n_nonfinite_loss[p] == alone.n_nonfinite_loss
        final = run.population.network(p)
        for name, value in alone.model.params.items():
            np.testing.assert_allclose(final.params[name], value, rtol=1e-9, atol=1e-13)
    return run


@pytest.mark.parametrize("kind", ["elman", "lstm", "gru"])
def test_population_equals_separate_fit_runs(kind):
    check_same_as_fit("adding", kind, T=8, rules=RULES, spectral=True)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
def test_population_equals_fit_with_other_optimizers_and_a_per_step_loss(optimizer):
    check_same_as_fit("copy", "elman", T=3, rules=RULES[:3], optimizer=optimizer, lr=0.05,
                      record_every=5)  # fmt: skip


def _loud(T, batch, rng=None):
    """Adding-task inputs with targets 10³: gradients of W_out of order 10³."""
    xs, ys = train.make_task("adding", T=T).sample(batch, rng)
    return xs, ys * 1e3


def test_a_network_that_stops_on_nonfinite_parameters_leaves_the_others_going():
    # SGD at lr 1e306: the unclipped network's first update overflows, the clipped one's
    # steps are at most 1e306 · 1e-300 = 1e6 and stay finite
    run = check_same_as_fit(_loud, "elman", T=4, rules=["none", "global:1e-300"],
                            optimizer="sgd", lr=1e306, updates=4)  # fmt: skip
    assert run.status.tolist() == ["nonfinite_params", "completed"]
    assert (run.frame.network == 0).sum() == 1 and (run.frame.network == 1).sum() == 4
    assert run.diverged.tolist() == [True, False]


def test_skipped_steps_keep_the_optimizer_state_of_that_network_alone():
    # the second network's forward run overflows (ReLU, gain 1e3): every step is skipped
    def relu(hidden, d, rng):
        from gradflow.cells import Elman

        return Elman(np.eye(hidden) * 1e3, rng.normal(size=(hidden, d)), np.zeros(hidden),
                     "relu")  # fmt: skip

    task = train.make_task("adding", T=120)
    models = [train.init_model(task, 4, rng=0, activation="relu"),
              train.init_model(task, 4, rng=1, cell=relu)]  # fmt: skip
    run = train.fit_population(task, train.Population.stack(models), clip="global:1", lr=1e-2,
                               updates=5, batch=3, rng=[1, 2], progress=False)  # fmt: skip
    alone = [train.fit(task, m, clip="global:1", lr=1e-2, steps=5, batch=3, rng=r,
                       progress=False, spectral=False) for m, r in zip(models, [1, 2])]  # fmt: skip
    assert run.n_skipped.tolist() == [a.n_skipped for a in alone] == [0, 5]
    assert run.n_nonfinite_loss.tolist() == [0, 5]
    for p in range(2):
        mine = run.frame[run.frame.network == p].drop(columns="network").reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, alone[p].frame, rtol=1e-9, atol=1e-13)


def test_a_root_seed_spawns_one_stream_per_network():
    models = [train.init_model("adding", 4, rng=s) for s in range(3)]
    population = train.Population.stack(models)
    kw = {"T": 5, "lr": 1e-2, "updates": 3, "batch": 2, "progress": False}
    one = train.fit_population("adding", population, rng=7, **kw).frame
    two = train.fit_population("adding", population, rng=7, **kw).frame
    pd.testing.assert_frame_equal(one, two)
    streams = [np.random.default_rng(s) for s in spawn_seeds(7, 3)]
    pd.testing.assert_frame_equal(one, train.fit_population("adding", population, rng=streams,
                                                            **kw).frame)  # fmt: skip
    first = one[one["update"] == 0]["loss"].to_numpy()
    assert len(set(first.round(12))) == 3  # three streams, three different first batches


@pytest.mark.parametrize(
    ("call", "exc", "words"),
    [
        (dict(clip=["none"]), ValueError, "clip"),
        (dict(clip="bogus:1"), ValueError, "rule"),
        (dict(rng=[1]), ValueError, "rng"),
        (dict(updates=0), ValueError, "updates"),
        (dict(batch=0), ValueError, "batch"),
        (dict(population="pop"), TypeError, "population"),
        (dict(lr=None), ValueError, "lr"),
    ],
)
def test_bad_arguments_give_one_line_errors(call, exc, words):
    kwargs = {
        "population": train.Population.stack([train.init_model("adding", 3, rng=s)
                                              for s in range(2)]),
        "T": 5, "lr": 0.1, "updates": 2, "batch": 2, "progress": False,
    }  # fmt: skip
    kwargs.update(call)
    with pytest.raises(exc) as info:
        train.fit_population("adding", **kwargs)
    assert words in str(info.value) and "\n" not in str(info.value)


def _flaky(T, batch, rng=None):
    """Adding-task batches whose targets are NaN one time in three: that step is skipped."""
    rng = np.random.default_rng(rng)
    xs, ys = train.make_task("adding", T=T).sample(batch, rng)
    return xs, ys if rng.random() > 1 / 3 else ys * np.nan


def test_networks_skipping_different_steps_keep_their_own_adam_counts():
    # Adam's bias corrections use each network's own update count: the networks skip on
    # different steps (their own NaN batches), so a shared count would shift every later step
    run = check_same_as_fit(_flaky, "elman", T=5, rules=["none", "global:1", "value:0.1"],
                            updates=15)  # fmt: skip
    skips = run.frame.groupby("network")["skipped"].apply(lambda s: tuple(s.to_numpy()))
    assert len(set(skips)) == 3 and all(0 < sum(s) < 15 for s in skips)


def _sometimes_loud(T, batch, rng=None):
    """Adding-task batches whose targets are 3e307 one time in four: an SGD step at lr 10
    then overflows the readout to inf."""
    rng = np.random.default_rng(rng)
    xs, ys = train.make_task("adding", T=T).sample(batch, rng)
    return xs, np.full_like(ys, 3e307) if rng.random() < 0.25 else ys


def test_a_stop_between_recorded_steps_is_recorded_with_its_spectra():
    run = check_same_as_fit(_sometimes_loud, "elman", T=4, rules=["none", "global:1e-300"],
                            optimizer="sgd", lr=10.0, updates=12, record_every=5,
                            spectral=True)  # fmt: skip
    stop = run.frame[run.frame.network == 0]["update"].iloc[-1]
    assert run.status[0] == "nonfinite_params" and stop % 5 != 0
    assert np.isfinite(run.frame[run.frame.network == 0]["spectral_radius"].iloc[-1])
