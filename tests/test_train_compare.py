"""compare and compare_clipping: the grid, identical starts, executors and every summary value."""

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from gradflow import tasks, train
from gradflow._rng import spawn_seeds


@pytest.fixture(scope="module")
def grid():
    kwargs = {
        "T": 10, "hidden": 6, "steps": 8, "batch": 4, "eval_batch": 16, "rng": 7,
        "lr": 1e-2, "return_steps": True,
    }  # fmt: skip
    return kwargs, train.compare_clipping("adding", ["none", "value", "global:1e9"], [0.1, 1.0],
                                          seeds=2, **kwargs)  # fmt: skip


def test_compare_clipping_grid_and_identical_starts(grid):
    _, (summary, steps) = grid
    assert summary[["rule", "threshold"]].drop_duplicates().shape[0] == 4
    assert len(summary) == 8 and set(summary["seed"]) == {0, 1}
    for column in ("final_loss", "diverged", "updates_to_solve", "train_loss", "status"):
        assert column in summary
    first = steps[steps["update"] == 0]
    for _, group in first.groupby("seed"):  # same model and batch per seed under every rule
        assert group["loss"].nunique() == 1 and group["grad_norm"].nunique() == 1
    assert first.groupby("rule")["loss"].nunique().max() == 2  # the seeds differ
    # a threshold that is never reached changes nothing
    none = summary[summary.rule == "none"].reset_index(drop=True)
    huge = summary[summary.rule == "global"].reset_index(drop=True)
    np.testing.assert_array_equal(none["final_loss"], huge["final_loss"])
    assert not summary["diverged"].any()


@pytest.mark.parametrize("pool", [ThreadPoolExecutor, ProcessPoolExecutor])
def test_compare_clipping_same_result_under_any_executor(grid, pool):
    kwargs, (summary, steps) = grid
    with pool(max_workers=2) as executor:
        again, steps_again = train.compare_clipping(
            "adding", ["none", "value", "global:1e9"], [0.1, 1.0], seeds=2,
            executor=executor, **kwargs,
        )  # fmt: skip
    pd.testing.assert_frame_equal(summary, again)
    pd.testing.assert_frame_equal(steps, steps_again)


def test_compare_clipping_updates_to_solve():
    frame = train.compare_clipping(
        "adding", ["none"], seeds=1, T=6, hidden=4, steps=20, batch=8, eval_batch=8,
        lr=0.05, target_loss=1e9, window=3, rng=0,
    )  # fmt: skip
    assert frame["updates_to_solve"].iloc[0] == 2  # mean of steps 0..2 is below any loss
    frame = train.compare_clipping(
        "adding", ["none"], seeds=1, T=6, hidden=4, steps=5, batch=8, eval_batch=8,
        lr=0.05, target_loss=1e-12, rng=0,
    )  # fmt: skip
    assert np.isnan(frame["updates_to_solve"].iloc[0])


@pytest.mark.parametrize(
    ("rules", "thresholds", "words"),
    [
        (["value"], [-1.0], "thresholds"),
        (["value"], [0.0], "thresholds"),
        (["bogus"], [1.0], "rule"),
        (["global:-2"], None, "threshold"),
        (["norm"], None, "thresholds"),
        ([], None, "rules"),
    ],
)
def test_compare_clipping_bad_rules_and_thresholds(rules, thresholds, words):
    with pytest.raises(ValueError) as info:
        train.compare_clipping("adding", rules, thresholds, seeds=1, T=5, steps=1, batch=2)
    assert words in str(info.value) and "\n" not in str(info.value)


# -- compare ------------------------------------------------------------------------------------
SETTINGS = {"hidden": 5, "updates": 30, "batch": 4, "eval_batch": 16, "lr": 2e-2, "window": 4}


@pytest.fixture(scope="module")
def runs():
    frame, steps = train.compare(
        "adding", inits=["orthogonal", "gaussian"], rules=["none", "value:0.05", "global:0.5"],
        T=[4, 7], seeds=2, rng=3, return_steps=True, target_loss=0.12, **SETTINGS,
    )  # fmt: skip
    return frame, steps


