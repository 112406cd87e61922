"""What the restricted unpickler (:mod:`gradflow.io._unpickle`) hands out and raises.

Its errors (:class:`UnpickleError`, :class:`Refused`), the wrappers an allow-list returns for
an allowed global (:class:`Token`, a name; :class:`Global`, a callable; :class:`Pending`, a
record ``BUILD`` completes) and the one-line names of what a pickle holds, for messages
(:func:`describe`, :func:`refusal`). Tested through the torch reader in
``tests/test_io_torch.py``.
"""

from __future__ import annotations

import _compat_pickle
from collections.abc import Callable

__all__ = [
    "UNSET",
    "Global",
    "Pending",
    "Refused",
    "Token",
    "UnpickleError",
    "describe",
    "py3_name",
    "refusal",
    "show",
]


class UnpickleError(Exception):
    """The pickle is corrupt or truncated, or asks for something not allowed (one-line message)."""


class Refused(UnpickleError):
    """The pickle names a global, or asks for an operation, outside the allow-list."""


class Token(str):
    """An allowed global that is only a name (a dtype, a storage or tensor class).

    It is a ``str`` (its qualified name, ``"torch.float32"``), so where a file stores one as data
    the caller gets a plain string; readers tell it from file text with ``isinstance(x, Token)``.
    """

    __slots__ = ()


class Global:
    """An allowed global that can be called (by ``REDUCE``, ``NEWOBJ``, ``OBJ`` or ``INST``)."""

    __slots__ = ("call", "qualname")

    def __init__(self, qualname: str, call: Callable):
        self.qualname = qualname
        self.call = call

    def __repr__(self) -> str:
        return f"<pickle global {self.qualname}>"


#: The value of a :class:`Pending` record that ``BUILD`` has not finished yet.
UNSET = object()


class Pending:
    """A value an allowed global began (a NumPy dtype, an array) and ``BUILD`` completes.

    ``BUILD`` calls the subclass's ``finish(state)`` once; the value it returns replaces the
    record on the stack and is what memo references to the record fetch from then on. A record
    never finished stays, for the caller's structure check to refuse (``what`` names it).
    """

    __slots__ = ("value",)
    what = "an unfinished record"

    def __init__(self):
        self.value = UNSET


def show(text) -> str:
    """A short, one-line rendering of a name read from a file, for messages."""
    text = str(text)
    if len(text) > 80:
        text = text[:77] + "..."
    return text if text.isprintable() else repr(text)[1:-1]


def py3_name(module, name) -> tuple:
    """A global's Python 3 name, as ``pickle`` maps Python 2 names (``__builtin__.eval``,
    ``commands.call``) on loading: a table lookup, nothing is imported."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def refusal(module, name) -> Refused:
    """The error for a global outside the allow-list (named by its Python 3 name)."""
    module, name = py3_name(module, name)
    return Refused(
        f"refused to load the pickle global '{show(module)}.{show(name)}' "
        "(only tensors and plain containers are read)"
    )


def describe(obj) -> str:
    """A short phrase for a value read from a pickle: ``'torch.float32'``, ``an int``."""
    if isinstance(obj, Token):
        return f"'{obj}'"
    if isinstance(obj, Pending):
        return obj.what
    name = type(obj).__name__
    return f"{'an' if name[:1] in 'aeiou' else 'a'} {name}"
