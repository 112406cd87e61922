"""Axes-level plotting functions (layer 5): results in, Axes out, no computing.

Each function follows seaborn's contract, ``f(result, *, ax=None, **kwargs) -> Axes``: it takes
a tidy pandas DataFrame (one row per observation) or a small array, draws on the given Axes
(default: the current one) and returns it. Statistics are computed by the layers below; this
layer only draws. This is the only layer, with :mod:`gradflow.figures`, that imports matplotlib
and seaborn.

- :func:`eigenvalues`: spectra in the complex plane with the unit circle and the circular law.
- :func:`growth`: log gradient norm against lag on a logarithmic axis, with theory overlays.
- :func:`style_context`, :func:`palette`: the shared style file and colour-blind-safe colours.
"""

from ._style import PALETTE, palette, style_context, style_path
from .growth import growth
from .spectra import eigenvalues

__all__ = ["PALETTE", "eigenvalues", "growth", "palette", "style_context", "style_path"]
