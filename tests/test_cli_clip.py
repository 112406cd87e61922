"""Tests of ``gradflow clip``: the CSV it writes (against ``train.compare`` run directly), its
plots, the aliases of the old options, --help and bad arguments. The plots are drawn by the
private ``gradflow.cli._clip_plot``, tested here through the command."""

import types

import pandas as pd
import pytest
from _cli_helpers import one_error_line

from gradflow import cli
from gradflow.train import COLUMNS, RUN_COLUMNS, compare, compare_clipping

TINY = ["--task", "adding", "--T", "6", "--hidden", "4", "--updates", "5", "--batch", "4",
        "--seeds", "2", "--eval-batch", "16", "--rng", "3"]  # fmt: skip
TINY_KW = {"T": 6, "hidden": 4, "steps": 5, "batch": 4, "eval_batch": 16, "rng": 3}

#: The grid: 2 inits × 2 gains × 2 rules × 2 lengths × 2 seeds.
GRID = ["--task", "adding", "--T", "4,6", "--hidden", "4", "--updates", "5", "--batch", "4",
        "--seeds", "2", "--eval-batch", "16", "--rng", "5", "--inits", "orthogonal,gaussian",
        "--gains", "1,1.5", "--rules", "none,global:1"]  # fmt: skip
GRID_KW = {"inits": ["orthogonal", "gaussian"], "rules": ["none", "global:1"], "T": [4, 6],
           "seeds": 2, "hidden": 4, "updates": 5, "batch": 4, "eval_batch": 16, "rng": 5,
           "lr": 1e-3}  # fmt: skip
GAINS = (1.0, 1.5)


def run_ok(argv):
    assert cli.main(["clip", *argv]) == 0


def test_grid_csv_is_compare_run_directly_for_each_gain(tmp_path, capsys):
    out = tmp_path / "grid.csv"
    run_ok([*GRID, "--out", str(out)])
    frame = pd.read_csv(out)
    assert list(frame.columns) == list(RUN_COLUMNS)
    keys = ["init", "gain", "rule", "T", "seed"]
    assert len(frame) == 2 * 2 * 2 * 2 * 2 and not frame.duplicated(keys).any()
    assert set(frame["init"]) == {"orthogonal", "gaussian"} and set(frame["gain"]) == set(GAINS)
    direct = pd.concat([compare("adding", gain=g, **GRID_KW) for g in GAINS], ignore_index=True)
    pd.testing.assert_frame_equal(frame, direct, check_dtype=False)
    stdout = capsys.readouterr().out
    assert stdout.startswith("gradflow clip: adding (T = 4,6), elman, inits orthogonal,gaussian")
    assert "global:1" in stdout and f"wrote {out}" in stdout


def test_printed_summary_groups_by_T_init_gain_rule(tmp_path, capsys):
    from gradflow.cli._clip import _grid_summary

    out = tmp_path / "grid.csv"
    run_ok([*GRID, "--target-loss", "1.0", "--out", str(out)])  # a loose target: some solve
    runs = pd.read_csv(out)
    summary = _grid_summary(runs)
    assert summary.index.names == ["T", "init", "gain", "rule"]
    assert len(summary) == 2 * 2 * 2 * 2
    assert list(summary.index.get_level_values("T")) == [4] * 8 + [6] * 8
    for (T, init, gain, rule), row in summary.iterrows():
        part = runs[(runs["T"] == T) & (runs["init"] == init) & (runs["gain"] == gain)
                    & (runs["rule"] == rule.partition(":")[0])]  # fmt: skip
        assert len(part) == row["seeds"] == 2
        assert row["solved"] == part["solved"].mean()
        assert row["final_loss"] == part["final_loss"].median()
        assert row["clipped_fraction"] == part["clipped_fraction"].mean()
        assert row["diverged"] == part["diverged"].sum()
        solving = part.loc[part["solved"], "updates_to_solve"]
        assert row["updates_to_solve"] == pytest.approx(solving.median(), nan_ok=True)
    assert 0 < runs["solved"].mean() < 1 and summary["updates_to_solve"].notna().any()
    stdout = capsys.readouterr().out
    for column in ("solved_fraction", "final_loss", "updates_to_solve", "clipped_fraction",
                   "diverged"):  # fmt: skip
        assert column in stdout