def test_compare_grid_order_and_columns(runs):
    frame, steps = runs
    assert list(frame.columns) == list(train.RUN_COLUMNS)
    assert len(frame) == 2 * 3 * 2 * 2
    keys = list(zip(frame["T"], frame["init"], frame["rule"], frame["threshold"], frame["seed"]))
    expected = [(t, i, r, c, s) for t in (4, 7) for i in ("orthogonal", "gaussian")
                for r, c in (("none", np.nan), ("value", 0.05), ("global", 0.5))
                for s in (0, 1)]  # fmt: skip
    assert [k[:3] + k[4:] for k in keys] == [e[:3] + e[4:] for e in expected]
    np.testing.assert_array_equal(frame["threshold"], [e[3] for e in expected])
    assert (frame["cell"] == "elman").all() and (frame["activation"] == "tanh").all()
    assert len(steps) == len(frame) * SETTINGS["updates"]


def test_compare_summary_values_against_separate_fit_runs(runs):
    """Every summary value recomputed from an independent fit run with the same seeds."""
    frame, _ = runs
    per_seed = [tuple(s.spawn(3)) for s in spawn_seeds(3, 2)]
    for row in frame.itertuples():
        task = train.make_task("adding", T=row.T)
        init_seq, data_seq, eval_seq = per_seed[row.seed]
        model = train.init_model(task, SETTINGS["hidden"], init=row.init,
                                 rng=np.random.default_rng(init_seq))  # fmt: skip
        spec = "none" if row.rule == "none" else f"{row.rule}:{row.threshold!r}"
        history = train.fit(task, model, clip=spec, lr=SETTINGS["lr"],
                            steps=SETTINGS["updates"], batch=SETTINGS["batch"],
                            rng=np.random.default_rng(data_seq), spectral=False,
                            progress=False)  # fmt: skip
        xs, ys = task.sample(SETTINGS["eval_batch"], np.random.default_rng(eval_seq))
        final = history.model.loss(xs, ys)
        assert row.final_loss == pytest.approx(final, rel=1e-9)
        assert final != pytest.approx(model.loss(xs, ys), rel=1e-6)  # not the untrained model
        losses = history.frame["loss"].to_numpy()
        assert row.train_loss == pytest.approx(losses[-4:].mean(), rel=1e-9)
        solved_at = next((k for k in range(3, len(losses)) if losses[k - 3 : k + 1].mean()
                          <= 0.12), None)  # fmt: skip
        if solved_at is None:
            assert np.isnan(row.updates_to_solve)
        else:
            assert row.updates_to_solve == solved_at
        assert row.solved == (final <= 0.12)
        assert row.max_grad_norm == pytest.approx(history.frame["grad_norm"].max(), rel=1e-9)
        assert row.clipped_fraction == pytest.approx(history.frame["clipped"].mean())
        assert row.n_skipped == history.n_skipped and row.status == history.status
    assert frame["solved"].any() and not frame["solved"].all()  # the checks above bite
    assert frame["updates_to_solve"].notna().any() and frame["updates_to_solve"].isna().any()
    assert (frame["clipped_fraction"] > 0).any() and (frame["clipped_fraction"] < 1).any()


def test_compare_identical_starts_and_batches_across_rules(runs):
    _, steps = runs
    first = steps[steps["update"] == 0]
    for _, group in first.groupby(["T", "init", "seed"]):
        assert group["loss"].nunique() == 1 and group["grad_norm"].nunique() == 1
    assert first.groupby(["T", "init", "rule"])["loss"].nunique().min() == 2  # seeds differ


