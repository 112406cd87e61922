"""Input checks shared by every layer (layer 0).

Each check either returns a clean value (a float64 array, an int, a float) or raises a
one-line ``ValueError``/``TypeError`` that names the argument, says what was expected and
what arrived. Nothing is silently coerced into a different meaning: a float that is not a
whole number is not an ``int``, a boolean is not a number, NaN is not a value.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence

import numpy as np

from .errors import GradflowError, NonFiniteError

__all__ = [
    "GradflowError",
    "NonFiniteError",
    "as_array",
    "as_choice",
    "as_choices",
    "as_dtype",
    "as_float",
    "as_floats",
    "as_int",
    "as_matrix",
    "renamed",
]

_MISSING = object()


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def as_dtype(dtype, name: str = "dtype") -> np.dtype:
    """Return ``float64`` or ``float32`` as a NumPy dtype; anything else is a ``TypeError``."""
    try:
        resolved = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"{name}: expected float64 or float32, got {_describe(dtype)}") from exc
    if resolved not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise TypeError(f"{name}: expected float64 or float32, got {resolved}")
    return resolved


def as_array(
    value,
    name: str,
    *,
    ndim: int | Sequence[int] | None = None,
    dtype=np.float64,
    finite: bool = True,
    allow_empty: bool = False,
) -> np.ndarray:
    """Convert ``value`` to a real floating array and check its rank and entries.

    Parameters
    ----------
    value : array_like
        Real numbers (int or float dtypes; bool, complex, object and string arrays are refused).
    name : str
        Argument name used in error messages.
    ndim : int or sequence of int, optional
        Accepted numbers of dimensions.
    dtype : dtype, default float64
        Floating dtype of the result (float64 or float32).
    finite : bool, default True
        Refuse NaN and infinities.
    allow_empty : bool, default False
        Accept arrays with a zero-length axis.

    Returns
    -------
    numpy.ndarray
        A C-contiguous array of ``dtype`` (a copy only when conversion needs one).
    """
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name}: expected an array of real numbers, got {_describe(value)}")
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name}: expected real numbers, got dtype {arr.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            wanted = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name}: expected a {wanted} array, got shape {arr.shape}")
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{name}: expected a non-empty array, got shape {arr.shape}")
    arr = np.asarray(arr, dtype=as_dtype(dtype), order="C")
    if finite and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name}: expected finite values, got {bad} NaN or infinite entries")
    return arr


def as_matrix(value, name: str, *, batch: bool = False, square: bool = True, dtype=np.float64):
    """A matrix ``(N, M)`` (or, with ``batch=True``, also a stack ``(B, N, M)``), finite.

    With ``square=True`` the last two axes must be equal.
    """
    arr = as_array(value, name, ndim=(2, 3) if batch else 2, dtype=dtype)
    if square and arr.shape[-1] != arr.shape[-2]:
        kind = "(N, N) or (B, N, N)" if batch else "(N, N)"
        raise ValueError(f"{name}: expected a square {kind} matrix, got shape {arr.shape}")
    return arr


def as_float(
    value,
    name: str,
    *,
    positive: bool = False,
    nonnegative: bool = False,
    low: float | None = None,
    high: float | None = None,
) -> float:
    """A finite real scalar, optionally > 0, >= 0 or within ``[low, high]``."""
    scalar_array = isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf"
    is_real = isinstance(value, (numbers.Real, np.floating, np.integer)) or scalar_array
    if isinstance(value, (bool, np.bool_)) or not is_real:
        raise TypeError(f"{name}: expected a real number, got {_describe(value)}")
    result = float(value)
    if not np.isfinite(result):
        raise ValueError(f"{name}: expected a finite number, got {result}")
    if positive and result <= 0:
        raise ValueError(f"{name}: expected a number > 0, got {result:g}")
    if nonnegative and result < 0:
        raise ValueError(f"{name}: expected a number >= 0, got {result:g}")
    if low is not None and result < low:
        raise ValueError(f"{name}: expected a number >= {low:g}, got {result:g}")
    if high is not None and result > high:
        raise ValueError(f"{name}: expected a number <= {high:g}, got {result:g}")
    return result


def as_int(value, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """A whole number (Python or NumPy integer; not bool, not float), optionally bounded."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name}: expected an integer, got {_describe(value)}")
    result = int(value)
    if minimum is not None and result < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {result}")
    if maximum is not None and result > maximum:
        raise ValueError(f"{name}: expected an integer <= {maximum}, got {result}")
    return result


def as_choice(value, name: str, choices: Iterable[str]) -> str:
    """One of ``choices`` (case-sensitive); the message lists the accepted names."""
    options = tuple(choices)
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name}: expected one of {', '.join(options)}; got {_describe(value)}")
    return value


def _as_list(values) -> list:
    """A str or a scalar as a one-item list; anything iterable as a flat list."""
    if isinstance(values, str) or np.isscalar(values):
        return [values]
    return np.ravel(np.asarray(values, dtype=object)).tolist()


def as_choices(
    values, name: str, choices: Iterable[str], *, what: str = "name", distinct: bool = False
) -> list[str]:
    """A non-empty list of names from ``choices`` (a single str counts as a list of one).

    ``what`` names one item in the message for an empty list (``"inits: expected at least one
    initialiser name, got none"``); ``distinct`` refuses repeats.
    """
    options = tuple(choices)
    chosen = _as_list(values)
    if not chosen:
        raise ValueError(f"{name}: expected at least one {what}, got none")
    chosen = [as_choice(value, name, options) for value in chosen]
    if distinct and len(set(chosen)) < len(chosen):
        raise ValueError(f"{name}: expected distinct names, got {chosen}")
    return chosen


def as_floats(
    values, name: str, *, what: str = "value", positive: bool = False, distinct: bool = False
) -> list[float]:
    """A non-empty list of finite reals (a scalar counts as a list of one), optionally > 0."""
    chosen = _as_list(values)
    if not chosen:
        raise ValueError(f"{name}: expected at least one {what}, got none")
    out = [as_float(value, name, positive=positive) for value in chosen]
    if distinct and len(set(out)) < len(out):
        raise ValueError(f"{name}: expected distinct values, got {out}")
    return out


def renamed(value, alias, name: str, old: str, *, default=_MISSING):
    """The value of argument ``name``, given by its name or by its older alias ``old``.

    One vocabulary across the API (DESIGN.md): a renamed argument keeps its older name as an
    alias. Both default to None in the signature; this returns the one that was given, raises
    a one-line ``TypeError`` when both are, and returns ``default`` (or raises, if the argument
    is required and has no default) when neither is.

    >>> renamed(None, 8, "hidden_size", "hidden")
    8
    """
    if alias is not None:
        if value is not None:
            raise TypeError(f"{name}: given both {name}= and its older alias {old}=; give one")
        return alias
    if value is not None:
        return value
    if default is _MISSING:
        raise TypeError(f"{name}: missing required argument {name}= (older alias {old}=)")
    return default
