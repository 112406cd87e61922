"""Tests of the sweep figures (growth over seeds, growth_rates, spectral_gap) in quick mode."""

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure

from gradflow import figures, init, simulate, theory
from gradflow._rng import spawn_generators
from gradflow.figures.foundation import growth_data, growth_panels
from gradflow.plot.sweeps import GIDS

NAMES = ("growth", "growth_rates", "spectral_gap")
COLUMNS = {
    "growth": [
        "activation", "init", "gain", "lag", "seeds", "log_norm", "log_norm_low",
        "log_norm_high", "log_norm_theory", "theory_name",
    ],
    "growth_rates": [
        "activation", "init", "gain", "layer", "curve", "rate", "ci_low", "ci_high", "n_seeds",
        "lag_low", "lag_high",
    ],
    "spectral_gap": ["init", "gain", "hidden_size", "seed", "spectral_radius", "sigma_max"],
}  # fmt: skip
LN10 = math.log(10.0)


@pytest.fixture(scope="module")
def drawn():
    """Each sweep figure in quick mode: name -> (Figure, DataFrame, quick parameters)."""
    out = {}
    for name in NAMES:
        spec = figures.get(name)
        fig, data = spec(quick=True)
        out[name] = (fig, data, spec.parameters(quick=True))
    return out


def _solid(ax):
    return [
        line
        for line in ax.lines
        if len(line.get_xdata()) and line.get_linestyle() == "-" and line.get_gid() is None
    ]


def _dashed(ax):
    return [line for line in ax.lines if len(line.get_xdata()) and line.get_linestyle() == "--"]


# -- the catalogue --------------------------------------------------------------------------------
def test_figures_are_registered_after_growth_with_captions():
    names = figures.available()
    assert names[:4] == ("eigenvalues", "growth", "growth_rates", "spectral_gap")
    for name in NAMES:
        spec = figures.get(name)
        assert "{" not in spec.describe(quick=True)
        assert spec.source.startswith("gradflow.figures.")


@pytest.mark.parametrize("name", NAMES)
def test_each_figure_returns_a_figure_and_its_columns(drawn, name):
    fig, data, _ = drawn[name]
    assert isinstance(fig, Figure) and isinstance(data, pd.DataFrame)
    assert list(data.columns) == COLUMNS[name]
    assert len(data) > 0


# -- growth ---------------------------------------------------------------------------------------
def test_growth_plots_the_median_and_band(drawn):
    fig, data, params = drawn["growth"]
    activations, gains = list(params["activations"]), list(params["gains"])
    assert len(fig.axes) == len(activations) * len(gains)
    names = list(init.available())
    for i, activation in enumerate(activations):
        for j, gain in enumerate(gains):
            ax = fig.axes[i * len(gains) + j]
            part = data[(data["activation"] == activation) & (data["gain"] == gain)]
            solid = _solid(ax)
            assert len(solid) == len(names)
            bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
            assert len(bands) == len(names)
            for line, band, name in zip(solid, bands, names):
                rows = part[part["init"] == name]
                np.testing.assert_allclose(line.get_xdata(), rows["lag"])
                np.testing.assert_allclose(line.get_ydata(), rows["log_norm"] / LN10, atol=1e-12)
                ys = band.get_paths()[0].vertices[:, 1]
                assert ys.min() == pytest.approx(rows["log_norm_low"].min() / LN10)
                assert ys.max() == pytest.approx(rows["log_norm_high"].max() / LN10)
            with_theory = part.loc[part["log_norm_theory"].notna(), "init"].nunique()
            assert len(_dashed(ax)) == with_theory


