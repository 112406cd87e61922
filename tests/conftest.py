"""Shared pytest fixtures for tests/ (session settings are in the repository's conftest.py).

Plots render with the non-interactive Agg backend, and every test starts with no open pyplot
figures. Matplotlib is not imported here, so tests of the numerical layers run without it.
"""

import sys

import pytest

if "matplotlib" in sys.modules:
    sys.modules["matplotlib"].use("Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    """Close all pyplot figures after each test (only if a test imported pyplot)."""
    yield
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")
