"""Argument handling shared by the theory modules."""

from __future__ import annotations

import numpy as np

from .._validation import as_array


def _reals(value, name: str, *, positive: bool = False) -> np.ndarray:
    """A finite float64 array of any shape (0-d for a scalar), optionally all > 0 (or >= 0)."""
    if np.asarray(value).dtype.kind == "b":
        raise TypeError(f"{name}: expected real numbers, got booleans")
    arr = as_array(value, name).reshape(np.shape(value))
    if positive and np.any(arr <= 0):
        raise ValueError(f"{name}: expected values > 0, got minimum {arr.min():g}")
    if not positive and np.any(arr < 0):
        raise ValueError(f"{name}: expected values >= 0, got minimum {arr.min():g}")
    return arr


def _out(arr: np.ndarray):
    """A Python float for a 0-d result, else the array."""
    return float(arr) if np.ndim(arr) == 0 else arr
