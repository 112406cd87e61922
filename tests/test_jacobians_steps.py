"""step_spectra against dense numpy (eigvals and SVDs of formed J_t and window products), the
ARPACK path against the dense one, batches against single networks, and known answers."""

import numpy as np
import pandas as pd
import pytest
from _stack_cell import StackCell
from scipy.sparse import linalg as sparse_linalg

from gradflow import init
from gradflow.cells import GRU, LSTM, Elman
from gradflow.errors import GradflowError
from gradflow.jacobians import _steps, _windows, product_singular_values, step_spectra


def window(jacobians, end, depth):
    """J_end ... J_{end-depth+1}, formed densely."""
    out = np.eye(jacobians.shape[-1])
    for t in range(end - depth + 1, end + 1):
        out = jacobians[t - 1] @ out
    return out


def elman(n=24, steps=40, gain=1.5, *, rng=0, batch=None, activation="tanh"):
    gen = np.random.default_rng(rng)
    shape = (n, n) if batch is None else (batch, n, n)
    W = gain * gen.standard_normal(shape) / np.sqrt(n)
    W_xh = gen.standard_normal((*shape[:-1], 3))
    cell = Elman(W, W_xh, activation=activation)
    xs = gen.standard_normal((steps, 3) if batch is None else (steps, batch, 3))
    return cell, cell.run(xs, h0=0.5 * gen.standard_normal(shape[:-1]))


def gated(kind, n=12, steps=30, *, rng=0):
    gen = np.random.default_rng(rng)
    rows = 4 * n if kind == "lstm" else 3 * n
    W = 1.5 * gen.standard_normal((rows, n)) / np.sqrt(n)
    W_xh, b = gen.standard_normal((rows, 3)), gen.standard_normal(rows)
    cell = LSTM(W, W_xh, b) if kind == "lstm" else GRU(W, W_xh, b, gen.standard_normal(rows))
    return cell, cell.run(gen.standard_normal((steps, 3)))


def check_against_dense(cell, traj, frame, depths, *, atol=1e-10):
    """Every row of ``frame`` (one network) against eigvals/SVDs of the formed matrices."""
    jacobians = np.stack([cell.jacobian(traj, t) for t in range(1, traj.n_steps + 1)])
    for row in frame.itertuples():
        J = jacobians[row.t - 1]
        sigmas = np.linalg.svd(J, compute_uv=False)
        assert row.rho == pytest.approx(np.abs(np.linalg.eigvals(J)).max(), rel=1e-10)
        assert row.sigma_max == pytest.approx(sigmas[0], rel=1e-12)
        assert row.sigma_min == pytest.approx(sigmas[-1], rel=1e-8, abs=1e-15)
        for depth in depths:
            value = getattr(row, f"growth_{depth}")
            if row.t < depth:
                assert np.isnan(value)
                continue
            top = np.linalg.svd(window(jacobians, row.t, depth), compute_uv=False)[0]
            assert value == pytest.approx(np.log(top) / depth, abs=atol)


# -- against dense numpy ------------------------------------------------------------------------
def test_elman_matches_dense_numpy_at_every_step():
    cell, traj = elman()
    frame = step_spectra(cell, traj, depths=(1, 4, 15), rng=1)
    columns = ["t", "rho", "sigma_max", "sigma_min", "mean_phi_prime"]
    assert list(frame.columns) == [*columns, "growth_1", "growth_4", "growth_15"]
    assert frame["t"].tolist() == list(range(1, 41))
    assert frame.attrs == {"method": "dense", "dense_fallbacks": 0}
    check_against_dense(cell, traj, frame, (1, 4, 15))
    np.testing.assert_allclose(frame["mean_phi_prime"], (1 - traj.states[1:] ** 2).mean(-1))
    np.testing.assert_allclose(frame["growth_1"], np.log(frame["sigma_max"]), rtol=1e-15)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gated_cells_match_dense_numpy(kind):
    cell, traj = gated(kind)
    frame = step_spectra(cell, traj, depths=(1, 6, 20), rng=2)
    gates = ["mean_i", "mean_f", "mean_g", "mean_o"] if kind == "lstm" else ["mean_r", "mean_z"]
    gates = gates if kind == "lstm" else [*gates, "mean_n"]
    assert list(frame.columns[4:-3]) == gates
    summary = cell.step_summary(traj)
    for name in gates:
        np.testing.assert_array_equal(frame[name], summary[name])
    check_against_dense(cell, traj, frame, (6, 20))


