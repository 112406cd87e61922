"""gradient_growth and growth_rates against closed forms, dense products and each other."""

import concurrent.futures as cf

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gradflow import init, theory
from gradflow.simulate import COLUMNS, Drive, gradient_growth, growth_rates, parse_list


def sweep(**kwargs):
    options = dict(hidden_size=6, steps=12, seeds=3, rng=7, progress=False)
    options.update(kwargs)
    inits = options.pop("inits", ["orthogonal", "gaussian"])
    gains = options.pop("gains", [0.8, 1.5])
    return gradient_growth(inits, gains, **options)


def slope(lags, values):
    return np.polyfit(lags, values, 1)[0]


# -- numbers ----------------------------------------------------------------------------------
def test_linear_scaled_orthogonal_grows_exactly_like_g_to_the_lag():
    gains = [0.5, 1.0, 3.0]
    df = gradient_growth(
        ["orthogonal", "identity"], gains, hidden_size=16, steps=300, seeds=3,
        activation="linear", rng=1, progress=False,
    )  # fmt: skip
    expected = theory.orthogonal_growth(df["gain"].to_numpy(), df["lag"].to_numpy())
    np.testing.assert_allclose(df["log_norm"], expected, rtol=0, atol=1e-10)
    assert np.all(np.isfinite(df["log_norm"]))


def test_each_network_matches_its_documented_draws_and_a_dense_product():
    # Pair k = (init, gain) in init-major order gets SeedSequence child k, seed s child s of
    # that, and the seed's W and v children 0 and 1.
    gains = [0.9, 1.3]
    df = gradient_growth(
        ["gaussian"],
        gains,
        hidden_size=5,
        steps=40,
        seeds=3,
        activation="linear",
        rng=11,
        progress=False,
    )
    pairs = np.random.SeedSequence(11).spawn(len(gains))
    for gain, pair in zip(gains, pairs):
        for s, seed_seq in enumerate(pair.spawn(3)):
            w_seq, v_seq, _ = seed_seq.spawn(3)
            W = init.gaussian(5, gain=gain, rng=np.random.default_rng(w_seq))
            v = np.random.default_rng(v_seq).standard_normal(5)
            v /= np.linalg.norm(v)
            rows = df[(df.gain == gain) & (df.seed == s)]
            dense = [np.log(np.linalg.norm(np.linalg.matrix_power(W.T, lag) @ v)) for lag in
                     range(41)]  # fmt: skip
            np.testing.assert_allclose(rows["log_norm"], dense, rtol=1e-10, atol=1e-12)
            rho = np.abs(np.linalg.eigvals(W)).max()
            sigma = np.linalg.svd(W, compute_uv=False)[0]
            np.testing.assert_allclose(rows["spectral_radius"], rho, rtol=1e-10)
            np.testing.assert_allclose(rows["sigma_max"], sigma, rtol=1e-10)


@pytest.mark.parametrize("scale", [0.3, 2.5])
def test_a_gaussian_drive_feeds_the_documented_scaled_inputs_to_a_tanh_network(scale):
    # Seed s's h0, W_xh (entries N(0, scale²/D)) and inputs come from its child 2; the run and
    # the backward product are recomputed here with plain NumPy, so an ignored or misapplied
    # scale changes the trajectory and so the log norms.
    n, steps, size = 5, 30, 3
    df = gradient_growth(
        ["gaussian"], [1.3], hidden_size=n, steps=steps, seeds=2, rng=4, progress=False,
        inputs={"kind": "gaussian", "scale": scale, "size": size},
    )  # fmt: skip
    (pair,) = np.random.SeedSequence(4).spawn(1)
    for s, seed_seq in enumerate(pair.spawn(2)):
        w_seq, v_seq, x_seq = (np.random.default_rng(q) for q in seed_seq.spawn(3))
        W = init.gaussian(n, gain=1.3, rng=w_seq)
        v = v_seq.standard_normal(n)
        h = [x_seq.standard_normal(n)]
        W_xh = x_seq.standard_normal((n, size)) * (scale / np.sqrt(size))
        for x in x_seq.standard_normal((steps, size)):
            h.append(np.tanh(W @ h[-1] + W_xh @ x))
        adjoint, expected = v / np.linalg.norm(v), [0.0]
        for t in range(steps, 0, -1):  # ∂⟨v, h_T⟩/∂h_{t-1} = Wᵀ diag(1 - h_t²) ∂⟨v, h_T⟩/∂h_t
            adjoint = W.T @ ((1 - h[t] ** 2) * adjoint)
            expected.append(np.log(np.linalg.norm(adjoint)))
        np.testing.assert_allclose(df[df.seed == s]["log_norm"], expected, rtol=1e-10, atol=1e-12)