def test_growth_data_summarises_the_simulation_with_its_theory(drawn):
    _, data, params = drawn["growth"]
    sweep = simulate.gradient_growth(
        list(init.available()), params["gains"], hidden_size=params["hidden_size"],
        steps=params["steps"],
        seeds=params["seeds"], activation="linear", rng=params["rng"], progress=False,
    )  # fmt: skip
    linear = data[data["activation"] == "linear"].reset_index(drop=True)
    by_lag = sweep.groupby(["init", "gain", "lag"], sort=False)["log_norm"]
    np.testing.assert_allclose(linear["log_norm"], by_lag.median().to_numpy(), atol=1e-12)
    seeds = sweep["log_norm"].to_numpy().reshape(-1, params["seeds"], params["steps"] + 1)
    for column, percent in [("log_norm_low", 10), ("log_norm_high", 90)]:
        expected = np.percentile(seeds, percent, axis=1).ravel()  # (pair, lag), independent
        np.testing.assert_allclose(linear[column], expected, atol=1e-12)
    assert (data["seeds"] == params["seeds"]).all()
    np.testing.assert_allclose(data.loc[data["lag"] == 0, "log_norm"], 0.0, atol=1e-12)
    # linear scaled orthogonal and identity networks: exactly lag · ln g, and so is the theory
    exact = data[(data["activation"] == "linear") & data["init"].isin(["orthogonal", "identity"])]
    expected = exact["lag"] * np.log(exact["gain"])
    for column in ("log_norm", "log_norm_low", "log_norm_high", "log_norm_theory"):
        np.testing.assert_allclose(exact[column], expected, atol=1e-9)
    # tanh with i.i.d. weights: the mean-field exponent (uniform: at g/√3)
    for name, scale in [("gaussian", 1.0), ("uniform", 1 / math.sqrt(3))]:
        part = data[(data["activation"] == "tanh") & (data["init"] == name)]
        slope = theory.mean_field_lyapunov(part["gain"].to_numpy() * scale)
        np.testing.assert_allclose(part["log_norm_theory"], part["lag"] * slope, atol=1e-12)
        assert set(part["theory_name"]) == {"mean_field_lyapunov"}
    # no theory for tanh with orthogonal W above g = 1
    above = data[(data["activation"] == "tanh") & (data["init"] == "orthogonal")]
    above = above[above["gain"] > 1]
    assert above["log_norm_theory"].isna().all() and set(above["theory_name"]) == {"none"}
    # linear Gaussian: the mean ln ρ(W) of the draws, near ln g by the circular law
    gaussian = data[(data["activation"] == "linear") & (data["init"] == "gaussian")]
    gaussian = gaussian[gaussian["lag"] == gaussian["lag"].max()]
    rate = gaussian["log_norm_theory"] / gaussian["lag"]
    np.testing.assert_allclose(rate, np.log(gaussian["gain"]), atol=0.25)
    assert set(gaussian["theory_name"]) == {"log_spectral_radius"}


def test_growth_data_band_width_is_checked():
    frame = simulate.gradient_growth(
        ["orthogonal"],
        [0.5],
        hidden_size=3,
        steps=2,
        seeds=2,
        activation="linear",
        rng=0,
        progress=False,
    )
    with pytest.raises(ValueError, match="band"):
        growth_data(frame, band=100)


def test_growth_panels_for_one_activation_and_a_floor():
    frame = simulate.gradient_growth(
        ["orthogonal", "uniform"], [0.5, 1.0], hidden_size=8, steps=30, seeds=2,
        activation="linear",
        rng=0, progress=False,
    )  # fmt: skip
    fig = growth_panels(growth_data(frame), title="t", floor=1e-5)
    assert len(fig.axes) == 2 and fig.get_suptitle() == "t"
    assert fig.axes[0].get_ylim()[0] == pytest.approx(-5.0)
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert texts[:2] == ["orthogonal", "uniform (PyTorch default)"]
    assert any("2 draws" in text for text in texts)


# -- growth_rates ---------------------------------------------------------------------------------
def test_growth_rates_data_science(drawn):
    _, data, params = drawn["growth_rates"]
    sim = data[data["layer"] == "simulation"].set_index(["activation", "init", "gain"]).sort_index()
    assert (sim["n_seeds"] == params["seeds"]).all()
    # linear scaled orthogonal: exactly ln g, with a zero-width interval
    for name in ("orthogonal", "identity"):
        part = sim.loc[("linear", name)]
        np.testing.assert_allclose(part["rate"], np.log(part.index), atol=1e-9)
        np.testing.assert_allclose(part["ci_high"] - part["ci_low"], 0.0, atol=1e-9)
    # tanh leaves the vanishing side (g = 0.5) alone and bends the exploding side (g = 2)
    for name in init.available():
        low = sim.loc[("tanh", name, 0.5), "rate"] - sim.loc[("linear", name, 0.5), "rate"]
        assert abs(low) < 0.02
        high = sim.loc[("tanh", name, 2.0), "rate"] - sim.loc[("linear", name, 2.0), "rate"]
        assert high < -0.2


