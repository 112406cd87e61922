"""Spectra of one recurrent weight matrix or a batch of them (layer 1).

Every function takes ``W`` of shape ``(N, N)`` or a batch ``(B, N, N)`` (real, finite,
non-empty). A scalar comes back as a ``float`` for one matrix and as a float64 array ``(B,)``
for a batch; per-eigenvalue quantities as ``(N,)`` or ``(B, N)``.

Why both norms of the spectrum matter: with ``|phi'| <= gamma`` every Jacobian has
``||J_t|| <= gamma sigma_max(W)``, so ``sigma_max < 1/gamma`` suffices for vanishing gradients
and ``sigma_max > 1/gamma`` is necessary for exploding ones (Pascanu et al. 2013), while the
long-run growth of ``||W^t||`` is ``rho(W)^t`` (Gelfand's formula). For a Gaussian matrix
``sigma_max ~ 2 rho``; they coincide only for normal matrices (:func:`non_normality` is 0).

From ``N >= ARPACK_THRESHOLD`` on, :func:`spectral_radius` and :func:`spectral_norm` use ARPACK
(``scipy.sparse.linalg.eigs`` / ``svds``, ``k=1``; the machinery is in ``gradflow._arpack``);
every other function is dense (the kernels they share with :func:`summary` are in
``gradflow._spectral_dense``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from gradflow._arpack import _norm_arpack, _radius_arpack, _screened, _use_arpack
from gradflow._spectral_dense import _condition, _defect, _relative, _schur_radius_and_departure
from gradflow._validation import as_matrix

__all__ = [
    "ARPACK_THRESHOLD",
    "SpectralSummary",
    "condition_number",
    "eigenvalues",
    "non_normality",
    "orthogonality_defect",
    "singular_values",
    "spectral_norm",
    "spectral_radius",
    "summary",
]

#: Matrix size from which ``method="auto"`` switches from dense decompositions to ARPACK.
ARPACK_THRESHOLD = 2000


def _as_stack(W):
    """Validate ``W`` and return it as a stack ``(B, N, N)`` and whether it was batched."""
    arr = as_matrix(W, "W", batch=True)
    return (arr, True) if arr.ndim == 3 else (arr[np.newaxis], False)


def _unstack(values, batched):
    """A float for one matrix, the float64 array ``(B,)`` for a batch."""
    values = np.asarray(values, dtype=np.float64)
    return values if batched else float(values[0])


def spectral_radius(W, *, method="auto"):
    """Spectral radius ``rho(W) = max_i |lambda_i(W)|``.

    Parameters
    ----------
    W : array_like, shape (N, N) or (B, N, N)
        Real square matrix, or a batch of them.
    method : {"auto", "dense", "arpack"}, default "auto"
        ``"dense"``: all eigenvalues (LAPACK ``geev``). ``"arpack"``: the eigenvalue of largest
        modulus only, by implicitly restarted Arnoldi (``scipy.sparse.linalg.eigs``, ``k=1``).
        ``"auto"``: ARPACK when ``N >= ARPACK_THRESHOLD``, dense otherwise.

    Returns
    -------
    float or numpy.ndarray
        A float for one matrix; an array ``(B,)`` for a batch.

    Notes
    -----
    ``W = c Q`` with ``Q`` orthogonal (checked: ``||W^T W - c^2 I||_F <= 1e-9 c^2``) gives
    ``rho = c`` directly, on either path (to 5e-10 relative at worst; to rounding for the
    scaled orthogonal and identity initialisers): all its eigenvalues have modulus ``c``, so no
    decomposition is needed, and Arnoldi iteration could not converge without a gap. On the
    ARPACK path otherwise ``eigs`` runs from a
    fixed starting vector for at most ``max(300, N // 10)`` restarts. If it does not converge,
    ``"auto"`` falls back to the dense path (same answer, slower) and ``"arpack"`` raises
    :class:`~gradflow.errors.GradflowError`. ``N < 3`` always uses the dense path.

    References
    ----------
    R. B. Lehoucq, D. C. Sorensen and C. Yang, "ARPACK Users' Guide", SIAM, 1998.

    R. Pascanu, T. Mikolov and Y. Bengio, "On the difficulty of training recurrent neural
    networks", ICML 2013.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow.spectral import spectral_radius
    >>> spectral_radius(np.array([[0.0, 2.0], [-0.5, 0.0]]))  # eigenvalues +-i
    1.0
    >>> spectral_radius(np.stack([np.eye(3), 2 * np.eye(3)]))
    array([1., 2.])
    """
    stack, batched = _as_stack(W)
    n = stack.shape[-1]
    if _use_arpack(n, method, smallest=3, threshold=ARPACK_THRESHOLD):
        radii = _screened(stack, lambda rest: [_radius_arpack(M, method) for M in rest])
    else:
        radii = _screened(stack, lambda rest: np.abs(np.linalg.eigvals(rest)).max(axis=-1))
    return _unstack(radii, batched)


def spectral_norm(W, *, method="auto"):
    """Largest singular value ``sigma_max(W) = ||W||_2``.

    Parameters
    ----------
    W : array_like, shape (N, N) or (B, N, N)
        Real square matrix, or a batch of them.
    method : {"auto", "dense", "arpack"}, default "auto"
        ``"dense"``: all singular values (LAPACK ``gesdd``). ``"arpack"``:
        ``scipy.sparse.linalg.svds`` with ``k=1`` (Lanczos on ``W^T W``). ``"auto"``: ARPACK
        when ``N >= ARPACK_THRESHOLD``.

    Returns
    -------
    float or numpy.ndarray
        A float for one matrix; an array ``(B,)`` for a batch.

    Notes
    -----
    ``sigma_max = sqrt(lambda_max(W^T W)) >= rho(W)``. On ARPACK non-convergence ``"auto"``
    falls back to the dense SVD and ``"arpack"`` raises :class:`~gradflow.errors.GradflowError`.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow.spectral import spectral_norm
    >>> spectral_norm(np.array([[0.0, 2.0], [-0.5, 0.0]]))
    2.0
    """
    stack, batched = _as_stack(W)
    n = stack.shape[-1]
    if _use_arpack(n, method, smallest=2, threshold=ARPACK_THRESHOLD):
        norms = _screened(stack, lambda rest: [_norm_arpack(M, method) for M in rest])
    else:
        norms = _screened(stack, lambda rest: np.linalg.svd(rest, compute_uv=False)[:, 0])
    return _unstack(norms, batched)


def eigenvalues(W) -> np.ndarray:
    """All eigenvalues, sorted by descending modulus.

    Parameters
    ----------
    W : array_like, shape (N, N) or (B, N, N)
        Real square matrix, or a batch of them.

    Returns
    -------
    numpy.ndarray
        complex128, ``(N,)`` or ``(B, N)``; ``|lambda_0| >= |lambda_1| >= ...`` (ties, such
        as complex-conjugate pairs, in LAPACK's order).

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow.spectral import eigenvalues
    >>> eigenvalues(np.diag([1.0, -3.0, 2.0]))
    array([-3.+0.j,  2.+0.j,  1.+0.j])
    """
    stack, batched = _as_stack(W)
    values = np.linalg.eigvals(stack).astype(np.complex128)
    order = np.argsort(-np.abs(values), axis=-1, kind="stable")
    values = np.take_along_axis(values, order, axis=-1)
    return values if batched else values[0]


def singular_values(W) -> np.ndarray:
    """All singular values, descending.

    Parameters
    ----------
    W : array_like, shape (N, N) or (B, N, N)
        Real square matrix, or a batch of them.

    Returns
    -------
    numpy.ndarray
        float64, ``(N,)`` or ``(B, N)``, ``sigma_0 >= sigma_1 >= ... >= 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow.spectral import singular_values
    >>> singular_values(np.diag([1.0, -3.0, 2.0]))
    array([3., 2., 1.])
    """
    stack, batched = _as_stack(W)
    values = np.linalg.svd(stack, compute_uv=False)
    return values if batched else values[0]


def condition_number(W):
    """Condition number in the 2-norm, ``kappa(W) = sigma_max / sigma_min``.

    Parameters
    ----------
    W : array_like, shape (N, N) or (B, N, N)
        Real square matrix, or a batch of them.

    Returns
    -------
    float or numpy.ndarray
        ``>= 1``; ``inf`` when the computed ``sigma_min`` is exactly 0 (e.g. a zero row or a
        Jordan block); a numerically singular ``W`` gives a finite value of order ``1e16``.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow.spectral import condition_number
    >>> condition_number(np.diag([1.0, 10.0]))
    10.0
    """
    stack, batched = _as_stack(W)
    return _unstack(_condition(np.linalg.svd(stack, compute_uv=False)), batched)


def orthogonality_defect(W):
    """Distance from orthogonality, ``||W^T W - I||_F / sqrt(N)``.

    Parameters
    ----------
    W : array_like, shape (N, N) or (B, N, N)
        Real square matrix, or a batch of them.

    Returns
    -------
    float or numpy.ndarray
        ``0`` exactly for orthogonal ``W``; ``|g^2 - 1|`` for ``g`` times an orthogonal matrix.
        The ``1/sqrt(N)`` makes it the root-mean-square deviation of ``sigma_i^2`` from 1 in
        that case, comparable across sizes.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow.spectral import orthogonality_defect
    >>> orthogonality_defect(2 * np.eye(5))  # ||4I - I||_F / sqrt(5)
    3.0
    """
    stack, batched = _as_stack(W)
    return _unstack(_defect(stack), batched)


def non_normality(W):
    """Henrici's relative departure from normality.

    Parameters
    ----------
    W : array_like, shape (N, N) or (B, N, N)
        Real square matrix, or a batch of them.

    Returns
    -------
    float or numpy.ndarray
        In ``[0, 1]``: 0 for normal matrices (symmetric, orthogonal, rotations), 1 for
        nilpotent ones (all eigenvalues 0, e.g. a Jordan block); 0 for the zero matrix.

    Notes
    -----
    ``dep(W) = sqrt(||W||_F^2 - sum_i |lambda_i|^2) / ||W||_F``, the Frobenius norm of the
    strictly upper part ``N`` of a Schur form ``W = U (D + N) U^*``, relative to ``||W||_F``
    (invariant under scaling and unitary similarity). It is computed from the real Schur form
    as a sum of squares, so it is never negative and is at rounding level for normal ``W``.
    Non-normal ``W`` can amplify signals transiently even when ``rho(W) < 1``.

    References
    ----------
    P. Henrici, "Bounds for iterates, inverses, spectral variation and fields of values of
    non-normal matrices", Numerische Mathematik 4, 24-40, 1962.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow.spectral import non_normality
    >>> non_normality(np.array([[0.0, 1.0], [0.0, 0.0]]))
    1.0
    >>> non_normality(np.array([[1.0, 2.0], [2.0, -1.0]]))  # symmetric
    0.0
    """
    stack, batched = _as_stack(W)
    return _unstack(_relative(_schur_radius_and_departure(stack)[1], stack), batched)


@dataclasses.dataclass(frozen=True)
class SpectralSummary:
    """Spectral quantities of one matrix (see :func:`summary`)."""

    n: int
    spectral_radius: float
    sigma_max: float
    sigma_min: float
    condition_number: float
    orthogonality_defect: float
    non_normality: float

    def to_dict(self) -> dict:
        """The fields as a ``dict`` in declaration order."""
        return dataclasses.asdict(self)


def summary(W):
    """Spectral radius, extreme singular values, conditioning and (non-)normality at once.

    Parameters
    ----------
    W : array_like, shape (N, N) or (B, N, N)
        Real square matrix, or a batch of them.

    Returns
    -------
    SpectralSummary or pandas.DataFrame
        For one matrix a frozen :class:`SpectralSummary` with fields ``n``,
        ``spectral_radius``, ``sigma_max``, ``sigma_min``, ``condition_number``,
        ``orthogonality_defect``, ``non_normality``. For a batch a DataFrame with one row per
        matrix: a ``matrix`` column (its index in the batch) followed by those fields.

    Notes
    -----
    Dense: one SVD and one real Schur decomposition per matrix (``O(N^3)``, a few seconds at
    ``N = 2000``); the fields are those of the functions of the same names.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow.spectral import summary
    >>> s = summary(np.array([[0.0, 2.0], [0.0, 0.5]]))
    >>> s.spectral_radius, s.condition_number
    (0.5, inf)
    >>> s.to_dict()["n"]
    2
    >>> summary(np.stack([np.eye(2), 3 * np.eye(2)]))[["matrix", "sigma_max"]]
       matrix  sigma_max
    0       0        1.0
    1       1        3.0
    """
    stack, batched = _as_stack(W)
    sigmas = np.linalg.svd(stack, compute_uv=False)
    radius, departure = _schur_radius_and_departure(stack)
    columns = {
        "n": np.full(len(stack), stack.shape[-1]),
        "spectral_radius": radius,
        "sigma_max": sigmas[:, 0],
        "sigma_min": sigmas[:, -1],
        "condition_number": _condition(sigmas),
        "orthogonality_defect": _defect(stack),
        "non_normality": _relative(departure, stack),
    }
    if not batched:
        values = {key: float(value[0]) for key, value in columns.items()}
        return SpectralSummary(**{**values, "n": int(columns["n"][0])})
    import pandas as pd

    return pd.DataFrame({"matrix": np.arange(len(stack)), **columns})