def test_linear_gaussian_long_lag_rate_is_the_log_spectral_radius_of_each_draw():
    df = gradient_growth(
        ["gaussian"], [0.9, 1.2], hidden_size=32, steps=400, seeds=4, activation="linear", rng=2,
        progress=False,
    )  # fmt: skip
    for _, rows in df.groupby(["gain", "seed"]):
        late = rows[rows.lag >= 200]
        rate = slope(late["lag"], late["log_norm"])
        assert rate == pytest.approx(np.log(rows["spectral_radius"].iloc[0]), abs=1e-3)
    per_seed = growth_rates(df, lag_window=(200, 400), per_seed=True)
    assert (per_seed.theory_name == "log_spectral_radius").all()
    np.testing.assert_allclose(per_seed.rate, per_seed.theory, atol=1e-3)


def test_growth_rates_recovers_ln_g_for_linear_orthogonal_exactly():
    df = sweep(inits=["orthogonal"], gains=[0.5, 1.0, 2.5], activation="linear", steps=50)
    rates = growth_rates(df)
    np.testing.assert_allclose(rates.rate, np.log([0.5, 1.0, 2.5]), rtol=0, atol=1e-12)
    np.testing.assert_allclose(rates.theory, np.log([0.5, 1.0, 2.5]), rtol=0, atol=1e-15)
    assert (rates.theory_name == "orthogonal_growth").all()
    assert (rates.lag_low == 25).all() and (rates.lag_high == 50).all()


def test_growth_rates_mean_and_t_interval_match_per_seed_polyfit():
    df = sweep(inits=["gaussian"], gains=[1.5], hidden_size=20, steps=60, seeds=5)
    window = df[df.lag.between(10, 50)]
    slopes = [slope(g.lag, g.log_norm) for _, g in window.groupby("seed")]
    low, high = stats.t.interval(0.9, len(slopes) - 1, np.mean(slopes), stats.sem(slopes))
    rates = growth_rates(df, lag_window=(10, 50), confidence=0.9)
    assert rates.loc[0, "rate"] == pytest.approx(np.mean(slopes), rel=1e-10)
    assert rates.loc[0, "ci_low"] == pytest.approx(low, rel=1e-9)
    assert rates.loc[0, "ci_high"] == pytest.approx(high, rel=1e-9)
    assert rates.loc[0, "n_seeds"] == 5


def test_tanh_gaussian_rate_is_near_the_mean_field_exponent():
    df = gradient_growth(
        ["gaussian"], [2.0], hidden_size=256, steps=400, seeds=8, rng=1, progress=False
    )
    rates = growth_rates(df)
    expected = theory.mean_field_lyapunov(2.0)
    assert rates.loc[0, "theory"] == expected
    assert rates.loc[0, "theory_name"] == "mean_field_lyapunov"
    assert rates.loc[0, "rate"] == pytest.approx(expected, abs=0.015)  # finite-N, finite-T
    assert rates.loc[0, "ci_low"] < rates.loc[0, "rate"] < rates.loc[0, "ci_high"]


def test_theory_names_per_condition():
    tanh = growth_rates(sweep(inits=["orthogonal", "gaussian", "uniform"], gains=[0.8, 1.5]))
    names = dict(zip(zip(tanh.init, tanh.gain), tanh.theory_name))
    assert names == {
        ("orthogonal", 0.8): "orthogonal_growth", ("orthogonal", 1.5): "none",
        ("gaussian", 0.8): "mean_field_lyapunov", ("gaussian", 1.5): "mean_field_lyapunov",
        ("uniform", 0.8): "mean_field_lyapunov", ("uniform", 1.5): "mean_field_lyapunov",
    }  # fmt: skip
    assert tanh.theory.isna().sum() == 1
    uniform = tanh[tanh.init == "uniform"]
    np.testing.assert_allclose(uniform.theory, theory.mean_field_lyapunov(uniform.gain / 3**0.5))
    driven = growth_rates(sweep(inputs="gaussian"))
    assert (driven.theory_name == "none").all() and driven.theory.isna().all()
    linear = growth_rates(sweep(inits=["uniform"], activation="linear"))
    assert (linear.theory_name == "log_spectral_radius").all()


