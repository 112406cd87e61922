"""gradflow.plot.diagnose and the diagnosis panel: the artists drawn, inspected."""

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgb
from matplotlib.patches import Circle

from gradflow import init, plot
from gradflow.cells import Elman, build, initial_params
from gradflow.diagnose import report
from gradflow.figures import diagnose_panel, save_figure
from gradflow.plot.diagnose import GIDS, gradient_forecast, singular_values


def _gid(artists, gid):
    return [a for a in artists if a.get_gid() == gid]


@pytest.fixture
def sigmas():
    blocks = [("W_hf", 1.0, 4.0), ("W_hg", 2.0, 1.0), ("W_ho", 0.5, 4.0)]
    rows = [
        pd.DataFrame(
            {
                "block": name,
                "index": np.arange(5),
                "bound": bound,
                "sigma": scale * np.geomspace(2, 0.1, 5),
            }
        )
        for name, scale, bound in blocks
    ]
    return pd.concat(rows, ignore_index=True)


@pytest.fixture
def curves():
    lags = np.arange(21)
    rows = [
        pd.DataFrame(
            {
                "inputs": kind,
                "lag": lags,
                "log_norm": rate * lags,
                "log_norm_low": (rate - 0.1) * lags,
                "log_norm_high": (rate + 0.1) * lags,
            }
        )
        for kind, rate in [("zero", -0.5), ("gaussian", 0.2)]
    ]
    return pd.concat(rows, ignore_index=True)


def test_singular_values_draws_one_line_per_block_and_the_bounds(sigmas):
    ax = plt.figure().subplots()
    assert singular_values(sigmas, ax=ax) is ax
    data = [line for line in ax.lines if line.get_gid() is None]
    assert [line.get_label() for line in data] == ["W_hf", "W_hg", "W_ho"]
    np.testing.assert_allclose(data[1].get_ydata(), 2.0 * np.geomspace(2, 0.1, 5))
    np.testing.assert_array_equal(data[0].get_xdata(), np.arange(5))
    [unit] = _gid(ax.lines, GIDS["unit"])
    assert list(unit.get_ydata()) == [1.0, 1.0]
    [bound] = _gid(ax.lines, GIDS["bound"])  # 1/γ = 4 for two blocks (grey), 1 is the σ = 1 line
    assert list(bound.get_ydata()) == [4.0, 4.0] and to_rgb(bound.get_color()) == to_rgb("0.45")
    assert ax.get_yscale() == "log" and ax.get_legend() is not None


def test_singular_values_bound_in_the_colour_of_its_only_block(sigmas):
    ax = singular_values(sigmas[sigmas["block"] != "W_ho"], ax=plt.figure().subplots(),
                         palette={"W_hf": "red", "W_hg": "blue"}, legend=False)  # fmt: skip
    [bound] = _gid(ax.lines, GIDS["bound"])
    assert to_rgb(bound.get_color()) == to_rgb("red") and ax.get_legend() is None


def test_singular_values_checks_columns(sigmas):
    with pytest.raises(ValueError, match="missing column"):
        singular_values(sigmas.drop(columns="bound"))
    with pytest.raises(TypeError, match="DataFrame"):
        singular_values(np.ones(3))
    ax = singular_values(sigmas.drop(columns="bound"), bound=None, hue=None)
    assert not _gid(ax.lines, GIDS["bound"])


