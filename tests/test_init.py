"""Tests of gradflow.init: shapes, exact identities and the distributions of the draws."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from gradflow import init

NAMES = ("orthogonal", "gaussian", "identity", "glorot_uniform", "uniform")
RANDOM_NAMES = tuple(name for name in NAMES if name != "identity")


# --------------------------------------------------------------------------- registry


def test_available_order_and_get():
    assert init.available() == NAMES
    for name in NAMES:
        assert init.get(name) is getattr(init, name)


@pytest.mark.parametrize("bad", ["nope", "Orthogonal", 3, None])
def test_get_unknown_name_lists_available(bad):
    with pytest.raises(ValueError) as info:
        init.get(bad)
    message = str(info.value)
    assert "name" in message and "\n" not in message
    for name in NAMES:
        assert name in message


# --------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n", [1, 2, 7])
def test_shape_and_dtype(name, n):
    W = init.get(name)(n, rng=0)
    assert W.shape == (n, n) and W.dtype == np.float64
    Wb = init.get(name)(n, rng=0, batch=3)
    assert Wb.shape == (3, n, n) and Wb.dtype == np.float64
    assert np.all(np.isfinite(Wb))


@pytest.mark.parametrize("name", RANDOM_NAMES)
def test_batch_members_are_independent_draws(name):
    f = init.get(name)
    Wb = f(6, gain=1.3, rng=5, batch=4)
    for i in range(4):
        for j in range(i + 1, 4):
            assert not np.allclose(Wb[i], Wb[j])
    # The batch is one block from one generator: its first matrix is the unbatched draw.
    np.testing.assert_allclose(Wb[0], f(6, gain=1.3, rng=5), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", RANDOM_NAMES)
def test_reproducible_with_seed_and_different_seeds_differ(name):
    f = init.get(name)
    np.testing.assert_array_equal(f(5, rng=42), f(5, rng=42))
    g1, g2 = np.random.default_rng(3), np.random.default_rng(3)
    np.testing.assert_array_equal(f(5, rng=g1, batch=2), f(5, rng=g2, batch=2))
    assert not np.allclose(f(5, rng=1), f(5, rng=2))
    # A Generator passed in advances: two calls on it give different matrices.
    g = np.random.default_rng(0)
    assert not np.allclose(f(5, rng=g), f(5, rng=g))


# --------------------------------------------------------------------------- identity


@pytest.mark.parametrize("gain", [0.5, 1.0, 2.5])
def test_identity_exact(gain):
    np.testing.assert_array_equal(init.identity(4, gain=gain), gain * np.eye(4))
    np.testing.assert_array_equal(
        init.identity(4, gain=gain, rng=1), init.identity(4, gain=gain, rng=2)
    )
    Wb = init.identity(3, gain=gain, batch=2)
    np.testing.assert_array_equal(Wb, np.stack([gain * np.eye(3)] * 2))
    Wb[0, 0, 0] = 99.0  # a writable copy, not a broadcast view
    assert Wb[1, 0, 0] == gain


# --------------------------------------------------------------------------- orthogonal


@pytest.mark.parametrize("gain", [0.3, 1.0, 2.0])
@pytest.mark.parametrize("n", [1, 2, 5, 64])
def test_orthogonal_gram_is_gain_squared_identity(n, gain):
    Q = init.orthogonal(n, gain=gain, rng=11)
    np.testing.assert_allclose(Q.T @ Q, gain**2 * np.eye(n), rtol=0, atol=1e-12 * max(1, gain**2))
    np.testing.assert_allclose(Q @ Q.T, gain**2 * np.eye(n), rtol=0, atol=1e-12 * max(1, gain**2))
    Qb = init.orthogonal(n, gain=gain, rng=11, batch=3)
    gram = np.swapaxes(Qb, -1, -2) @ Qb
    np.testing.assert_allclose(
        gram, np.broadcast_to(gain**2 * np.eye(n), gram.shape), atol=1e-12 * max(1, gain**2)
    )


def _orthogonal_without_sign_fix(n, batch, rng):
    """The common mistake: Q of the QR factorisation of a Gaussian matrix, signs as they come."""
    q, _ = np.linalg.qr(np.random.default_rng(rng).standard_normal((batch, n, n)))
    return q


# For Haar O(n), the first column is uniform on the sphere S^{n-1}, so the entry x = Q_11 has
# density proportional to (1 - x^2)^((n-3)/2) on [-1, 1]:  (Q_11 + 1) / 2 ~ Beta((n-1)/2, (n-1)/2).
# (For n = 2 this is the arcsine law of cos(theta), theta uniform.)
@pytest.mark.parametrize("n", [2, 3, 6])
def test_orthogonal_entry_follows_haar_law_and_the_unfixed_qr_does_not(n):
    draws = 4000
    law = stats.beta((n - 1) / 2, (n - 1) / 2)
    haar = init.orthogonal(n, rng=2024, batch=draws)
    p_haar = stats.kstest((haar[:, 0, 0] + 1) / 2, law.cdf).pvalue
    assert p_haar > 1e-3
    # Any entry has the same law (Haar measure is invariant under permutations).
    assert stats.kstest((haar[:, -1, 1 % n] + 1) / 2, law.cdf).pvalue > 1e-3
    unfixed = _orthogonal_without_sign_fix(n, draws, rng=2024)
    p_unfixed = stats.kstest((unfixed[:, 0, 0] + 1) / 2, law.cdf).pvalue
    assert p_unfixed < 1e-12


def test_orthogonal_trace_moments_and_the_unfixed_qr_fails_them():
    # For Haar O(n), n >= 2: E[tr Q] = 0 and E[tr(Q)^2] = 1 exactly.
    n, draws = 8, 6000
    for sample, should_pass in [
        (init.orthogonal(n, rng=7, batch=draws), True),
        (_orthogonal_without_sign_fix(n, draws, rng=7), False),
    ]:
        trace = np.trace(sample, axis1=-2, axis2=-1)
        z_mean = trace.mean() / (trace.std(ddof=1) / math.sqrt(draws))
        z_square = (np.mean(trace**2) - 1.0) / ((trace**2).std(ddof=1) / math.sqrt(draws))
        passed = bool(abs(z_mean) < 4.5 and abs(z_square) < 4.5)
        assert passed is should_pass, (z_mean, z_square)


def test_orthogonal_gain_scales_the_same_draw():
    np.testing.assert_allclose(
        init.orthogonal(5, gain=3.0, rng=1), 3.0 * init.orthogonal(5, rng=1), rtol=1e-14
    )


# --------------------------------------------------------------------------- gaussian


@pytest.mark.parametrize("gain", [0.5, 1.0, 3.0])
def test_gaussian_entries_have_variance_gain_squared_over_n(gain):
    n = 200
    entries = init.gaussian(n, gain=gain, rng=99).ravel()
    count = entries.size
    target = gain**2 / n
    # Sample variance of N normal draws has relative standard deviation sqrt(2 / (N - 1)).
    assert abs(entries.var(ddof=1) / target - 1) < 5 * math.sqrt(2 / (count - 1))
    assert abs(entries.mean()) < 5 * math.sqrt(target / count)
    assert stats.kstest(entries, "norm", args=(0.0, math.sqrt(target))).pvalue > 1e-3


# --------------------------------------------------------------------------- uniform families


@pytest.mark.parametrize(
    ("name", "bound"),
    [
        ("glorot_uniform", lambda n, gain: gain * math.sqrt(6 / (n + n))),
        ("uniform", lambda n, gain: gain / math.sqrt(n)),
    ],
)
@pytest.mark.parametrize("gain", [0.7, 1.0, 2.0])
def test_uniform_families_bounds_variance_and_law(name, bound, gain):
    n = 200
    a = bound(n, gain)
    entries = init.get(name)(n, gain=gain, rng=123).ravel()
    count = entries.size
    assert np.abs(entries).max() <= a
    assert np.abs(entries).max() > 0.999 * a  # the bound is reached, not a smaller one
    # Var U(-a, a) = a^2/3; the variance estimate has relative sd sqrt(Var(X^2)) / E[X^2]
    # = sqrt(4 a^4 / 45) / (a^2 / 3) / sqrt(N) = sqrt(0.8 / N).
    assert abs(entries.var() / (a**2 / 3) - 1) < 5 * math.sqrt(0.8 / count)
    assert stats.kstest(entries, "uniform", args=(-a, 2 * a)).pvalue > 1e-3


def test_glorot_has_the_gaussian_variance():
    n = 150
    glorot = init.glorot_uniform(n, gain=1.7, rng=0)
    assert abs(glorot.var() / (1.7**2 / n) - 1) < 5 * math.sqrt(0.8 / n**2)


def test_uniform_matches_torch_rnn_default():
    torch = pytest.importorskip("torch")
    n = 64
    with torch.random.fork_rng():
        torch.manual_seed(0)
        weights = torch.nn.RNN(3, n).weight_hh_l0.detach().double().numpy().ravel()
    ours = init.uniform(n, rng=0).ravel()
    bound = 1 / math.sqrt(n)
    assert np.abs(weights).max() <= bound + 1e-7
    assert stats.ks_2samp(ours, weights).pvalue > 1e-3


# --------------------------------------------------------------------------- bad input


BAD_INPUTS = [
    ({"n": 0}, "n"),
    ({"n": -3}, "n"),
    ({"n": 2.5}, "n"),
    ({"n": 2.0}, "n"),
    ({"n": True}, "n"),
    ({"n": "4"}, "n"),
    ({"n": 3, "gain": 0}, "gain"),
    ({"n": 3, "gain": -1.0}, "gain"),
    ({"n": 3, "gain": float("nan")}, "gain"),
    ({"n": 3, "gain": float("inf")}, "gain"),
    ({"n": 3, "gain": True}, "gain"),
    ({"n": 3, "gain": "1"}, "gain"),
    ({"n": 3, "batch": 0}, "batch"),
    ({"n": 3, "batch": 2.0}, "batch"),
    ({"n": 3, "batch": False}, "batch"),
    ({"n": 3, "rng": "seed"}, "rng"),
    ({"n": 3, "rng": 1.5}, "rng"),
    ({"n": 3, "rng": -1}, "rng"),
]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("kwargs", "argument"), BAD_INPUTS)
def test_bad_input_raises_one_line_error_naming_the_argument(name, kwargs, argument):
    kwargs = dict(kwargs)
    n = kwargs.pop("n")
    with pytest.raises((ValueError, TypeError)) as info:
        init.get(name)(n, **kwargs)
    message = str(info.value)
    assert message.startswith(f"{argument}:")
    assert "\n" not in message


@pytest.mark.parametrize("name", NAMES)
def test_arguments_after_n_are_keyword_only(name):
    with pytest.raises(TypeError):
        init.get(name)(3, 2.0)


# --------------------------------------------------------------------------- gated cells

N_HID, N_IN = 5, 3
GATED = {"lstm": (4, ("W_hh", "W_xh", "b")), "gru": (3, ("W_hh", "W_xh", "b_ih", "b_hh"))}


def _biases(kind, params):
    """The bias rows a gated cell adds to its pre-activations: b, or b_ih + b_hh."""
    return params["b"] if kind == "lstm" else params["b_ih"] + params["b_hh"]


@pytest.mark.parametrize("kind", GATED)
@pytest.mark.parametrize("batch", [None, 3])
def test_gated_shapes_and_cells_take_them(kind, batch):
    from gradflow import cells

    gates, names = GATED[kind]
    lead = () if batch is None else (batch,)
    params = getattr(init, kind)(N_HID, N_IN, rng=0, batch=batch)
    assert tuple(params) == names
    assert params["W_hh"].shape == (*lead, gates * N_HID, N_HID)
    assert params["W_xh"].shape == (*lead, gates * N_HID, N_IN)
    for name in names[2:]:
        assert params[name].shape == (*lead, gates * N_HID)
    assert all(p.dtype == np.float64 for p in params.values())
    cell = getattr(cells, kind.upper())(**params)
    assert cell.hidden_size == N_HID and cell.input_size == N_IN and cell.n_networks == batch
    free = getattr(init, kind)(N_HID, rng=0)
    assert free["W_xh"] is None
    getattr(cells, kind.upper())(**free)


@pytest.mark.parametrize("kind", GATED)
@pytest.mark.parametrize("gain", [0.5, 1.0, 2.0])
def test_each_orthogonal_gate_block_is_its_own_scaled_haar_draw(kind, gain):
    gates, _ = GATED[kind]
    params = getattr(init, kind)(N_HID, N_IN, gain=gain, rng=4, batch=2)
    for W in params["W_hh"]:
        blocks = np.split(W, gates)
        for Q in blocks:
            np.testing.assert_allclose(Q.T @ Q, gain**2 * np.eye(N_HID), atol=1e-12 * gain**2)
        for i in range(gates):
            for j in range(i + 1, gates):
                assert not np.allclose(blocks[i], blocks[j])
    np.testing.assert_array_equal(_biases(kind, params), 0.0)
    # gain scales the recurrent blocks only: the same draws, input weights unchanged
    unit = getattr(init, kind)(N_HID, N_IN, rng=4, batch=2)
    np.testing.assert_allclose(params["W_hh"], gain * unit["W_hh"], rtol=1e-14)
    np.testing.assert_array_equal(params["W_xh"], unit["W_xh"])
    assert np.abs(params["W_xh"]).max() <= 1 / math.sqrt(N_HID)


@pytest.mark.parametrize("recurrent", ["gaussian", "identity", "glorot_uniform"])
def test_gate_blocks_use_the_named_square_initialiser(recurrent):
    W = init.lstm(4, recurrent=recurrent, gain=1.5, rng=1)["W_hh"]
    if recurrent == "identity":
        np.testing.assert_array_equal(W, np.tile(1.5 * np.eye(4), (4, 1)))
    else:  # the blocks are the initialiser's draws from the same generator, in row order
        gen = np.random.default_rng(1)
        expected = [init.get(recurrent)(4, gain=1.5, rng=gen) for _ in range(4)]
        np.testing.assert_array_equal(W, np.concatenate(expected))


@pytest.mark.parametrize("kind", GATED)
def test_uniform_is_pytorchs_default_for_the_whole_layer(kind):
    n, draws = 64, 40
    params = getattr(init, kind)(n, 8, recurrent="uniform", gain=1.0, rng=7, batch=draws)
    k = 1 / math.sqrt(n)
    for name in ("W_hh", "W_xh", *(() if kind == "lstm" else ("b_ih", "b_hh"))):
        entries = params[name].ravel()
        assert np.abs(entries).max() <= k and np.abs(entries).max() > 0.99 * k, name
        assert stats.kstest(entries, "uniform", args=(-k, 2 * k)).pvalue > 1e-3, name
    if kind == "lstm":  # b = bias_ih + bias_hh: the sum of two U(-k, k), triangular on (-2k, 2k)
        b = params["b"].ravel()
        assert np.abs(b).max() <= 2 * k
        assert stats.kstest(b, "triang", args=(0.5, -2 * k, 4 * k)).pvalue > 1e-3
        assert stats.kstest(b, "uniform", args=(-2 * k, 4 * k)).pvalue < 1e-6
    wide = getattr(init, kind)(n, recurrent="uniform", gain=2.0, rng=7)["W_hh"]
    assert k < np.abs(wide).max() <= 2 * k  # gain scales the recurrent weights


@pytest.mark.parametrize("kind", GATED)
def test_uniform_matches_a_torch_initialised_layer(kind):
    torch = pytest.importorskip("torch")
    n, d = 48, 6
    layers = []
    with torch.random.fork_rng():
        torch.manual_seed(0)
        for _ in range(10):
            layers.append(getattr(torch.nn, kind.upper())(d, n))

    def pooled(get):
        return np.concatenate([get(m).detach().double().numpy().ravel() for m in layers])

    theirs = {
        "W_hh": pooled(lambda m: m.weight_hh_l0),
        "W_xh": pooled(lambda m: m.weight_ih_l0),
        "bias": pooled(lambda m: m.bias_ih_l0 + m.bias_hh_l0),
    }
    params = getattr(init, kind)(n, d, recurrent="uniform", rng=3, batch=10)
    ours = {name: params[name].ravel() for name in ("W_hh", "W_xh")}
    ours["bias"] = _biases(kind, params).ravel()
    for name in theirs:
        assert stats.ks_2samp(ours[name], theirs[name]).pvalue > 1e-3, name


@pytest.mark.parametrize("recurrent", ["orthogonal", "uniform"])
def test_forget_bias_lands_in_the_f_rows_only(recurrent):
    n = 4
    plain = init.lstm(n, 2, recurrent=recurrent, rng=9, batch=2)
    shifted = init.lstm(n, 2, recurrent=recurrent, forget_bias=1.0, rng=9, batch=2)
    np.testing.assert_array_equal(shifted["W_hh"], plain["W_hh"])  # no draw is moved
    np.testing.assert_array_equal(shifted["W_xh"], plain["W_xh"])
    diff = shifted["b"] - plain["b"]
    expected = np.zeros(4 * n)
    expected[n : 2 * n] = 1.0  # rows i, f, g, o
    np.testing.assert_allclose(diff, np.broadcast_to(expected, diff.shape), atol=1e-15)


@pytest.mark.parametrize("t_max", [3, 10.5, 1000])
def test_lstm_chrono_forget_range_and_input_is_minus_forget(t_max):
    n, draws = 50, 20
    b = init.lstm(n, chrono=t_max, rng=5, batch=draws)["b"]
    b_i, b_f, rest = b[:, :n], b[:, n : 2 * n], b[:, 2 * n :]
    assert np.all(b_f >= 0) and np.all(b_f <= math.log(t_max - 1))
    np.testing.assert_array_equal(b_i, -b_f)
    np.testing.assert_array_equal(rest, 0.0)  # g and o rows untouched
    # exp(b_f) ~ U(1, T_max - 1): memory times 1 / (1 - σ(b_f)) = 1 + exp(b_f) in (2, T_max)
    u = np.exp(b_f).ravel()
    assert stats.kstest(u, "uniform", args=(1, t_max - 2)).pvalue > 1e-3
    memory = 1 / (1 - 1 / (1 + np.exp(-b_f)))
    assert memory.min() >= 2 - 1e-9 and memory.max() <= t_max + 1e-9
    # with uniform recurrent weights chrono still sets the i and f rows exactly
    bu = init.lstm(n, recurrent="uniform", chrono=t_max, rng=5)["b"]
    np.testing.assert_array_equal(bu[:n], -bu[n : 2 * n])


def test_gru_chrono_sets_a_positive_update_gate_bias():
    """z keeps the old state in PyTorch's GRU, so chrono makes b_z = +log U(1, T_max - 1)."""
    n, t_max = 40, 200
    for recurrent in ("orthogonal", "uniform"):
        plain = init.gru(n, 2, recurrent=recurrent, rng=6, batch=5)
        params = init.gru(n, 2, recurrent=recurrent, chrono=t_max, rng=6, batch=5)
        b_z = params["b_ih"][:, n : 2 * n] + params["b_hh"][:, n : 2 * n]
        assert np.all(b_z >= 0) and np.all(b_z <= math.log(t_max - 1))
        np.testing.assert_array_equal(params["b_ih"][:, n : 2 * n], 0.0)
        assert stats.kstest(np.exp(b_z).ravel(), "uniform", args=(1, t_max - 2)).pvalue > 1e-3
        # chrono draws after a network's arrays, so the first network's weights and its r and
        # n bias rows are as without it (later networks' draws shift)
        rows = np.r_[0:n, 2 * n : 3 * n]
        for name in ("b_ih", "b_hh"):
            np.testing.assert_array_equal(params[name][0, rows], plain[name][0, rows])
        np.testing.assert_array_equal(params["W_hh"][0], plain["W_hh"][0])


