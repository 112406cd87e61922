"""Tests of gradflow.figures.lyapunov: each figure in quick mode, its data and what it draws.

The product spectra, registered after them, are tested in tests/test_figures_products.py.
"""

import numpy as np
import pytest
from matplotlib.figure import Figure

from gradflow import figures, theory
from gradflow.figures import lyapunov as fig_lyapunov
from gradflow.plot.lyapunov import GIDS

NAMES = ("lyapunov_spectra", "phase_diagram")
COLUMNS = {
    "lyapunov_spectra": ["curve", "gain", "hidden_size", "index", "exponent", "stderr"],
    "phase_diagram": ["curve", "activation", "gain", "seed", "exponent", "stderr"],
}


@pytest.fixture(scope="module")
def drawn():
    return {name: figures.get(name)(quick=True) for name in NAMES}


def test_registered_in_order_with_quick_settings(drawn):
    names = figures.available()
    assert [name for name in names if name in NAMES] == list(NAMES)
    for name in NAMES:
        spec = figures.get(name)
        assert spec.source == f"gradflow.figures.lyapunov.{name}"
        assert "{" not in spec.describe(quick=True)
        fig, data = drawn[name]
        assert isinstance(fig, Figure)
        assert list(data.columns) == COLUMNS[name]
        assert not data.empty


# -- 1. Lyapunov spectra ------------------------------------------------------------------------
def test_lyapunov_spectra_data(drawn):
    _, data = drawn["lyapunov_spectra"]
    params = figures.get("lyapunov_spectra").parameters(quick=True)
    n, gains = params["hidden_size"], params["gains"]
    assert sorted(data["gain"].unique()) == sorted(gains)
    sims = data[data["curve"] == fig_lyapunov.SIMULATED]
    refs = data[data["curve"] == fig_lyapunov.NEWMAN]
    assert len(sims) == len(refs) == n * len(gains)
    for gain in gains:
        sim = sims[sims["gain"] == gain]
        ref = refs[refs["gain"] == gain]
        assert np.all(np.diff(sim["exponent"]) <= 1e-12)  # descending
        assert (sim["stderr"] > 0).all() and ref["stderr"].isna().all()
        # Newman's spectrum for entry variance g²/N; its top tends to ln g
        np.testing.assert_allclose(
            ref["exponent"], theory.gaussian_product_lyapunov(n, gain * gain / n)
        )
        gap = np.abs(sim["exponent"].to_numpy() - ref["exponent"].to_numpy())
        if gain <= 1.0:
            # the state decays to 0: exponents of the fixed matrix W, near Newman's curve
            assert gap.mean() < 0.1
        else:
            # saturation: the tanh network grows far more slowly than the linear reference
            assert sim["exponent"].iloc[0] < ref["exponent"].iloc[0] - 0.2
            assert sim["exponent"].iloc[0] > 0.0  # but it is chaotic
            assert sim["exponent"].sum() < ref["exponent"].sum()


def test_lyapunov_spectra_draws_its_data(drawn):
    fig, data = drawn["lyapunov_spectra"]
    assert len(fig.axes) == 2
    n_gains = data["gain"].nunique()
    for ax in fig.axes:
        solid = [line for line in ax.lines if line.get_gid() is None and len(line.get_xdata())]
        assert len(solid) == n_gains
        assert len([line for line in ax.lines if line.get_gid() == GIDS["reference"]]) == n_gains
    first = next(line for line in fig.axes[0].lines if line.get_gid() is None)
    part = data[(data["curve"] == fig_lyapunov.SIMULATED) & (data["gain"] == 0.5)]
    np.testing.assert_allclose(first.get_ydata(), part["exponent"])
    np.testing.assert_allclose(first.get_xdata(), part["index"] / part["hidden_size"])
    assert fig.axes[1].get_xlim() == (0.0, 0.25)
    assert fig.legends  # one legend below the panels