@pytest.mark.parametrize("name", ["gaussian", "glorot_uniform", "uniform"])
def test_mean_field_gain_matches_the_initialisers_entry_variance(name):
    # growth_rates maps each i.i.d. initialiser to the Gaussian gain of equal entry variance.
    from gradflow.simulate import _IID_SCALE

    W = init.get(name)(400, gain=1.7, rng=3)
    assert np.sqrt(400 * W.var()) == pytest.approx(1.7 * _IID_SCALE[name], rel=0.01)


# -- reproducibility and executors ----------------------------------------------------------
def test_identical_frames_for_serial_process_pool_and_chunked_tasks():
    options = dict(inputs={"kind": "gaussian", "scale": 0.5, "size": 3})
    serial = sweep(**options)
    with cf.ProcessPoolExecutor(2) as pool:
        pooled = sweep(executor=pool, **options)
    chunked = sweep(seeds_per_task=1, **options)
    for other in (pooled, chunked):
        pd.testing.assert_frame_equal(serial, other, check_exact=True)
        assert other.attrs == serial.attrs


def test_identical_frames_with_dask_distributed():
    distributed = pytest.importorskip("distributed")
    serial = sweep(activation="tanh")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        dasked = sweep(activation="tanh", executor=client.get_executor())
    pd.testing.assert_frame_equal(serial, dasked, check_exact=True)


def test_seeds_are_a_prefix_and_rng_generators_work():
    small, large = sweep(seeds=2), sweep(seeds=4)
    pd.testing.assert_frame_equal(
        small.reset_index(drop=True),
        large[large.seed < 2].reset_index(drop=True),
        check_exact=True,
    )
    from_generator = sweep(rng=np.random.default_rng(7))
    pd.testing.assert_frame_equal(from_generator, sweep(rng=7), check_exact=True)
    assert not sweep(rng=8)["log_norm"].equals(sweep(rng=7)["log_norm"])


def test_drive_changes_the_trajectory_but_not_the_draws():
    free = sweep()
    for drive in ("gaussian", "adding", {"kind": "copy", "scale": 2.0}):
        driven = sweep(inputs=drive, steps=25)
        free25 = sweep(steps=25)
        np.testing.assert_array_equal(driven.spectral_radius, free25.spectral_radius)
        assert not np.allclose(driven.log_norm, free25.log_norm)
        assert driven.attrs["drive"]["kind"] == (drive if isinstance(drive, str) else "copy")
    assert free.attrs["drive"] == {"kind": "none", "scale": 1.0, "size": 1}
    linear_free = sweep(activation="linear")
    linear_driven = sweep(activation="linear", inputs="adding")
    np.testing.assert_array_equal(linear_free.log_norm, linear_driven.log_norm)
    assert (linear_driven.drive == "adding").all()


# -- schema -----------------------------------------------------------------------------------
def test_tidy_schema():
    df = sweep(inits=["orthogonal", "gaussian", "identity"], gains=[0.5, 1.0], seeds=4, steps=9)
    assert tuple(df.columns) == COLUMNS
    assert len(df) == 3 * 2 * 4 * (9 + 1)
    assert df.dtypes[["gain", "log_norm", "spectral_radius", "sigma_max"]].eq("float64").all()
    assert df.dtypes[["hidden_size", "seed", "lag"]].eq("int64").all()
    assert pd.api.types.is_string_dtype(df["init"])
    assert not df.duplicated(["init", "gain", "seed", "lag"]).any()
    assert sorted(df.seed.unique()) == [0, 1, 2, 3] and sorted(df.lag.unique()) == list(range(10))
    np.testing.assert_allclose(df.loc[df.lag == 0, "log_norm"], 0.0, atol=1e-15)  # ‖v‖ = 1
    assert df.groupby(["init", "gain", "seed"])["spectral_radius"].nunique().eq(1).all()
    assert df.attrs["hidden_size"] == 6 and df.attrs["steps"] == 9 and df.attrs["seeds"] == 4
    assert df.attrs["inits"] == ["orthogonal", "gaussian", "identity"]


def test_without_spectra_the_gradients_are_the_same_and_the_spectral_columns_nan():
    full, bare = sweep(), sweep(spectral=False)
    assert tuple(bare.columns) == COLUMNS
    np.testing.assert_array_equal(full.log_norm, bare.log_norm)
    assert bare[["spectral_radius", "sigma_max"]].isna().all().all()
    assert full[["spectral_radius", "sigma_max"]].notna().all().all()
    assert (full.sigma_max >= full.spectral_radius * (1 - 1e-12)).all()


