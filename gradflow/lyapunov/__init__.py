r"""Lyapunov spectra of products of recurrent Jacobians (layer 3).

The long-run growth of a gradient is set by the Lyapunov exponents of the Jacobian product
along the trajectory, not by the spectrum of W alone. This module computes them:

- :func:`spectrum`: the k largest exponents of a stream of dense Jacobians ``(T, [B,] N, N)``
  or any iterable of ``([B,] N, N)`` arrays, consumed once (memory O(N·k));
- :func:`along`: the same along a cell's trajectory, applying each J_t to the frame through
  the cell (for Elman :math:`J Q = \varphi'(a) \odot (W Q)`), never forming J;
- :func:`finite_time`: finite-time exponents over windows (tidy DataFrame);
- :func:`batch_means` and :func:`kaplan_yorke_dimension`: small pure functions.

Results are :class:`LyapunovSpectrum` dataclasses with ``exponents`` and ``stderr`` (nats per
step, descending) for one network ``(k,)`` or a batch ``(B, k)``.
"""

from ._api import along, finite_time, spectrum
from ._stats import LyapunovSpectrum, batch_means, kaplan_yorke_dimension

__all__ = [
    "LyapunovSpectrum",
    "along",
    "batch_means",
    "finite_time",
    "kaplan_yorke_dimension",
    "spectrum",
]
