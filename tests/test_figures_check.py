"""Tests of ``check_catalogue`` and ``gradflow figures --check``: committed CSVs against a
fresh computation."""

import shutil

import pandas as pd
import pytest
from _cli_helpers import one_error_line

from gradflow import cli, figures
from gradflow.figures._catalogue import CheckResult, _compare, check_catalogue

# Two of the fastest figures in quick mode (about 0.15 s each).
ONLY = ["eigenvalues", "lyapunov_spectra"]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A quick catalogue of the two figures, written once; tests check copies of it."""
    out = tmp_path_factory.mktemp("catalogue")
    figures.write_catalogue(out, quick=True, only=ONLY)
    return out


@pytest.fixture
def folder(written, tmp_path):
    out = tmp_path / "figs"
    shutil.copytree(written, out)
    return out


def statuses(results):
    return {result.name: result.status for result in results}


def perturb(path, column, factor, row=3):
    data = pd.read_csv(path)
    data.loc[row, column] *= factor
    data.to_csv(path, index=False, float_format="%.10g", lineterminator="\n")


def test_fresh_catalogue_is_the_same_and_nothing_is_written(folder):
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    results = check_catalogue(folder, only=ONLY, quick=True)
    assert [r.name for r in results] == ONLY
    assert all(isinstance(r, CheckResult) for r in results)
    assert statuses(results) == dict.fromkeys(ONLY, "same")
    assert all(r.detail == "" for r in results)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_a_relative_change_of_1e_6_is_different_and_names_the_column(folder):
    perturb(folder / "eigenvalues.csv", "real", 1 + 1e-6)
    first, second = check_catalogue(folder, only=ONLY, quick=True)
    assert (first.name, first.status) == ("eigenvalues", "different")
    assert "real (1 rows)" in first.detail and "imag" not in first.detail
    largest = float(first.detail.rsplit(" ", 1)[1])
    assert largest == pytest.approx(1e-6, rel=1e-3)
    assert second.status == "same"


def test_a_change_within_the_tolerance_is_the_same(folder):
    perturb(folder / "eigenvalues.csv", "real", 1 + 1e-6)
    assert check_catalogue(folder, only="eigenvalues", quick=True, rtol=1e-5)[0].status == "same"
    result = check_catalogue(folder, only="eigenvalues", quick=True, rtol=1e-7)[0]
    assert result.status == "different"


def test_text_columns_compare_exactly(folder):
    path = folder / "eigenvalues.csv"
    data = pd.read_csv(path)
    data.loc[0, "init"] = "nonesuch"
    data.to_csv(path, index=False, float_format="%.10g", lineterminator="\n")
    result = check_catalogue(folder, only="eigenvalues", quick=True)[0]
    assert result.status == "different"
    assert "init (1 rows)" in result.detail


def test_a_deleted_csv_is_missing(folder):
    (folder / "lyapunov_spectra.csv").unlink()
    results = check_catalogue(folder, only=ONLY, quick=True)
    assert statuses(results) == {"eigenvalues": "same", "lyapunov_spectra": "missing"}
    assert "lyapunov_spectra.csv" in results[1].detail


def test_a_changed_row_count_or_columns_is_different(folder):
    path = folder / "eigenvalues.csv"
    data = pd.read_csv(path)
    data.iloc[:-1].to_csv(path, index=False, float_format="%.10g", lineterminator="\n")
    result = check_catalogue(folder, only="eigenvalues", quick=True)[0]
    assert result.status == "different"
    assert f"{len(data) - 1} rows committed, {len(data)} computed" in result.detail
    data.drop(columns="imag").to_csv(path, index=False, lineterminator="\n")
    result = check_catalogue(folder, only="eigenvalues", quick=True)[0]
    assert result.status == "different" and result.detail.startswith("columns [")


def test_nan_and_infinities_compare_equal_to_themselves():
    frame = pd.DataFrame({"x": [float("nan"), float("inf"), -float("inf"), 1.0]})
    assert _compare(frame, frame.copy(), 1e-8, 0.0) == ""
    other = pd.DataFrame({"x": [float("nan"), -float("inf"), -float("inf"), 1.0]})
    assert _compare(frame, other, 1e-8, 0.0).startswith("columns x (1 rows)")


def test_cli_check_exit_0_when_the_same(folder, capsys):
    argv = ["figures", "--check", "--quick", "--only", ",".join(ONLY), "--out", str(folder)]
    assert cli.main(argv) == 0
    assert capsys.readouterr().out.splitlines() == [f"{name}: same" for name in ONLY]


def test_cli_check_exit_1_when_different_or_missing(folder, capsys):
    perturb(folder / "eigenvalues.csv", "imag", 1 + 1e-6)
    argv = ["figures", "--check", "--quick", "--only", ",".join(ONLY), "--out", str(folder)]
    assert cli.main(argv) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("eigenvalues: different: columns imag (1 rows)")
    assert lines[1] == "lyapunov_spectra: same"
    (folder / "lyapunov_spectra.csv").unlink()
    assert cli.main(argv) == 1
    assert capsys.readouterr().out.splitlines()[1].startswith("lyapunov_spectra: missing")


def test_cli_check_without_quick_finds_the_quick_catalogue_different(folder, capsys):
    argv = ["figures", "--check", "--only", "eigenvalues", "--out", str(folder)]
    assert cli.main(argv) == 1
    assert capsys.readouterr().out.startswith("eigenvalues: different: ")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--check", "--list"], "not allowed with argument"),
        (["--check", "--only", "nonesuch"], "only: unknown figure 'nonesuch'"),
    ],
)
def test_cli_check_usage_errors_exit_2(argv, message, tmp_path, capsys):
    assert cli.main(["figures", *argv, "--out", str(tmp_path / "x")]) == 2
    assert message in one_error_line(capsys)
    assert not (tmp_path / "x").exists()


def test_rtol_is_relative_and_atol_absolute():
    old, new = pd.DataFrame({"x": [1000.0]}), pd.DataFrame({"x": [1000.001]})
    assert _compare(old, new, 1e-5, 0.0) == ""
    assert _compare(old, new, 0.0, 1e-5) != ""
    assert _compare(old, new, 0.0, 1e-2) == ""
    assert _compare(old, new, 1e-7, 0.0).endswith("largest relative difference 1e-06")
