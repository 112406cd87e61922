"""Closed-form and mean-field theory of gradient growth in recurrent networks (layer 1).

Every function here is a formula from a paper, computed exactly (or by accurate quadrature):
the growth of scaled orthogonal maps, the Lyapunov spectrum of Gaussian matrix products, the
mean-field order-to-chaos transition of random tanh networks, Pascanu et al.'s vanishing and
exploding conditions, the circular law and the number of real eigenvalues of a Gaussian
matrix, and the Fuss-Catalan moments of deep Gaussian products. Functions taking a ``gain``
accept an array of gains and return an array of the broadcast shape (a float for a scalar).
All logarithms are natural (nats).
"""

from ._growth import (
    activation_gamma,
    linear_vanishing,
    mean_field_lyapunov,
    mean_field_q,
    orthogonal_growth,
    pascanu_regime,
)
from ._random_matrix import (
    circular_law_density,
    circular_law_radial_cdf,
    circular_law_radius,
    expected_real_eigenvalues,
    fuss_catalan_edge,
    fuss_catalan_moment,
    gaussian_product_lyapunov,
)

__all__ = [
    "activation_gamma",
    "circular_law_density",
    "circular_law_radial_cdf",
    "circular_law_radius",
    "expected_real_eigenvalues",
    "fuss_catalan_edge",
    "fuss_catalan_moment",
    "gaussian_product_lyapunov",
    "linear_vanishing",
    "mean_field_lyapunov",
    "mean_field_q",
    "orthogonal_growth",
    "pascanu_regime",
]
