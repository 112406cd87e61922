"""Tests of gradflow.plot.sweeps: inspect the artists each function draws (seaborn's manner)."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgb
from matplotlib.container import ErrorbarContainer

from gradflow import plot
from gradflow.plot.sweeps import GIDS, QUANTITY_LABELS, growth_rates, spectral_gap

GAINS = np.array([0.5, 1.0, 2.0])


@pytest.fixture
def rates():
    rows = []
    for name, shift in [("orthogonal", 0.0), ("gaussian", 0.05)]:
        rate = np.log(GAINS) + shift
        rows.append(
            pd.DataFrame(
                {
                    "init": name,
                    "gain": GAINS,
                    "rate": rate,
                    "ci_low": rate - np.array([0.01, 0.02, 0.03]),
                    "ci_high": rate + np.array([0.04, 0.05, 0.06]),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


@pytest.fixture
def curves():
    grid = np.linspace(0.5, 2.0, 7)
    return pd.concat(
        [
            pd.DataFrame({"init": None, "gain": grid, "curve": "ln g", "theory": np.log(grid)}),
            pd.DataFrame(
                {"init": "gaussian", "gain": grid, "curve": "shifted", "theory": np.log(grid) + 1}
            ),
        ],
        ignore_index=True,
    )


@pytest.fixture
def spectra():
    """Three seeds per (init, gain): orthogonal ρ = σ = g; 'random' ρ = g·c_s, σ = 2g·c_s."""
    rows = []
    for seed, factor in enumerate([0.9, 1.0, 1.3]):
        rows.append(
            pd.DataFrame(
                {
                    "init": "orthogonal",
                    "gain": GAINS,
                    "seed": seed,
                    "spectral_radius": GAINS,
                    "sigma_max": GAINS,
                }
            )
        )
        rows.append(
            pd.DataFrame(
                {
                    "init": "random",
                    "gain": GAINS,
                    "seed": seed,
                    "spectral_radius": GAINS * factor,
                    "sigma_max": 2 * GAINS * factor,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def _by_gid(ax, gid):
    return [artist for artist in ax.get_children() if artist.get_gid() == gid]


def _data_lines(ax):
    return [line for line in ax.lines if len(line.get_xdata()) > 0 and line.get_gid() is None]


# -- growth_rates ---------------------------------------------------------------------------------
def test_growth_rates_points_and_error_bars_match_the_data(rates):
    ax = growth_rates(rates, legend=False)
    containers = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(containers) == 2
    for container, (_name, part) in zip(containers, rates.groupby("init", sort=False)):
        line, _caps, (bars,) = container.lines
        np.testing.assert_allclose(line.get_xdata(), part["gain"])
        np.testing.assert_allclose(line.get_ydata(), part["rate"])
        segments = np.array(bars.get_segments())  # (points, 2 ends, xy)
        np.testing.assert_allclose(segments[:, 0, 1], part["ci_low"])
        np.testing.assert_allclose(segments[:, 1, 1], part["ci_high"])
    markers = [c.lines[0].get_marker() for c in containers]
    assert len(set(markers)) == 2
    (zero,) = _by_gid(ax, GIDS["zero"])
    assert list(zero.get_ydata()) == [0.0, 0.0]
    assert ax.get_xlabel() == "gain $g$" and "nats" in ax.get_ylabel()


def test_growth_rates_hue_order_palette_labels_and_dodge(rates):
    colours = plot.palette(["gaussian", "orthogonal"])
    ax = growth_rates(
        rates,
        hue_order=["gaussian", "orthogonal"],
        palette=colours,
        labels={"gaussian": "Gaussian"},
        dodge=0.1,
        zero_line=False,
    )
    first, second = [c.lines[0] for c in ax.containers]
    assert to_rgb(first.get_color()) == to_rgb(colours["gaussian"])
    assert to_rgb(second.get_color()) == to_rgb(colours["orthogonal"])
    np.testing.assert_allclose(first.get_xdata(), GAINS - 0.05)  # offsets -1/2, +1/2 × dodge
    np.testing.assert_allclose(second.get_xdata(), GAINS + 0.05)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Gaussian", "orthogonal"]
    assert not _by_gid(ax, GIDS["zero"])


def test_growth_rates_theory_curves_by_hue_and_neutral(rates, curves):
    colours = plot.palette(["orthogonal", "gaussian"])
    ax = growth_rates(rates, palette=colours, theory=curves, curve_styles={"shifted": ":"})
    theory = _by_gid(ax, GIDS["theory"])
    assert len(theory) == 2
    neutral, coloured = theory
    np.testing.assert_allclose(neutral.get_ydata(), np.log(neutral.get_xdata()))
    assert max(to_rgb(neutral.get_color())) < 0.2  # near-black: no hue level
    assert to_rgb(coloured.get_color()) == to_rgb(colours["gaussian"])
    assert coloured.get_linestyle() == ":" and neutral.get_linestyle() == "--"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["orthogonal", "gaussian", "ln g", "shifted"]


def test_growth_rates_without_interval_or_hue():
    frame = pd.DataFrame({"gain": GAINS, "rate": np.log(GAINS)})
    ax = growth_rates(frame, legend=False)
    (container,) = ax.containers
    assert not container.has_yerr
    np.testing.assert_allclose(container.lines[0].get_ydata(), np.log(GAINS))


def test_growth_rates_infinite_interval_draws_no_bar(rates):
    rates = rates.assign(ci_low=np.nan, ci_high=np.nan)  # one seed: no interval
    ax = growth_rates(rates, legend=False)
    for container in ax.containers:
        segments = np.array(container.lines[2][0].get_segments())
        np.testing.assert_allclose(segments[:, 0, 1], segments[:, 1, 1])


@pytest.mark.parametrize(
    ("data", "kwargs", "error", "match"),
    [
        (np.zeros(3), {}, TypeError, "data: expected a pandas DataFrame"),
        (pd.DataFrame({"gain": [1.0]}), {}, ValueError, r"data: missing column\(s\) \['rate'\]"),
        (
            pd.DataFrame({"init": ["a"], "gain": [1.0], "rate": [0.0]}),
            {"palette": {"b": "red"}},
            ValueError,
            r"palette: no colour for hue level\(s\) \['a'\]",
        ),
        (
            pd.DataFrame({"gain": [1.0], "rate": [0.0]}),
            {"theory": pd.DataFrame({"gain": [1.0], "theory": [0.0]})},
            ValueError,
            r"theory: missing column\(s\) \['curve'\]",
        ),
    ],
)
def test_growth_rates_bad_input(data, kwargs, error, match):
    with pytest.raises(error, match=match):
        growth_rates(data, **kwargs)


# -- spectral_gap ---------------------------------------------------------------------------------
def test_spectral_gap_medians_bands_and_styles(spectra):
    ax = spectral_gap(spectra, legend=False)
    lines = _data_lines(ax)
    assert len(lines) == 4  # (init) × (ρ, σ_max)
    for k, (_name, part) in enumerate(spectra.groupby("init", sort=False)):
        radius, sigma = lines[2 * k], lines[2 * k + 1]
        medians = part.groupby("gain")[["spectral_radius", "sigma_max"]].median()
        np.testing.assert_allclose(radius.get_xdata(), medians.index)
        np.testing.assert_allclose(radius.get_ydata(), medians["spectral_radius"])
        np.testing.assert_allclose(sigma.get_ydata(), medians["sigma_max"])
        assert radius.get_linestyle() == "-" and radius.get_marker() == "o"
        assert sigma.get_linestyle() == "--" and sigma.get_marker() == "s"
        assert to_rgb(radius.get_color()) == to_rgb(sigma.get_color())
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 4
    # the 'random' σ_max band spans the 10-90 % interval of its three seeds at each gain
    random_sigma = bands[3].get_paths()[0].vertices[:, 1]
    expected = np.percentile(2 * GAINS[:, None] * [0.9, 1.0, 1.3], [10, 90], axis=1)
    assert random_sigma.max() == pytest.approx(expected[1].max())
    assert random_sigma.min() == pytest.approx(expected[0].min())


def test_spectral_gap_references_threshold_and_legend(spectra):
    ax = spectral_gap(spectra, labels={"random": "Gaussian"})
    references = _by_gid(ax, GIDS["reference"])
    assert len(references) == 2
    for line, slope in zip(references, (1.0, 2.0)):
        x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
        np.testing.assert_allclose(y, slope * x)
        assert x.max() >= GAINS.max()
    (threshold,) = _by_gid(ax, GIDS["threshold"])
    assert list(threshold.get_ydata()) == [1.0, 1.0]
    (region,) = _by_gid(ax, GIDS["vanishing"])
    corners = region.get_path().vertices @ region.get_patch_transform().get_matrix()[:2, :2].T
    assert corners[:, 1].min() == pytest.approx(0.0) and corners[:, 1].max() == pytest.approx(1.0)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:4] == ["orthogonal", "Gaussian", *QUANTITY_LABELS.values()]
    assert labels[4:6] == ["$g$", "$2g$"]
    assert "Pascanu" in labels[6] and "vanishing" in labels[7]
    assert ax.get_ylim()[0] == 0.0 and ax.get_xlim()[0] == 0.0


def test_spectral_gap_single_level_without_threshold_or_references(spectra):
    part = spectra[spectra["init"] == "orthogonal"]
    ax = spectral_gap(part, threshold=None, references=(), errorbar=None)
    assert not _by_gid(ax, GIDS["threshold"]) and not _by_gid(ax, GIDS["vanishing"])
    assert not _by_gid(ax, GIDS["reference"])
    assert not [c for c in ax.collections if isinstance(c, PolyCollection)]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == list(QUANTITY_LABELS.values())  # one level: no hue entries


def test_spectral_gap_uses_current_axes(spectra):
    _, (left, right) = plt.subplots(1, 2)
    plt.sca(right)
    assert spectral_gap(spectra, legend=False) is right
    assert not left.lines


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (np.zeros((2, 2)), "data: expected a pandas DataFrame"),
        (pd.DataFrame({"gain": [1.0], "spectral_radius": [1.0]}), r"missing column\(s\)"),
    ],
)
def test_spectral_gap_bad_input(data, match):
    error = TypeError if isinstance(data, np.ndarray) else ValueError
    with pytest.raises(error, match=match):
        spectral_gap(data)


# -- gradflow.plot.growth with a precomputed band (used by the growth figure) ---------------------
def test_growth_draws_a_precomputed_band():
    lags = np.arange(5)
    frame = pd.DataFrame(
        {"init": "gaussian", "lag": lags, "log_norm": -lags * 1.0,
         "low": -lags * 1.5, "high": -lags * 0.5}
    )  # fmt: skip
    ax = plot.growth(frame, band=("low", "high"), legend=False)
    (line,) = [line for line in ax.lines if len(line.get_xdata())]
    np.testing.assert_allclose(line.get_ydata(), frame["log_norm"] / np.log(10))
    (band,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    ys = band.get_paths()[0].vertices[:, 1]
    assert ys.min() == pytest.approx(-6.0 / np.log(10)) and ys.max() == pytest.approx(0.0)
    assert to_rgb(band.get_facecolor()[0][:3]) == to_rgb(line.get_color())
    with pytest.raises(ValueError, match="band: expected data with one row per"):
        plot.growth(pd.concat([frame, frame]), band=("low", "high"))
    with pytest.raises(TypeError, match="band: expected a pair"):
        plot.growth(frame, band="low")
