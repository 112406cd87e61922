"""gradflow.diagnose._spectra: every number against numpy, closed forms for scaled orthogonal W."""

import numpy as np
import pytest

from gradflow import init
from gradflow.cells import GRU, LSTM, Elman
from gradflow.diagnose import block_nonlinearities, block_spectrum


def _numpy_numbers(W):
    """The block's numbers from numpy alone (eigvals, svd, the Frobenius formulas)."""
    n = W.shape[0]
    eig = np.linalg.eigvals(W)
    sv = np.linalg.svd(W, compute_uv=False)
    frob2 = np.sum(W * W)
    departure = np.sqrt(max(frob2 - np.sum(np.abs(eig) ** 2), 0.0)) / np.sqrt(frob2)
    return {
        "spectral_radius": np.abs(eig).max(),
        "sigma_max": sv[0],
        "sigma_min": sv[-1],
        "condition_number": sv[0] / sv[-1],
        "orthogonality_defect": np.linalg.norm(W.T @ W - np.eye(n)) / np.sqrt(n),
        "non_normality": departure,
        "entry_std": np.sqrt(np.mean((W - W.mean()) ** 2)),
        "circular_law_radius": np.sqrt(np.mean((W - W.mean()) ** 2) * n),
    }


@pytest.mark.parametrize("spectra", ["full", "fast"])
def test_numbers_match_numpy_for_a_random_matrix(spectra):
    rng = np.random.default_rng(3)
    W = rng.standard_normal((40, 40)) * 0.3 + 0.01
    s = block_spectrum(W, "W_hh", "tanh", spectra=spectra)
    want = _numpy_numbers(W)
    for key, value in want.items():
        got = getattr(s, key)
        if key == "non_normality" and spectra == "fast":
            assert got is None
            continue
        assert got == pytest.approx(value, rel=1e-9), key
    np.testing.assert_allclose(s.singular_values, np.linalg.svd(W, compute_uv=False), rtol=1e-12)
    if spectra == "full":
        eig = np.linalg.eigvals(W)
        assert np.all(np.diff(np.abs(s.eigenvalues)) <= 1e-12)  # descending modulus
        np.testing.assert_allclose(np.sort_complex(s.eigenvalues), np.sort_complex(eig), atol=1e-12)
    else:
        assert s.eigenvalues is None
    assert s.n == 40 and s.gamma == 1.0 and s.bound == 1.0


@pytest.mark.parametrize("gain", [0.5, 1.0, 3.0])
@pytest.mark.parametrize("spectra", ["full", "fast"])
def test_scaled_orthogonal_closed_forms(gain, spectra):
    W = init.orthogonal(32, gain=gain, rng=1)
    s = block_spectrum(W, "W_hh", "linear", spectra=spectra)
    for value in (s.spectral_radius, s.sigma_max, s.sigma_min):
        assert value == pytest.approx(gain, rel=1e-12)
    assert s.condition_number == pytest.approx(1.0, rel=1e-12)
    assert s.orthogonality_defect == pytest.approx(abs(gain**2 - 1.0), abs=1e-12)
    if spectra == "full":
        assert s.non_normality == pytest.approx(0.0, abs=1e-12)
        np.testing.assert_allclose(np.abs(s.eigenvalues), gain, rtol=1e-12)
    # a Haar matrix has entries of std about 1/sqrt(N): the circular law radius is about g
    assert s.circular_law_radius == pytest.approx(gain, rel=0.05)


@pytest.mark.parametrize(
    ("sigma", "nonlinearity", "regime"),
    [
        (0.5, "tanh", "vanishing"),
        (1.0, "tanh", "boundary"),
        (1.5, "tanh", "may explode"),
        (3.0, "sigmoid", "vanishing"),  # 3 < 1/γ = 4: dropping γ would call it "may explode"
        (4.0, "sigmoid", "boundary"),
        (5.0, "sigmoid", "may explode"),
        (0.9, "relu", "vanishing"),
        (1.1, "linear", "may explode"),
    ],
)
def test_pascanu_conditions_use_the_blocks_gamma(sigma, nonlinearity, regime):
    s = block_spectrum(sigma * np.eye(6), "W", nonlinearity)
    gamma = 0.25 if nonlinearity == "sigmoid" else 1.0
    assert (s.gamma, s.bound, s.pascanu) == (gamma, 1.0 / gamma, regime)
    assert s.vanishing_sufficient == (sigma < 1.0 / gamma)
    assert s.exploding_necessary == (sigma > 1.0 / gamma)
    numbers = s.numbers()
    assert numbers["vanishing_sufficient"] == s.vanishing_sufficient
    assert numbers["pascanu_bound"] == 1.0 / gamma


def test_sigma_max_not_sigma_min_decides_pascanu():
    W = np.diag([2.0, 0.1, 0.1])  # σ_min < 1 < σ_max
    s = block_spectrum(W, "W_hh", "tanh")
    assert (s.sigma_max, s.sigma_min, s.pascanu) == (2.0, pytest.approx(0.1), "may explode")


def test_zero_matrix_has_infinite_condition_and_no_disk():
    s = block_spectrum(np.zeros((5, 5)), "W_hh", "tanh")
    assert s.condition_number == np.inf and s.circular_law_radius == 0.0
    assert s.spectral_radius == 0.0 and s.non_normality == 0.0 and s.pascanu == "vanishing"


def test_arrays_are_read_only():
    s = block_spectrum(np.eye(3), "W_hh", "tanh")
    with pytest.raises(ValueError):
        s.singular_values[0] = 2.0
    with pytest.raises(ValueError):
        s.eigenvalues[0] = 2.0


def test_block_nonlinearities_follow_the_cell():
    assert block_nonlinearities(Elman(np.eye(2), activation="relu")) == {"W_hh": "relu"}
    assert block_nonlinearities(LSTM(np.zeros((8, 2)))) == {
        "W_hi": "sigmoid", "W_hf": "sigmoid", "W_hg": "tanh", "W_ho": "sigmoid"}  # fmt: skip
    gru = GRU(np.zeros((6, 2)))
    assert block_nonlinearities(gru) == {"W_hr": "sigmoid", "W_hz": "sigmoid", "W_hn": "tanh"}
    assert list(block_nonlinearities(gru)) == list(gru.recurrent_blocks)
    with pytest.raises(TypeError, match="cell"):
        block_nonlinearities(LSTM(np.zeros((8, 2))).h_only())


def test_spectra_choice_is_checked():
    with pytest.raises(ValueError, match="spectra"):
        block_spectrum(np.eye(3), "W_hh", "tanh", spectra="dense")


def test_fast_spectra_fall_back_to_lapack_where_arpack_fails(monkeypatch):
    from gradflow import spectral
    from gradflow.errors import GradflowError

    real = spectral.spectral_radius

    def stubborn(W, *, method="auto"):
        if method == "arpack":
            raise GradflowError("W: ARPACK did not converge")
        return real(W, method=method)

    monkeypatch.setattr(spectral, "spectral_radius", stubborn)
    W = np.random.default_rng(0).standard_normal((20, 20))
    s = block_spectrum(W, "W_hh", "tanh", spectra="fast")
    assert s.spectral_radius == pytest.approx(np.abs(np.linalg.eigvals(W)).max(), rel=1e-12)