def test_workers_give_the_same_csv(tmp_path):
    paths = []
    for workers in ("1", "2"):
        path = tmp_path / f"w{workers}.csv"
        run_ok([*GRID, "--workers", workers, "--out", str(path), "--quiet"])
        paths.append(path)
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_grid_plot_and_steps_out(tmp_path, capsys):
    out, steps, image = tmp_path / "g.csv", tmp_path / "s.csv", tmp_path / "g.png"
    run_ok([*GRID, "--quiet", "--out", str(out), "--steps-out", str(steps), "--plot", str(image)])
    assert capsys.readouterr().out == ""
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    per_update = pd.read_csv(steps)
    assert list(per_update.columns) == ["init", "gain", "rule", "threshold", "T", "seed",
                                        *COLUMNS]  # fmt: skip
    assert len(per_update) == len(pd.read_csv(out)) * 5
    assert per_update.groupby(["init", "gain", "rule", "T", "seed"]).size().eq(5).all()


def test_csv_agrees_with_compare_clipping_for_one_init_and_T(tmp_path, capsys):
    out = tmp_path / "clip.csv"
    run_ok([*TINY, "--rules", "none,value:1,global:0.5", "--optimizer", "sgd", "--lr", "0.1",
            "--gain", "1.5", "--out", str(out)])  # fmt: skip
    frame = pd.read_csv(out)
    old = compare_clipping("adding", ["none", "value:1", "global:0.5"], seeds=2,
                           optimizer="sgd", lr=0.1, gain=1.5, **TINY_KW)  # fmt: skip
    # compare_clipping smooths updates_to_solve and train_loss over 10 updates, compare over
    # 20; everything else of a run is the same.
    same = ["rule", "threshold", "seed", "final_loss", "diverged", "clipped_fraction",
            "n_skipped", "status"]  # fmt: skip
    pd.testing.assert_frame_equal(frame[same], old[same], check_dtype=False)
    assert set(frame["gain"]) == {1.5} and set(frame["init"]) == {"orthogonal"}
    stdout = capsys.readouterr().out
    assert "global:0.5" in stdout and f"wrote {out}" in stdout


def test_aliases_init_gain_steps(tmp_path):
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    common = ["--task", "adding", "--T", "5", "--hidden", "4", "--batch", "4", "--seeds", "2",
              "--eval-batch", "16", "--rules", "none,norm:1", "--quiet"]  # fmt: skip
    run_ok([*common, "--init", "gaussian", "--gain", "0.9", "--steps", "4", "--out", str(old)])
    run_ok([*common, "--inits", "gaussian", "--gains", "0.9", "--updates", "4", "--out", str(new)])
    assert old.read_bytes() == new.read_bytes()
    frame = pd.read_csv(old)
    assert set(frame["init"]) == {"gaussian"} and set(frame["gain"]) == {0.9}
    direct = compare("adding", inits="gaussian", gain=0.9, rules=["none", "norm:1"], T=5,
                     seeds=2, hidden=4, updates=4, batch=4, eval_batch=16, rng=0)  # fmt: skip
    pd.testing.assert_frame_equal(frame, direct, check_dtype=False)


def test_single_combination_plot_with_bare_rules_and_thresholds(tmp_path, capsys):
    out, steps, image = tmp_path / "c.csv", tmp_path / "steps.csv", tmp_path / "c.png"
    run_ok([*TINY, "--rules", "none,value,global", "--thresholds", "0.1,1", "--quiet",
            "--out", str(out), "--steps-out", str(steps), "--plot", str(image)])  # fmt: skip
    assert capsys.readouterr().out == ""
    runs = pd.read_csv(out)
    specs = runs[["rule", "threshold"]].drop_duplicates()
    assert len(specs) == 5 and len(runs) == 10  # none + 2 rules x 2 thresholds, 2 seeds
    per_update = pd.read_csv(steps)
    assert list(per_update.columns) == ["init", "gain", "rule", "threshold", "T", "seed",
                                        *COLUMNS]  # fmt: skip
    assert len(per_update) == 10 * 5
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_single_combination_plot_without_steps_out(tmp_path):
    image = tmp_path / "c.svg"
    run_ok([*TINY, "--rules", "none,global:1", "--quiet", "--out", str(tmp_path / "c.csv"),
            "--plot", str(image)])  # fmt: skip
    assert image.read_text(encoding="utf-8").lstrip().startswith("<?xml")


