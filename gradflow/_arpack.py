"""The ARPACK path of :mod:`gradflow.spectral` and its scaled-orthogonal screen (private).

:func:`_use_arpack` decides between the dense and the ARPACK path; :func:`_radius_arpack` and
:func:`_norm_arpack` compute the spectral radius and the largest singular value of one matrix
by ARPACK (``scipy.sparse.linalg.eigs`` / ``svds``, ``k=1``) from a fixed starting vector,
falling back to the dense path (``method="auto"``) or raising (``method="arpack"``) when it
does not converge. :func:`_screened` answers ``c`` directly for every ``c Q`` with ``Q``
orthogonal (on both paths), which ARPACK could not converge on.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import linalg as sparse_linalg

from ._validation import GradflowError, as_choice

__all__: list[str] = []  # private helpers of gradflow.spectral

_METHODS = ("auto", "dense", "arpack")
_ARPACK_SEED = 0  # fixed starting vector: ARPACK results are reproducible run to run
_ORTHOGONALITY_TOL = 1e-9  # ||W^T W - c^2 I||_F / c^2 below which W counts as c * orthogonal


def _use_arpack(n, method, smallest, *, threshold):
    """Whether ``method`` picks ARPACK for size ``n`` (``"auto"``: from ``n >= threshold``)."""
    method = as_choice(method, "method", _METHODS)
    if n < smallest:  # ARPACK needs k=1 < n - 1 (eigs) or k < n (svds)
        return False
    return method == "arpack" or (method == "auto" and n >= threshold)


def _arpack_options(n):
    start = np.random.default_rng(_ARPACK_SEED).standard_normal(n)
    # ~20 products W @ x per restart, so ~2N products for large N: about the dense cost.
    return {"k": 1, "v0": start, "maxiter": max(300, n // 10)}


def _arpack_failed(exc, what, n, method):
    """Raise the one-line error for ``method="arpack"``; with ``"auto"`` return to fall back."""
    if method == "arpack":
        detail = " ".join(str(exc).split())
        raise GradflowError(
            f"W: ARPACK did not converge to the {what} of a ({n}, {n}) matrix ({detail}); "
            "use method='dense' or method='auto'"
        ) from exc


def _scaled_orthogonal_gains(stack):
    """``c`` for each ``M = c Q`` of the stack with ``Q`` orthogonal (to rounding), else NaN.

    All singular values and all ``|lambda|`` of such a matrix equal ``c``: no decomposition is
    needed (and ARPACK, which needs a spectral gap, cannot converge on them). An O(N^2) test
    with one random vector screens the stack; one product ``M^T M`` confirms each candidate:
    ``||M^T M - c^2 I||_F <= 1e-9 c^2`` puts every singular value, hence every ``|lambda|``,
    in ``c [sqrt(1 - 1e-9), sqrt(1 + 1e-9)]``. Each matrix is divided by its largest entry
    first, so entries near the overflow threshold square without overflowing.
    """
    n = stack.shape[-1]
    peak = np.abs(stack).reshape(stack.shape[0], -1).max(axis=1)
    peak[peak == 0] = 1.0
    return _unit_orthogonal_gains(stack / peak[:, None, None], n) * peak


def _unit_orthogonal_gains(stack, n):
    c2 = np.einsum("bij,bij->b", stack, stack) / n
    gains = np.full(stack.shape[0], np.nan)
    gains[c2 == 0.0] = 0.0
    x = np.random.default_rng(_ARPACK_SEED + 1).standard_normal(n)
    y = stack @ x
    ratio = np.einsum("bi,bi->b", y, y) / float(x @ x)
    candidates = np.flatnonzero((c2 > 0) & (np.abs(ratio - c2) <= 1e-6 * c2))
    for i in candidates:
        gram = stack[i].T @ stack[i]
        gram[np.diag_indices(n)] -= c2[i]
        if np.linalg.norm(gram) <= _ORTHOGONALITY_TOL * c2[i]:
            gains[i] = np.sqrt(c2[i])
    return gains


def _screened(stack, decompose):
    """``decompose(stack)`` where a matrix is not scaled orthogonal, ``c`` where it is."""
    values = _scaled_orthogonal_gains(stack)
    rest = np.isnan(values)
    if rest.any():
        values[rest] = decompose(stack[rest])
    return values


def _radius_arpack(M, method):
    n = M.shape[0]
    try:
        values = sparse_linalg.eigs(M, which="LM", return_eigenvectors=False, **_arpack_options(n))
    except sparse_linalg.ArpackError as exc:
        _arpack_failed(exc, "spectral radius", n, method)
        return float(np.abs(np.linalg.eigvals(M)).max())
    return float(np.abs(values).max())


def _norm_arpack(M, method):
    n = M.shape[0]
    if not M.any():  # ARPACK stops on a zero Krylov vector
        return 0.0
    try:
        values = sparse_linalg.svds(
            M, solver="arpack", return_singular_vectors=False, **_arpack_options(n)
        )
    except sparse_linalg.ArpackError as exc:
        _arpack_failed(exc, "largest singular value", n, method)
        return float(np.linalg.svd(M, compute_uv=False)[0])
    return float(np.max(values))