def test_gradient_forecast_lines_band_cone_and_exponents(curves):
    ax = plt.figure().subplots()
    out = gradient_forecast(
        curves, ax=ax, threshold=0.02, exponents={"zero": -0.4, "gaussian": None}
    )
    assert out is ax
    data = [line for line in ax.lines if line.get_gid() is None and len(line.get_xdata())]
    want = {
        "zero": -0.5 * np.arange(21) / math.log(10),
        "gaussian": 0.2 * np.arange(21) / math.log(10),
    }
    by_label = {}
    for label, ys in want.items():
        [by_label[label]] = [line for line in data if np.allclose(line.get_ydata(), ys)]
    [cone] = _gid(ax.collections, GIDS["cone"])
    top = cone.get_paths()[0].vertices[:, 1].max()
    assert top == pytest.approx(0.02 * 20 / math.log(10))
    [line] = _gid(ax.lines, GIDS["exponent"])  # None is skipped
    assert line.get_ydata()[-1] == pytest.approx(-0.4 * 20 / math.log(10))
    assert to_rgb(line.get_color()) == to_rgb(by_label["zero"].get_color())
    bands = [c for c in ax.collections if c.get_gid() is None]
    assert len(bands) == 2  # one range band per input kind
    assert ax.get_xlabel().startswith("lag")


def test_gradient_forecast_without_band_or_references(curves):
    ax = gradient_forecast(curves[curves["inputs"] == "zero"], band=None, legend=False,
                           ax=plt.figure().subplots())  # fmt: skip
    assert not ax.collections and not _gid(ax.lines, GIDS["exponent"]) and ax.get_legend() is None
    with pytest.raises(ValueError, match="missing column"):
        gradient_forecast(curves.drop(columns="log_norm_low"))


def test_exported_from_plot():
    assert plot.gradient_forecast is gradient_forecast
    assert plot.singular_values is singular_values


# -- the panel ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reports():
    rng = np.random.default_rng(0)
    elman = Elman(init.gaussian(12, gain=1.2, rng=0), rng.standard_normal((12, 2)) * 0.3)
    params = initial_params("lstm", 8, gain=1.5, forget_bias=1.0, rng=0)
    params["W_xh"] = rng.standard_normal((32, 2)) * 0.3
    gru = build("gru", initial_params("gru", 8, rng=1))
    options = {"steps": 20, "rng": 0}
    return (report(elman, **options), report(build("lstm", params), **options),
            report(gru, spectra="fast", **options))  # fmt: skip


def test_panel_draws_every_block_the_singular_values_and_the_curves(reports, tmp_path):
    fig = diagnose_panel(reports, labels=["a.npz: W_hh", "b.pt: l0", "c: l0"])
    titles = [ax.get_title() for ax in fig.axes]
    assert len(fig.axes) == (1 + 2) + (4 + 2) + (3 + 2)
    assert [t.split(" ")[0] for t in titles[:3]] == ["W_hh", "singular", "gradient"]
    assert [t.split(" ")[0] for t in titles[3:7]] == ["W_hi", "W_hf", "W_hg", "W_ho"]
    eig_ax = fig.axes[0]
    radii = {p.get_gid(): p.get_radius() for p in eig_ax.patches if isinstance(p, Circle)}
    b = reports[0].block("W_hh")
    assert radii == {"unit-circle": 1.0, "circular-law": pytest.approx(b.circular_law_radius),
                     "sigma-max": pytest.approx(b.sigma_max)}  # fmt: skip
    points = eig_ax.collections[0].get_offsets()
    np.testing.assert_allclose(np.sort(points[:, 0]), np.sort(b.eigenvalues.real))
    suptitles = [sf._suptitle.get_text() for sf in fig.subfigs]
    assert suptitles[0].startswith("a.npz: W_hh (elman, N = 12, tanh): ")
    assert all(r.verdict in t for r, t in zip(reports, suptitles))
    assert any("not computed" in t.get_text() for ax in fig.axes[9:12] for t in ax.texts)
    path = save_figure(fig, tmp_path / "panel.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_panel_of_one_report_and_errors(reports):
    fig = diagnose_panel(reports[0])
    assert len(fig.axes) == 3 and fig.subfigs[0]._suptitle.get_text().startswith("cell (elman")
    with pytest.raises(TypeError, match="Report"):
        diagnose_panel([])
    with pytest.raises(ValueError, match="labels"):
        diagnose_panel(reports, labels=["one"])
