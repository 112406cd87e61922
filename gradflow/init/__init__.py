"""Initialisers (layer 1): square recurrent matrices, and the arrays of gated cells by gate block.

- :mod:`._matrices`: ``f(n, *, gain=1.0, rng=None, batch=None) -> (n, n)`` square initialisers
  (:func:`orthogonal`, :func:`gaussian`, :func:`identity`, :func:`glorot_uniform`,
  :func:`uniform`), found by name through :func:`get` and :func:`available`;
- :mod:`._gates`: :func:`lstm` and :func:`gru`, which return a gated cell's constructor arrays
  (``LSTM(**init.lstm(...))``), each gate block drawn on its own. They are a different kind
  of initialiser and are not in the registry.
"""

from ._gates import gru, lstm
from ._matrices import available, gaussian, get, glorot_uniform, identity, orthogonal, uniform

__all__ = [
    "available",
    "gaussian",
    "get",
    "glorot_uniform",
    "gru",
    "identity",
    "lstm",
    "orthogonal",
    "uniform",
]
