"""Tests of ``gradflow simulate``: the CSV is the simulation, the plot, executors, errors."""

import sys

import pandas as pd
import pytest
from _cli_helpers import one_error_line

from gradflow import cells, cli
from gradflow.simulate import gradient_growth

SMALL = ["--inits", "orthogonal,gaussian", "--gains", "0.8,1.5", "--n", "6", "--steps", "12",
         "--seeds", "3", "--seed", "7", "--quiet"]  # fmt: skip


def _run(tmp_path, *extra, name="growth.csv"):
    out = tmp_path / name
    status = cli.main(["simulate", *SMALL, *extra, "--out", str(out)])
    return status, out


@pytest.mark.parametrize(
    ("extra", "kwargs"),
    [
        ((), {"activation": "tanh"}),
        (("--activation", "linear"), {"activation": "linear"}),
        (
            ("--inputs", "gaussian:scale=0.5,size=3"),
            {"activation": "tanh", "inputs": {"kind": "gaussian", "scale": 0.5, "size": 3}},
        ),
    ],
)
def test_csv_reads_back_into_the_simulated_frame(tmp_path, extra, kwargs):
    status, out = _run(tmp_path, *extra)
    assert status == 0
    read = pd.read_csv(out)
    expected = gradient_growth(
        ["orthogonal", "gaussian"], [0.8, 1.5], hidden_size=6, steps=12, seeds=3, rng=7,
        progress=False,
        **kwargs,
    )  # fmt: skip
    pd.testing.assert_frame_equal(read, expected, check_exact=False, rtol=1e-13, atol=1e-13)
    assert read["seed"].dtype.kind == "i" and read["log_norm"].dtype.kind == "f"


def test_plot_writes_a_png_and_the_summary(tmp_path, capsys):
    image = tmp_path / "growth.png"
    out = tmp_path / "growth.csv"
    argv = ["simulate", *[a for a in SMALL if a != "--quiet"], "--out", str(out)]
    assert cli.main([*argv, "--plot", str(image)]) == 0
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    stdout = capsys.readouterr().out
    assert f"{out}: 156 rows (2 inits × 2 gains × 3 seeds × 13 lags)" in stdout
    assert str(image) in stdout


def test_process_pool_gives_the_same_csv(tmp_path):
    _, serial = _run(tmp_path, name="serial.csv")
    status, pooled = _run(tmp_path, "--workers", "2", name="pooled.csv")
    assert status == 0
    assert pooled.read_bytes() == serial.read_bytes()


def test_dask_scheduler_gives_the_same_csv(tmp_path):
    distributed = pytest.importorskip("distributed")
    _, serial = _run(tmp_path, name="serial.csv")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        status, dasked = _run(tmp_path, "--scheduler", cluster.scheduler_address, name="d.csv")
    assert status == 0
    assert dasked.read_bytes() == serial.read_bytes()


def test_missing_dask_is_one_line_with_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # import fails
    status, out = _run(tmp_path, "--scheduler", "tcp://127.0.0.1:1")
    assert status == 2
    line = one_error_line(capsys)
    assert 'pip install "gradflow-rnn[distributed]"' in line
    assert not out.exists()


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["simulate", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: gradflow simulate")
    options = "--inits --gains --n --steps --seeds --activation --out --plot --workers --scheduler"
    for option in [*options.split(), "--inputs", "--seed", "--quiet"]:
        assert option in text


def test_activation_choices_match_the_cells():
    assert set(cli.ACTIVATIONS) == set(cells.ACTIVATIONS)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--inits", "orthogonal,nonesuch"], "inits: "),
        (["--inits", "orthogonal,,gaussian"], "inits: expected a comma-separated list"),
        (["--gains", "0.8,0"], "gains: "),
        (["--gains", "-1"], "gains: "),
        (["--gains", "1,x"], "gains: expected comma-separated float values"),
        (["--hidden-size", "0"], "argument --hidden-size/--n: expected an integer >= 1, got 0"),
        (["--steps", "0"], "argument --steps: expected an integer >= 1, got 0"),
        (["--seeds", "0"], "argument --seeds: expected an integer >= 1, got 0"),
        (["--seeds", "two"], "argument --seeds: expected an integer >= 1, got 'two'"),
        (["--workers", "0"], "argument --workers: expected an integer >= 1"),
        (["--workers", "2", "--scheduler", "tcp://x:1"], "not allowed with argument"),
        (["--activation", "cosine"], "argument --activation: invalid choice"),
        (["--inputs", "noise"], "inputs: "),
        (["--plot", "growth.jpg"], "plot: expected a file name ending in .png"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys, extra, message):
    status, out = _run(tmp_path, *extra)
    assert status == 2
    assert message in one_error_line(capsys)
    assert not out.exists()


def test_out_is_required(capsys):
    assert cli.main(["simulate", *SMALL]) == 2
    assert "--out" in one_error_line(capsys)


def test_cell_option_runs_an_lstm_sweep(tmp_path):
    status, out = _run(tmp_path, "--cell", "lstm", "--forget-bias", "1")
    assert status == 0
    direct = gradient_growth(["orthogonal", "gaussian"], [0.8, 1.5], hidden_size=6, steps=12,
                             seeds=3,
                             cell="lstm", forget_bias=1.0, rng=7, progress=False)  # fmt: skip
    frame = pd.read_csv(out)
    assert (frame["cell"] == "lstm").all()
    pd.testing.assert_frame_equal(frame, direct, check_dtype=False)
