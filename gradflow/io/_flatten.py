"""Flattening a checkpoint: nested dicts, lists and tensors become ``dotted.key -> array``.

The first step of layer discovery (:mod:`gradflow.io._discover`, which re-exports
:func:`flatten` and :func:`as_numpy`): optimiser and scheduler state is dropped by its path
segment, non-arrays are dropped, tensors are converted with ``detach().cpu().numpy()``. Tested
in ``tests/test_io_discover.py``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from ..errors import WeightFileError

__all__ = ["as_numpy", "flatten"]

#: Path segments whose contents are never weights of the model (optimiser and scheduler state).
_SKIP = re.compile(
    r"(?i)optim(izer|iser)?s?(_?states?)?(_dicts?)?(_\d+)?|opt_states?"
    r"|(lr_)?schedulers?(_states?)?(_dicts?)?|(grad_)?scaler(_states?)?(_dicts?)?"
)
_MAX_DEPTH = 64


def as_numpy(value, key: str = "", origin: str = "mapping"):
    """``value`` as a numpy array if it is one or a tensor (``detach().cpu().numpy()``), else
    None; a tensor that will not convert (a meta or sparse one, say) raises, naming ``key``."""
    if isinstance(value, np.ndarray):
        return None if value.dtype.hasobject else value
    if not all(hasattr(value, name) for name in ("detach", "cpu", "numpy")):
        return None
    try:
        tensor = value.detach().cpu()
        if "bfloat16" in str(getattr(tensor, "dtype", "")):
            tensor = tensor.float()  # numpy has no bfloat16; the widening is exact
        return np.asarray(tensor.numpy())
    except (TypeError, ValueError, RuntimeError, NotImplementedError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise WeightFileError(
            f"{origin}: {key}: cannot convert the tensor to numpy ({message})"
        ) from None


def flatten(obj, prefix: str = "", *, origin: str = "mapping") -> dict[str, np.ndarray]:
    """Arrays of a nested checkpoint by dotted key; non-arrays and optimiser state dropped.

    ``{"model": {"rnn.weight_hh_l0": W}, "optimizer": {...}, "epoch": 3}`` gives
    ``{"model.rnn.weight_hh_l0": W}``; list items are numbered (``layers.0.weight_hh``);
    tensors are converted with ``detach().cpu().numpy()``. The first of two equal keys wins.
    """
    out: dict[str, np.ndarray] = {}

    def walk(value, path: str, depth: int, seen: frozenset):
        array = as_numpy(value, path, origin)
        if array is not None:
            out.setdefault(path, array)
            return
        if depth >= _MAX_DEPTH or id(value) in seen:
            return
        if isinstance(value, Mapping):
            items = value.items()
        elif isinstance(value, (list, tuple)):
            items = enumerate(value)
        else:
            return
        seen = seen | {id(value)}
        for name, item in items:
            name = str(name)
            if not _SKIP.fullmatch(name):
                walk(item, f"{path}.{name}" if path else name, depth + 1, seen)

    walk(obj, prefix, 0, frozenset())
    walk = None  # the closure refers to itself: break the cycle so the arrays free at once
    return out