def test_windows_of_different_matrices_match_formed_products_and_graded_qr():
    rng = np.random.default_rng(3)
    jacobians = 1.2 * rng.standard_normal((80, 10, 10)) / np.sqrt(10)
    cell = StackCell(jacobians)
    traj = cell.trajectory()
    frame = step_spectra(cell, traj, depths=(3, 12, 80), rng=4)
    assert list(frame.columns) == ["t", "rho", "sigma_max", "sigma_min", "growth_3", "growth_12",
                                   "growth_80"]  # fmt: skip
    check_against_dense(cell, traj, frame, (3, 12))
    deep = product_singular_values(cell, traj, 80).log_singular_values[0, 0]
    assert frame["growth_80"].iloc[-1] == pytest.approx(deep / 80, abs=1e-12)
    assert frame["growth_80"].iloc[:-1].isna().all()


def test_deep_windows_stay_finite_where_the_product_overflows():
    # sigma_max of a 600-step window of 10 x (orthogonal) is 10^600: far beyond float64
    rng = np.random.default_rng(5)
    Q = np.linalg.qr(rng.standard_normal((600, 6, 6)))[0]
    scales = np.array([10.0, 3.0, 1.0, 0.5, 0.1, 1e-3])
    cell = StackCell(Q * scales)  # J_t = Q_t diag(scales): sigma(J_t) = scales
    frame = step_spectra(cell, cell.trajectory(), depths=(1, 600), stride=100, rng=6)
    assert frame["t"].tolist() == [100, 200, 300, 400, 500, 600]
    deep = product_singular_values(cell, cell.trajectory(), 600).log_singular_values[0, 0]
    assert np.isfinite(deep) and deep > 600
    assert frame["growth_600"].iloc[-1] == pytest.approx(deep / 600, abs=1e-12)
    np.testing.assert_allclose(frame["sigma_max"], 10.0, rtol=1e-12)
    np.testing.assert_allclose(frame["sigma_min"], 1e-3, rtol=1e-10)


# -- known answers ------------------------------------------------------------------------------
@pytest.mark.parametrize("method, n", [("dense", 16), ("arpack", 64)])
@pytest.mark.parametrize("gain", [0.5, 1.0, 2.5])
def test_linear_scaled_orthogonal_gives_the_gain_everywhere(method, n, gain):
    W = init.orthogonal(n, gain=gain, rng=7)
    cell = Elman(W, activation="linear")
    frame = step_spectra(cell, cell.run(60, h0=np.ones(n)), depths=(1, 7, 60), method=method,
                         rng=8)  # fmt: skip
    assert frame.attrs["method"] == method
    for column in ("rho", "sigma_max", "sigma_min"):
        np.testing.assert_allclose(frame[column], gain, rtol=1e-12)
    for depth in (1, 7, 60):
        rates = frame[f"growth_{depth}"].to_numpy()[depth - 1 :]
        np.testing.assert_allclose(rates, np.log(gain), rtol=0, atol=1e-12)
        assert np.isnan(frame[f"growth_{depth}"].to_numpy()[: depth - 1]).all()


def test_saturation_pulls_rho_below_the_weights_radius():
    # tanh Elman, W = 3Q (rho(W) = sigma_max(W) = 3), driven hard into saturation
    n = 48
    gen = np.random.default_rng(9)
    W = init.orthogonal(n, gain=3.0, rng=gen)
    cell = Elman(W, 2.0 * gen.standard_normal((n, 4)), activation="tanh")
    traj = cell.run(gen.standard_normal((80, 4)), h0=gen.standard_normal(n))
    frame = step_spectra(cell, traj, depths=(1,), rng=10)
    # Pascanu et al.'s bound: ||J_t|| <= max|phi'(a_t)| sigma_max(W), and rho <= ||J_t||
    bound = (1 - traj.states[1:] ** 2).max(axis=-1) * 3.0
    assert np.all(frame["rho"] <= frame["sigma_max"] * (1 + 1e-12))
    assert np.all(frame["sigma_max"] <= bound * (1 + 1e-12))
    assert frame["rho"].median() < 0.5 * 3.0  # well below rho(W) = 3
    assert frame["mean_phi_prime"].median() < 0.5


