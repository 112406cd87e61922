"""The teaching notebooks in notebooks/: committed executed, and they run top to bottom.

Static checks read the committed files: valid nbformat 4, outputs from one in-order run
(execution counts 1, 2, 3, ..., no error outputs, at least one PNG figure), the ``QUICK`` switch
in the first code cell and no private gradflow names in the code. The run test executes each
notebook in a fresh Jupyter kernel (nbclient) from a copy in a temporary folder, with
``QUICK=1``, the Agg backend and this checkout first on the kernel's path; a failing cell fails
the test with its source and error, and each notebook's wall time is printed (shown with
``pytest -s`` or in the ``-rA`` report; there is no timing assertion, only a per-cell timeout
against hangs). The notebooks' own asserts check the numbers.

Needs the test extras nbformat, nbclient and ipykernel; skipped when one of them or the
``python3`` kernel spec is missing. A notebook whose metadata says
``{"gradflow": {"requires": ["torch"]}}`` is skipped when such a package is not installed. Any
other error (a broken installation, a corrupt kernel spec) fails the tests instead of skipping.
"""

import importlib
import importlib.util
import os
import re
import shutil
import time
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
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
#: The course, in reading order: exactly these notebooks are committed.
EXPECTED = (
    "01_jacobian_products.ipynb",
    "02_initialisation.ipynb",
    "03_lyapunov_and_chaos.ipynb",
    "04_gradient_clipping.ipynb",
    "05_gated_cells.ipynb",
    "06_diagnosing_a_checkpoint.ipynb",
)
KERNEL = "python3"
#: Seconds per cell: a guard against hangs, not a timing test (a whole notebook is meant to
#: run in well under a minute in quick mode).
CELL_TIMEOUT = 120
#: The switch every notebook's first code cell carries, verbatim.
QUICK_LINE = (
    'QUICK = os.environ.get("QUICK", "0") == "1"  # QUICK=1 shrinks every size (used by the tests)'
)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: ``gradflow.x._private`` anywhere in code.
_PRIVATE_ATTRIBUTE = re.compile(r"\bgradflow(?:\.\w+)*\._\w*")
#: ``from gradflow[.x] import a, b as c`` or ``import (...)`` over several lines.
_FROM_IMPORT = re.compile(r"^\s*from\s+gradflow(?:\.\w+)*\s+import\s+(\([^)]*\)|[^\n]*)", re.M)


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


def _requirement_skip_reason(nb) -> str | None:
    """Why this notebook cannot run here (a package its metadata requires is missing), else None.

    ``nb.metadata["gradflow"]["requires"]`` lists top-level package names; a package counts as
    missing only when it cannot be found at all (a broken one fails in the notebook instead).
    """
    requires = nb.metadata.get("gradflow", {}).get("requires", [])
    if isinstance(requires, str) or not all(isinstance(name, str) for name in requires):
        raise TypeError(f"metadata gradflow.requires: expected a list of names, got {requires!r}")
    missing = [name for name in requires if importlib.util.find_spec(name) is None]
    return f"needs {', '.join(missing)} (not installed)" if missing else None


def _error_text(cell, exc) -> str:
    """The error of a failed cell: its error output if there is one, else the exception."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            trace = "\n".join(output.get("traceback", []))
            return _ANSI.sub("", trace or f"{output['ename']}: {output['evalue']}")
    return f"{type(exc).__name__}: {_ANSI.sub('', str(exc))}"


def _code_cells(nb):
    return [(i, cell) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]


#: An object repr such as ``<matplotlib.legend.Legend at 0x7f5c...>``: noise for a reader, and
#: it changes on every run.
_ADDRESS = re.compile(r"<[^<>]* at 0x[0-9a-f]+>")


def _output_problems(nb) -> list[str]:
    """What shows the committed outputs are not those of one clean in-order run."""
    problems = []
    counts = [cell.execution_count for _, cell in _code_cells(nb)]
    if counts != list(range(1, len(counts) + 1)):
        problems.append(f"execution counts {counts}, expected 1..{len(counts)} in order")
    for i, cell in _code_cells(nb):
        for output in cell.outputs:
            if output.get("output_type") == "error":
                problems.append(f"cell {i} holds an error output ({output.get('ename')})")
            if _ADDRESS.search(output.get("data", {}).get("text/plain", "")):
                problems.append(f"cell {i} shows an object's memory address (end it with ';')")
    images = sum(
        "image/png" in output.get("data", {})
        for _, cell in _code_cells(nb)
        for output in cell.outputs
    )
    if not images:
        problems.append("no image/png output (a committed notebook shows its figures)")
    return problems


def _private_names(source: str) -> list[str]:
    """The private gradflow names that code imports or uses (``gradflow.x._y``, ``import _y``)."""
    names = _PRIVATE_ATTRIBUTE.findall(source)
    for group in _FROM_IMPORT.findall(source):
        for item in group.strip("()").replace("\n", " ").split(","):
            name = item.split("#")[0].split(" as ")[0].strip()
            if name.startswith("_"):
                names.append(name)
    return names


# -- what is committed --------------------------------------------------------------------------
def test_the_notebooks_are_the_six_of_the_course():
    assert [path.name for path in NOTEBOOKS] == sorted(EXPECTED)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_executed(path):
    """Valid nbformat 4 with the outputs of one in-order run, figures included."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    problems = _output_problems(nb)
    assert not problems, (
        f"{path.name}: "
        + "; ".join(problems)
        + ("; re-execute it: jupyter nbconvert --to notebook --execute --inplace " + path.name)
    )
    assert nb.metadata.get("kernelspec", {}).get("name") == KERNEL


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_the_quick_switch_and_no_private_names(path):
    nb = nbformat.read(path, as_version=4)
    code = _code_cells(nb)
    assert code, f"{path.name} has no code cells"
    first = code[0][1].source.splitlines()
    assert QUICK_LINE in first, f"{path.name}: the first code cell lacks the line {QUICK_LINE!r}"
    private = {i: _private_names(cell.source) for i, cell in code}
    private = {i: names for i, names in private.items() if names}
    assert not private, f"{path.name} uses private gradflow names (cell: names): {private}"