def test_help(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["clip", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: gradflow clip")
    for option in ("--rules", "--thresholds", "--workers", "--plot", "--steps-out", "--quiet",
                   "--inits", "--init", "--gains", "--gain", "--updates", "--steps", "--cell",
                   "--forget-bias", "--target-loss"):  # fmt: skip
        assert option in text


#: (arguments, part of the one-line error): each fails before training (and the header).
BAD = [
    (["--rules", "none,value:-1"], "rule: expected a finite threshold > 0 after 'value:'"),
    (["--rules", "none,bogus:1"], "rule: expected none, value:C"),
    (["--lr", "0"], "lr: expected a number > 0, got 0"),
    (["--lr", "-0.1"], "lr: expected a number > 0"),
    (["--task", "nonesuch"], "task: expected one of adding, copy; got 'nonesuch'"),
    (["--rules", "value"], "thresholds: bare rule names need at least one threshold"),
    (["--rules", "value", "--thresholds", "-1"], "thresholds: expected finite numbers > 0"),
    (["--thresholds", "a,b"], "argument --thresholds: expected comma-separated numbers"),
    (["--updates", "x"], "argument --updates/--steps: expected an integer >= 1, got 'x'"),
    (["--steps", "0"], "argument --updates/--steps: expected an integer >= 1, got 0"),
    (["--workers", "0"], "argument --workers: expected an integer >= 1, got 0"),
    (["--hidden-size", "0"], "argument --hidden-size/--hidden: expected an integer >= 1, got 0"),
    (["--plot", "c.jpg"], "plot: expected a file name ending in .png, .svg or .pdf"),
    (["--T", "0"], "argument --T: expected comma-separated integers >= 1, got '0'"),
    (["--T", "20,abc"], "argument --T: expected comma-separated integers >= 1, got 'abc'"),
    (["--T", "abc"], "argument --T: expected comma-separated integers >= 1, got 'abc'"),
    (["--gains", "-1"], "argument --gains/--gain: expected comma-separated finite numbers > 0"),
    (["--gain", "1,nan"], "argument --gains/--gain: expected comma-separated finite numbers"),
    (["--inits", "orthogonal,bogus"], "inits: expected one of "),
    (["--init", "bogus"], "got 'bogus'"),
    (["--cell", "lstm", "--activation", "relu"], "activation: the lstm cell has fixed"),
    (["--T", "4,6", "--plot", "c.png"], "plot: the summary figure over (init, gain, T) draws "
     "at most 4 rule specs, got 5"),  # the default rules
    (["--gains", "1,2", "--rules", "none,value:1,norm:1,global:1,adaptive:1", "--plot",
      "c.png"], "pass fewer --rules or leave out --plot"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "message"), BAD)
def test_bad_arguments_exit_2_with_one_line_before_the_header(tmp_path, capsys, args, message):
    out, image = tmp_path / "clip.csv", tmp_path / "c.png"
    args = [str(image) if a == "c.png" else a for a in args]
    assert cli.main(["clip", *TINY, *args, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert message in one_error_line(types.SimpleNamespace(readouterr=lambda: captured))
    assert captured.out == ""  # nothing printed: not even the header
    assert not out.exists() and not image.exists()


def test_cell_option_trains_a_gru(tmp_path):
    out = tmp_path / "gru.csv"
    run_ok([*TINY, "--rules", "none,global:1", "--cell", "gru", "--forget-bias", "1",
            "--quiet", "--out", str(out)])  # fmt: skip
    frame = pd.read_csv(out)
    assert set(frame["cell"]) == {"gru"}
    direct = compare("adding", inits="orthogonal", rules=["none", "global:1"], T=6, seeds=2,
                     hidden=4, updates=5, batch=4, eval_batch=16, rng=3, cell="gru",
                     forget_bias=1.0)  # fmt: skip
    pd.testing.assert_frame_equal(frame, direct, check_dtype=False)