def test_lstm_forget_gate_sets_rho():
    # zero weights: c_t = f c_{t-1}, h_t = o tanh(c_t), f = sigma(b_f) in every unit, and
    # J_t = [[0, K_t f], [0, f]] (K_t = o (1 - tanh^2 c_t)): rho = f, sigma_max = f sqrt(1 + K_t^2)
    # and the window product [[0, K_t f^L], [0, f^L]] grows at ln f + ln(1 + K_t^2) / (2L)
    n = 10
    for bias in (-1.0, 0.5, 3.0):
        b = np.zeros(4 * n)
        b[n : 2 * n] = bias
        cell = LSTM(np.zeros((4 * n, n)), np.zeros((4 * n, 2)), b)
        traj = cell.run(np.ones((12, 2)), h0=np.r_[np.zeros(n), np.ones(n)])
        frame = step_spectra(cell, traj, depths=(1, 5), rng=11)
        forget = 1 / (1 + np.exp(-bias))
        np.testing.assert_allclose(frame["rho"], forget, rtol=1e-12)
        np.testing.assert_allclose(frame["mean_f"], forget, rtol=1e-12)
        kappa = traj.cache["kappa"][:, 0]
        np.testing.assert_allclose(frame["sigma_max"], forget * np.sqrt(1 + kappa**2), rtol=1e-12)
        expected = np.log(forget) + np.log1p(kappa**2) / 10
        np.testing.assert_allclose(frame["growth_5"].iloc[4:], expected[4:], atol=1e-12)


def test_dead_relu_network_has_zero_spectra_and_minus_infinite_growth():
    cell = Elman(np.eye(6), b=-np.ones(6), activation="relu")
    frame = step_spectra(cell, cell.run(8), depths=(1, 3), rng=12)
    assert (frame[["rho", "sigma_max", "sigma_min"]] == 0).all().all()
    assert np.isneginf(frame["growth_3"].iloc[2:]).all() and np.isneginf(frame["growth_1"]).all()


# -- options ------------------------------------------------------------------------------------
def test_stride_counts_back_from_the_last_step_and_k_adds_columns():
    cell, traj = elman(steps=23)
    full = step_spectra(cell, traj, depths=(1, 5), k=3, rng=13)
    assert list(full.columns[1:8]) == ["rho", "abs_eig_2", "abs_eig_3", "sigma_max", "sigma_2",
                                       "sigma_3", "sigma_min"]  # fmt: skip
    J = cell.jacobian(traj, 9)
    moduli = np.sort(np.abs(np.linalg.eigvals(J)))[::-1]
    sigmas = np.linalg.svd(J, compute_uv=False)
    row = full.iloc[8]
    np.testing.assert_allclose(row[["rho", "abs_eig_2", "abs_eig_3"]], moduli[:3], rtol=1e-10)
    np.testing.assert_allclose(row[["sigma_max", "sigma_2", "sigma_3"]], sigmas[:3], rtol=1e-12)
    thin = step_spectra(cell, traj, depths=(1, 5), stride=5, k=3, rng=13, smallest=False)
    assert thin["t"].tolist() == [3, 8, 13, 18, 23] and "sigma_min" not in thin
    expected = full.set_index("t").loc[thin["t"], thin.columns[1:]].reset_index()
    pd.testing.assert_frame_equal(thin, expected, atol=1e-10, check_exact=False)
    assert list(step_spectra(cell, traj, depths=(), rng=0).columns)[-1] == "mean_phi_prime"
    assert step_spectra(cell, traj, depths=50, rng=0)["growth_50"].isna().all()


def test_arpack_matches_dense_at_n_200_and_is_reproducible():
    cell, traj = elman(n=200, steps=6, gain=2.0, rng=14)
    dense = step_spectra(cell, traj, depths=(1, 3), method="dense", rng=15)
    arpack = step_spectra(cell, traj, depths=(1, 3), method="arpack", rng=15)
    assert arpack.attrs == {"method": "arpack", "dense_fallbacks": 0}
    np.testing.assert_allclose(arpack["rho"], dense["rho"], rtol=1e-8)
    np.testing.assert_allclose(arpack["sigma_max"], dense["sigma_max"], rtol=1e-12)
    np.testing.assert_allclose(arpack["sigma_min"], dense["sigma_min"], rtol=0, atol=1e-14)
    np.testing.assert_allclose(arpack["growth_3"], dense["growth_3"], rtol=1e-12)
    again = step_spectra(cell, traj, depths=(1, 3), method="arpack", rng=15)
    pd.testing.assert_frame_equal(again, arpack, check_exact=True)
    assert step_spectra(cell, traj, depths=(), rng=0).attrs["method"] == "dense"  # S < 256


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_arpack_matches_dense_for_gated_cells(kind):
    cell, traj = gated(kind, n=40, steps=4, rng=16)
    dense = step_spectra(cell, traj, depths=(), method="dense")
    arpack = step_spectra(cell, traj, depths=(), method="arpack", rng=17)
    for column, rtol in (("rho", 1e-8), ("sigma_max", 1e-12)):
        np.testing.assert_allclose(arpack[column], dense[column], rtol=rtol)
    np.testing.assert_allclose(arpack["sigma_min"], dense["sigma_min"], rtol=0, atol=1e-14)


