"""Tests of ``gradflow clip``: the CSV it writes, its plot, --help and bad arguments."""

import pandas as pd
import pytest
from _cli_helpers import one_error_line

from gradflow import cli
from gradflow.train import COLUMNS, compare_clipping

TINY = ["--task", "adding", "--T", "6", "--hidden", "4", "--steps", "5", "--batch", "4",
        "--seeds", "2", "--eval-batch", "16", "--rng", "3"]  # fmt: skip
TINY_KW = {"T": 6, "hidden": 4, "steps": 5, "batch": 4, "eval_batch": 16, "rng": 3}


def test_csv_reads_back_as_compare_clipping(tmp_path, capsys):
    out = tmp_path / "clip.csv"
    argv = ["clip", *TINY, "--rules", "none,value:1,global:0.5", "--optimizer", "sgd",
            "--lr", "0.1", "--gain", "1.5", "--out", str(out)]  # fmt: skip
    assert cli.main(argv) == 0
    direct = compare_clipping("adding", ["none", "value:1", "global:0.5"], seeds=2,
                              optimizer="sgd", lr=0.1, gain=1.5, **TINY_KW)  # fmt: skip
    pd.testing.assert_frame_equal(pd.read_csv(out), direct, check_dtype=False)
    stdout = capsys.readouterr().out
    assert "global:0.5" in stdout and f"wrote {out}" in stdout


def test_bare_rules_with_thresholds_steps_and_plot(tmp_path, capsys):
    out, steps, image = tmp_path / "c.csv", tmp_path / "steps.csv", tmp_path / "c.png"
    argv = ["clip", *TINY, "--rules", "none,value,global", "--thresholds", "0.1,1", "--quiet",
            "--out", str(out), "--steps-out", str(steps), "--plot", str(image)]  # fmt: skip
    assert cli.main(argv) == 0
    assert capsys.readouterr().out == ""
    summary = pd.read_csv(out)
    specs = summary[["rule", "threshold"]].drop_duplicates()
    assert len(specs) == 5 and len(summary) == 10  # none + 2 rules x 2 thresholds, 2 seeds
    per_step = pd.read_csv(steps)
    assert list(per_step.columns) == ["rule", "threshold", "seed", *COLUMNS]
    assert len(per_step) == 10 * 5
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_workers_give_the_same_csv(tmp_path):
    paths = []
    for workers in ("1", "2"):
        path = tmp_path / f"w{workers}.csv"
        argv = ["clip", *TINY, "--rules", "none,global:1", "--workers", workers,
                "--out", str(path), "--quiet"]  # fmt: skip
        assert cli.main(argv) == 0
        paths.append(path)
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_help(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["clip", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: gradflow clip")
    for option in ("--rules", "--thresholds", "--workers", "--plot", "--steps-out", "--quiet"):
        assert option in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rules", "none,value:-1"], "rule: expected a finite threshold > 0 after 'value:'"),
        (["--rules", "none,bogus:1"], "rule: expected none, value:C"),
        (["--lr", "0"], "lr: expected a number > 0, got 0"),
        (["--lr", "-0.1"], "lr: expected a number > 0"),
        (["--task", "nonesuch"], "task: expected one of adding, copy; got 'nonesuch'"),
        (["--rules", "value"], "thresholds: bare rule names need at least one threshold"),
        (["--rules", "value", "--thresholds", "-1"], "thresholds: expected finite numbers > 0"),
        (["--thresholds", "a,b"], "argument --thresholds: expected comma-separated numbers"),
        (["--steps", "x"], "argument --steps: invalid int value"),
        (["--workers", "0"], "workers: expected"),
        (["--plot", "c.jpg"], "plot: expected a file name ending in .png, .svg or .pdf"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys, args, message):
    out = tmp_path / "clip.csv"
    argv = ["clip", *TINY, *args, "--out", str(out), "--quiet"]
    assert cli.main(argv) == 2
    assert message in one_error_line(capsys)
    assert not out.exists()


def test_cell_option_trains_a_gru(tmp_path):
    out = tmp_path / "gru.csv"
    argv = ["clip", *TINY, "--rules", "none,global:1", "--cell", "gru", "--forget-bias", "1",
            "--quiet", "--out", str(out)]  # fmt: skip
    assert cli.main(argv) == 0
    direct = compare_clipping("adding", ["none", "global:1"], seeds=2, cell="gru",
                              forget_bias=1.0, **TINY_KW)  # fmt: skip
    pd.testing.assert_frame_equal(pd.read_csv(out), direct, check_dtype=False)


def test_gated_cell_with_another_activation_is_one_line(tmp_path, capsys):
    argv = ["clip", *TINY, "--cell", "lstm", "--activation", "relu", "--out", str(tmp_path / "x")]
    assert cli.main(argv) == 2
    assert "activation: the lstm cell has fixed nonlinearities" in one_error_line(capsys)
