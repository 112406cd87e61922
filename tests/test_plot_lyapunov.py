"""Tests of gradflow.plot.lyapunov: inspect the artists each function draws (seaborn's manner)."""

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgb

from gradflow.plot import lyapunov as lplot
from gradflow.plot.lyapunov import GIDS


def _gid(ax, gid):
    artists = [*ax.lines, *ax.collections, *ax.patches, *ax.texts]
    return [a for a in artists if a.get_gid() == gid]


def _solid(ax):
    return [
        line
        for line in ax.lines
        if line.get_gid() is None and len(line.get_xdata()) and line.get_linestyle() == "-"
    ]


def _legend(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


# -- lyapunov_spectrum ----------------------------------------------------------------------------
@pytest.fixture
def spectra():
    frames = []
    for gain, n in [(0.5, 8), (2.0, 16)]:
        i = np.arange(1, n + 1)
        frames.append(
            pd.DataFrame(
                {
                    "gain": gain,
                    "hidden_size": n,
                    "index": i,
                    "exponent": math.log(gain) + 0.5 * np.log1p(-(i - 0.5) / n),
                    "stderr": 0.01,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_lyapunov_spectrum_lines_bands_and_normalised_index(spectra):
    _fig, ax = plt.subplots()
    out = lplot.lyapunov_spectrum(spectra, ax=ax)
    assert out is ax
    solid = _solid(ax)
    assert len(solid) == 2
    for line, (gain, part) in zip(solid, spectra.groupby("gain")):
        np.testing.assert_allclose(line.get_xdata(), part["index"] / part["hidden_size"])
        np.testing.assert_allclose(line.get_ydata(), part["exponent"])
        assert line.get_label() == f"$g$ = {gain:g}"
    bands = _gid(ax, GIDS["band"])
    assert len(bands) == 2 and all(isinstance(b, PolyCollection) for b in bands)
    low = bands[0].get_paths()[0].vertices[:, 1].min()  # ±2 standard errors
    assert low == pytest.approx(spectra["exponent"].iloc[:8].min() - 0.02)
    (zero,) = _gid(ax, GIDS["zero"])
    assert list(zero.get_ydata()) == [0.0, 0.0]
    assert ax.get_xlim() == (0.0, 1.0)
    assert ax.get_xlabel() == "normalised index $i/N$"
    assert "nats per step" in ax.get_ylabel()
    assert _legend(ax) == ["$g$ = 0.5", "$g$ = 2"]


def test_lyapunov_spectrum_reference_in_hue_colours(spectra):
    ax = lplot.lyapunov_spectrum(
        spectra, palette={0.5: "red", 2.0: "blue"}, reference=spectra, reference_label="Newman"
    )
    refs = _gid(ax, GIDS["reference"])
    assert len(refs) == 2
    assert {to_rgb(r.get_color()) for r in refs} == {to_rgb("red"), to_rgb("blue")}
    assert all(r.get_linestyle() == "--" for r in refs)
    np.testing.assert_allclose(refs[1].get_xdata(), np.arange(1, 17) / 16)
    assert _legend(ax) == ["$g$ = 0.5", "$g$ = 2", "Newman"]


def test_lyapunov_spectrum_raw_index_without_size_or_hue(spectra):
    part = spectra[spectra["gain"] == 2.0].drop(columns=["hidden_size", "gain", "stderr"])
    ax = lplot.lyapunov_spectrum(part, zero_line=False, legend=False, labels={None: "x"})
    (line,) = ax.lines
    np.testing.assert_allclose(line.get_xdata(), np.arange(1, 17))
    assert ax.get_xlabel() == "index $i$"
    assert not ax.collections and ax.get_legend() is None


def test_lyapunov_spectrum_bad_input(spectra):
    with pytest.raises(TypeError, match="data: expected a pandas DataFrame, got ndarray"):
        lplot.lyapunov_spectrum(np.zeros(3))
    with pytest.raises(ValueError, match=r"data: missing column\(s\) \['exponent'\]"):
        lplot.lyapunov_spectrum(spectra.drop(columns="exponent"))
    with pytest.raises(ValueError, match=r"reference: missing column\(s\) \['index'\]"):
        lplot.lyapunov_spectrum(spectra, reference=spectra.drop(columns="index"))
    with pytest.raises(ValueError, match=r"palette: no colour for hue level\(s\) \[2.0\]"):
        lplot.lyapunov_spectrum(spectra, palette={0.5: "red"})


# -- phase_diagram --------------------------------------------------------------------------------
@pytest.fixture
def tops():
    rng = np.random.default_rng(0)
    gains = np.array([0.5, 1.0, 2.0, 4.0])
    rows = []
    for activation, offset in [("linear", 0.0), ("tanh", -0.1)]:
        for seed in range(3):
            rows.append(
                pd.DataFrame(
                    {
                        "activation": activation,
                        "gain": gains,
                        "seed": seed,
                        "exponent": np.log(gains) + offset + 0.05 * rng.standard_normal(4),
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


@pytest.fixture
def curves():
    fine = np.geomspace(0.5, 4.0, 9)
    return pd.concat(
        [
            pd.DataFrame({"curve": "ln g", "gain": fine, "exponent": np.log(fine)}),
            pd.DataFrame(
                {"curve": "mf", "activation": "tanh", "gain": fine, "exponent": 0.1 * fine}
            ),
        ],
        ignore_index=True,
    )


def test_phase_diagram_mean_band_and_edge(tops, curves):
    _fig, ax = plt.subplots()
    out = lplot.phase_diagram(tops, ax=ax, theory=curves)
    assert out is ax
    means = tops.groupby(["activation", "gain"])["exponent"].mean()
    sds = tops.groupby(["activation", "gain"])["exponent"].std(ddof=1)
    lines = [line for line in ax.lines if line.get_label() in ("linear", "tanh")]
    assert [line.get_label() for line in lines] == ["linear", "tanh"]
    for line in lines:
        np.testing.assert_allclose(line.get_xdata(), [0.5, 1.0, 2.0, 4.0])
        np.testing.assert_allclose(line.get_ydata(), means[line.get_label()])
    # the earlier level's markers are larger and hollow, so coinciding curves stay visible
    assert lines[0].get_markersize() > lines[1].get_markersize()
    assert to_rgb(lines[0].get_markerfacecolor()) == (1.0, 1.0, 1.0)
    bands = _gid(ax, GIDS["band"])
    assert len(bands) == 2
    ys = bands[0].get_paths()[0].vertices[:, 1]
    assert ys.max() == pytest.approx((means["linear"] + sds["linear"]).max())
    assert ys.min() == pytest.approx((means["linear"] - sds["linear"]).min())
    (edge,) = _gid(ax, GIDS["edge"])
    assert list(edge.get_xdata()) == [1.0, 1.0]
    assert edge.get_label() == "edge of chaos, $g$ = 1"
    theory = _gid(ax, GIDS["theory"])
    assert len(theory) == 2
    np.testing.assert_allclose(theory[0].get_ydata(), np.log(np.geomspace(0.5, 4.0, 9)))
    assert to_rgb(theory[1].get_color()) == to_rgb(lines[1].get_color())  # tanh colour
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.5", "1", "2", "4"]
    assert "nats per step" in ax.get_ylabel() and ax.get_xlabel() == "gain $g$"
    assert _legend(ax) == ["linear", "tanh", "ln g", "mf", "edge of chaos, $g$ = 1"]


def test_phase_diagram_options(tops, curves):
    ax = lplot.phase_diagram(
        tops,
        spread=("pi", 100),
        edge=None,
        log_gain=False,
        theory=curves,
        curve_styles={"mf": {"color": "black", "linestyle": ":"}},
        labels={"linear": "lin", "tanh": "tanh!"},
    )
    assert not _gid(ax, GIDS["edge"]) and ax.get_xscale() == "linear"
    ys = _gid(ax, GIDS["band"])[1].get_paths()[0].vertices[:, 1]
    tanh = tops[tops["activation"] == "tanh"]["exponent"]
    assert ys.max() == pytest.approx(tanh.max()) and ys.min() == pytest.approx(tanh.min())
    mf = _gid(ax, GIDS["theory"])[1]
    assert to_rgb(mf.get_color()) == (0.0, 0.0, 0.0) and mf.get_linestyle() == ":"
    assert _legend(ax)[:2] == ["lin", "tanh!"]
    # one row per gain: no band
    plt.figure()
    ax = lplot.phase_diagram(tops[tops["seed"] == 0], legend=False)
    assert not _gid(ax, GIDS["band"]) and ax.get_legend() is None


def test_phase_diagram_bad_input(tops, curves):
    with pytest.raises(ValueError, match="spread: expected 'sd'"):
        lplot.phase_diagram(tops, spread="iqr")
    with pytest.raises(ValueError, match=r"theory: missing column\(s\) \['curve'\]"):
        lplot.phase_diagram(tops, theory=curves.drop(columns="curve"))
    with pytest.raises(ValueError, match="edge: expected a number > 0"):
        lplot.phase_diagram(tops, edge=-1.0)
