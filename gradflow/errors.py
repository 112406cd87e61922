"""The package's own error classes (layer 0).

Every error gradflow raises on purpose is a :class:`GradflowError` or one of Python's
``ValueError``/``TypeError``; :class:`GradflowError` is itself a ``ValueError``, so
``except ValueError`` catches them all. The ``gradflow`` command turns each into one line on
stderr and exit status 2.

Examples
--------
>>> from gradflow.errors import GradflowError, NonFiniteError
>>> issubclass(NonFiniteError, GradflowError) and issubclass(GradflowError, ValueError)
True
"""

from __future__ import annotations

__all__ = ["GradflowError", "NonFiniteError", "WeightFileError"]


class GradflowError(ValueError):
    """Base class of the package's own errors (a ``ValueError``, so callers may catch either)."""


class NonFiniteError(GradflowError):
    """A computation met or produced a non-finite value where a finite one was required."""


class WeightFileError(GradflowError):
    """A weight file could not be read: unknown format, truncated or corrupt, a refused pickle
    global, code it would run, or no recurrent layer in it. The message names the file."""