# -- the static checks, on made-up notebooks ----------------------------------------------------
def _notebook(*sources, counts=None, outputs=None):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# title")]
    for k, source in enumerate(sources):
        cell = nbformat.v4.new_code_cell(source)
        cell.execution_count = (counts or list(range(1, len(sources) + 1)))[k]
        cell.outputs = (outputs or {}).get(k, [])
        nb.cells.append(cell)
    return nb


_PNG = nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": ""})


def test_output_checks_want_one_in_order_run_with_a_figure():
    assert _output_problems(_notebook("a = 1", "a", outputs={1: [_PNG]})) == []
    assert _output_problems(_notebook("a = 1", "a", outputs={0: [_PNG]}, counts=[1, 3]))
    assert _output_problems(_notebook("a = 1", "a", outputs={0: [_PNG]}, counts=[2, 1]))
    assert _output_problems(_notebook("a = 1", "a", outputs={0: [_PNG]}, counts=[1, None]))
    assert _output_problems(_notebook("a = 1", "a")) == [
        "no image/png output (a committed notebook shows its figures)"
    ]
    error = nbformat.v4.new_output("error", ename="ValueError", evalue="x", traceback=[])
    assert _output_problems(_notebook("a", outputs={0: [_PNG, error]})) == [
        "cell 1 holds an error output (ValueError)"
    ]
    legend = nbformat.v4.new_output(
        "execute_result", data={"text/plain": "<matplotlib.legend.Legend at 0x7f5ca7064e50>"}
    )
    assert _output_problems(_notebook("ax.legend()", outputs={0: [_PNG, legend]})) == [
        "cell 1 shows an object's memory address (end it with ';')"
    ]


@pytest.mark.parametrize(
    "source",
    [
        "from gradflow.jacobians._adjoints import backprop",
        "import gradflow._rng",
        "gradflow.simulate._sweep.run(1)",
        "from gradflow import _validation",
        "from gradflow.cells import Elman, _base",
        "from gradflow.cells import (\n    Elman,\n    _base,\n)",
    ],
)
def test_private_names_are_found(source):
    assert _private_names(source)


@pytest.mark.parametrize(
    "source",
    [
        "from gradflow import init, spectral",
        "from gradflow.jacobians import backprop, log_gradient_norms",
        "import gradflow.plot as gplot\nx = gplot.growth(df, ax=ax)",
        "fig, _ = gradflow.figures.get('cliff')(quick=True)",
        "from gradflow import init\n_, x = 1, 2",
    ],
)
def test_public_names_pass(source):
    assert _private_names(source) == []


def test_a_required_package_that_is_missing_skips_only_that_notebook():
    nb = _notebook("a = 1")
    assert _requirement_skip_reason(nb) is None
    nb.metadata["gradflow"] = {"requires": ["json"]}
    assert _requirement_skip_reason(nb) is None
    nb.metadata["gradflow"] = {"requires": ["json", "gradflow_test_absent"]}
    assert _requirement_skip_reason(nb) == "needs gradflow_test_absent (not installed)"
    nb.metadata["gradflow"] = {"requires": "torch"}
    with pytest.raises(TypeError, match=r"gradflow\.requires"):
        _requirement_skip_reason(nb)


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


# -- running them -------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, tmp_path, monkeypatch, record_property):
    reason = _kernel_skip_reason()
    if reason is not None:
        pytest.skip(reason)
    nb = nbformat.read(path, as_version=4)
    reason = _requirement_skip_reason(nb)
    if reason is not None:
        pytest.skip(f"{path.name} {reason}")
    for cell in nb.cells:  # run from scratch: the committed outputs play no part
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    # A copy in a temporary folder, so files a notebook writes land there and not in the checkout.
    work = tmp_path / path.stem
    work.mkdir()
    shutil.copy(path, work / path.name)
    monkeypatch.setenv("QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # The kernel is a subprocess: put this checkout first on its path, installed or not.
    path_var = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), path_var])))
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(work)}},
    )
    failure = None
    start = time.perf_counter()
    with client.setup_kernel():  # in the folder resources names
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
    seconds = time.perf_counter() - start
    record_property("wall_time_s", round(seconds, 2))
    print(f"{path.name}: {seconds:.1f} s in quick mode")
    if failure is not None:
        pytest.fail(failure, pytrace=False)
