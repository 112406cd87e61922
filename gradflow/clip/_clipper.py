"""The clipper and its report: :class:`Clipper`, :class:`ClipInfo` and :func:`global_norm`.

A :class:`Clipper` checks its input, computes the norms, applies the ``nonfinite`` policy
(skip, raise or zero) to NaN/inf gradients, runs its rule (:mod:`gradflow.clip._rules`) and
reports what it did in a :class:`ClipInfo`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .._validation import NonFiniteError, as_array, as_choice, as_float
from ._norms import _combine, _cosine, _tensor_norm
from ._rules import _RULES

__all__ = ["ClipInfo", "Clipper", "global_norm"]

_POLICIES = ("skip", "raise", "zero")


def _dtype(value) -> type:
    """float32 for a float32 array, float64 for anything else (lists, ints, float16, ...)."""
    return np.float32 if getattr(value, "dtype", None) == np.float32 else np.float64


def _as_grads(grads) -> dict[object, np.ndarray]:
    if not isinstance(grads, Mapping):
        kind = f"array of shape {np.shape(grads)}" if hasattr(grads, "shape") else type(grads)
        raise TypeError(f"grads: expected a dict mapping names to arrays, got {kind}")
    return {
        k: as_array(v, f"grads[{k!r}]", dtype=_dtype(v), finite=False, allow_empty=True)
        for k, v in grads.items()
    }


def _as_params(params, grads: dict) -> dict[object, np.ndarray]:
    if params is None:
        raise ValueError("params: adaptive clipping needs them: call clipper(grads, params=params)")
    if not isinstance(params, Mapping):
        raise TypeError(f"params: expected a dict mapping names to arrays, got {type(params)}")
    if set(params) != set(grads):
        wanted, got = sorted(map(str, grads)), sorted(map(str, params))
        raise ValueError(f"params: expected the keys of grads {wanted}, got {got}")
    out = {}
    for k, g in grads.items():
        w = as_array(params[k], f"params[{k!r}]", dtype=_dtype(params[k]), allow_empty=True)
        if w.shape != g.shape:
            raise ValueError(f"params[{k!r}]: expected shape {g.shape} (as grads), got {w.shape}")
        out[k] = w
    return out


def _shares(array: np.ndarray, source) -> bool:
    return isinstance(source, np.ndarray) and np.may_share_memory(array, source)


@dataclass(frozen=True)
class ClipInfo:
    """What one call of a clipper did (plain Python scalars, one row of a tidy frame).

    "The gradient the rule saw" is the raw one, or with ``nonfinite="zero"`` the raw one with
    its NaN/inf entries set to 0.

    Attributes
    ----------
    norm : float
        Global L2 norm of the raw gradient (all tensors as one vector) before clipping; NaN or
        inf when the raw gradient holds NaN or inf.
    norm_after : float
        Global L2 norm of the returned gradient.
    scale : float
        ``by_global_norm`` (and ``none``): the factor applied, 1.0 at or below the threshold;
        other rules: the ratio of norm_after to the norm of the gradient the rule saw; 0.0 on a
        skip.
    entries_clipped : float
        Fraction of entries the rule clipped (``fraction_clipped`` is its older alias),
        replaced NaN/inf entries included: for ``by_value`` those with ``|g_i| ≥ c``, for the
        norm rules the non-zero entries of each tensor, gradient or unit whose norm is ≥ its bound.
        Away from the bound these are the entries whose value changed; at it they are counted
        although nothing changes.
    cosine : float
        Cosine between the gradient the rule saw and the returned one: exactly 1.0 when the
        rule changed nothing or scaled everything by one factor; NaN on a skip.
    clipped : bool
        The rule clipped some entry: a norm or an entry reached its bound. At the bound
        exactly (Pascanu et al. 2013, Algorithm 1: clip when ‖g‖ ≥ c) the rule clips with
        scale 1, so the flag is set while no value changes.
    nonfinite : bool
        The raw gradient held NaN or inf.
    skip : bool
        The trainer must skip this step (set only by ``nonfinite="skip"``).
    """

    norm: float
    norm_after: float
    scale: float
    entries_clipped: float
    cosine: float
    clipped: bool
    nonfinite: bool = False
    skip: bool = False

    @property
    def fraction_clipped(self) -> float:
        """Older alias of ``entries_clipped``."""
        return self.entries_clipped


@dataclass(frozen=True, repr=False)
class Clipper:
    """A gradient-clipping rule; build it with a factory (:func:`by_global_norm`, ...).

    Attributes
    ----------
    name : str
        The factory name: ``"by_value"``, ``"by_norm"``, ``"by_global_norm"``, ``"adaptive"``
        or ``"none"``.
    threshold : float
        ``max_value``, ``max_norm`` or ``clipping`` (``inf`` for ``none``).
    nonfinite : {"skip", "raise", "zero"}
        What to do when a gradient holds NaN or inf:

        - ``"skip"``: return all-zero gradients of the same shapes and an ``info`` with
          ``nonfinite=True`` and ``skip=True``; a trainer must skip the step (a zero gradient
          still moves momentum-based optimisers, so applying it is not a no-op).
        - ``"raise"``: raise :class:`gradflow.errors.NonFiniteError` naming the first
          tensor that holds them.
        - ``"zero"``: replace the non-finite entries by 0, then apply the rule as usual.
    eps : float or None
        The floor on parameter norms of ``adaptive`` (None for the other rules).
    """

    name: str
    threshold: float
    nonfinite: str = "skip"
    eps: float | None = None

    def __post_init__(self):
        as_choice(self.name, "name", _RULES)
        argument = _RULES[self.name][1]
        if argument is not None:
            object.__setattr__(self, "threshold", as_float(self.threshold, argument, positive=True))
        else:
            object.__setattr__(self, "threshold", math.inf)
        as_choice(self.nonfinite, "nonfinite", _POLICIES)
        if self.name == "adaptive":
            object.__setattr__(self, "eps", as_float(self.eps, "eps", positive=True))
        elif self.eps is not None:
            raise ValueError(f"eps: only adaptive clipping takes eps, got eps={self.eps!r}")

    def __repr__(self) -> str:
        argument = _RULES[self.name][1]
        parts = [] if argument is None else [f"{argument}={self.threshold!r}"]
        if self.eps is not None:
            parts.append(f"eps={self.eps!r}")
        if self.nonfinite != "skip":
            parts.append(f"nonfinite={self.nonfinite!r}")
        return f"{self.name}({', '.join(parts)})"

    @np.errstate(over="ignore", under="ignore")  # squares of huge/tiny entries: rescaled
    def __call__(self, grads, params=None) -> tuple[dict, ClipInfo]:
        """Clip ``grads`` (dict name -> array); ``params`` (same keys and shapes) for adaptive."""
        raw = _as_grads(grads)
        weights = _as_params(params, raw) if self.name == "adaptive" else None
        stats = {k: _tensor_norm(g) for k, g in raw.items()}
        norms = {k: s[0] for k, s in stats.items()}
        norm = _combine(norms.values())
        bad = {k: s[1] for k, s in stats.items() if s[1]}
        size = sum(g.size for g in raw.values())
        arrays = dict(raw)
        if bad:
            if self.nonfinite == "raise":
                key, count = next(iter(bad.items()))
                raise NonFiniteError(
                    f"grads[{key!r}]: {count} of {raw[key].size} entries are NaN or infinite"
                    " (nonfinite='raise')"
                )
            if self.nonfinite == "skip":
                changed = sum(int(np.count_nonzero(g != 0)) for g in raw.values())
                zeros = {k: np.zeros_like(g) for k, g in raw.items()}
                info = ClipInfo(norm, 0.0, 0.0, changed / size, math.nan, False, True, True)
                return zeros, info
            for k in bad:
                arrays[k] = np.where(np.isfinite(raw[k]), raw[k], 0.0)
                norms[k] = _tensor_norm(arrays[k])[0]
        rule = _RULES[self.name][0]
        out, factor, hits = rule(arrays, norms, self.threshold, self.eps, weights)
        changed_keys = [k for k in out if out[k] is not arrays[k]]
        after = {k: _tensor_norm(out[k])[0] if k in changed_keys else norms[k] for k in out}
        norm_in, norm_after = _combine(norms.values()), _combine(after.values())
        if factor is None:
            factor = norm_after / norm_in if norm_in > 0 else 1.0
            cosine = _cosine(arrays, out, norm_in, norm_after) if changed_keys else 1.0
        else:
            cosine = 1.0
        n_clipped = hits + sum(bad.values())  # the rule's hits and the replaced entries
        clipped = {k: v.copy() if _shares(v, grads[k]) else v for k, v in out.items()}
        info = ClipInfo(
            norm=norm,
            norm_after=norm_after,
            scale=float(factor),
            entries_clipped=n_clipped / size if size else 0.0,
            cosine=cosine,
            clipped=hits > 0,
            nonfinite=bool(bad),
        )
        return clipped, info


@np.errstate(over="ignore", under="ignore")
def global_norm(grads) -> float:
    """L2 norm of all tensors of ``grads`` (dict name -> array) as one vector, overflow-free.

    Examples
    --------
    >>> global_norm({"a": [3.0, 0.0], "b": [[4e200]]}) == 4e200
    True
    """
    return _combine(_tensor_norm(g)[0] for g in _as_grads(grads).values())