def test_auto_switches_to_arpack_at_the_threshold():
    cell, traj = elman(n=256, steps=1, rng=18)
    assert step_spectra(cell, traj, depths=(), smallest=False, rng=0).attrs["method"] == "arpack"


def test_arpack_failure_falls_back_or_raises(monkeypatch):
    cell, traj = elman(n=30, steps=3, rng=19)
    dense = step_spectra(cell, traj, depths=(), method="dense")

    def fail(*args, **kwargs):
        raise sparse_linalg.ArpackNoConvergence("No convergence (300 iterations)", [], [])

    monkeypatch.setattr(sparse_linalg, "eigs", fail)
    with pytest.raises(GradflowError, match=r"^method: ARPACK did not converge on J_t at t = 1"):
        step_spectra(cell, traj, depths=(), method="arpack", rng=0)
    monkeypatch.setattr(_steps, "STEP_ARPACK_THRESHOLD", 16)  # "auto" takes ARPACK at S = 30
    frame = step_spectra(cell, traj, depths=(), rng=0)
    assert frame.attrs == {"method": "arpack", "dense_fallbacks": 3}
    pd.testing.assert_frame_equal(frame, dense, check_exact=False, rtol=1e-12)


def test_windows_that_do_not_converge_get_the_graded_qr_value(monkeypatch):
    cell, traj = elman(n=20, steps=30, rng=20)
    reference = step_spectra(cell, traj, depths=(4, 30), rng=21)
    monkeypatch.setattr(_windows, "_MAX_ITERATIONS", 1)
    frame = step_spectra(cell, traj, depths=(4, 30), rng=21)
    np.testing.assert_allclose(frame["growth_4"], reference["growth_4"], atol=1e-12)
    np.testing.assert_allclose(frame["growth_30"], reference["growth_30"], atol=1e-12)


def _count_sweeps(monkeypatch):
    """Count the lockstep sweeps and make any graded-QR fallback an error."""
    calls = {"sweeps": 0}
    sweep = _windows._sweep

    def counted(*args, **kwargs):
        calls["sweeps"] += 1
        return sweep(*args, **kwargs)

    def no_fallback(*args, **kwargs):
        raise AssertionError("a window fell back to the graded QR")

    monkeypatch.setattr(_windows, "_sweep", counted)
    monkeypatch.setattr(_windows, "_product_log_sv", no_fallback)
    return calls


def test_windows_converge_without_fallback_and_deep_ones_at_once(monkeypatch):
    cell, traj = elman(n=24, steps=80, rng=30)
    calls = _count_sweeps(monkeypatch)
    frame = step_spectra(cell, traj, depths=(4, 15), rng=1)  # shallow windows: Lanczos alone
    check_against_dense(cell, traj, frame, (4, 15))
    # the forward frame f_t is the top left singular vector of a deep window to within
    # sigma_2/sigma_1 of the window: two iterations (a backward and a forward sweep each)
    calls["sweeps"] = 0
    step_spectra(cell, traj, depths=(80,), rng=1)
    assert calls["sweeps"] <= 4


def test_restarted_lanczos_keeps_its_ritz_pair(monkeypatch):
    cell, traj = elman(n=24, steps=80, rng=30)
    reference = step_spectra(cell, traj, depths=(4, 15), rng=1)
    _count_sweeps(monkeypatch)
    monkeypatch.setattr(_windows, "_BASIS", 4)  # a restart every third iteration
    frame = step_spectra(cell, traj, depths=(4, 15), rng=1)
    np.testing.assert_allclose(frame["growth_4"], reference["growth_4"], atol=1e-11)
    np.testing.assert_allclose(frame["growth_15"], reference["growth_15"], atol=1e-11)


