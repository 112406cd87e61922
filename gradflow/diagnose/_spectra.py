r"""The spectrum of each recurrent matrix of a layer, against the circular law and Pascanu's
conditions (part of :mod:`gradflow.diagnose`).

A cell's ``recurrent_blocks`` are what "the recurrent weights" means: ``W_hh`` for an Elman
cell, the gate blocks ``W_hi, W_hf, W_hg, W_ho`` of an LSTM and ``W_hr, W_hz, W_hn`` of a GRU.
Every number comes from :mod:`gradflow.spectral` and :mod:`gradflow.theory`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import spectral, theory
from .._validation import as_choice
from ..cells import GRU, LSTM, Elman
from ..errors import GradflowError

__all__ = ["SPECTRA", "BlockSpectrum", "block_nonlinearities", "block_spectrum"]

#: ``"full"``: every number and all eigenvalues; ``"fast"``: no eigendecomposition (see
#: :func:`block_spectrum`).
SPECTRA = ("full", "fast")

_GATED = {
    LSTM: {"W_hi": "sigmoid", "W_hf": "sigmoid", "W_hg": "tanh", "W_ho": "sigmoid"},
    GRU: {"W_hr": "sigmoid", "W_hz": "sigmoid", "W_hn": "tanh"},
}


def block_nonlinearities(cell) -> dict[str, str]:
    """The nonlinearity behind each recurrent block of ``cell``, in block order.

    Elman: its activation. Gated cells: the logistic sigmoid for the gates (LSTM i, f, o;
    GRU r, z) and tanh for the candidate (LSTM g; GRU n).

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow.cells import LSTM
    >>> block_nonlinearities(LSTM(np.zeros((8, 2))))
    {'W_hi': 'sigmoid', 'W_hf': 'sigmoid', 'W_hg': 'tanh', 'W_ho': 'sigmoid'}
    """
    if isinstance(cell, Elman):
        return {"W_hh": cell.activation}
    for kind, names in _GATED.items():
        if isinstance(cell, kind):
            return dict(names)
    raise TypeError(f"cell: expected an Elman, LSTM or GRU cell, got {type(cell).__name__}")


@dataclass(frozen=True, eq=False)
class BlockSpectrum:
    r"""Spectral numbers of one recurrent matrix ``W`` (N × N) of a layer.

    Attributes
    ----------
    block : str
        ``"W_hh"`` (Elman) or the gate block's name (``"W_hf"``, ...).
    nonlinearity : str
        The function the block's pre-activation goes through (``"tanh"``, ``"sigmoid"``, ...).
    gamma : float
        :math:`\gamma = \sup|\varphi'|` of that function (1 for tanh, ReLU and linear, 1/4 for
        the sigmoid), from :func:`gradflow.theory.activation_gamma`.
    n : int
    spectral_radius, sigma_max, sigma_min, condition_number, orthogonality_defect : float
        As in :func:`gradflow.spectral.summary`.
    non_normality : float or None
        Henrici's relative departure from normality; None with ``spectra="fast"``.
    entry_std : float
        Standard deviation s of the N² entries (about their mean).
    circular_law_radius : float
        :math:`s\sqrt N`: the radius of the disk that holds the eigenvalues of a random
        matrix with i.i.d. entries of that scale (:func:`gradflow.theory.circular_law_radius`;
        0 for a constant matrix).
    pascanu : str
        :func:`gradflow.theory.pascanu_regime` of ``sigma_max`` with this block's γ:
        ``"vanishing"`` (:math:`\sigma_{\max} < 1/\gamma`), ``"may explode"``
        (:math:`\sigma_{\max} > 1/\gamma`) or ``"boundary"``.
    eigenvalues : ndarray of complex, shape (N,), or None
        Descending modulus; None with ``spectra="fast"``.
    singular_values : ndarray, shape (N,)
        Descending.
    """

    block: str
    nonlinearity: str
    gamma: float
    n: int
    spectral_radius: float
    sigma_max: float
    sigma_min: float
    condition_number: float
    orthogonality_defect: float
    non_normality: float | None
    entry_std: float
    circular_law_radius: float
    pascanu: str
    eigenvalues: np.ndarray | None
    singular_values: np.ndarray

    @property
    def bound(self) -> float:
        r""":math:`1/\gamma`, the value of :math:`\sigma_{\max}` Pascanu's conditions compare to."""
        return 1.0 / self.gamma

    @property
    def vanishing_sufficient(self) -> bool:
        r"""Whether :math:`\sigma_{\max} < 1/\gamma` (vanishing is then guaranteed)."""
        return self.pascanu == "vanishing"

    @property
    def exploding_necessary(self) -> bool:
        r"""Whether :math:`\sigma_{\max} > 1/\gamma` (necessary, not sufficient, to explode)."""
        return self.pascanu == "may explode"

    def numbers(self) -> dict:
        """The scalar fields and the two conditions, in a fixed order (no arrays)."""
        return {
            "n": self.n,
            "gamma": self.gamma,
            "spectral_radius": self.spectral_radius,
            "sigma_max": self.sigma_max,
            "sigma_min": self.sigma_min,
            "condition_number": self.condition_number,
            "orthogonality_defect": self.orthogonality_defect,
            "non_normality": self.non_normality,
            "entry_std": self.entry_std,
            "circular_law_radius": self.circular_law_radius,
            "pascanu_bound": self.bound,
            "vanishing_sufficient": self.vanishing_sufficient,
            "exploding_necessary": self.exploding_necessary,
        }


