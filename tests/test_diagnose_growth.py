"""gradflow.diagnose._growth: curves, exponents and gate means against independent runs."""

import math

import numpy as np
import pytest

from gradflow import init, lyapunov
from gradflow.cells import GRU, LSTM, Elman, build, initial_params
from gradflow.diagnose import measure, memory_time, window_rate
from gradflow.errors import NonFiniteError
from gradflow.jacobians import backprop

STEPS, BURN, WINDOWS, SAMPLES = 30, 20, 4, 5


def _measure(cell, kind="zero", rng=11, **kwargs):
    options = {"steps": STEPS, "burn_in": BURN, "windows": WINDOWS, "samples": SAMPLES}
    options.update(kwargs)
    return measure(cell, kind, rng=np.random.SeedSequence(rng), **options)


def _streams(rng=11):
    """The documented streams of ``measure``: initial states, inputs, h cotangents, full ones."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(rng).spawn(4)]


def _unit(gen, size, state_size, samples=SAMPLES):
    v = np.zeros((samples, state_size))
    v[:, :size] = gen.standard_normal((samples, size))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _gated(kind, n=12, gain=0.8, bias=0.0, inputs=3, rng=0):
    params = initial_params(kind, n, gain=gain, forget_bias=bias, rng=rng)
    rows = params["W_hh"].shape[0]
    params["W_xh"] = np.random.default_rng(rng + 1).standard_normal((rows, inputs)) * 0.4
    return build(kind, params)


def test_memory_time_closed_form():
    assert memory_time(1.0 / (1.0 + math.exp(-8.0))) == pytest.approx(2981.0, rel=1e-3)
    assert memory_time(math.exp(-1.0 / 7.0)) == pytest.approx(7.0, rel=1e-12)
    assert (memory_time(1.0), memory_time(0.0)) == (math.inf, 0.0)


def test_window_rate_uses_the_second_half_of_the_lags():
    curve = np.r_[0.0, -5.0 + np.arange(10) * 0.1]  # lags 0..10: a drop at lag 1, then +0.1
    assert window_rate(curve) == pytest.approx(0.1)
    assert window_rate([0.0, 2.0]) == 2.0
    assert window_rate([0.0, -1.0, -np.inf, -np.inf, -np.inf]) == -np.inf


@pytest.mark.parametrize("gain", [0.5, 1.0, 3.0])
def test_linear_scaled_orthogonal_grows_at_ln_g_exactly(gain):
    cell = Elman(init.orthogonal(10, gain=gain, rng=2), np.ones((10, 2)), activation="linear")
    for kind in ("zero", "gaussian"):
        g = _measure(cell, kind)
        lags = np.arange(STEPS + 1)
        want = np.broadcast_to((lags * math.log(gain))[:, None], g.log_norms.shape)
        np.testing.assert_allclose(g.log_norms, want, atol=1e-10)
        for value in (g.rate, g.finite_time_exponent, g.finite_time_low, g.finite_time_high,
                      g.exponent):  # fmt: skip
            assert value == pytest.approx(math.log(gain), abs=1e-12)
        assert g.exponent_stderr == pytest.approx(0.0, abs=1e-12)
        assert g.rate_stderr == pytest.approx(0.0, abs=1e-12)
        assert g.factor == pytest.approx(gain**STEPS, rel=1e-9)
        assert g.input_drive_rms is None  # a linear cell's runs are input-free
        assert g.memory_time is None and set(g.step_means) == {"mean_phi_prime"}


def test_curve_is_the_h_part_of_backprop_on_the_window():
    cell = _gated("lstm")
    g = _measure(cell, "gaussian")
    gens = _streams()
    size, n = cell.state_size, cell.hidden_size
    h0 = gens[0].uniform(-1.0, 1.0, (SAMPLES, size))
    xs = gens[1].standard_normal((BURN + WINDOWS * STEPS, SAMPLES, cell.input_size))
    window = cell.run(xs[BURN : BURN + STEPS], h0=cell.run(xs[:BURN], h0=h0).states[-1])
    adjoints = backprop(cell, window, _unit(gens[2], n, size))
    want = np.log(np.linalg.norm(adjoints[..., :n], axis=-1))[::-1]
    np.testing.assert_allclose(g.log_norms, want, rtol=1e-9, atol=1e-9)
    assert g.rate == pytest.approx(window_rate(want.mean(axis=1)), rel=1e-9)
    per_sample = [window_rate(column) for column in want.T]
    assert g.rate == pytest.approx(np.mean(per_sample), rel=1e-9)
    assert g.rate_stderr == pytest.approx(np.std(per_sample, ddof=1) / np.sqrt(SAMPLES), rel=1e-6)
    hp = window.states[:-1, :, :n].reshape(-1, n)
    assert g.recurrent_drive_rms == pytest.approx(np.sqrt(np.mean((hp @ cell.W_hh.T) ** 2)))
    x = xs[BURN : BURN + STEPS].reshape(-1, cell.input_size)
    assert g.input_drive_rms == pytest.approx(np.sqrt(np.mean((x @ cell.W_xh.T) ** 2)))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gate_means_recomputed_from_a_run(kind):
    cell = _gated(kind, bias=2.0)
    g = _measure(cell, "zero")
    gens = _streams()
    traj = cell.run(
        BURN + WINDOWS * STEPS, h0=gens[0].uniform(-1.0, 1.0, (SAMPLES, cell.state_size))
    )
    n = cell.hidden_size
    if kind == "lstm":
        gates = traj.cache["gates"][BURN:]
        want = {f"mean_{k}": gates[..., i * n : (i + 1) * n].mean() for i, k in enumerate("ifgo")}
        keep = want["mean_f"]
    else:
        want = {f"mean_{k}": traj.cache[k][BURN:].mean() for k in "rzn"}
        keep = want["mean_z"]
    assert dict(g.step_means) == pytest.approx(want, rel=1e-12)
    assert g.memory_time == pytest.approx(-1.0 / math.log(keep), rel=1e-12)


def test_exponents_match_lyapunov_along_on_the_same_steps():
    cell = _gated("gru", n=10, gain=1.5)
    g = _measure(cell, "gaussian", windows=6)
    gens = _streams()
    length = BURN + 6 * STEPS
    h0 = gens[0].uniform(-1.0, 1.0, (SAMPLES, cell.state_size))
    xs = gens[1].standard_normal((length, SAMPLES, cell.input_size))
    start = cell.run(xs[:BURN], h0=h0).states[-1]
    rest = cell.run(xs[BURN:], h0=start)  # steps BURN+1 .. T, the last window aligns
    ref = lyapunov.along(cell, rest, k=1, adjoint=True, burn_in=STEPS, rng=5)
    assert g.exponent == pytest.approx(ref.exponents.mean(), abs=0.01)
    assert g.finite_time_low <= g.finite_time_exponent <= g.finite_time_high
    assert 0.0 < g.exponent_stderr < 0.05


def test_finite_time_exponent_is_that_of_the_measured_window():
    cell = _gated("gru", n=10, gain=1.5)
    g = _measure(cell, "gaussian", windows=6)
    gens = _streams()
    h0 = gens[0].uniform(-1.0, 1.0, (SAMPLES, cell.state_size))
    xs = gens[1].standard_normal((BURN + 6 * STEPS, SAMPLES, cell.input_size))
    rest = cell.run(xs[BURN:], h0=cell.run(xs[:BURN], h0=h0).states[-1])
    # the adjoint aligned over the 5 windows after the first, averaged over the first only
    ref = lyapunov.along(cell, rest, k=1, adjoint=True, burn_in=5 * STEPS, rng=5)
    assert g.finite_time_exponent == pytest.approx(ref.exponents.mean(), abs=1e-3)
    assert g.finite_time_high - g.finite_time_low > 0.05  # another window would not match


def test_given_inputs_are_repeated_to_fill_the_run():
    cell = Elman(init.orthogonal(8, rng=0), np.eye(8)[:, :2], activation="tanh")
    short = np.random.default_rng(0).standard_normal((7, 2))
    g = _measure(cell, "given", given=short)
    h0 = _streams()[0].uniform(-1.0, 1.0, (SAMPLES, 8))
    xs = short[np.arange(BURN + WINDOWS * STEPS) % 7]
    window = cell.run(xs[BURN : BURN + STEPS], h0=cell.run(xs[:BURN], h0=h0).states[-1])
    x = window.inputs
    assert g.input_drive_rms == pytest.approx(np.sqrt(np.mean((x @ cell.W_xh.T) ** 2)))


def test_overflowing_activity_shortens_the_run_then_refuses():
    W = init.orthogonal(8, gain=6.0, rng=0)  # relu activity grows about e^1.37 a step
    g = _measure(Elman(W, activation="relu"), steps=100, burn_in=100, windows=8)
    assert g.shortened and g.windows == 4 and g.rate > 1.0  # 900 steps overflow, 500 do not
    with pytest.raises(NonFiniteError, match="overflows within 300 steps"):
        _measure(Elman(10.0 * W, activation="relu"), steps=100, burn_in=100, windows=2)


def test_dead_units_give_minus_infinity_not_nan():
    cell = Elman(np.zeros((4, 4)), b=-np.ones(4), activation="relu")  # h = relu(-1) = 0
    g = _measure(cell)
    assert g.rate == -np.inf and g.exponent == -np.inf and g.exponent_stderr == 0.0
    assert g.rate_stderr == 0.0
    assert g.finite_time_exponent == -np.inf and g.factor == 0.0
    assert np.all(np.isneginf(g.log_norms[1:]))
    np.testing.assert_allclose(g.log_norms[0], 0.0, atol=1e-15)


def test_same_seed_same_numbers_other_seed_other_numbers():
    cell = _gated("lstm")
    a, b, c = _measure(cell, rng=4), _measure(cell, rng=4), _measure(cell, rng=5)
    np.testing.assert_array_equal(a.log_norms, b.log_norms)
    assert a.exponent == b.exponent and a.exponent != c.exponent


def test_lstm_zero_weights_keep_the_forget_gate_exponent():
    b = np.zeros(16)
    b[4:8] = 3.0  # N = 4, forget bias 3: ∂c/∂c = diag(σ(3)), the h part dies at lag 1
    cell = LSTM(np.zeros((16, 4)), b=b)
    g = _measure(cell)
    f = 1.0 / (1.0 + math.exp(-3.0))
    assert g.exponent == pytest.approx(math.log(f), rel=1e-9)
    assert g.memory_time == pytest.approx(-1.0 / math.log(f), rel=1e-12)
    assert g.rate == -np.inf  # W_hh = 0: h_{t-1} reaches nothing


def test_gru_update_gate_sets_memory_time():
    b_hh = np.zeros(12)
    b_hh[4:8] = 8.0  # rows r, z, n: z = σ(8)
    g = _measure(GRU(np.zeros((12, 4)), b_hh=b_hh))
    assert g.memory_time == pytest.approx(-1.0 / math.log(1.0 / (1.0 + math.exp(-8.0))))
    assert g.exponent == pytest.approx(-1.0 / g.memory_time, rel=1e-9)


def test_finite_time_range_leaves_out_the_aligning_window():
    # W = diag(2, 1/2): once the adjoint has turned onto e_1 (the last window does that, from
    # a random start) every window grows by exactly ln 2 a step; the aligning window grows by
    # ln 2 + ln|v_1|/T < ln 2 and is not one of the finite-time exponents
    cell = Elman(np.diag([2.0, 0.5]), activation="linear")
    g = _measure(cell)
    assert g.finite_time_exponent == pytest.approx(math.log(2.0), abs=1e-12)
    assert g.finite_time_low == pytest.approx(math.log(2.0), abs=1e-12)
    assert g.finite_time_high == pytest.approx(math.log(2.0), abs=1e-12)
    assert g.exponent == pytest.approx(math.log(2.0), abs=1e-12)
