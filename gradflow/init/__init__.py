"""Initialisers (layer 1): square recurrent matrices, and the arrays of gated cells by gate block.

- ``_matrices``: ``f(n, *, gain=1.0, rng=None, batch=None) -> (n, n)`` square initialisers
  (:func:`orthogonal`, :func:`gaussian`, :func:`identity`, :func:`glorot_uniform`,
  :func:`uniform`), found by name through :func:`get` and :func:`available`;
- ``_gates``: :func:`lstm` and :func:`gru`, which return a gated cell's constructor arrays
  (``LSTM(**init.lstm(...))``), each gate block drawn on its own. They are a different kind
  of initialiser and are not in the registry.
"""

import math
from types import MappingProxyType

from ._gates import gru, lstm
from ._matrices import available, gaussian, get, glorot_uniform, identity, orthogonal, uniform

#: The one table of the i.i.d. initialisers' scale: entry standard deviation = scale · g/√n,
#: so the circular-law radius (and the mean-field gain) of W is scale · g. Gaussian
#: N(0, g²/n) -> 1; Glorot U(-a, a) with variance g²/n -> 1; PyTorch's U(-g/√n, g/√n), variance
#: g²/(3n) -> 1/√3. Orthogonal and identity W are not i.i.d. (every singular value is g).
IID_SCALE = MappingProxyType(
    {"gaussian": 1.0, "glorot_uniform": 1.0, "uniform": 1.0 / math.sqrt(3.0)}
)

# IID_SCALE is importable from here but stays out of __all__, which lists the initialisers.
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
