"""The README's Quick start and tour: its code runs, its set-up commands are the two promised."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def blocks(language):
    text = README.read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_quick_start_has_exactly_the_two_set_up_commands():
    quick = README.read_text(encoding="utf-8").split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = [b.strip() for b in re.findall(r"```bash\n(.*?)```", quick, flags=re.S)]
    assert commands == ["pip install . && gradflow figures", 'pip install -e ".[test]" && pytest']


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_tour_code_runs(index):
    exec(compile(blocks("python")[index], f"README.md[python {index}]", "exec"), {})


def test_ci_runs_the_readme_test_command():
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    test_command = 'pip install -e ".[test]" && pytest'
    assert test_command in README.read_text(encoding="utf-8")
    assert any(line.startswith(test_command) for line in ci.splitlines())
