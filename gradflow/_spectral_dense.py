"""The dense kernels :mod:`gradflow.spectral` shares between its functions and ``summary``.

On a stack ``(B, N, N)`` (or its singular values ``(B, N)``), each returns ``(B,)``:
:func:`_condition` ``sigma_max / sigma_min``, :func:`_defect` the orthogonality defect,
:func:`_schur_radius_and_departure` the spectral radius and Henrici's departure from
normality from one real Schur form, and :func:`_relative` that departure relative to
``||W||_F``. Tested through the public functions in ``tests/test_spectral.py``.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

__all__: list[str] = []  # private helpers of gradflow.spectral


def _condition(sigmas):
    """``sigma_max / sigma_min`` along the last axis; ``inf`` where ``sigma_min == 0``."""
    largest, smallest = sigmas[..., 0], sigmas[..., -1]
    singular = smallest == 0.0
    return np.where(singular, np.inf, largest / np.where(singular, 1.0, smallest))


def _defect(stack):
    n = stack.shape[-1]
    gram = np.swapaxes(stack, -1, -2) @ stack - np.eye(n)
    return np.linalg.norm(gram, axis=(-2, -1)) / np.sqrt(n)


def _schur_radius_and_departure(stack):
    """Spectral radius and Henrici departure ``||N||_F`` from the real Schur form ``T``.

    ``T`` has 1x1 blocks (real eigenvalues) and 2x2 blocks ``[[a, b], [c, d]]``, ``c != 0``
    (complex pairs, ``|lambda|^2 = ad - bc``). ``||W||_F^2 - sum |lambda|^2`` is the sum of
    squares of ``T`` above its blocks plus ``(a - d)^2 + (b + c)^2`` per 2x2 block: no
    cancellation, so a normal ``W`` gets a departure at rounding level, not its square root.
    """
    T = scipy.linalg.schur(stack, output="real")[0]
    diag = np.diagonal(T, axis1=-2, axis2=-1)
    moduli2 = diag**2
    upper = np.triu(T, 1)
    departure2 = np.zeros(T.shape[0])
    if T.shape[-1] > 1:
        a, d = diag[:, :-1], diag[:, 1:]
        b = np.diagonal(T, offset=1, axis1=-2, axis2=-1)
        c = np.diagonal(T, offset=-1, axis1=-2, axis2=-1)
        block = c != 0.0
        i = np.arange(T.shape[-1] - 1)
        upper[:, i, i + 1] = np.where(block, 0.0, b)
        departure2 = np.where(block, (a - d) ** 2 + (b + c) ** 2, 0.0).sum(axis=-1)
        pair2 = a * d - b * c
        moduli2[:, :-1] = np.where(block, pair2, moduli2[:, :-1])
        moduli2[:, 1:] = np.where(block, pair2, moduli2[:, 1:])
    departure2 = departure2 + (upper**2).sum(axis=(-2, -1))
    return np.sqrt(moduli2.max(axis=-1)), np.sqrt(departure2)


def _relative(departure, stack):
    frobenius = np.linalg.norm(stack, axis=(-2, -1))
    ratio = departure / np.where(frobenius > 0.0, frobenius, 1.0)
    return np.clip(np.where(frobenius > 0.0, ratio, 0.0), 0.0, 1.0)
