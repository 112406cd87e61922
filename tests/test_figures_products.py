"""Tests of gradflow.figures.products: the product-spectra figure in quick mode, its data and
what it draws."""

import math

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import StepPatch

from gradflow import figures, theory
from gradflow.figures import lyapunov as fig_lyapunov
from gradflow.figures import products as fig_products
from gradflow.plot.lyapunov import GIDS

COLUMNS = ["activation", "init", "depth", "seed", "index", "log_sv", "log10_sv"]


@pytest.fixture(scope="module")
def drawn():
    return figures.get("product_spectra")(quick=True)


def test_registered_after_the_lyapunov_figures_with_quick_settings(drawn):
    names = figures.available()
    assert names[names.index("phase_diagram") + 1] == "product_spectra"
    spec = figures.get("product_spectra")
    assert spec.source == "gradflow.figures.products.product_spectra"
    assert fig_products.product_spectra is spec
    assert fig_lyapunov.product_spectra is spec  # still importable from figures.lyapunov
    assert "{" not in spec.describe(quick=True)
    fig, data = drawn
    assert isinstance(fig, Figure)
    assert list(data.columns) == COLUMNS
    assert not data.empty


def test_product_spectra_data(drawn):
    _, data = drawn
    params = figures.get("product_spectra").parameters(quick=True)
    n, seeds, depths = params["hidden_size"], params["seeds"], params["depths"]
    assert len(data) == 4 * len(depths) * seeds * n
    np.testing.assert_allclose(data["log10_sv"], data["log_sv"] / math.log(10))
    groups = dict(tuple(data.groupby(["activation", "init"])))
    # dynamical isometry: an orthogonal linear product keeps every σ exactly at 1
    assert groups["linear", "orthogonal"]["log_sv"].abs().max() < 1e-12
    # tanh' <= 1 and ||Q|| = 1: every σ of a tanh orthogonal product is at most 1
    assert groups["tanh", "orthogonal"]["log_sv"].max() < 1e-12
    # depth 1, linear Gaussian: σ(W), whose squares have the Fuss-Catalan (Marchenko-Pastur)
    # moments 1 and 2 at g = 1
    one = np.exp(2 * groups["linear", "gaussian"].query("depth == 1")["log_sv"])
    assert one.mean() == pytest.approx(theory.fuss_catalan_moment(1, 1), abs=0.1)
    assert (one**2).mean() == pytest.approx(theory.fuss_catalan_moment(1, 2), abs=0.3)

    def spread(part):
        return part.groupby("depth")["log10_sv"].quantile([0.1, 0.9]).unstack().diff(axis=1)[0.9]

    for activation in ("linear", "tanh"):
        gaussian = spread(groups[activation, "gaussian"])
        assert np.all(np.diff(gaussian) > 0)  # Gaussian products spread with depth
    # with tanh, orthogonal W spreads far less than Gaussian W
    assert (
        (spread(groups["tanh", "orthogonal"]).iloc[-1])
        < 0.2 * spread(groups["tanh", "gaussian"]).iloc[-1]
    )


def test_product_spectra_draws_its_data(drawn):
    fig, data = drawn
    assert len(fig.axes) == 4
    assert [ax.get_title() for ax in fig.axes] == [
        "linear, orthogonal $W$",
        "linear, Gaussian $W$",
        "tanh, orthogonal $W$",
        "tanh, Gaussian $W$",
    ]
    n_depths = data["depth"].nunique()
    for ax in fig.axes:
        ridges = [p for p in ax.patches if isinstance(p, StepPatch) and p.get_gid() == "ridge"]
        assert len(ridges) == n_depths
        assert any(line.get_gid() == GIDS["isometry"] for line in ax.lines)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == "$L$ = 1"  # depth 1 on top


def test_bad_arguments():
    with pytest.raises(ValueError, match="inits: expected one of"):
        fig_products.product_spectra.func(inits=("nonesuch",))
    with pytest.raises(ValueError, match="depths: expected an integer >= 1, got 0"):
        fig_products.product_spectra.func(depths=(0, 4))


def test_product_spectra_caption_numbers_come_from_the_data(drawn):
    _, data = drawn
    spec = figures.get("product_spectra")
    text = spec.describe(quick=True, data=data)
    assert "{" not in text and "…" not in text
    gauss = data[(data["activation"] == "linear") & (data["init"] == "gaussian")]
    widths = [
        np.quantile(part, 0.9) - np.quantile(part, 0.1)
        for _, part in gauss.groupby("depth")["log10_sv"]
    ]
    assert f"(central 80 %: {', '.join(f'{w:.2g}' for w in widths)} decades" in text
    iso = data[(data["activation"] == "linear") & (data["init"] == "orthogonal")]
    assert f"at most {np.abs(iso['log_sv']).max():.0e}:" in text
    tanh = data[(data["activation"] == "tanh") & (data["init"] == "orthogonal")]
    assert f"within {-tanh['log10_sv'].min():.2g} decades" in text
    assert ("all σ ≤ 1" in text) == (tanh["log10_sv"].max() <= 1e-12)
