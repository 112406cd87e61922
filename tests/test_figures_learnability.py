"""Tests of gradflow.figures.learnability: the data against compare, the captions' sentences."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from gradflow import figures, train
from gradflow.figures import learnability as module

QUICK = figures.get("learnability").parameters(quick=True)


@pytest.fixture(scope="module")
def drawn():
    return {name: figures.get(name)(quick=True)
            for name in ("learnability", "long_sequence_curves")}  # fmt: skip


@pytest.fixture(scope="module")
def direct():
    """The adding-task runs recomputed with train.compare itself (an independent call)."""
    p = QUICK
    frames = []
    for activation, inits in (("tanh", ["orthogonal", "gaussian", "uniform"]),
                              ("relu", ["identity"])):  # fmt: skip
        frames.append(train.compare(
            "adding", inits=inits, rules=["none", f"value:{p['value_c']!r}",
                                          f"global:{p['global_c']!r}"],
            T=list(p["adding_T"]), seeds=p["seeds"], hidden_size=p["hidden_size"],
            updates=p["updates"],
            batch=p["batch"], lr=p["lr"], activation=activation, rng=p["rng"],
        ))  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def test_registered_and_drawn(drawn):
    for name, (fig, data) in drawn.items():
        assert name in figures.available()
        assert isinstance(fig, Figure) and not data.empty
        assert "{" not in figures.get(name).describe(quick=True, data=data)


def test_learnability_summary_recomputed_from_compare(drawn, direct):
    _, data = drawn["learnability"]
    adding = data[data["task"] == "adding"]
    assert len(adding) == 4 * 3 * len(QUICK["adding_T"])
    assert set(data["task"]) == {"adding", "copy"}
    for row in adding.itertuples():
        runs = direct[(direct["init"] == row.init) & (direct["rule"] == row.rule)
                      & (direct["T"] == row.T)]  # fmt: skip
        assert row.seeds == len(runs) == QUICK["seeds"]
        assert row.solved == runs["solved"].sum()
        assert row.solved_fraction == pytest.approx(runs["solved"].mean())
        assert row.final_loss == pytest.approx(runs["final_loss"].median())
        assert row.clipped_fraction == pytest.approx(runs["clipped_fraction"].mean())
        solved = runs.loc[runs["solved"], "updates_to_solve"]
        if solved.empty:
            assert np.isnan(row.updates_to_solve)
        else:
            assert row.updates_to_solve == pytest.approx(solved.median())
    assert (data.loc[data["init"] == "identity", "activation"] == "relu").all()


def summary(solved):
    """A learnability frame with given solved counts: {(init, rule, T): solved of 4}."""
    rows = []
    for (init, rule, T), k in solved.items():
        activation = "relu" if init == "identity" else "tanh"
        threshold = {"none": np.nan, "value": 0.1, "global": 1.0}[rule]
        rows.append({"task": "adding", "init": init, "activation": activation, "rule": rule,
                     "threshold": threshold, "T": T, "seeds": 4, "solved": k,
                     "solved_fraction": k / 4})  # fmt: skip
    return pd.DataFrame(rows)


def test_task_sentence_states_what_the_data_show():
    counts = {("orthogonal", "global", 10): 4, ("orthogonal", "none", 10): 4,
              ("identity", "global", 10): 4, ("orthogonal", "global", 40): 2,
              ("orthogonal", "none", 40): 0, ("identity", "global", 40): 3,
              ("identity", "none", 40): 1}  # fmt: skip
    text = module._task_sentence(summary(counts))
    assert "longest T at which a combination solves at least half of its seeds is 40" in text
    assert "identity + ReLU (IRNN) with global norm, c = 1 solves 3 of 4" in text
    assert "orthogonal with global-norm clipping 2, orthogonal unclipped 0" in text
    assert "usual advice is not the best choice" in text
    clipped = sum(k for (_, r, _), k in counts.items() if r != "none")
    unclipped = sum(k for (_, r, _), k in counts.items() if r == "none")
    n_clipped = 4 * sum(r != "none" for (_, r, _) in counts)
    n_unclipped = 4 * sum(r == "none" for (_, r, _) in counts)
    assert f"clipped runs solve {clipped} of {n_clipped}" in text
    assert f"unclipped runs {unclipped} of {n_unclipped}" in text
    assert "(as does" not in text  # no tie at T = 40
    counts[("identity", "none", 40)] = 3
    assert "(as does identity + ReLU (IRNN) with no clipping)" in module._task_sentence(
        summary(counts)
    )
    counts[("identity", "none", 40)] = 1
    # the usual advice winning: no remark
    counts[("orthogonal", "global", 40)] = 4
    assert "usual advice" not in module._task_sentence(summary(counts))
    nothing = module._task_sentence(summary({k: 0 for k in counts}))
    assert "no combination solves half of its seeds" in nothing


def test_long_sequence_curves_pick_the_longest_learnt_T_and_summarise_the_steps(drawn):
    _, data = drawn["long_sequence_curves"]
    p = figures.get("long_sequence_curves").parameters(quick=True)
    settings = (p["hidden_size"], p["updates"], p["batch"], p["lr"], p["seeds"],
                float(p["value_c"]),
                float(p["global_c"]), p["rng"], p["workers"])  # fmt: skip
    runs, steps = module._grid("adding", tuple(p["adding_T"]), *settings)
    four = runs[
        runs["init"].isin(["orthogonal", "gaussian"]) & runs["rule"].isin(["none", "global"])
    ]
    learnt = four.groupby("T")["solved"].sum()
    expected = learnt[learnt > 0].index.max() if (learnt > 0).any() else learnt.index.min()
    assert (data["T"] == expected).all()
    assert data.groupby("combination").ngroups == 4
    # one curve recomputed: running mean per seed, then the median over seeds
    one = steps[(steps["T"] == expected) & (steps["init"] == "gaussian")
                & (steps["rule"] == "none")]  # fmt: skip
    smooth = one.groupby("seed")["loss"].transform(
        lambda s: s.rolling(p["window"], min_periods=1).mean())  # fmt: skip
    median = smooth.groupby(one["update"]).median()
    curve = data[(data["init"] == "gaussian") & (data["rule"] == "none")].set_index("update")
    np.testing.assert_allclose(curve["loss"], median.loc[curve.index], rtol=1e-12)
    assert (curve["loss_low"] <= curve["loss"]).all() and (
        curve["loss"] <= curve["loss_high"]
    ).all()
    text = figures.get("long_sequence_curves").describe(quick=True, data=data)
    outcome = four[
        (four["T"] == expected) & (four["init"] == "gaussian") & (four["rule"] == "none")
    ]
    assert f"{outcome['solved'].sum():.0f} of {p['seeds']} solved" in text
    assert f"median held-out loss {outcome['final_loss'].median():.3g}" in text


def test_the_data_do_not_depend_on_the_number_of_workers(drawn):
    _, data = drawn["learnability"]
    _, again = figures.get("learnability")(quick=True, workers=2)
    pd.testing.assert_frame_equal(data, again)


def test_copy_panels_state_the_number_of_symbols(drawn):
    fig, _ = drawn["learnability"]
    symbols = QUICK["copy_symbols"]
    titles = [ax.get_title() for ax in fig.axes]
    copy = [t for t in titles if t.startswith("copy task")]
    assert copy and all(t.startswith(f"copy task ({symbols} symbol") for t in copy)
    assert any(t.startswith("adding task") for t in titles)