def test_no_progress_output_off_a_terminal(capsys):
    sweep(progress=True)
    assert capsys.readouterr().err == ""


def test_parse_helpers():
    assert parse_list("orthogonal,gaussian", "inits") == ["orthogonal", "gaussian"]
    assert parse_list("0.8, 1 ,1.2", "gains", kind=float) == [0.8, 1.0, 1.2]
    assert Drive.parse("gaussian:scale=0.5,size=4") == Drive("gaussian", 0.5, 4)
    assert Drive.parse("copy").size == 10
    with pytest.raises(ValueError, match="gains"):
        parse_list("1,,2", "gains", kind=float)
    with pytest.raises(ValueError, match="gains: expected comma-separated float"):
        parse_list("1,a", "gains", kind=float)


# -- bad arguments ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"inits": ["orthogonal", "nope"]}, ValueError, "inits: expected one of .*orthogonal"),
        ({"inits": []}, ValueError, "inits"),
        ({"gains": [1.0, 0.0]}, ValueError, "gains: expected a number > 0"),
        ({"gains": [-1.0]}, ValueError, "gains"),
        ({"gains": [float("nan")]}, ValueError, "gains: expected a finite"),
        ({"gains": [1.0, 1.0]}, ValueError, "gains: expected distinct"),
        ({"hidden_size": 0}, ValueError, "hidden_size: expected an integer >= 1"),
        ({"hidden_size": 2.5}, TypeError, "hidden_size: expected an integer"),
        ({"steps": 0}, ValueError, "steps: expected an integer >= 1"),
        ({"seeds": 0}, ValueError, "seeds: expected an integer >= 1"),
        ({"activation": "softplus"}, ValueError, "activation: expected one of"),
        ({"executor": "pool"}, TypeError, "executor: expected None or a concurrent"),
        ({"inputs": {"kind": "noise"}}, ValueError, "inputs: expected one of"),
        ({"inputs": {"kind": "gaussian", "scale": 0}}, ValueError, "inputs.scale"),
        ({"inputs": {"kind": "adding", "size": 3}}, ValueError, "inputs.size"),
        ({"inputs": {"kind": "copy"}, "steps": 10}, ValueError, "steps: the copy task"),
        ({"inputs": 3}, TypeError, "inputs"),
        ({"seeds_per_task": 0}, ValueError, "seeds_per_task"),
        ({"progress": "yes"}, TypeError, "progress"),
        ({"spectra": 1}, TypeError, "spectra"),
        ({"rng": -1}, ValueError, "rng"),
    ],
)
def test_bad_arguments_fail_early_with_one_line(kwargs, error, pattern):
    with pytest.raises(error, match=pattern) as info:
        sweep(**kwargs)
    assert "\n" not in str(info.value)


def test_bad_growth_rates_arguments():
    df = sweep()
    for bad, error in [
        (pd.DataFrame({"init": ["a"]}), ValueError),
        ([1, 2], TypeError),
    ]:
        with pytest.raises(error, match="df"):
            growth_rates(bad)
    with pytest.raises(ValueError, match="lag_window"):
        growth_rates(df, lag_window=(5, 99))
    with pytest.raises(TypeError, match="lag_window"):
        growth_rates(df, lag_window=5)
    with pytest.raises(ValueError, match="confidence"):
        growth_rates(df, confidence=1.5)


def test_an_overflowing_forward_run_names_the_condition():
    from gradflow._validation import NonFiniteError

    with pytest.raises(NonFiniteError, match="init 'gaussian', gain 60"):
        sweep(inits=["gaussian"], gains=[60.0], activation="relu", steps=400, hidden_size=4)


def test_exactly_vanished_gradients_give_minus_infinite_rates_without_warnings():
    # One-unit ReLU networks whose first pre-activation is negative switch off for good.
    df = sweep(inits=["gaussian"], gains=[1.0], hidden_size=1, seeds=8, activation="relu")
    dead = df.groupby("seed")["log_norm"].min().eq(-np.inf)
    assert 0 < dead.sum() < 8
    per_seed = growth_rates(df, per_seed=True).set_index("seed")
    assert np.isneginf(per_seed.rate[dead]).all() and np.isfinite(per_seed.rate[~dead]).all()
    summary = growth_rates(df)
    assert summary.loc[0, "rate"] == -np.inf and np.isnan(summary.loc[0, "ci_low"])