def test_windows_in_chunks_give_the_same_growth(monkeypatch):
    cell, traj = elman(n=16, steps=30, rng=31)
    whole = step_spectra(cell, traj, depths=(1, 3, 12), rng=2)
    monkeypatch.setattr(_steps, "_WINDOW_CHUNK_BYTES", 1)  # one window per chunk
    pd.testing.assert_frame_equal(step_spectra(cell, traj, depths=(1, 3, 12), rng=2), whole,
                                  check_exact=False, rtol=0, atol=1e-13)  # fmt: skip


def test_a_start_vector_the_window_annihilates_gets_a_random_probe():
    # P = J_2 J_1 = diag(2, 0, 0): P^T e_2 = 0, yet sigma_max(P) = 2
    cell = StackCell(np.stack([np.diag([2.0, 0.0, 0.0]), np.eye(3)]))
    start = np.array([[[0.0, 1.0, 0.0]]])  # (W, B, S)
    one, two = np.array([1]), np.array([2])
    values = _windows.window_log_norms(cell, cell.trajectory(), one, two, start, 1e-12,
                                       np.random.default_rng(0))  # fmt: skip
    assert values[0, 0] == pytest.approx(np.log(2.0), abs=1e-12)
    zero = StackCell(np.zeros((2, 3, 3)))
    values = _windows.window_log_norms(zero, zero.trajectory(), one, two, start, 1e-12,
                                       np.random.default_rng(0))  # fmt: skip
    assert np.isneginf(values[0, 0])


# -- batches ------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["dense", "arpack"])
def test_stacked_weights_match_one_network_at_a_time(method):
    cell, traj = elman(n=20, steps=25, batch=3, rng=22)
    frame = step_spectra(cell, traj, depths=(1, 6, 25), method=method, rng=23)
    assert list(frame.columns[:2]) == ["network", "t"]
    assert frame["network"].tolist() == [0] * 25 + [1] * 25 + [2] * 25
    for b in range(3):
        single = Elman(cell.W_hh[b], cell.W_xh[b])
        one = step_spectra(single, single.run(traj.inputs[:, b], h0=traj.states[0, b]),
                           depths=(1, 6, 25), method=method, rng=24)  # fmt: skip
        part = frame[frame["network"] == b].drop(columns="network").reset_index(drop=True)
        pd.testing.assert_frame_equal(part, one, check_exact=False, rtol=1e-9, atol=1e-14)


def test_a_batch_of_sequences_through_shared_weights():
    gen = np.random.default_rng(25)
    cell = Elman(1.4 * gen.standard_normal((16, 16)) / 4, gen.standard_normal((16, 2)))
    xs = gen.standard_normal((20, 4, 2))
    frame = step_spectra(cell, cell.run(xs), depths=(1, 8), rng=26)
    assert frame["network"].nunique() == 4
    for b in (0, 3):
        one = step_spectra(cell, cell.run(xs[:, b]), depths=(1, 8), rng=27)
        part = frame[frame["network"] == b].drop(columns="network").reset_index(drop=True)
        pd.testing.assert_frame_equal(part, one, check_exact=False, rtol=1e-9, atol=1e-14)


# -- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"depths": [0]}, ValueError, "depths"),
        ({"depths": 2.5}, TypeError, "depths"),
        ({"depths": [[1, 2]]}, TypeError, "depths"),
        ({"stride": 0}, ValueError, "stride"),
        ({"stride": 1.0}, TypeError, "stride"),
        ({"k": 0}, ValueError, "k"),
        ({"k": 25}, ValueError, "k"),
        ({"smallest": "yes"}, TypeError, "smallest"),
        ({"method": "lapack"}, ValueError, "method"),
        ({"tol": 0.0}, ValueError, "tol"),
        ({"tol": 0.5}, ValueError, "tol"),
        ({"rng": "seed"}, TypeError, "rng"),
    ],
)
def test_bad_arguments_fail_in_one_line_naming_them(kwargs, error, name):
    cell, traj = elman(steps=3)
    with pytest.raises(error, match=rf"^{name}: ") as info:
        step_spectra(cell, traj, **kwargs)
    assert "\n" not in str(info.value)


def test_bad_cell_or_trajectory():
    cell, traj = elman(steps=3)
    with pytest.raises(TypeError, match=r"^cell: expected a gradflow cell"):
        step_spectra("elman", traj)
    with pytest.raises(TypeError, match=r"^traj: expected a Trajectory"):
        step_spectra(cell, traj.states)
    with pytest.raises(ValueError, match=r"^traj: expected states of size 24"):
        step_spectra(cell, Elman(np.eye(5)).run(3))
