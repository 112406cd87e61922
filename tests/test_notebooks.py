"""The teaching notebooks in notebooks/ run top to bottom; their own asserts check the numbers.

Each notebook is executed in a fresh Jupyter kernel (nbclient) with the notebooks folder as the
working directory, the Agg backend and this checkout first on the kernel's path. A failing cell
fails the test with its source and error. Needs the test extras nbformat, nbclient and
ipykernel; skipped when they or a ``python3`` Jupyter kernel are missing.
"""

import os
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
kernelspec = pytest.importorskip("jupyter_client.kernelspec")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL = "python3"
#: Seconds per cell; a whole notebook is meant to run in well under a minute.
CELL_TIMEOUT = 120
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _has_kernel() -> bool:
    try:
        return KERNEL in kernelspec.find_kernel_specs()
    except Exception:  # a broken Jupyter installation counts as none
        return False


def _error_text(cell, exc) -> str:
    """The error of a failed cell: its error output if there is one, else the exception."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            trace = "\n".join(output.get("traceback", []))
            return _ANSI.sub("", trace or f"{output['ename']}: {output['evalue']}")
    return f"{type(exc).__name__}: {_ANSI.sub('', str(exc))}"


def test_there_are_notebooks():
    assert NOTEBOOKS, "expected at least one notebooks/*.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean(path):
    """Valid nbformat 4, no stored outputs or execution counts (diffs stay small)."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, f"{path.name}: cells {dirty} hold outputs; clear them before committing"


@pytest.mark.slow
@pytest.mark.skipif(not _has_kernel(), reason=f"no {KERNEL!r} Jupyter kernel installed")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # The kernel is a subprocess: put this checkout first on its path, installed or not.
    path_var = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), path_var])))
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(path.parent)}},
    )
    failure = None
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            try:
                client.execute_cell(cell, index)
            except Exception as exc:  # CellExecutionError, CellTimeoutError, DeadKernelError
                failure = (
                    f"{path.name}, cell {index} failed:\n"
                    f"---- source ----\n{cell.source}\n---- error ----\n{_error_text(cell, exc)}"
                )
                break
    if failure is not None:
        pytest.fail(failure, pytrace=False)
