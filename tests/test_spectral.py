"""Tests of gradflow.spectral against closed forms, the dense path and random-matrix laws.

Its private helpers, ``gradflow._arpack`` (the ARPACK path) and ``gradflow._spectral_dense``
(the dense kernels shared with ``summary``), are tested here, through the public functions.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import scipy.linalg
from scipy.sparse import linalg as sparse_linalg

from gradflow import init, spectral
from gradflow._validation import GradflowError

SCALAR_FUNCTIONS = (
    spectral.spectral_radius,
    spectral.spectral_norm,
    spectral.condition_number,
    spectral.orthogonality_defect,
    spectral.non_normality,
)
ALL_FUNCTIONS = (
    *SCALAR_FUNCTIONS,
    spectral.eigenvalues,
    spectral.singular_values,
    spectral.summary,
)


def rotation(theta):
    return np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])


def jordan_block(n):
    return np.eye(n, k=1)


@pytest.fixture
def eigs_calls(monkeypatch):
    """Count the calls that reach scipy.sparse.linalg.eigs and svds."""
    calls = {"eigs": 0, "svds": 0}
    originals = {name: getattr(sparse_linalg, name) for name in calls}

    def spy(name):
        def wrapped(*args, **kwargs):
            calls[name] += 1
            return originals[name](*args, **kwargs)

        return wrapped

    for name in calls:
        monkeypatch.setattr(sparse_linalg, name, spy(name))
    return calls


# --------------------------------------------------------------------------- closed forms


@pytest.mark.parametrize("theta", [0.3, 1.0, 2.5])
def test_rotation(theta):
    R = rotation(theta)
    assert spectral.spectral_radius(R) == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_allclose(spectral.singular_values(R), [1.0, 1.0], atol=1e-15)
    assert spectral.condition_number(R) == pytest.approx(1.0, abs=1e-14)
    assert spectral.orthogonality_defect(R) < 1e-15
    assert spectral.non_normality(R) < 1e-15
    lam = spectral.eigenvalues(R)
    np.testing.assert_allclose(sorted(lam, key=np.imag), [np.exp(-1j * theta), np.exp(1j * theta)])


def test_block_diagonal_rotations_scaled():
    angles, scales = [0.2, 1.1, 2.9], [0.5, 2.0, 1.5]
    W = scipy.linalg.block_diag(*(s * rotation(a) for s, a in zip(scales, angles, strict=True)))
    assert spectral.spectral_radius(W) == pytest.approx(2.0, rel=1e-14)
    np.testing.assert_allclose(spectral.singular_values(W), [2, 2, 1.5, 1.5, 0.5, 0.5], rtol=1e-14)
    np.testing.assert_allclose(
        np.abs(spectral.eigenvalues(W)), [2, 2, 1.5, 1.5, 0.5, 0.5], rtol=1e-14
    )
    assert spectral.non_normality(W) < 1e-15
    # ||W^T W - I||_F^2 = 2 sum (s^2 - 1)^2 over the blocks, divided by N = 6.
    expected = math.sqrt(2 * sum((s**2 - 1) ** 2 for s in scales) / 6)
    assert spectral.orthogonality_defect(W) == pytest.approx(expected, rel=1e-14)
    # Non-normality is invariant under orthogonal similarity.
    Q = init.orthogonal(6, rng=4)
    assert spectral.non_normality(Q @ W @ Q.T) < 1e-14


def test_diagonal_matrix():
    d = np.array([0.5, -3.0, 2.0, -0.25])
    W = np.diag(d)
    assert spectral.spectral_radius(W) == 3.0
    np.testing.assert_array_equal(spectral.eigenvalues(W), [-3.0, 2.0, 0.5, -0.25])
    np.testing.assert_array_equal(spectral.singular_values(W), [3.0, 2.0, 0.5, 0.25])
    assert spectral.condition_number(W) == pytest.approx(12.0, rel=1e-15)
    assert spectral.non_normality(W) == 0.0


def test_condition_number_of_diag_1_10():
    assert spectral.condition_number(np.diag([1.0, 10.0])) == pytest.approx(10.0, rel=1e-15)


@pytest.mark.parametrize("n", [2, 5, 12])
def test_nilpotent_jordan_block(n):
    J = jordan_block(n)
    assert spectral.spectral_radius(J) == 0.0
    assert spectral.non_normality(J) == pytest.approx(1.0, rel=1e-15)
    assert spectral.spectral_norm(J) == pytest.approx(1.0, rel=1e-15)
    sigmas = spectral.singular_values(J)
    np.testing.assert_allclose(sigmas, [1.0] * (n - 1) + [0.0], atol=1e-15)
    assert spectral.condition_number(J) == math.inf
    np.testing.assert_array_equal(spectral.eigenvalues(J), np.zeros(n))


def test_companion_matrix_eigenvalues_are_the_roots():
    # (x + 3)(x - 2)(x - 1) = x^3 - 7x + 6
    C = scipy.linalg.companion([1.0, 0.0, -7.0, 6.0])
    np.testing.assert_allclose(spectral.eigenvalues(C), [-3.0, 2.0, 1.0], rtol=1e-12)
    assert spectral.eigenvalues(C).dtype == np.complex128


def test_eigenvalues_sorted_by_descending_modulus():
    lam = spectral.eigenvalues(init.gaussian(40, rng=1))
    assert np.all(np.diff(np.abs(lam)) <= 1e-15)
    sigmas = spectral.singular_values(init.gaussian(40, rng=1))
    assert np.all(np.diff(sigmas) <= 0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_symmetric_matrix_is_normal(seed):
    A = init.gaussian(30, rng=seed)
    S = A + A.T
    assert spectral.non_normality(S) < 1e-14
    lam = np.linalg.eigvalsh(S)
    assert spectral.spectral_radius(S) == pytest.approx(np.abs(lam).max(), rel=1e-13)
    np.testing.assert_allclose(spectral.singular_values(S), np.sort(np.abs(lam))[::-1], rtol=1e-12)


@pytest.mark.parametrize(("a", "b"), [(1.0, 1.0), (2.0, 0.5), (3.0, 1e-3)])
def test_non_normality_of_two_by_two_with_complex_pair(a, b):
    # [[0, a], [-b, 0]]: eigenvalues +-i sqrt(ab), ||W||_F^2 = a^2 + b^2, departure |a - b|.
    W = np.array([[0.0, a], [-b, 0.0]])
    expected = abs(a - b) / math.hypot(a, b)
    assert spectral.non_normality(W) == pytest.approx(expected, rel=1e-13, abs=1e-16)
    assert spectral.spectral_radius(W) == pytest.approx(math.sqrt(a * b), rel=1e-14)


def test_non_normality_of_triangular_matrix():
    T = np.triu(init.gaussian(8, rng=5))
    expected = np.linalg.norm(np.triu(T, 1)) / np.linalg.norm(T)
    assert spectral.non_normality(T) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_non_normality_matches_eigenvalue_formula(seed):
    W = init.gaussian(25, gain=1.3, rng=seed)
    lam = np.linalg.eigvals(W)
    fro2 = np.sum(W**2)
    expected = math.sqrt(fro2 - np.sum(np.abs(lam) ** 2)) / math.sqrt(fro2)
    assert spectral.non_normality(W) == pytest.approx(expected, rel=1e-10)
    assert spectral.non_normality(7.0 * W) == pytest.approx(expected, rel=1e-10)


def test_zero_and_one_by_one():
    Z = np.zeros((3, 3))
    assert spectral.spectral_radius(Z) == 0.0
    assert spectral.non_normality(Z) == 0.0
    assert spectral.condition_number(Z) == math.inf
    assert spectral.orthogonality_defect(Z) == pytest.approx(1.0)  # ||-I||_F / sqrt(3)
    one = np.array([[-2.5]])
    s = spectral.summary(one)
    assert (s.spectral_radius, s.sigma_max, s.sigma_min, s.condition_number) == (2.5, 2.5, 2.5, 1.0)
    assert s.non_normality == 0.0 and s.orthogonality_defect == pytest.approx(5.25)


@pytest.mark.parametrize("gain", [0.5, 1.0, 2.0])
def test_orthogonality_defect(gain):
    Q = init.orthogonal(20, gain=gain, rng=3)
    assert spectral.orthogonality_defect(Q) == pytest.approx(abs(gain**2 - 1), abs=1e-13)
    assert spectral.orthogonality_defect(2 * np.eye(7)) == pytest.approx(3.0, rel=1e-15)


# --------------------------------------------------------------------------- random matrices


@pytest.mark.parametrize("gain", [0.8, 1.7])
def test_circular_law_radius_and_twice_larger_spectral_norm(gain):
    # Entries N(0, g^2/n): eigenvalues fill the disk of radius g, sigma_max -> 2g.
    W = init.gaussian(400, gain=gain, rng=17)
    assert abs(spectral.spectral_radius(W) / gain - 1) < 0.10
    assert abs(spectral.spectral_norm(W) / (2 * gain) - 1) < 0.10
    assert abs(spectral.singular_values(W)[0] / (2 * gain) - 1) < 0.10


# --------------------------------------------------------------------------- ARPACK path


def test_arpack_agrees_with_dense_on_n300(eigs_calls):
    W = init.gaussian(300, gain=1.1, rng=8)
    dense_radius = np.abs(np.linalg.eigvals(W)).max()
    dense_norm = np.linalg.svd(W, compute_uv=False)[0]
    assert spectral.spectral_radius(W, method="dense") == pytest.approx(dense_radius, rel=1e-13)
    assert eigs_calls == {"eigs": 0, "svds": 0}
    assert spectral.spectral_radius(W, method="arpack") == pytest.approx(dense_radius, rel=1e-8)
    assert spectral.spectral_norm(W, method="arpack") == pytest.approx(dense_norm, rel=1e-8)
    assert eigs_calls == {"eigs": 1, "svds": 1}
    # Below the threshold, "auto" is dense.
    spectral.spectral_radius(W)
    spectral.spectral_norm(W)
    assert eigs_calls == {"eigs": 1, "svds": 1}


def test_auto_switches_at_the_threshold(monkeypatch, eigs_calls):
    monkeypatch.setattr(spectral, "ARPACK_THRESHOLD", 50)
    W = init.gaussian(50, gain=0.9, rng=2, batch=2)
    radii = spectral.spectral_radius(W)
    assert eigs_calls["eigs"] == 2
    np.testing.assert_allclose(radii, np.abs(np.linalg.eigvals(W)).max(axis=-1), rtol=1e-8)
    spectral.spectral_radius(W[0, :49, :49])
    assert eigs_calls["eigs"] == 2


def test_arpack_scaled_orthogonal_shortcut(eigs_calls):
    # All |lambda| = gain: no gap, ARPACK cannot converge; the check returns gain directly.
    Q = init.orthogonal(300, gain=1.7, rng=1)
    assert spectral.spectral_radius(Q, method="arpack") == pytest.approx(1.7, rel=1e-12)
    assert spectral.spectral_radius(np.zeros((10, 10)), method="arpack") == 0.0
    assert spectral.spectral_norm(np.zeros((10, 10)), method="arpack") == 0.0
    assert eigs_calls["eigs"] == 0
    # A slightly perturbed orthogonal matrix is not taken for one.
    P = Q + 1e-3 * init.gaussian(300, rng=2)
    expected = np.abs(np.linalg.eigvals(P)).max()
    assert spectral.spectral_radius(P) == pytest.approx(expected, rel=1e-13)


def test_arpack_non_convergence_falls_back_or_raises(monkeypatch):
    def no_convergence(*args, **kwargs):
        raise sparse_linalg.ArpackNoConvergence("ARPACK error -1: No convergence", [], [])

    monkeypatch.setattr(sparse_linalg, "eigs", no_convergence)
    monkeypatch.setattr(sparse_linalg, "svds", no_convergence)
    monkeypatch.setattr(spectral, "ARPACK_THRESHOLD", 20)
    W = init.gaussian(30, rng=0)
    assert spectral.spectral_radius(W) == pytest.approx(
        np.abs(np.linalg.eigvals(W)).max(), rel=1e-13
    )
    assert spectral.spectral_norm(W) == pytest.approx(np.linalg.norm(W, 2), rel=1e-13)
    for function in (spectral.spectral_radius, spectral.spectral_norm):
        with pytest.raises(GradflowError) as info:
            function(W, method="arpack")
        message = str(info.value)
        assert message.startswith("W:") and "ARPACK" in message and "\n" not in message


def test_arpack_genuine_non_convergence_on_jordan_block():
    # A nilpotent Jordan block has no gap either: forced ARPACK fails within its budget.
    J = jordan_block(200)
    with pytest.raises(GradflowError, match="did not converge"):
        spectral.spectral_radius(J, method="arpack")
    assert spectral.spectral_norm(J, method="arpack") == pytest.approx(1.0, rel=1e-10)


def test_arpack_small_matrices_use_dense():
    R = 1.5 * rotation(0.4)
    assert spectral.spectral_radius(R, method="arpack") == pytest.approx(1.5, rel=1e-15)
    assert spectral.spectral_norm(np.array([[4.0]]), method="arpack") == 4.0


def _reflect(v, A):
    """``H A H`` for the Householder reflector ``H = I - 2 v v^T / v^T v``, in O(N^2)."""
    u = v / np.linalg.norm(v)
    A = A - 2.0 * np.outer(u, u @ A)
    return A - 2.0 * np.outer(A @ u, u)


def test_auto_path_at_n2000_agrees_with_closed_forms(eigs_calls):
    n = spectral.ARPACK_THRESHOLD
    rng = np.random.default_rng(12)
    perm = rng.permutation(n)
    # W = H P T P^T H with T upper triangular: dense, non-normal, eigenvalues exactly diag(T).
    d = np.linspace(-1.0, 1.0, n)
    d[n // 2] = -1.5
    T = np.diag(d) + np.triu(rng.standard_normal((n, n)), 1) * (0.3 / math.sqrt(n))
    W = _reflect(rng.standard_normal(n), T[np.ix_(perm, perm)])
    assert spectral.spectral_radius(W) == pytest.approx(1.5, rel=1e-8)
    # V = H1 diag(s) H2: dense, non-normal, singular values exactly |s|.
    s = rng.uniform(-1.0, 1.0, n)
    s[n // 3] = 1.25
    u1, u2 = (v / np.linalg.norm(v) for v in rng.standard_normal((2, n)))
    V = np.diag(s) - 2.0 * np.outer(u1, u1 * s)
    V = V - 2.0 * np.outer(V @ u2, u2)
    assert spectral.spectral_norm(V) == pytest.approx(1.25, rel=1e-8)
    assert eigs_calls == {"eigs": 1, "svds": 1}


# --------------------------------------------------------------------------- batches and summary


def test_batch_matches_single_matrices():
    W = init.gaussian(6, gain=1.2, rng=9, batch=4)
    for function in SCALAR_FUNCTIONS:
        batched = function(W)
        assert isinstance(batched, np.ndarray) and batched.shape == (4,)
        np.testing.assert_allclose(batched, [function(M) for M in W], rtol=1e-12)
        assert isinstance(function(W[0]), float)
    for function in (spectral.eigenvalues, spectral.singular_values):
        batched = function(W)
        assert batched.shape == (4, 6)
        np.testing.assert_allclose(batched, np.stack([function(M) for M in W]), rtol=1e-12)


def test_summary_single_matrix():
    W = init.gaussian(12, gain=0.9, rng=21)
    s = spectral.summary(W)
    assert isinstance(s, spectral.SpectralSummary)
    assert s.n == 12 and isinstance(s.n, int)
    assert s.spectral_radius == pytest.approx(spectral.spectral_radius(W), rel=1e-12)
    assert s.sigma_max == pytest.approx(spectral.singular_values(W)[0], rel=1e-14)
    assert s.sigma_min == pytest.approx(spectral.singular_values(W)[-1], rel=1e-14)
    assert s.condition_number == pytest.approx(spectral.condition_number(W), rel=1e-14)
    assert s.orthogonality_defect == pytest.approx(spectral.orthogonality_defect(W), rel=1e-14)
    assert s.non_normality == pytest.approx(spectral.non_normality(W), rel=1e-14)
    assert s.sigma_max >= s.spectral_radius >= s.sigma_min
    assert list(s.to_dict()) == [field.name for field in dataclasses.fields(s)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.n = 3


def test_summary_radius_from_complex_pairs():
    # Rotations: the radius comes from the 2x2 blocks of the real Schur form.
    s = spectral.summary(1.5 * rotation(0.7))
    assert (s.spectral_radius, s.non_normality) == (pytest.approx(1.5, rel=1e-15), 0.0)
    W = init.gaussian(9, rng=31, batch=20)
    top = spectral.eigenvalues(W)[:, 0]
    assert np.any(top.imag != 0) and np.any(top.imag == 0)
    table = spectral.summary(W)
    np.testing.assert_allclose(table["spectral_radius"], np.abs(top), rtol=1e-12)


def test_summary_batch_is_one_row_per_matrix():
    W = init.orthogonal(5, gain=1.5, rng=0, batch=3)
    table = spectral.summary(W)
    assert isinstance(table, pd.DataFrame) and len(table) == 3
    assert list(table.columns) == ["matrix", *spectral.summary(W[0]).to_dict()]
    assert list(table["matrix"]) == [0, 1, 2]
    for i in range(3):
        row = table.iloc[i].drop("matrix").to_dict()
        single = spectral.summary(W[i]).to_dict()
        assert row == pytest.approx(single, rel=1e-12, abs=1e-14)
    np.testing.assert_allclose(table["spectral_radius"], 1.5, rtol=1e-13)
    np.testing.assert_allclose(table["orthogonality_defect"], 1.25, rtol=1e-13)


# --------------------------------------------------------------------------- bad input


BAD_MATRICES = [
    np.ones((2, 3)),
    np.ones(4),
    np.ones((2, 2, 2, 2)),
    np.array([[1.0, np.nan], [0.0, 1.0]]),
    np.array([[1.0, np.inf], [0.0, 1.0]]),
    np.zeros((0, 0)),
    np.zeros((2, 0, 0)),
    [],
    np.eye(2, dtype=complex),
    np.array([["a", "b"], ["c", "d"]]),
    "W",
    None,
    5.0,
]


@pytest.mark.parametrize("function", ALL_FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("bad", BAD_MATRICES, ids=range(len(BAD_MATRICES)))
def test_bad_matrix_raises_one_line_error_naming_W(function, bad):
    with pytest.raises((ValueError, TypeError)) as info:
        function(bad)
    message = str(info.value)
    assert message.startswith("W:") and "\n" not in message


@pytest.mark.parametrize("function", [spectral.spectral_radius, spectral.spectral_norm])
@pytest.mark.parametrize("method", ["eig", "ARPACK", None, 1])
def test_bad_method(function, method):
    with pytest.raises(ValueError) as info:
        function(np.eye(3), method=method)
    message = str(info.value)
    assert message.startswith("method:") and "\n" not in message


def test_huge_finite_matrices_give_finite_spectra():
    """Entries near the overflow threshold: no squared sum may overflow to inf (or NaN)."""
    Q = init.orthogonal(6, rng=0)
    assert spectral.spectral_radius(1e303 * Q) == pytest.approx(1e303, rel=1e-9)
    G = init.gaussian(6, rng=1)
    assert spectral.spectral_radius(1e303 * G) == pytest.approx(
        1e303 * spectral.spectral_radius(G), rel=1e-9
    )
