r"""Products of recurrent Jacobians along a trajectory (layer 3).

Backpropagation through time multiplies a cotangent by :math:`J_t^\top` once per step, with
:math:`J_t = \partial s_t/\partial s_{t-1}`. This module carries those products:

- :func:`backprop`: the adjoints :math:`\partial\langle v, s_T\rangle/\partial s_t`, exact;
- :func:`log_gradient_norms`: their log norms, renormalised every step so they never overflow;
- :func:`product_singular_values`: the singular values of :math:`J_t \cdots J_{t-L+1}` for
  several depths L, in the log domain;
- :func:`log_product_norms`: the spectral norm of the product as a function of depth;
- :func:`step_spectra`: :math:`\rho(J_t)`, :math:`\sigma_{\max}(J_t)`, :math:`\sigma_{\min}(J_t)`
  at every step and the running growth rate of the last L steps, as a tidy frame.

Memory stays :math:`O(B N^2 + T B N)`: Jacobians are applied through the cell's products
(``vjp``/``jvp``), never stacked into a ``(T, B, N, N)`` array.
"""

from ._adjoints import backprop, log_gradient_norms
from ._products import ProductSpectrum, log_product_norms, product_singular_values
from ._steps import STEP_ARPACK_THRESHOLD, step_spectra

__all__ = [
    "STEP_ARPACK_THRESHOLD",
    "ProductSpectrum",
    "backprop",
    "log_gradient_norms",
    "log_product_norms",
    "product_singular_values",
    "step_spectra",
]
