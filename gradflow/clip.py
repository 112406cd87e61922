"""Gradient clipping (layer 1): small factories, each returning a pure clipper.

A clipper is called as ``clipper(grads, params=None) -> (clipped, info)``: ``grads`` is a dict
name -> array, ``clipped`` a new dict of new float64 arrays (the inputs are never modified), and
``info`` a :class:`ClipInfo` report. Norms are computed without overflow or underflow (entries
as large as 1e200 or as small as 1e-200 give exact norms), and a non-finite gradient is never
passed on silently: see the ``nonfinite`` policies of :class:`Clipper`.

The rules follow optax (``optax/transforms/_clipping.py``) with a PyTorch-style ``dict`` of
arrays in place of a pytree. ``get("global:1")`` builds a clipper from a command-line spec.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from gradflow._validation import NonFiniteError, as_array, as_choice, as_float

__all__ = [
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

_POLICIES = ("skip", "raise", "zero")
_TINY = 1e-280  # below this a sum of squares may have lost digits to underflow: rescale


def _row_norms(x2: np.ndarray) -> np.ndarray:
    """L2 norms of the rows of a finite 2-D array, free of overflow and underflow."""
    if x2.shape[1] == 0:
        return np.zeros(x2.shape[0])
    if x2.shape[0] == 1:
        flat = x2.reshape(-1)
        ss = np.array([flat @ flat])
    else:
        ss = np.einsum("ij,ij->i", x2, x2)
    norms = np.sqrt(ss)
    redo = ~(np.isfinite(ss) & (ss > _TINY))
    if redo.any():  # rescale each such row by its largest entry: sum of squares in [1, n]
        rows = x2[redo]
        peak = np.max(np.abs(rows), axis=1)
        safe = np.where(peak > 0, peak, 1.0)[:, None]
        norms[redo] = peak * np.sqrt(np.sum((rows / safe) ** 2, axis=1))
    return norms


def _tensor_norm(x: np.ndarray) -> tuple[float, int]:
    """(L2 norm, number of non-finite entries); the norm is NaN or inf if the entries are."""
    flat = x.reshape(-1)
    ss = float(flat @ flat)
    if math.isfinite(ss) and ss > _TINY:
        return math.sqrt(ss), 0
    if not math.isfinite(ss):
        bad = flat.size - int(np.count_nonzero(np.isfinite(flat)))
        if bad:
            return (math.nan if np.isnan(flat).any() else math.inf), bad
    return float(_row_norms(flat[None, :])[0]), 0


def _combine(norms) -> float:
    """sqrt(sum n_k^2) of non-negative norms, scaled by the largest; NaN/inf propagate."""
    n = np.fromiter(norms, dtype=float)
    if n.size == 0:
        return 0.0
    if np.isnan(n).any():
        return math.nan
    peak = float(n.max())
    if peak == 0.0 or math.isinf(peak):
        return peak
    return peak * math.sqrt(float(np.sum((n / peak) ** 2)))


def _scaled(x: np.ndarray, target: float, norm: float) -> np.ndarray:
    """x * (target / norm), dividing first when the factor would be subnormal."""
    factor = target / norm
    return x * factor if factor > 1e-290 else (x / norm) * target


def _cosine(a: dict, b: dict, norm_a: float, norm_b: float) -> float:
    """Cosine between two dicts of arrays seen as single vectors (norms given, > 0)."""
    product = norm_a * norm_b
    if _TINY < product < 1 / _TINY:
        dot = sum(float(a[k].reshape(-1) @ b[k].reshape(-1)) for k in a) / product
    else:
        dot = sum(float((a[k].reshape(-1) / norm_a) @ (b[k].reshape(-1) / norm_b)) for k in a)
    return min(1.0, max(-1.0, dot))


def _as_grads(grads) -> dict[object, np.ndarray]:
    if not isinstance(grads, Mapping):
        kind = f"array of shape {np.shape(grads)}" if hasattr(grads, "shape") else type(grads)
        raise TypeError(f"grads: expected a dict mapping names to arrays, got {kind}")
    return {
        k: as_array(v, f"grads[{k!r}]", finite=False, allow_empty=True) for k, v in grads.items()
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
        w = as_array(params[k], f"params[{k!r}]", allow_empty=True)
        if w.shape != g.shape:
            raise ValueError(f"params[{k!r}]: expected shape {g.shape} (as grads), got {w.shape}")
        out[k] = w
    return out


def _shares(array: np.ndarray, source) -> bool:
    return isinstance(source, np.ndarray) and np.may_share_memory(array, source)


def _units(x: np.ndarray) -> np.ndarray:
    """Rows = units: axis 0 of a >= 2-D array (PyTorch's (out, in) layout); a vector is one unit."""
    n_units = x.shape[0] if x.ndim >= 2 else 1
    return x.reshape(n_units, x.size // n_units)


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
        ``by_global_norm`` (and ``none``): the factor applied, 1.0 if not clipped; other rules:
        the ratio of norm_after to the norm of the gradient the rule saw; 0.0 on a skip.
    fraction_clipped : float
        Fraction of entries whose value changed (replaced NaN/inf entries count).
    cosine : float
        Cosine between the gradient the rule saw and the returned one: exactly 1.0 when the
        rule changed nothing or scaled everything by one factor; NaN on a skip.
    clipped : bool
        The rule changed the gradient the rule saw.
    nonfinite : bool
        The raw gradient held NaN or inf.
    skip : bool
        The trainer must skip this step (set only by ``nonfinite="skip"``).
    """

    norm: float
    norm_after: float
    scale: float
    fraction_clipped: float
    cosine: float
    clipped: bool
    nonfinite: bool = False
    skip: bool = False


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
        - ``"raise"``: raise :class:`gradflow._validation.NonFiniteError` naming the first
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
        out, factor = rule(arrays, norms, self.threshold, self.eps, weights)
        changed_keys = [k for k in out if out[k] is not arrays[k]]
        after = {k: _tensor_norm(out[k])[0] if k in changed_keys else norms[k] for k in out}
        norm_in, norm_after = _combine(norms.values()), _combine(after.values())
        if factor is None:
            factor = norm_after / norm_in if norm_in > 0 else 1.0
            cosine = _cosine(arrays, out, norm_in, norm_after) if changed_keys else 1.0
        else:
            cosine = 1.0
        n_changed = sum(
            int(np.count_nonzero(raw[k] != v)) for k, v in out.items() if v is not raw[k]
        )
        clipped = {k: v.copy() if _shares(v, grads[k]) else v for k, v in out.items()}
        info = ClipInfo(
            norm=norm,
            norm_after=norm_after,
            scale=float(factor),
            fraction_clipped=n_changed / size if size else 0.0,
            cosine=cosine,
            clipped=bool(changed_keys),
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


def by_value(max_value, *, nonfinite: str = "skip") -> Clipper:
    """Clip every entry to ``[-max_value, max_value]`` (``torch.nn.utils.clip_grad_value_``).

    Parameters
    ----------
    max_value : float
        Bound on every entry, > 0.
    nonfinite : {"skip", "raise", "zero"}, default "skip"
        Policy for NaN/inf gradients (see :class:`Clipper`).

    Notes
    -----
    g_i <- min(max(g_i, -c), c). Unlike norm clipping this changes the direction: (3, 4)
    clipped at 1 is (1, 1), at cosine 7/sqrt(50) = 0.98995 from the raw gradient.

    Examples
    --------
    >>> clipped, info = by_value(1.0)({"w": [3.0, 4.0]})
    >>> clipped["w"].tolist(), round(info.cosine, 5)
    ([1.0, 1.0], 0.98995)
    """
    return Clipper("by_value", max_value, nonfinite)


def by_norm(max_norm, *, nonfinite: str = "skip") -> Clipper:
    """Rescale each tensor on its own whose L2 norm exceeds ``max_norm`` (Keras' ``clipnorm``).

    Parameters
    ----------
    max_norm : float
        Bound on the norm of each tensor, > 0.
    nonfinite : {"skip", "raise", "zero"}, default "skip"
        Policy for NaN/inf gradients (see :class:`Clipper`).

    Notes
    -----
    For each tensor g_k: if ||g_k|| > c then g_k <- (c / ||g_k||) g_k. Each tensor keeps its
    direction, but the whole gradient turns unless all are scaled alike.

    Examples
    --------
    >>> clipped, info = by_norm(1.0)({"w": [3.0, 4.0], "b": [0.6]})
    >>> clipped["w"].round(12).tolist(), clipped["b"].tolist()
    ([0.6, 0.8], [0.6])
    """
    return Clipper("by_norm", max_norm, nonfinite)


def by_global_norm(max_norm, *, nonfinite: str = "skip") -> Clipper:
    """Rescale all tensors together when their joint L2 norm exceeds ``max_norm``.

    Parameters
    ----------
    max_norm : float
        Bound on the global norm, > 0.
    nonfinite : {"skip", "raise", "zero"}, default "skip"
        Policy for NaN/inf gradients (see :class:`Clipper`).

    Notes
    -----
    With ||g|| = sqrt(sum_k ||g_k||^2): if ||g|| > c then g <- (c / ||g||) g, so the norm after
    is c (to rounding) and the direction is kept. ``torch.nn.utils.clip_grad_norm_`` multiplies
    by min(1, c / (||g|| + 1e-6)) instead, which leaves its result smaller by the relative
    amount 1e-6 / ||g|| and scales gradients slightly even at ||g|| = c.

    References
    ----------
    Pascanu, R., Mikolov, T. & Bengio, Y. (2013). On the difficulty of training recurrent
    neural networks. ICML, Algorithm 1. https://arxiv.org/abs/1211.5063

    Examples
    --------
    >>> clipper = by_global_norm(1.0)
    >>> clipper
    by_global_norm(max_norm=1.0)
    >>> clipped, info = clipper({"w": [3.0, 0.0], "b": [4.0]})
    >>> clipped["w"].round(12).tolist(), clipped["b"].tolist(), info.norm, info.scale
    ([0.6, 0.0], [0.8], 5.0, 0.2)
    """
    return Clipper("by_global_norm", max_norm, nonfinite)


def adaptive(clipping, eps=1e-3, *, nonfinite: str = "skip") -> Clipper:
    """Unit-wise adaptive gradient clipping (AGC): bound each unit's gradient by its weights.

    The clipper needs the parameters: ``clipper(grads, params=params)``, with the keys and
    shapes of ``grads``.

    Parameters
    ----------
    clipping : float
        Bound on ||G_u|| / max(||W_u||, eps), > 0.
    eps : float, default 1e-3
        Floor on the weight norm, so units with zero weights can still move, > 0.
    nonfinite : {"skip", "raise", "zero"}, default "skip"
        Policy for NaN/inf gradients (see :class:`Clipper`).

    Notes
    -----
    A unit u is a row: index i along axis 0 of a parameter with two or more axes (the output
    unit of PyTorch's ``(out, in)`` layout, e.g. row i of ``W_hh``). A vector (bias) or scalar
    is one unit as a whole, as NFNet's ``unitwise_norm`` does. For each unit:
    if ||G_u|| > clipping * max(||W_u||, eps) then G_u <- G_u * clipping * max(||W_u||, eps) /
    ||G_u||; other units are returned unchanged.

    References
    ----------
    Brock, A., De, S., Smith, S. L. & Simonyan, K. (2021). High-Performance Large-Scale Image
    Recognition Without Normalization. ICML. https://arxiv.org/abs/2102.06171

    Examples
    --------
    >>> params = {"W": [[1.0, 0.0], [0.0, 10.0]]}
    >>> clipped, info = adaptive(0.1)({"W": [[3.0, 4.0], [0.3, 0.4]]}, params=params)
    >>> clipped["W"].round(12).tolist()
    [[0.06, 0.08], [0.3, 0.4]]
    """
    return Clipper("adaptive", clipping, nonfinite, eps)


def none(*, nonfinite: str = "skip") -> Clipper:
    """The identity clipper: returns a copy of the gradient and still reports ``info``.

    Examples
    --------
    >>> clipped, info = none()({"w": [3.0, 4.0]})
    >>> clipped["w"].tolist(), info.norm, info.clipped
    ([3.0, 4.0], 5.0, False)
    """
    return Clipper("none", math.inf, nonfinite)


def get(rule, *, nonfinite: str = "skip") -> Clipper:
    """A clipper from a command-line spec such as ``"global:1"``.

    Parameters
    ----------
    rule : str or Clipper
        ``"none"``, ``"value:C"``, ``"norm:C"``, ``"global:C"`` or ``"adaptive:C"`` (eps 1e-3)
        with C a finite threshold > 0; a :class:`Clipper` is returned as it is.
    nonfinite : {"skip", "raise", "zero"}, default "skip"
        Policy for NaN/inf gradients (see :class:`Clipper`).

    Examples
    --------
    >>> get("global:1"), get("adaptive:0.01"), get("none")
    (by_global_norm(max_norm=1.0), adaptive(clipping=0.01, eps=0.001), none())
    """
    if isinstance(rule, Clipper):
        return rule
    if not isinstance(rule, str):
        raise TypeError(
            f"rule: expected a string such as 'global:1' or a Clipper, got {type(rule)}"
        )
    names = {short: name for name, (_, _, short) in _RULES.items()}
    head, sep, tail = rule.strip().partition(":")
    wanted = "none, value:C, norm:C, global:C or adaptive:C with C > 0"
    if head not in names or (head == "none") == bool(sep):
        raise ValueError(f"rule: expected {wanted}; got {rule!r}")
    if head == "none":
        return none(nonfinite=nonfinite)
    try:
        threshold = float(tail)
    except ValueError:
        threshold = math.nan
    if not (math.isfinite(threshold) and threshold > 0):
        raise ValueError(f"rule: expected a finite threshold > 0 after '{head}:', got {tail!r}")
    return Clipper(names[head], threshold, nonfinite, 1e-3 if head == "adaptive" else None)
