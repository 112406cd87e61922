"""What each clipping rule does to a dict of finite arrays, and the table of the rules.

A rule is called as ``rule(arrays, norms, threshold, eps, params) -> (out, factor)``: ``out``
maps each name to the array itself when the rule leaves it unchanged, else to a new array;
``factor`` is the single scale applied to every array (``by_global_norm``, ``none``) or None.
"""

from __future__ import annotations

import numpy as np

from ._norms import _combine, _row_norms, _scaled, _units

__all__: list[str] = []  # private helpers of gradflow.clip


def _rule_value(arrays, norms, max_value, eps, params):
    out = {}
    for k, g in arrays.items():
        over = g.size and (g.max() > max_value or g.min() < -max_value)
        out[k] = np.clip(g, -max_value, max_value) if over else g
    return out, None


def _rule_norm(arrays, norms, max_norm, eps, params):
    out = {
        k: _scaled(g, max_norm, norms[k]) if norms[k] > max_norm else g for k, g in arrays.items()
    }
    return out, None


def _rule_global(arrays, norms, max_norm, eps, params):
    total = _combine(norms.values())
    if total <= max_norm:
        return dict(arrays), 1.0
    return {k: _scaled(g, max_norm, total) for k, g in arrays.items()}, max_norm / total


def _rule_adaptive(arrays, norms, clipping, eps, params):
    out = {}
    for k, g in arrays.items():
        out[k] = g
        if g.size == 0:
            continue
        g2 = _units(g)
        g_norm = _row_norms(g2)
        bound = clipping * np.maximum(_row_norms(_units(params[k])), eps)
        over = g_norm > bound
        if over.any():
            factor = np.where(over, bound / np.where(over, g_norm, 1.0), 1.0)
            out[k] = (g2 * factor[:, None]).reshape(g.shape)
    return out, None


def _rule_none(arrays, norms, threshold, eps, params):
    return dict(arrays), 1.0


# factory name -> (rule, argument name of the threshold, short name used by get())
_RULES = {
    "by_value": (_rule_value, "max_value", "value"),
    "by_norm": (_rule_norm, "max_norm", "norm"),
    "by_global_norm": (_rule_global, "max_norm", "global"),
    "adaptive": (_rule_adaptive, "clipping", "adaptive"),
    "none": (_rule_none, None, "none"),
}
