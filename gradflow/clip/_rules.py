"""What each clipping rule does to a dict of finite arrays, and the table of the rules.

A rule is called as ``rule(arrays, norms, threshold, eps, params) -> (out, factor, hits)``:
``out`` maps each name to the array itself where the rule leaves it alone, else to a new
array of its dtype (float64 or float32); ``factor`` is the single scale applied to every array
(``by_global_norm``, ``none``) or None; ``hits`` counts the entries the rule clipped. As in
Pascanu et al. (2013), Algorithm 1, a rule clips at its bound too (‖g‖ ≥ c, |g_i| ≥ c), where
the scale c/‖g‖ is 1 and no value changes: those entries are hits (``by_global_norm`` still
multiplies them by 1.0).
"""

from __future__ import annotations

import numpy as np

from ._norms import _combine, _row_norms, _scaled, _units

__all__: list[str] = []  # private helpers of gradflow.clip


def _rule_value(arrays, norms, max_value, eps, params):
    out, hits = {}, 0
    for k, g in arrays.items():
        hit = int(np.count_nonzero(np.abs(g) >= max_value))
        over = hit and (g.max() > max_value or g.min() < -max_value)
        out[k] = np.clip(g, -max_value, max_value) if over else g
        hits += hit
    return out, None, hits


def _rule_norm(arrays, norms, max_norm, eps, params):
    out, hits = {}, 0
    for k, g in arrays.items():
        if norms[k] >= max_norm:
            hits += int(np.count_nonzero(g))
        out[k] = _scaled(g, max_norm, norms[k]) if norms[k] > max_norm else g
    return out, None, hits


def _rule_global(arrays, norms, max_norm, eps, params):
    total = _combine(norms.values())
    if total < max_norm:
        return dict(arrays), 1.0, 0
    hits = sum(int(np.count_nonzero(g)) for g in arrays.values())
    return {k: _scaled(g, max_norm, total) for k, g in arrays.items()}, max_norm / total, hits


def _rule_adaptive(arrays, norms, clipping, eps, params):
    out, hits = {}, 0
    for k, g in arrays.items():
        out[k] = g
        if g.size == 0:
            continue
        g2 = _units(g)
        g_norm = _row_norms(g2)
        bound = clipping * np.maximum(_row_norms(_units(params[k])), eps)
        hits += int(np.count_nonzero(g2[g_norm >= bound]))
        over = g_norm > bound
        if over.any():  # float64 factors: a float32 g is scaled in float64, rounded once
            factor = np.where(over, bound / np.where(over, g_norm, 1.0), 1.0)
            out[k] = (g2 * factor[:, None]).astype(g.dtype, copy=False).reshape(g.shape)
    return out, None, hits


def _rule_none(arrays, norms, threshold, eps, params):
    return dict(arrays), 1.0, 0


# factory name -> (rule, argument name of the threshold, short name used by get())
_RULES = {
    "by_value": (_rule_value, "max_value", "value"),
    "by_norm": (_rule_norm, "max_norm", "norm"),
    "by_global_norm": (_rule_global, "max_norm", "global"),
    "adaptive": (_rule_adaptive, "clipping", "adaptive"),
    "none": (_rule_none, None, "none"),
}
