"""Tests of gradflow.plot.products: inspect the artists each function draws (seaborn's manner)."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.patches import StepPatch

from gradflow.plot.products import GIDS, singular_value_spectra


def _gid(ax, gid):
    artists = [*ax.lines, *ax.collections, *ax.patches, *ax.texts]
    return [a for a in artists if a.get_gid() == gid]


@pytest.fixture
def products():
    rng = np.random.default_rng(1)
    depths = [1, 4, 16]
    return pd.DataFrame(
        {
            "depth": np.repeat(depths, 200),
            "log10_sv": np.concatenate([-0.3 * d * rng.random(200) for d in depths]),
        }
    )


def test_singular_value_spectra_ridges(products):
    _fig, ax = plt.subplots()
    out = singular_value_spectra(products, ax=ax, bins=20, min_width=1e-3)
    assert out is ax
    ridges = _gid(ax, GIDS["ridge"])
    assert len(ridges) == 3 and all(isinstance(r, StepPatch) for r in ridges)
    for ridge, (base, depth) in zip(ridges, [(2.0, 1), (1.0, 4), (0.0, 16)]):
        data = ridge.get_data()
        values = products.loc[products["depth"] == depth, "log10_sv"]
        assert len(data.edges) == 21
        assert data.edges[0] == pytest.approx(values.min())
        assert data.edges[-1] == pytest.approx(values.max())
        assert data.baseline == base
        assert data.values.max() == pytest.approx(base + 0.85)  # scaled to its peak
        counts, _ = np.histogram(values, data.edges)
        np.testing.assert_allclose(data.values, base + 0.85 * counts / counts.max())
    assert [t.get_text() for t in ax.get_yticklabels()] == ["$L$ = 16", "$L$ = 4", "$L$ = 1"]
    (isometry,) = _gid(ax, GIDS["isometry"])
    assert list(isometry.get_xdata()) == [0.0, 0.0]
    texts = [t.get_text() for t in _gid(ax, GIDS["spread"])]
    width = np.subtract(*np.percentile(products["log10_sv"][:200], [90, 10]))
    assert texts[0] == f"10–90 %: {width:.2f} decades"
    assert len(texts) == 3
    assert ax.get_xlabel().startswith(r"$\log_{10}\sigma$")
    # by default bins are at least 1/200 of the whole range wide: the narrow ridge gets fewer
    plt.figure()
    ax = singular_value_spectra(products, bins=20)
    edges = _gid(ax, GIDS["ridge"])[0].get_data().edges
    span = products["log10_sv"].max() - products["log10_sv"].min()
    assert len(edges) < 21 and np.diff(edges) == pytest.approx(span / 200)


def test_singular_value_spectra_spike_and_non_finite():
    # an isometry: every value at 0 up to rounding, plus an exact zero singular value
    frame = pd.DataFrame(
        {"depth": [1] * 5 + [2] * 5, "log10_sv": [1e-16, -1e-16, 0, 0, -np.inf, *range(-4, 1)]}
    )
    ax = singular_value_spectra(frame, bins=10, annotate=None, isometry=None)
    spike, wide = _gid(ax, GIDS["ridge"])
    edges = spike.get_data().edges
    assert edges[-1] - edges[0] == pytest.approx(4.0 / 200.0)  # one visible bin, 1/200 of range
    assert edges[0] < 0.0 < edges[-1]
    assert spike.get_data().values.max() == pytest.approx(1.85)
    assert len(wide.get_data().edges) == 11
    assert not _gid(ax, GIDS["spread"]) and not _gid(ax, GIDS["isometry"])
    # one value only: the default narrowest bin is 0.02
    plt.figure()
    ax = singular_value_spectra(pd.DataFrame({"log10_sv": [0.0]}))
    (ridge,) = _gid(ax, GIDS["ridge"])
    assert np.ptp(ridge.get_data().edges) == pytest.approx(0.02)
    assert [t.get_text() for t in _gid(ax, GIDS["spread"])] == ["10–90 %: 0 decades"]


def test_singular_value_spectra_order_and_bad_input(products):
    ax = singular_value_spectra(products, hue_order=[16, 1], labels=str)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1", "16"]
    with pytest.raises(ValueError, match="bins: expected an integer >= 1, got 0"):
        singular_value_spectra(products, bins=0)
    with pytest.raises(ValueError, match=r"data: missing column\(s\) \['log10_sv'\]"):
        singular_value_spectra(products.rename(columns={"log10_sv": "x"}))
    with pytest.raises(ValueError, match="min_width: expected a number > 0"):
        singular_value_spectra(products, min_width=0.0)