def test_gru_chrono_memory_time_in_a_cell():
    """All weights zero: h_t - n = z^t (h_0 - n) with z = σ(b_z), memory 1/(1 - z) in (2, T_max)."""
    from gradflow.cells import GRU

    t_max, n = 30, 6
    params = init.gru(n, chrono=t_max, rng=2)
    params["W_hh"] = np.zeros_like(params["W_hh"])
    traj = GRU(**params).run(20, h0=np.ones(n))
    z = traj.cache["z"][0]
    np.testing.assert_allclose(traj.states[20], z**20, rtol=1e-12)  # n = tanh(0) = 0
    memory = 1 / (1 - z)
    assert np.all(memory > 2) and np.all(memory < t_max)


@pytest.mark.parametrize("kind", GATED)
def test_gated_reproducible_and_batches_stack_independent_draws(kind):
    f = getattr(init, kind)
    kwargs = {"recurrent": "uniform", "chrono": 20}
    one, again = f(4, 2, rng=11, **kwargs), f(4, 2, rng=11, **kwargs)
    for name in one:
        np.testing.assert_array_equal(one[name], again[name])
    gen = np.random.default_rng(11)
    first, second = f(4, 2, rng=gen), f(4, 2, rng=gen)  # a Generator advances
    assert not np.allclose(first["W_hh"], second["W_hh"])
    stacked = f(4, 2, rng=11, batch=3, **kwargs)
    for name in one:  # network 0 of a batch is the unbatched draw from the same seed
        np.testing.assert_array_equal(stacked[name][0], one[name])
        assert not np.allclose(stacked[name][1], stacked[name][2]), name
    assert not np.allclose(f(4, rng=1)["W_hh"], f(4, rng=2)["W_hh"])


