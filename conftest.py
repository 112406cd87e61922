"""Session-wide test settings, for the tests in tests/ and the doctests in gradflow/.

BLAS runs on one thread: CI has two cores, and threaded BLAS on small matrices under load is
both slower and noisier. Worker processes inherit the environment variables; this process is
pinned through threadpoolctl (BLAS may already be loaded by the time this file runs).
"""

import os
import sys

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"
os.environ["MPLBACKEND"] = "Agg"

import pytest  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread():
    with threadpool_limits(1):
        yield


@pytest.fixture(autouse=True)
def _close_figures():
    """Close all pyplot figures after each test and doctest (only if it imported pyplot), so a
    plot function called with ``ax=None`` never draws into a figure left by an earlier one."""
    yield
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")
