"""The public error classes and the package namespace."""

import ast
import subprocess
import sys

import pytest

import gradflow
from gradflow import errors


def test_error_hierarchy():
    assert issubclass(errors.NonFiniteError, errors.GradflowError)
    assert issubclass(errors.WeightFileError, errors.GradflowError)
    assert issubclass(errors.GradflowError, ValueError)
    from gradflow._validation import GradflowError, NonFiniteError

    assert GradflowError is errors.GradflowError and NonFiniteError is errors.NonFiniteError


def test_star_import_gives_every_listed_submodule():
    code = "from gradflow import *; print(sorted(n for n in dir() if not n.startswith('_')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    names = ast.literal_eval(out.stdout)
    assert set(gradflow.__all__) - {"__version__"} <= set(names)
    assert {"io", "diagnose", "optim", "errors", "cells"} <= set(names)


def test_unknown_attribute():
    with pytest.raises(AttributeError, match="has no attribute 'nonesuch'"):
        gradflow.nonesuch
