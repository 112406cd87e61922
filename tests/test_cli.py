"""Tests of the gradflow command: exit codes, help, one-line errors."""

import subprocess
import sys

import pytest
from _cli_helpers import one_error_line

import gradflow
from gradflow import cli


def test_figures_quick_run(tmp_path, capsys):
    out = tmp_path / "figs"
    status = cli.main(["figures", "--quick", "--only", "eigenvalues", "--out", str(out)])
    assert status == 0
    assert (out / "eigenvalues.png").exists() and (out / "eigenvalues.csv").exists()
    assert not (out / "growth.png").exists()
    text = (out / "README.md").read_text(encoding="utf-8")
    assert "## eigenvalues" in text
    stdout = capsys.readouterr().out
    assert "eigenvalues.png" in stdout and "README.md" in stdout


def test_figures_list(capsys):
    assert cli.main(["figures", "--list"]) == 0
    names = [line.split(":")[0] for line in capsys.readouterr().out.splitlines()]
    assert names == list(gradflow.figures.available())


def test_format_choices_match_the_catalogue():
    assert cli._figures._FORMATS == gradflow.figures.FORMATS


@pytest.mark.parametrize("command", [[], *[[name] for name in cli._COMMANDS]])
def test_help_for_every_command(command, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main([*command, "--help"])
    assert info.value.code == 0
    usage = " ".join(["usage: gradflow", *command])
    assert capsys.readouterr().out.startswith(usage)


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"gradflow {gradflow.__version__}"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "required: COMMAND"),
        (["bogus"], "invalid choice: 'bogus'"),
        (["figures", "--bogus"], "unrecognized arguments: --bogus"),
        (["figures", "--format", "png,jpg"], "argument --format: expected one or more"),
        (["figures", "--only", ","], "argument --only: expected a comma-separated list"),
        (["figures", "--only", "nonesuch"], "only: unknown figure 'nonesuch'; available:"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, message, capsys, tmp_path):
    assert cli.main([*argv, "--out", str(tmp_path / "x")] if argv[:1] == ["figures"] else argv) == 2
    assert message in one_error_line(capsys)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ValueError("n: expected\nan integer >= 1"), 2),
        (TypeError("rng: bad"), 2),
        (OSError("disk"), 2),
    ],
)
def test_errors_of_a_command_are_one_line(monkeypatch, capsys, error, status):
    def failing(args):
        raise error

    monkeypatch.setitem(
        cli._COMMANDS,
        "fail",
        cli._Command("fail", "always fails", "Always fails.", lambda parser: None, failing),
    )
    assert cli.main(["fail"]) == status
    line = one_error_line(capsys)
    assert line == f"gradflow: error: {' '.join(str(error).split())}"
    with pytest.raises(type(error)):
        cli.main(["--traceback", "fail"])


def test_subcommand_registry(monkeypatch):
    monkeypatch.setattr(cli, "_COMMANDS", dict(cli._COMMANDS))

    def arguments(parser):
        parser.add_argument("--n", type=int, default=3)

    @cli.subcommand("echo", help="print n", arguments=arguments)
    def _echo(args):
        """Print n.

        More text."""
        return args.n

    assert cli.main(["echo", "--n", "7"]) == 7
    assert cli._COMMANDS["echo"].description == "Print n."


def test_module_entry_point_and_light_import():
    result = subprocess.run(
        [sys.executable, "-m", "gradflow", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert result.stdout.startswith("usage: gradflow")
    assert "figures" in result.stdout
    heavy = "{'matplotlib', 'seaborn', 'pandas'}"
    probe = f"import sys, gradflow.cli; print(sorted({heavy} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_cell_choices_match_the_cells():
    from gradflow import cells
    from gradflow.cli import CELLS

    assert tuple(cells.KINDS) == CELLS