@pytest.mark.parametrize("kind", GATED)
def test_gated_draws_follow_the_documented_order(kind):
    """Network by network: W_hh blocks in row order, W_xh, bias_ih, bias_hh, chrono's U."""
    gates, _ = GATED[kind]
    n, d, t_max = 3, 2, 12.0
    params = getattr(init, kind)(n, d, recurrent="uniform", chrono=t_max, rng=8, batch=2)
    gen, k = np.random.default_rng(8), 1 / math.sqrt(n)
    for net in range(2):
        blocks = [init.uniform(n, rng=gen) for _ in range(gates)]
        np.testing.assert_array_equal(params["W_hh"][net], np.concatenate(blocks))
        np.testing.assert_array_equal(params["W_xh"][net], gen.uniform(-k, k, (gates * n, d)))
        b_ih, b_hh = gen.uniform(-k, k, gates * n), gen.uniform(-k, k, gates * n)
        log_u = np.log(gen.uniform(1, t_max - 1, n))
        if kind == "lstm":
            b = b_ih + b_hh
            b[:n], b[n : 2 * n] = -log_u, log_u
            np.testing.assert_array_equal(params["b"][net], b)
        else:
            b_ih[n : 2 * n], b_hh[n : 2 * n] = 0.0, log_u
            np.testing.assert_array_equal(params["b_ih"][net], b_ih)
            np.testing.assert_array_equal(params["b_hh"][net], b_hh)