def test_growth_rates_theory_curves(drawn):
    _, data, _ = drawn["growth_rates"]
    curves = data[data["layer"] == "theory"]
    log_gain = curves[curves["curve"] == "log_gain"]
    np.testing.assert_allclose(log_gain["rate"], np.log(log_gain["gain"]))
    assert set(log_gain["activation"]) == {"linear", "tanh"}
    mean_field = curves[curves["curve"] == "mean_field"]
    assert (mean_field["gain"] >= 1.0).all() and set(mean_field["activation"]) == {"tanh"}
    np.testing.assert_allclose(mean_field["rate"], theory.mean_field_lyapunov(mean_field["gain"]))
    scaled = curves[curves["curve"] == "mean_field_scaled"]
    assert set(scaled["init"]) == {"uniform"}
    expected = theory.mean_field_lyapunov(scaled["gain"] / math.sqrt(3))
    np.testing.assert_allclose(scaled["rate"], expected)
    radius = curves[curves["curve"] == "log_radius"]
    assert set(radius["init"]) == {"gaussian", "glorot_uniform", "uniform"}
    scale = radius["init"].map({"gaussian": 1.0, "glorot_uniform": 1.0, "uniform": 3**-0.5})
    np.testing.assert_allclose(radius["rate"], np.log(radius["gain"] * scale), atol=0.3)


def test_growth_rates_figure_draws_the_rates(drawn):
    fig, data, params = drawn["growth_rates"]
    sim = data[data["layer"] == "simulation"]
    assert len(fig.axes) == len(params["activations"])
    for ax, activation in zip(fig.axes, params["activations"]):
        containers = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
        assert len(containers) == len(init.available())
        for container, name in zip(containers, init.available()):
            part = sim[(sim["activation"] == activation) & (sim["init"] == name)]
            line = container.lines[0]
            np.testing.assert_allclose(line.get_ydata(), part.sort_values("gain")["rate"])
            np.testing.assert_allclose(line.get_xdata(), np.sort(part["gain"]), atol=0.05)
        assert [a for a in ax.get_children() if a.get_gid() == GIDS["theory"]]
        # every rate below the panel is announced
        bottom = ax.get_ylim()[0]
        hidden = sim[(sim["activation"] == activation) & (sim["rate"] < bottom)]
        texts = " ".join(t.get_text() for t in ax.texts)
        for name in hidden["init"].unique():
            assert figures._common.init_label(name) in texts


# -- spectral_gap ---------------------------------------------------------------------------------
def test_spectral_gap_data_science(drawn):
    _, data, params = drawn["spectral_gap"]
    assert len(data) == len(init.available()) * len(params["gains"]) * params["seeds"]
    normal = data[data["init"].isin(["orthogonal", "identity"])]
    np.testing.assert_allclose(normal["spectral_radius"], normal["gain"], rtol=1e-9)
    np.testing.assert_allclose(normal["sigma_max"], normal["gain"], rtol=1e-9)
    assert (data["spectral_radius"] <= data["sigma_max"] * (1 + 1e-12)).all()  # |λ| <= σ_max
    ratio = (data["sigma_max"] / data["spectral_radius"]).groupby(data["init"]).median()
    assert ratio["gaussian"] > 1.4 and ratio["uniform"] > 1.4
    uniform = data[data["init"] == "uniform"]
    assert (uniform["spectral_radius"] / uniform["gain"]).median() == pytest.approx(
        1 / math.sqrt(3), abs=0.15
    )


def test_spectral_gap_rows_are_the_documented_draws(drawn):
    # One stream per (initialiser, gain) in init-major order; seeds drawn one after another.
    _, data, params = drawn["spectral_gap"]
    names, gains = init.available(), params["gains"]
    generators = spawn_generators(params["rng"], len(names) * len(gains))
    k = names.index("gaussian") * len(gains) + 1
    gen = generators[k]
    part = data[(data["init"] == "gaussian") & (data["gain"] == gains[1])]
    for seed in range(params["seeds"]):
        W = init.gaussian(params["hidden_size"], gain=gains[1], rng=gen)
        row = part[part["seed"] == seed].iloc[0]
        assert row["spectral_radius"] == pytest.approx(np.abs(np.linalg.eigvals(W)).max())
        assert row["sigma_max"] == pytest.approx(np.linalg.svd(W, compute_uv=False)[0])


