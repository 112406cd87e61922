"""Tests of gradflow.plot: inspect the artists that each function draws (seaborn's manner)."""

import math

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import seaborn as sns
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.colors import to_rgb
from matplotlib.patches import Circle

from gradflow import plot
from gradflow.plot.growth import PowerOfTenFormatter
from gradflow.plot.spectra import GIDS


def _circles(ax):
    return {p.get_gid(): p for p in ax.patches if isinstance(p, Circle)}


@pytest.fixture
def spectrum():
    rng = np.random.default_rng(3)
    lam = np.linalg.eigvals(rng.standard_normal((40, 40)) / math.sqrt(40))
    return pd.DataFrame({"init": "gaussian", "real": lam.real, "imag": lam.imag})


@pytest.fixture
def curves():
    lags = np.arange(30)
    rows = [
        pd.DataFrame({"init": name, "lag": lags, "log_norm": lags * math.log(gain)})
        for name, gain in [("orthogonal", 1.2), ("gaussian", 0.8)]
    ]
    return pd.concat(rows, ignore_index=True)


# -- eigenvalues --------------------------------------------------------------------------------
def test_eigenvalues_scatter_matches_data(spectrum):
    _fig, ax = plt.subplots()
    out = plot.eigenvalues(spectrum, ax=ax)
    assert out is ax
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(scatters) == 1
    np.testing.assert_allclose(scatters[0].get_offsets(), spectrum[["real", "imag"]].to_numpy())
    assert ax.get_xlabel() == r"Re $\lambda$" and ax.get_ylabel() == r"Im $\lambda$"
    assert ax.get_aspect() == 1.0


def test_eigenvalues_reference_circles(spectrum):
    ax = plot.eigenvalues(spectrum, gain=1.5, sigma_max=2.5)
    circles = _circles(ax)
    assert set(circles) == set(GIDS.values())
    assert circles[GIDS["unit"]].get_radius() == 1.0
    assert circles[GIDS["disk"]].get_radius() == 1.5
    assert circles[GIDS["sigma_max"]].get_radius() == 2.5
    assert circles[GIDS["sigma_max"]].get_linestyle() == ":"
    # the view holds every circle
    assert ax.get_xlim()[1] >= 2.5 and ax.get_ylim()[0] <= -2.5


def test_eigenvalues_radius_overrides_gain_and_defaults(spectrum):
    ax = plot.eigenvalues(spectrum, gain=1.0, radius=1 / math.sqrt(3))
    assert _circles(ax)[GIDS["disk"]].get_radius() == pytest.approx(1 / math.sqrt(3))
    plt.figure()
    ax = plot.eigenvalues(spectrum, unit_circle=False)
    assert _circles(ax) == {}


def test_eigenvalues_from_complex_array_uses_current_axes():
    lam = np.array([1 + 1j, -0.5j, 0.25])
    _fig, ax = plt.subplots()
    out = plot.eigenvalues(lam)
    assert out is ax
    offsets = ax.collections[0].get_offsets()
    np.testing.assert_allclose(offsets, np.c_[lam.real, lam.imag])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["unit circle"]


def test_eigenvalues_hue_colours_and_legend(spectrum):
    both = pd.concat([spectrum, spectrum.assign(init="orthogonal", real=spectrum.real / 2)])
    colours = plot.palette(["orthogonal", "gaussian"])
    ax = plot.eigenvalues(both, palette=colours)
    facecolors = ax.collections[0].get_facecolors()[:, :3]
    expected = [colours[name] for name in both["init"]]
    np.testing.assert_allclose(facecolors, expected)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"gaussian", "orthogonal", "unit circle"} <= set(labels)


def test_eigenvalues_no_legend(spectrum):
    ax = plot.eigenvalues(spectrum, gain=1.0, legend=False)
    assert ax.get_legend() is None


@pytest.mark.parametrize(
    ("data", "kwargs", "error", "match"),
    [
        (pd.DataFrame({"re": [1.0]}), {}, ValueError, "data: expected columns"),
        ("abc", {}, TypeError, "data:"),
        (np.array([1.0]), {"gain": -1.0}, ValueError, "gain"),
        (np.array([1.0]), {"sigma_max": float("nan")}, ValueError, "sigma_max"),
    ],
)
def test_eigenvalues_bad_input(data, kwargs, error, match):
    with pytest.raises(error, match=match):
        plot.eigenvalues(data, **kwargs)


# -- growth ---------------------------------------------------------------------------------------
def _data_lines(ax):
    return [line for line in ax.lines if len(line.get_xdata()) > 0]


