"""Shared settings for tests/ (session settings are in the repository's conftest.py).

Plots render with the non-interactive Agg backend; every test and doctest starts with no open
pyplot figures (the repository's conftest.py closes them). Matplotlib is not imported here, so
tests of the numerical layers run without it.
"""

import sys

if "matplotlib" in sys.modules:
    sys.modules["matplotlib"].use("Agg")