@pytest.mark.parametrize("pool", [ThreadPoolExecutor, ProcessPoolExecutor])
def test_compare_identical_under_any_executor(runs, pool):
    frame, steps = runs
    with pool(max_workers=2) as executor:
        again, steps_again = train.compare(
            "adding", inits=["orthogonal", "gaussian"], rules=["none", "value:0.05", "global:0.5"],
            T=[4, 7], seeds=2, rng=3, return_steps=True, target_loss=0.12, executor=executor,
            **SETTINGS,
        )  # fmt: skip
    pd.testing.assert_frame_equal(frame, again)
    pd.testing.assert_frame_equal(steps, steps_again)


def test_compare_population_size_changes_nothing_but_rounding(runs):
    frame, _ = runs
    small = train.compare(
        "adding", inits=["orthogonal", "gaussian"], rules=["none", "value:0.05", "global:0.5"],
        T=[4, 7], seeds=2, rng=3, target_loss=0.12, population_size=5, **SETTINGS,
    )  # fmt: skip
    pd.testing.assert_frame_equal(frame, small, rtol=1e-9)


def test_compare_default_target_is_a_tenth_of_the_baseline_and_copy_task_runs():
    frame = train.compare("copy", inits="orthogonal", rules="none,global", thresholds=[1.0],
                          T=3, seeds=1, hidden=4, updates=2, batch=2, eval_batch=4, rng=0,
                          cell="gru")  # fmt: skip
    assert frame["target_loss"].unique().tolist() == [pytest.approx(tasks.copy_baseline(3) / 10)]
    assert frame["rule"].tolist() == ["none", "global"] and (frame["cell"] == "gru").all()


@pytest.mark.parametrize(
    ("call", "exc", "words"),
    [
        (dict(inits=[]), ValueError, "inits"),
        (dict(inits=["bogus"]), ValueError, "init"),
        (dict(T=[]), ValueError, "T"),
        (dict(T=[5, 0]), ValueError, "T"),
        (dict(optimizer="sgd"), ValueError, "lr"),
        (dict(rules=["global"]), ValueError, "thresholds"),
        (dict(seeds=0), ValueError, "seeds"),
        (dict(population_size=0), ValueError, "population_size"),
        (dict(cell="rnn"), ValueError, "cell"),
    ],
)
def test_compare_bad_arguments_give_one_line_errors(call, exc, words):
    kwargs = {"inits": ["orthogonal"], "rules": ["none"], "T": 5, "seeds": 1, "hidden": 3,
              "updates": 1, "batch": 2}  # fmt: skip
    kwargs.update(call)
    with pytest.raises(exc) as info:
        train.compare("adding", **kwargs)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_rule_specs():
    assert train.rule_specs(["none", "value", "global:2"], [0.5]) == [
        "none", "value:0.5", "global:2",
    ]  # fmt: skip
    assert train.rule_specs("global,global", 1) == ["global:1.0"]


def test_compare_clipping_is_compare_for_one_init_and_length():
    """compare_clipping's summary values are compare's (checked against fit runs above)."""
    kw = {"hidden": 5, "batch": 4, "eval_batch": 16, "lr": 2e-2, "window": 4, "rng": 3}
    old = train.compare_clipping("adding", ["none", "global:0.5"], seeds=2, T=7, steps=30,
                                 target_loss=0.12, **kw)  # fmt: skip
    new = train.compare("adding", inits="orthogonal", rules=["none", "global:0.5"], T=7,
                        seeds=2, updates=30, target_loss=0.12, **kw)  # fmt: skip
    for column in ("final_loss", "train_loss", "clipped_fraction", "n_skipped", "diverged"):
        np.testing.assert_array_equal(old[column], new[column])
    np.testing.assert_array_equal(old["updates_to_solve"], new["updates_to_solve"])


def test_compare_identical_under_dask_distributed(runs):
    distributed = pytest.importorskip("distributed")
    frame, _ = runs
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        again = train.compare(
            "adding", inits=["orthogonal", "gaussian"], rules=["none", "value:0.05", "global:0.5"],
            T=[4, 7], seeds=2, rng=3, target_loss=0.12, executor=client.get_executor(),
            **SETTINGS,
        )  # fmt: skip
    pd.testing.assert_frame_equal(frame, again)
