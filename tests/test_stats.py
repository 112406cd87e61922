"""gradflow.stats.band, the one owner of the median-and-band statistics, tested on numbers."""

import numpy as np
import pandas as pd
import pytest

from gradflow import stats
from gradflow.figures._common import median_band
from gradflow.plot.growth import _summarise
from gradflow.plot.lyapunov import _summary


@pytest.fixture
def frame():
    # group a: 0..10 (11 values), group b: 100, 200
    return pd.DataFrame({"g": ["a"] * 11 + ["b"] * 2, "y": [*range(11), 100.0, 200.0]}).sample(
        frac=1.0, random_state=0
    )


def test_known_quantiles(frame):
    out = stats.band(frame, ["g"], "y", size="n", sort=True)
    assert list(out.columns) == ["g", "n", "y", "y_low", "y_high"]
    a, b = out.iloc[0], out.iloc[1]
    assert (a["n"], a["y"], a["y_low"], a["y_high"]) == (
        11,
        5.0,
        1.0,
        9.0,
    )  # 10 % and 90 % of 0..10
    assert (b["y"], b["y_low"], b["y_high"]) == (150.0, 110.0, 190.0)  # linear interpolation
    full = stats.band(frame, ["g"], "y", width=100, sort=True)
    assert full["y_low"].tolist() == [0.0, 100.0] and full["y_high"].tolist() == [10.0, 200.0]
    mean = stats.band(frame, ["g"], "y", estimator="mean", width=0, sort=True)
    np.testing.assert_allclose(mean["y"], [5.0, 150.0])
    np.testing.assert_allclose(mean["y_low"], [5.0, 150.0])  # width 0: the median


def test_order_of_appearance_and_errors(frame):
    first = frame["g"].iloc[0]
    assert stats.band(frame, ["g"], "y")["g"].iloc[0] == first
    assert stats.band_edges(80) == (0.1, 0.9)
    with pytest.raises(ValueError, match="estimator"):
        stats.band(frame, ["g"], "y", estimator="mode")
    with pytest.raises(ValueError, match="width"):
        stats.band(frame, ["g"], "y", width=120)


def test_every_caller_uses_it(frame):
    """The figures' median_band and the plots' summaries give band's numbers."""
    expected = stats.band(frame, ["g"], "y", size="seeds")
    pd.testing.assert_frame_equal(median_band(frame, ["g"], "y"), expected)
    growth = _summarise(frame, ["g"], "y", "median", ("pi", 80))
    np.testing.assert_allclose(growth["_low"], expected["y_low"])
    np.testing.assert_allclose(growth["_high"], expected["y_high"])
    _, _, low, high = _summary(frame.assign(x=frame["g"].map({"a": 1, "b": 2})), "x", "y",
                                 ("pi", 80))  # fmt: skip
    np.testing.assert_allclose(low, [1.0, 110.0])
    np.testing.assert_allclose(high, [9.0, 190.0])
