"""L2 norms free of overflow and underflow, safe rescaling and cosines of dicts of arrays.

Arrays are float64 or float32. Sums of squares and dot products are always accumulated in
float64 (a float32 array is widened first: its squares can neither overflow nor underflow
there), and rescaling returns an array of the input's dtype.
"""

from __future__ import annotations

import math

import numpy as np

__all__: list[str] = []  # private helpers of gradflow.clip

_TINY = 1e-280  # below this a sum of squares may have lost digits to underflow: rescale
_F32 = np.finfo(np.float32)


def _wide(x: np.ndarray) -> np.ndarray:
    """``x`` itself if float64, else a float64 copy (the accumulation dtype of every sum)."""
    return x if x.dtype == np.float64 else x.astype(np.float64)


def _row_norms(x2: np.ndarray) -> np.ndarray:
    """L2 norms of the rows of a finite 2-D array, free of overflow and underflow (float64)."""
    x2 = _wide(x2)
    if x2.shape[1] == 0:
        return np.zeros(x2.shape[0])
    if x2.shape[0] == 1:
        flat = x2.reshape(-1)
        ss = np.array([flat @ flat])
    else:
        ss = np.einsum("ij,ij->i", x2, x2)
    norms = np.sqrt(ss)
    redo = ~(np.isfinite(ss) & (ss > _TINY))
    if redo.any():  # rescale each such row by its largest entry: sum of squares in [1, n]
        rows = x2[redo]
        peak = np.max(np.abs(rows), axis=1)
        safe = np.where(peak > 0, peak, 1.0)[:, None]
        norms[redo] = peak * np.sqrt(np.sum((rows / safe) ** 2, axis=1))
    return norms


def _tensor_norm(x: np.ndarray) -> tuple[float, int]:
    """(L2 norm, number of non-finite entries); the norm is NaN or inf if the entries are."""
    flat = _wide(x.reshape(-1))
    ss = float(flat @ flat)
    if math.isfinite(ss) and ss > _TINY:
        return math.sqrt(ss), 0
    if not math.isfinite(ss):
        bad = flat.size - int(np.count_nonzero(np.isfinite(flat)))
        if bad:
            return (math.nan if np.isnan(flat).any() else math.inf), bad
    return float(_row_norms(flat[None, :])[0]), 0


def _combine(norms) -> float:
    """sqrt(sum n_k^2) of non-negative norms, scaled by the largest; NaN/inf propagate."""
    n = np.fromiter(norms, dtype=float)
    if n.size == 0:
        return 0.0
    if np.isnan(n).any():
        return math.nan
    peak = float(n.max())
    if peak == 0.0 or math.isinf(peak):
        return peak
    return peak * math.sqrt(float(np.sum((n / peak) ** 2)))


def _scaled(x: np.ndarray, target: float, norm: float) -> np.ndarray:
    """x * (target / norm) in the dtype of x, dividing first when the factor would be subnormal.

    A float32 ``x`` is multiplied by the factor rounded to float32 when that is a normal
    float32 number, else (a factor out of float32's range) scaled in float64 and rounded once.
    """
    factor = target / norm
    if x.dtype == np.float32:
        if _F32.tiny < factor < _F32.max:
            return x * np.float32(factor)
        return (x.astype(np.float64) * factor).astype(np.float32)
    return x * factor if factor > 1e-290 else (x / norm) * target


def _cosine(a: dict, b: dict, norm_a: float, norm_b: float) -> float:
    """Cosine between two dicts of arrays seen as single vectors (norms given, > 0)."""
    product = norm_a * norm_b
    a = {k: _wide(a[k].reshape(-1)) for k in a}
    b = {k: _wide(b[k].reshape(-1)) for k in a}
    if _TINY < product < 1 / _TINY:
        dot = sum(float(a[k] @ b[k]) for k in a) / product
    else:
        dot = sum(float((a[k] / norm_a) @ (b[k] / norm_b)) for k in a)
    return min(1.0, max(-1.0, dot))


def _units(x: np.ndarray) -> np.ndarray:
    """Rows = units: axis 0 of a >= 2-D array (PyTorch's (out, in) layout); a vector is one unit."""
    n_units = x.shape[0] if x.ndim >= 2 else 1
    return x.reshape(n_units, x.size // n_units)