def test_growth_lines_are_log10_of_the_norm(curves):
    ax = plot.growth(curves, legend=False)
    lines = _data_lines(ax)
    assert len(lines) == 2
    for line, (_name, part) in zip(lines, curves.groupby("init", sort=False)):
        np.testing.assert_allclose(line.get_xdata(), part["lag"])
        np.testing.assert_allclose(line.get_ydata(), part["log_norm"] / math.log(10))
    assert len(ax.collections) == 0  # one row per point: no band
    assert ax.get_xlabel() == r"lag $T - t$ (steps)"
    assert "log scale" in ax.get_ylabel()


def test_growth_axis_reads_as_powers_of_ten(curves):
    ax = plot.growth(curves)
    ax.figure.canvas.draw()
    ticks = ax.get_yticks()
    assert np.allclose(ticks, np.round(ticks))  # ticks at whole decades
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "$10^{0}$" in labels
    assert PowerOfTenFormatter()(-3.0) == "$10^{-3}$"
    assert PowerOfTenFormatter()(0.5) == "$10^{0.5}$"


def test_growth_draws_what_would_overflow_exp():
    lags = np.arange(3)
    frame = pd.DataFrame({"lag": lags, "log_norm": [0.0, 5e3, 1e4]})  # exp(1e4) = inf
    ax = plot.growth(frame, hue=None)
    (line,) = _data_lines(ax)
    assert np.all(np.isfinite(line.get_ydata()))
    assert line.get_ydata()[-1] == pytest.approx(1e4 / math.log(10))


def test_growth_theory_overlay_single_and_by_hue(curves):
    theory = curves[curves["init"] == "orthogonal"][["lag", "log_norm"]]
    ax = plot.growth(curves, theory=theory, theory_label="$g^k$")
    dashed = [line for line in _data_lines(ax) if line.get_linestyle() == "--"]
    assert len(dashed) == 1
    np.testing.assert_allclose(dashed[0].get_ydata(), theory["log_norm"] / math.log(10))
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["orthogonal", "gaussian", "$g^k$"]

    plt.figure()
    colours = plot.palette(["orthogonal", "gaussian"])
    ax = plot.growth(curves, theory=curves, palette=colours, legend=False)
    dashed = [line for line in _data_lines(ax) if line.get_linestyle() == "--"]
    assert [to_rgb(line.get_color()) for line in dashed] == [
        to_rgb(colours["orthogonal"]),
        to_rgb(colours["gaussian"]),
    ]


def test_growth_seeds_give_median_and_band():
    rng = np.random.default_rng(0)
    lags = np.arange(10)
    frame = pd.concat(
        [
            pd.DataFrame(
                {"init": "gaussian", "seed": s, "lag": lags, "log_norm": rng.normal(size=10)}
            )
            for s in range(7)
        ]
    )
    ax = plot.growth(frame, legend=False)
    (line,) = _data_lines(ax)
    median = frame.groupby("lag")["log_norm"].median() / math.log(10)
    np.testing.assert_allclose(line.get_ydata(), median.to_numpy())
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 1
    low = frame.groupby("lag")["log_norm"].quantile(0.1) / math.log(10)
    ys = bands[0].get_paths()[0].vertices[:, 1]
    assert ys.min() == pytest.approx(low.min())


@pytest.mark.parametrize(
    ("data", "kwargs", "error", "match"),
    [
        (np.zeros(3), {}, TypeError, "data: expected a pandas DataFrame"),
        (pd.DataFrame({"lag": [0]}), {}, ValueError, "data: missing column"),
        (
            pd.DataFrame({"lag": [0], "log_norm": [0.0]}),
            {"theory": pd.DataFrame({"lag": [0]})},
            ValueError,
            "theory: missing column",
        ),
    ],
)
def test_growth_bad_input(data, kwargs, error, match):
    with pytest.raises(error, match=match):
        plot.growth(data, **kwargs)


# -- style ----------------------------------------------------------------------------------------
def test_style_context_and_palette():
    before = dict(matplotlib.rcParams)
    with plot.style_context():
        cycle = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
        assert [to_rgb(c) for c in cycle[:3]] == sns.color_palette("colorblind")[:3]
        assert matplotlib.rcParams["svg.hashsalt"] == "gradflow"
    assert matplotlib.rcParams["svg.hashsalt"] == before["svg.hashsalt"]
    colours = plot.palette(["b", "a", "b"])
    assert list(colours) == ["b", "a"]
    assert colours["a"] == sns.color_palette("colorblind")[1]