# -- 2. phase diagram ---------------------------------------------------------------------------
def test_phase_diagram_data(drawn):
    _, data = drawn["phase_diagram"]
    sims = data[data["curve"] == fig_lyapunov.SIMULATED]
    mean = sims.groupby(["activation", "gain"])["exponent"].mean()
    # the edge of chaos: ordered (λ1 < 0) at g = 0.5, chaotic (λ1 > 0) at g = 2
    assert mean["tanh", 0.5] < 0.0 < mean["tanh", 2.0]
    assert (sims.loc[(sims["activation"] == "tanh") & (sims["gain"] == 2.0), "exponent"] > 0).all()
    assert 1.0 in set(sims["gain"])
    # a linear network's top exponent is ln ρ(W) of its matrix (not ln g: finite N)
    key = ["gain", "seed"]
    linear = sims[sims["activation"] == "linear"].sort_values(key)
    radius = data[data["curve"] == fig_lyapunov.LOG_RADIUS].sort_values(key)
    np.testing.assert_allclose(linear["exponent"], radius["exponent"], atol=0.03)
    # below g = 1 the tanh network decays to 0, where its Jacobian is W: the linear exponent
    tanh = sims[sims["activation"] == "tanh"].sort_values(key)
    low = (tanh["gain"] < 1.0).to_numpy()
    np.testing.assert_allclose(
        tanh["exponent"].to_numpy()[low], linear["exponent"].to_numpy()[low], atol=0.01
    )
    # saturation keeps the chaotic tanh exponent far below ln g and near mean-field theory
    big = tanh[tanh["gain"] >= 2.0]
    assert (big["exponent"] < np.log(big["gain"]) - 0.3).all()
    big_mean = big.groupby("gain")["exponent"].mean()  # finite N: below mean-field theory
    np.testing.assert_allclose(
        big_mean, theory.mean_field_lyapunov(big_mean.index.to_numpy()), atol=0.1
    )
    # theory curves on the fine grid
    mf = data[data["curve"] == fig_lyapunov.MEAN_FIELD]
    np.testing.assert_allclose(mf["exponent"], theory.mean_field_lyapunov(mf["gain"].to_numpy()))
    lng = data[data["curve"] == fig_lyapunov.LOG_GAIN]
    np.testing.assert_allclose(lng["exponent"], np.log(lng["gain"]))
    assert mf["seed"].isna().all() and lng["activation"].isna().all()


def test_phase_diagram_draws_the_edge_of_chaos(drawn):
    fig, data = drawn["phase_diagram"]
    (ax,) = fig.axes
    (edge,) = [line for line in ax.lines if line.get_gid() == GIDS["edge"]]
    assert list(edge.get_xdata()) == [1.0, 1.0]
    means = [line for line in ax.lines if line.get_label().endswith("simulated")]
    assert [line.get_label() for line in means] == ["linear, simulated", "tanh, simulated"]
    sims = data[(data["curve"] == fig_lyapunov.SIMULATED) & (data["activation"] == "tanh")]
    np.testing.assert_allclose(means[1].get_ydata(), sims.groupby("gain")["exponent"].mean())
    assert len([line for line in ax.lines if line.get_gid() == GIDS["theory"]]) == 3


def test_gain_grid_is_geometric_with_exact_powers_of_two():
    grid = fig_lyapunov._gain_grid(0.25, 4.0, 25)
    assert {0.25, 0.5, 1.0, 2.0, 4.0} <= set(grid.tolist())
    np.testing.assert_allclose(np.diff(np.log2(grid)), 1 / 6)
    with pytest.raises(ValueError, match="gain_max: expected a number > gain_min = 2"):
        fig_lyapunov._gain_grid(2.0, 1.0, 5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="gains: expected at least one gain"):
        fig_lyapunov.lyapunov_spectra.func(gains=())
    with pytest.raises(ValueError, match="k: expected an integer <= 8, got 9"):
        fig_lyapunov.lyapunov_spectra.func(hidden_size=8, k=9)
    with pytest.raises(ValueError, match="activations: expected one of"):
        fig_lyapunov.phase_diagram.func(activations=("softsign",))


def test_phase_diagram_caption_numbers_come_from_the_data(drawn):
    _, data = drawn["phase_diagram"]
    spec = figures.get("phase_diagram")
    text = spec.describe(quick=True, data=data)
    assert "{" not in text and "…" not in text
    sim = data[data["curve"] == "simulated"]
    mean = sim.groupby(["activation", "gain"])["exponent"].mean()
    top = mean["tanh"].index.max()
    assert f"({mean['tanh'][top]:.2f} against {np.log(top):.2f} at g = {top:g})" in text
    rho = data[data["curve"].str.startswith("ln ρ")].groupby("gain")["exponent"].mean()
    above = (rho - np.log(rho.index.to_numpy())).mean()
    assert f"lies about {above:.2g} above ln g" in text
    shifted = data.assign(exponent=data["exponent"] + 0.5)
    assert spec.describe(quick=True, data=shifted) != text


def test_lyapunov_spectra_caption_numbers_come_from_the_data(drawn):
    _, data = drawn["lyapunov_spectra"]
    spec = figures.get("lyapunov_spectra")
    text = spec.describe(quick=True, data=data)
    assert "{" not in text and "…" not in text
    sim = data[data["curve"] == "simulated"]
    gains = sorted(g for g in sim["gain"].unique() if g > 1)
    positives = [int((sim[sim["gain"] == g]["exponent"] > 0).sum()) for g in gains]
    assert f"({', '.join(map(str, positives))} positive exponents at g = " in text
    tops = [sim[sim["gain"] == g].sort_values("index")["exponent"].iloc[0] for g in gains]
    assert f"the top exponent is {', '.join(f'{t:.2f}' for t in tops)} against" in text
