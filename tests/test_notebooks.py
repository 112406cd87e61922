"""The teaching notebooks in notebooks/ run top to bottom; their own asserts check the numbers.

Each notebook is executed in a fresh Jupyter kernel (nbclient) with the notebooks folder as the
working directory, the Agg backend and this checkout first on the kernel's path. A failing cell
fails the test with its source and error. Needs the test extras nbformat, nbclient and
ipykernel; skipped when one of them or the ``python3`` kernel spec is missing. Any other error
(a broken installation, a corrupt kernel spec) fails the tests instead of skipping them.
"""

import importlib
import importlib.util
import os
import re
from pathlib import Path

import pytest


def _import_or_skip(name: str):
    """Import ``name``; skip the module only if that package itself is not installed.

    A ``ModuleNotFoundError`` for anything else (a missing dependency of an installed package)
    and every other import error propagate: a broken installation fails loudly.
    """
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not (name == exc.name or name.startswith(exc.name + ".")):
            raise
        pytest.skip(f"{exc.name} is not installed", allow_module_level=True)


nbformat = _import_or_skip("nbformat")
nbclient = _import_or_skip("nbclient")
kernelspec = _import_or_skip("jupyter_client.kernelspec")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL = "python3"
#: Seconds per cell; a whole notebook is meant to run in well under a minute.
CELL_TIMEOUT = 120
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _kernel_skip_reason() -> str | None:
    """Why the notebooks cannot run here (ipykernel or the kernel spec missing), else None.

    Only those two count: any other error finding the kernel spec propagates.
    """
    if importlib.util.find_spec("ipykernel") is None:
        return "ipykernel is not installed"
    try:
        kernelspec.KernelSpecManager().get_kernel_spec(KERNEL)
    except kernelspec.NoSuchKernel:
        return f"no {KERNEL!r} Jupyter kernel installed"
    return None


def _error_text(cell, exc) -> str:
    """The error of a failed cell: its error output if there is one, else the exception."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            trace = "\n".join(output.get("traceback", []))
            return _ANSI.sub("", trace or f"{output['ename']}: {output['evalue']}")
    return f"{type(exc).__name__}: {_ANSI.sub('', str(exc))}"


def test_there_are_notebooks():
    assert NOTEBOOKS, "expected at least one notebooks/*.ipynb"


# -- what skips and what fails ------------------------------------------------------------------
class _Specs:
    """A stand-in KernelSpecManager whose get_kernel_spec raises ``error`` (or finds a spec)."""

    error = None

    def get_kernel_spec(self, name):
        if self.error is not None:
            raise self.error
        return object()


def test_a_missing_kernel_spec_or_ipykernel_skips(monkeypatch):
    monkeypatch.setattr(kernelspec, "KernelSpecManager", _Specs)
    assert _kernel_skip_reason() is None
    monkeypatch.setattr(_Specs, "error", kernelspec.NoSuchKernel(KERNEL))
    assert _kernel_skip_reason() == f"no {KERNEL!r} Jupyter kernel installed"
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "ipykernel" else find_spec(name)
    )
    assert _kernel_skip_reason() == "ipykernel is not installed"


@pytest.mark.parametrize(
    "error", [ValueError("kernel.json: invalid JSON"), PermissionError("kernels"), ImportError("x")]
)
def test_a_broken_kernel_spec_fails_instead_of_skipping(monkeypatch, error):
    monkeypatch.setattr(kernelspec, "KernelSpecManager", _Specs)
    monkeypatch.setattr(_Specs, "error", error)
    with pytest.raises(type(error)):
        _kernel_skip_reason()


def _import_or_fail(name: str):
    """``_import_or_skip(name)``, with a skip turned into a failure of this test."""
    try:
        return _import_or_skip(name)
    except pytest.skip.Exception as exc:
        pytest.fail(f"importing {name} skipped ({exc}) instead of failing")


def test_only_the_missing_package_itself_skips(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "gradflow_test_broken.py").write_text("import gradflow_test_absent_dependency\n")
    (tmp_path / "gradflow_test_raising.py").write_text("raise RuntimeError('half installed')\n")
    with pytest.raises(pytest.skip.Exception, match="gradflow_test_absent is not installed"):
        _import_or_skip("gradflow_test_absent")
    with pytest.raises(pytest.skip.Exception, match="gradflow_test_absent is not installed"):
        _import_or_skip("gradflow_test_absent.kernelspec")
    with pytest.raises(ModuleNotFoundError, match="gradflow_test_absent_dependency"):
        _import_or_fail("gradflow_test_broken")
    with pytest.raises(RuntimeError, match="half installed"):
        _import_or_fail("gradflow_test_raising")
    assert _import_or_fail("json") is importlib.import_module("json")


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
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, monkeypatch):
    reason = _kernel_skip_reason()
    if reason is not None:
        pytest.skip(reason)
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