def test_spectral_gap_figure_panels(drawn):
    fig, data, _ = drawn["spectral_gap"]
    assert len(fig.axes) == len(init.available())
    for ax, name in zip(fig.axes, init.available()):
        part = data[data["init"] == name]
        lines = [line for line in ax.lines if len(line.get_xdata()) and line.get_gid() is None]
        medians = part.groupby("gain")[["spectral_radius", "sigma_max"]].median()
        np.testing.assert_allclose(lines[0].get_ydata(), medians["spectral_radius"])
        np.testing.assert_allclose(lines[1].get_ydata(), medians["sigma_max"])
        gids = {artist.get_gid() for artist in ax.get_children()}
        assert {GIDS["threshold"], GIDS["vanishing"], GIDS["reference"]} <= gids
        equal = any("for every draw" in t.get_text() for t in ax.texts)
        assert equal == (name in ("orthogonal", "identity"))
    legend = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert "Pascanu" in legend and "spectral radius" in legend


# -- arguments ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "kwargs", "match"),
    [
        ("growth", {"activations": ()}, "activations: expected at least one"),
        ("growth", {"activations": ("cosine",)}, "activations"),
        ("growth_rates", {"gains": ()}, "gains: expected at least one gain"),
        ("growth_rates", {"gains": (1.0, -1.0)}, "gains"),
        ("spectral_gap", {"hidden_size": 0}, "hidden_size"),
        ("spectral_gap", {"inits": ["nonesuch"]}, "inits"),
    ],
)
def test_bad_arguments(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        figures.get(name)(quick=True, **kwargs)


def test_spectral_gap_caption_numbers_come_from_the_data(drawn):
    _, data, _ = drawn["spectral_gap"]
    text = figures.get("spectral_gap").describe(quick=True, data=data)
    assert "{" not in text and "…" not in text
    iid = data[data["init"].isin(["gaussian", "glorot_uniform"])]
    rho = (iid["spectral_radius"] / iid["gain"]).median()
    sigma = (iid["sigma_max"] / iid["gain"]).median()
    assert f"(median {rho:.3g} g at N = 32)" in text
    assert f"(median {sigma:.3g} g)" in text
    medians = iid.groupby("gain")["sigma_max"].median()
    below = medians.index[medians < 1]
    assert f"only up to g = {below.max():g}," in text if len(below) else "none" in text
    uniform = data[data["init"] == "uniform"]
    assert f"(medians {(uniform['spectral_radius'] / uniform['gain']).median():.2f} g" in text


def test_growth_rates_caption_numbers_come_from_the_data(drawn):
    _, data, params = drawn["growth_rates"]
    text = figures.get("growth_rates").describe(quick=True, data=data)
    assert "{" not in text and "…" not in text
    top = max(params["gains"])
    sim = data[(data["curve"] == "simulation") & (data["activation"] == "tanh")]
    at_top = sim[sim["gain"] == top].set_index("init")["rate"]
    mean = at_top[["gaussian", "glorot_uniform", "orthogonal"]].mean()
    assert f"grow by {mean:.2f} per step on average instead of ln {top:g}" in text
    assert f"({at_top['identity']:.2f} per step at g = {top:g})" in text


def test_growth_caption_numbers_come_from_the_data(drawn):
    _, data, params = drawn["growth"]
    text = figures.get("growth").describe(quick=True, data=data)
    assert "{" not in text and "…" not in text
    last = data[data["lag"] == data["lag"].max()]
    uniform = last[(last["activation"] == "linear") & (last["init"] == "uniform")]
    bound = np.ceil(uniform["log_norm"].max() / np.log(10.0))
    assert f"its median is below 10^{bound:.0f} after {params['steps']} steps" in text
    assert uniform["log_norm"].max() / np.log(10.0) <= bound
    iid = last[(last["activation"] == "linear") & last["init"].isin(["gaussian", "glorot_uniform"])
               & (last["gain"] == 1.0)]  # fmt: skip
    ratio = np.exp(iid["log_norm_theory"] / params["steps"]).mean()
    assert f"(mean ρ of the draws at g = 1: {ratio:.3g} g)" in text
