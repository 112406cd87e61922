"""The factories of clippers, one per rule, and :func:`get`, which reads a spec ("global:1").

:func:`by_value`, :func:`by_norm`, :func:`by_global_norm`, :func:`adaptive` and :func:`none`
each return a :class:`~gradflow.clip.Clipper`; their docstrings give each rule's formula.
"""

from __future__ import annotations

import math

from ._clipper import Clipper
from ._rules import _RULES

__all__ = ["adaptive", "by_global_norm", "by_norm", "by_value", "get", "none"]


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
    An entry with ``|g_i| >= c`` counts as clipped (``info.clipped``, ``info.entries_clipped``),
    so one exactly at the bound is counted although its value is unchanged.

    Examples
    --------
    >>> clipped, info = by_value(1.0)({"w": [3.0, 4.0]})
    >>> clipped["w"].tolist(), round(info.cosine, 5)
    ([1.0, 1.0], 0.98995)
    """
    return Clipper("by_value", max_value, nonfinite)


def by_norm(max_norm, *, nonfinite: str = "skip") -> Clipper:
    """Rescale each tensor on its own whose L2 norm reaches ``max_norm`` (Keras' ``clipnorm``).

    Parameters
    ----------
    max_norm : float
        Bound on the norm of each tensor, > 0.
    nonfinite : {"skip", "raise", "zero"}, default "skip"
        Policy for NaN/inf gradients (see :class:`Clipper`).

    Notes
    -----
    For each tensor g_k: if ||g_k|| >= c then g_k <- (c / ||g_k||) g_k. Each tensor keeps its
    direction, but the whole gradient turns unless all are scaled alike. A tensor exactly at
    the bound is clipped with scale 1: counted in ``info`` with its values unchanged.

    Examples
    --------
    >>> clipped, info = by_norm(1.0)({"w": [3.0, 4.0], "b": [0.6]})
    >>> clipped["w"].round(12).tolist(), clipped["b"].tolist()
    ([0.6, 0.8], [0.6])
    """
    return Clipper("by_norm", max_norm, nonfinite)


def by_global_norm(max_norm, *, nonfinite: str = "skip") -> Clipper:
    """Rescale all tensors together when their joint L2 norm reaches ``max_norm``.

    Parameters
    ----------
    max_norm : float
        Bound on the global norm, > 0.
    nonfinite : {"skip", "raise", "zero"}, default "skip"
        Policy for NaN/inf gradients (see :class:`Clipper`).

    Notes
    -----
    With ||g|| = sqrt(sum_k ||g_k||^2): if ||g|| >= c then g <- (c / ||g||) g, so the norm after
    is c (to rounding) and the direction is kept. At ||g|| = c exactly the gradient is clipped,
    as in Algorithm 1 (``info.clipped``), with ``info.scale`` 1.0 and its values unchanged.
    ``torch.nn.utils.clip_grad_norm_`` multiplies by min(1, c / (||g|| + 1e-6)) instead, which
    leaves its result smaller by the relative amount 1e-6 / ||g|| and scales gradients slightly
    even at ||g|| = c.

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
    if ||G_u|| >= clipping * max(||W_u||, eps) then G_u <- G_u * clipping * max(||W_u||, eps) /
    ||G_u||; other units are returned unchanged. A unit exactly at its bound is clipped with
    scale 1: counted in ``info`` with its values unchanged.

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