def test_gated_initialisers_stay_out_of_the_registry():
    assert init.available() == NAMES
    for name in ("lstm", "gru"):
        with pytest.raises(ValueError):
            init.get(name)
    import gradflow.init._matrices as matrices

    assert init.orthogonal is matrices.orthogonal and init.get is matrices.get
    assert {"lstm", "gru", *NAMES, "get", "available"} == set(init.__all__)


GATED_BAD = [
    ({"hidden_size": 0}, "hidden_size"),
    ({"hidden_size": 2.0}, "hidden_size"),
    ({"input_size": -1}, "input_size"),
    ({"input_size": 1.5}, "input_size"),
    ({"recurrent": "nope"}, "recurrent"),
    ({"recurrent": 3}, "recurrent"),
    ({"gain": 0.0}, "gain"),
    ({"gain": float("nan")}, "gain"),
    ({"chrono": 2}, "chrono"),
    ({"chrono": 1.5}, "chrono"),
    ({"chrono": -10}, "chrono"),
    ({"chrono": "100"}, "chrono"),
    ({"chrono": float("inf")}, "chrono"),
    ({"batch": 0}, "batch"),
    ({"rng": "seed"}, "rng"),
]


@pytest.mark.parametrize("kind", GATED)
@pytest.mark.parametrize(("kwargs", "argument"), GATED_BAD)
def test_gated_bad_input_one_line_error_naming_the_argument(kind, kwargs, argument):
    kwargs = {"hidden_size": 4, **kwargs}
    with pytest.raises((ValueError, TypeError)) as info:
        getattr(init, kind)(**kwargs)
    message = str(info.value)
    assert message.startswith(f"{argument}:") and "\n" not in message, message


@pytest.mark.parametrize("bias", [1.0, -0.5])
def test_chrono_refuses_a_forget_bias(bias):
    with pytest.raises(ValueError) as info:
        init.lstm(4, chrono=50, forget_bias=bias)
    assert str(info.value).startswith("forget_bias:") and "\n" not in str(info.value)
    with pytest.raises(ValueError, match="forget_bias"):
        init.lstm(4, forget_bias=float("nan"))
    init.lstm(4, chrono=50, forget_bias=0.0)  # zero is no conflict
    with pytest.raises(TypeError):
        init.lstm(4, 2, "orthogonal")  # everything after input_size is keyword-only
