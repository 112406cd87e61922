"""Pointwise nonlinearities φ with their derivatives, by name.

Each activation gives φ(a) and φ'(a) written in terms of the output h = φ(a) (tanh: 1 − h²,
sigmoid: h(1 − h), relu: [h > 0], linear: 1), so a trajectory of states is all a cell needs to
keep for its Jacobians; and γ = sup|φ'| for Pascanu's bound.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from ._validation import as_choice

__all__ = ["NAMES", "Activation", "get"]


@dataclass(frozen=True)
class Activation:
    """A named nonlinearity: ``forward(a, out=None)``, ``derivative(h, out=None)`` = φ'(a) at
    h = φ(a), ``gamma``. Both write into ``out`` when given (``out=a`` works in place); without
    it ``derivative`` returns a new array."""

    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray]
    gamma: float


def _tanh_derivative(h, out=None):
    out = np.multiply(h, h, out=out)
    return np.subtract(1.0, out, out=out)


def _sigmoid_derivative(h, out=None):
    out = np.subtract(1.0, h, out=out)
    out *= h
    return out


def _relu(a, out=None):
    return np.maximum(a, 0.0, out=out)


def _relu_derivative(h, out=None):
    if out is None:
        return (h > 0).astype(h.dtype)
    out[...] = h > 0
    return out


def _linear(a, out=None):
    if out is None or out is a:
        return a
    np.copyto(out, a)
    return out


def _linear_derivative(h, out=None):
    if out is None:
        return np.ones_like(h)
    out.fill(1.0)
    return out


_REGISTRY = {
    "tanh": Activation("tanh", np.tanh, _tanh_derivative, 1.0),
    "relu": Activation("relu", _relu, _relu_derivative, 1.0),
    "sigmoid": Activation("sigmoid", expit, _sigmoid_derivative, 0.25),
    "linear": Activation("linear", _linear, _linear_derivative, 1.0),
}

NAMES = tuple(_REGISTRY)


def get(name: str) -> Activation:
    """The :class:`Activation` called ``name`` (tanh, relu, sigmoid or linear)."""
    return _REGISTRY[as_choice(name, "activation", NAMES)]