def block_spectrum(W, block: str, nonlinearity: str, *, spectra: str = "full") -> BlockSpectrum:
    r"""The spectral numbers of one recurrent matrix.

    Parameters
    ----------
    W : array_like, shape (N, N)
    block : str
        Its name (``"W_hh"``, ``"W_hf"``, ...).
    nonlinearity : {"tanh", "relu", "sigmoid", "linear"}
        What the block's pre-activation goes through; sets γ.
    spectra : {"full", "fast"}, default "full"
        ``"full"``: the numbers of :func:`gradflow.spectral.summary` from one SVD (values
        only), all eigenvalues (LAPACK ``geev``, which give ρ) and one real Schur form (the
        non-normality). ``"fast"``: no eigendecomposition, for large
        layers: the spectral radius by ARPACK (:func:`gradflow.spectral.spectral_radius` with
        ``method="arpack"``, answered at once for a scaled orthogonal W; LAPACK where ARPACK
        does not converge, as on the crowded edge of a random matrix), the singular values
        by a dense SVD (values only: :math:`\sigma_{\min}` is out of ARPACK's reach); neither
        the eigenvalues nor the non-normality (which needs all of them) are computed.

    Returns
    -------
    BlockSpectrum

    Notes
    -----
    Pascanu, Mikolov & Bengio (2013): with :math:`|\varphi'| \le \gamma`, a step through this
    block multiplies a gradient by at most :math:`\gamma\,\sigma_{\max}(W)`, so
    :math:`\sigma_{\max} < 1/\gamma` suffices for the gradient along this path to vanish and
    :math:`\sigma_{\max} > 1/\gamma` is necessary for it to explode. The circular law (Girko
    1985; Bai 1997) puts the eigenvalues of an N × N matrix with i.i.d. entries of standard
    deviation s in the disk :math:`|\lambda| \le s\sqrt N`; training moves eigenvalues out of
    that disk, and :math:`\rho/(s\sqrt N)` far from 1 says how far the weights are from a
    random matrix of their own scale.

    References
    ----------
    R. Pascanu, T. Mikolov and Y. Bengio, "On the difficulty of training recurrent neural
    networks", ICML 2013.

    Z. D. Bai, "Circular law", Ann. Probab. 25, 494-529 (1997).

    Examples
    --------
    >>> import numpy as np
    >>> s = block_spectrum(0.5 * np.eye(3), "W_hh", "tanh")
    >>> s.spectral_radius, s.sigma_max, s.pascanu, s.vanishing_sufficient
    (0.5, 0.5, 'vanishing', True)
    >>> block_spectrum(3 * np.eye(3), "W_hf", "sigmoid").pascanu  # 3 < 1/γ = 4
    'vanishing'
    """
    spectra = as_choice(spectra, "spectra", SPECTRA)
    W = np.asarray(W, dtype=np.float64)
    gamma = theory.activation_gamma(nonlinearity)
    singular = spectral.singular_values(W)
    condition = math.inf if singular[-1] == 0.0 else float(singular[0] / singular[-1])
    if spectra == "full":
        eigenvalues = spectral.eigenvalues(W)
        radius, departure = float(np.abs(eigenvalues[0])), spectral.non_normality(W)
    else:
        eigenvalues, departure = None, None
        try:
            radius = spectral.spectral_radius(W, method="arpack")
        except GradflowError:  # crowded moduli (a random-looking W): LAPACK instead
            radius = spectral.spectral_radius(W, method="dense")
    std = float(np.std(W))
    n = W.shape[-1]
    circle = float(theory.circular_law_radius(std * math.sqrt(n))) if std > 0 else 0.0
    for arr in (eigenvalues, singular):
        if arr is not None:
            arr.flags.writeable = False
    return BlockSpectrum(
        block=block,
        nonlinearity=nonlinearity,
        gamma=float(gamma),
        n=int(n),
        spectral_radius=float(radius),
        sigma_max=float(singular[0]),
        sigma_min=float(singular[-1]),
        condition_number=float(condition),
        orthogonality_defect=float(spectral.orthogonality_defect(W)),
        non_normality=None if departure is None else float(departure),
        entry_std=std,
        circular_law_radius=circle,
        pascanu=theory.pascanu_regime(float(singular[0]), nonlinearity),
        eigenvalues=eigenvalues,
        singular_values=singular,
    )
