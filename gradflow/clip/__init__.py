"""Gradient clipping (layer 1): small factories, each returning a pure clipper.

A clipper is called as ``clipper(grads, params=None) -> (clipped, info)``: ``grads`` is a dict
name -> array, ``clipped`` a new dict of new arrays (the inputs are never modified), each in
its gradient's dtype (float32 stays float32; anything else becomes float64), and ``info`` a
:class:`ClipInfo` report. Norms are accumulated in float64 whatever the dtype and computed
without overflow or underflow (entries as large as 1e200 or as small as 1e-200 give exact
norms), and a non-finite gradient is never passed on silently: see the ``nonfinite`` policies
of :class:`Clipper`.

The rules follow optax (``optax/transforms/_clipping.py``) with a PyTorch-style ``dict`` of
arrays in place of a pytree. ``get("global:1")`` builds a clipper from a command-line spec.

The package splits into ``_norms`` (overflow-free norms, scaling and cosines), ``_rules`` (what
each rule does to the arrays), ``_clipper`` (:class:`Clipper`, :class:`ClipInfo`, the
``nonfinite`` policies and :func:`global_norm`) and ``_factories`` (:func:`by_value`,
:func:`by_norm`, :func:`by_global_norm`, :func:`adaptive`, :func:`none` and :func:`get`).
"""

from ._clipper import ClipInfo, Clipper, global_norm
from ._factories import adaptive, by_global_norm, by_norm, by_value, get, none
from ._rules import _RULES

#: The rule names of :func:`get` specs (``"none"``, ``"value"``, ...), in the table's order.
RULES = tuple(short for _, _, short in _RULES.values())

__all__ = [
    "RULES",
    "ClipInfo",
    "Clipper",
    "adaptive",
    "by_global_norm",
    "by_norm",
    "by_value",
    "get",
    "global_norm",
    "none",
]
