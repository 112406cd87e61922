"""Tests of gradflow.plot.clipping: inspect the artists that each function draws."""

import numpy as np
import pandas as pd
import pytest
from _plot_helpers import data_lines, lines_by_gid, new_axes
from matplotlib.collections import PolyCollection

from gradflow.plot.clipping import (
    GIDS,
    PlainLogFormatter,
    parameter_paths,
    threshold_sensitivity,
    training_curves,
)


@pytest.fixture
def curves():
    rng = np.random.default_rng(0)
    rows = []
    for rule, scale in [("none", 2.0), ("global:1", 1.0)]:
        for seed in range(5):
            for step in range(6):
                rows.append((rule, seed, step, scale * np.exp(rng.normal()) / (step + 1)))
    return pd.DataFrame(rows, columns=["rule", "seed", "update", "loss"])


# -- parameter paths --------------------------------------------------------------------------
def test_parameter_paths_labels_and_markers():
    frame = pd.DataFrame({
        "label": ["a"] * 3 + ["b"] * 3, "update": [0, 5, 10] * 2,
        "pc1": [0.0, 1.0, 2.0, 0.0, -1.0, -2.0], "pc2": [0.0, 0.5, 0.2, 0.0, 0.1, 0.3],
    })  # fmt: skip
    ax = parameter_paths(frame, ax=new_axes(), explained=(0.8, 0.15))
    assert ax.get_xlabel() == "PC 1 (80 % of variance)"
    assert ax.get_ylabel() == "PC 2 (15 % of variance)"
    ends = lines_by_gid(ax, GIDS["end"])
    assert sorted((e.get_xdata()[0], e.get_ydata()[0]) for e in ends) == [(-2.0, 0.3), (2.0, 0.2)]
    assert len(lines_by_gid(ax, GIDS["start"])) == 1
    ax = parameter_paths(frame, ax=new_axes())
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("PC 1", "PC 2")


# -- training curves --------------------------------------------------------------------------
def test_training_curves_raw_values_with_one_row_per_step():
    frame = pd.DataFrame({"rule": ["none"] * 4 + ["global:1"] * 4, "update": list(range(4)) * 2,
                          "grad_norm": [1.0, 10.0, 100.0, 1e3, 1.0, 1.0, 1.0, 1.0]})  # fmt: skip
    ax = training_curves(frame, ax=new_axes(), y="grad_norm", log=True, labels={"none": "no clip"})
    lines = data_lines(ax)
    assert len(lines) == 2
    np.testing.assert_allclose(lines[0].get_ydata(), [1.0, 10.0, 100.0, 1e3])
    np.testing.assert_allclose(lines[1].get_xdata(), range(4))
    assert not [c for c in ax.collections if isinstance(c, PolyCollection)]  # no band
    assert ax.get_yscale() == "log"
    assert isinstance(ax.yaxis.get_major_formatter(), PlainLogFormatter)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("update", "grad norm")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["no clip", "global:1"]


def test_training_curves_median_and_band_over_seeds(curves):
    ax = training_curves(curves, ax=new_axes(), legend=False)
    lines = data_lines(ax)
    for line, (_rule, part) in zip(lines, curves.groupby("rule", sort=False)):
        np.testing.assert_allclose(line.get_ydata(), part.groupby("update")["loss"].median())
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2
    low = curves[curves.rule == "none"].groupby("update")["loss"].quantile(0.1)
    assert bands[0].get_paths()[0].vertices[:, 1].min() == pytest.approx(low.min())
    assert ax.get_legend() is None


def test_training_curves_mark_the_first_non_finite_step_and_hide_non_positive():
    frame = pd.DataFrame({"rule": ["none"] * 5, "update": range(5),
                          "update_norm": [1.0, 0.0, 1e300, np.inf, np.nan]})  # fmt: skip
    ax = training_curves(frame, ax=new_axes(), y="update_norm", log=True, reference=0.5,
                         reference_label="half")  # fmt: skip
    (line,) = data_lines(ax)
    # 0 on a log axis, inf and NaN are not drawn
    assert line.get_xdata().tolist() == [0, 2] and line.get_ydata().tolist() == [1.0, 1e300]
    (mark,) = lines_by_gid(ax, GIDS["nonfinite"])
    assert mark.get_xdata().tolist() == [3.0] and mark.get_ydata().tolist() == [1.0]
    (ref,) = lines_by_gid(ax, GIDS["baseline"])
    assert ref.get_ydata()[0] == 0.5
    assert "half" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_plain_log_formatter():
    formatter = PlainLogFormatter()
    ax = new_axes()
    ax.set_yscale("log")
    ax.set_ylim(1e-6, 1e6)
    formatter.set_axis(ax.yaxis)
    assert formatter(0.01) == "0.01" and formatter(100.0) == "100"
    assert formatter(1e-5) == "$\\mathdefault{10^{-5}}$"


# -- threshold sensitivity --------------------------------------------------------------------
@pytest.fixture
def sweep():
    rng = np.random.default_rng(1)
    rows = [
        (rule, c, seed, float(np.exp(rng.normal())) * (0.1 + abs(np.log10(c))))
        for rule in ("value", "global")
        for c in (0.01, 0.1, 1.0, 10.0)
        for seed in range(4)
    ]
    return pd.DataFrame(rows, columns=["rule", "threshold", "seed", "final_loss"])


def test_threshold_sensitivity_median_band_and_reference(sweep):
    reference = pd.DataFrame({"final_loss": [0.3, 0.5, 0.4, 0.9]})
    ax = threshold_sensitivity(sweep, ax=new_axes(), reference=reference, baseline=1 / 6)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    lines = data_lines(ax)
    assert len(lines) == 2
    for line, (_rule, part) in zip(lines, sweep.groupby("rule", sort=False)):
        np.testing.assert_allclose(line.get_xdata(), [0.01, 0.1, 1.0, 10.0])
        np.testing.assert_allclose(
            line.get_ydata(), part.groupby("threshold")["final_loss"].median()
        )
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    value = sweep[sweep.rule == "value"]
    ys = bands[0].get_paths()[0].vertices[:, 1]
    assert ys.min() == pytest.approx(value.final_loss.min())  # ("pi", 100): the full range
    assert ys.max() == pytest.approx(value.final_loss.max())
    (ref,) = lines_by_gid(ax, GIDS["reference"])
    assert ref.get_ydata()[0] == pytest.approx(0.45)  # the median of the unclipped runs
    (band,) = [p for p in ax.patches if p.get_gid() == GIDS["reference_band"]]
    assert (band.get_y(), band.get_y() + band.get_height()) == pytest.approx((0.3, 0.9))
    (base,) = lines_by_gid(ax, GIDS["baseline"])
    assert base.get_ydata()[0] == pytest.approx(1 / 6)
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["value", "global", "no clipping", "baseline"]
    assert ax.get_xlabel() == "clipping threshold"


def test_threshold_sensitivity_marks_diverged_runs(sweep):
    sweep.loc[(sweep.rule == "global") & (sweep.threshold == 10.0) & (sweep.seed == 0),
              "final_loss"] = np.inf  # fmt: skip
    ax = threshold_sensitivity(sweep, ax=new_axes(), reference=0.2, legend=False, points=False)
    (mark,) = lines_by_gid(ax, GIDS["nonfinite"])
    assert mark.get_xdata().tolist() == [10.0]
    line = data_lines(ax)[1]
    rest = sweep[(sweep.rule == "global") & (sweep.threshold == 10.0) & (sweep.seed > 0)]
    assert line.get_ydata()[-1] == pytest.approx(rest.final_loss.median())
    assert lines_by_gid(ax, GIDS["reference"])[0].get_ydata()[0] == 0.2
    assert ax.get_legend() is None


def test_threshold_sensitivity_bad_input(sweep):
    with pytest.raises(ValueError, match=r"reference: missing column"):
        threshold_sensitivity(sweep, ax=new_axes(), reference=pd.DataFrame({"x": [1.0]}))
    with pytest.raises(ValueError, match=r"data: missing column\(s\) \['final_loss'\]"):
        threshold_sensitivity(sweep.drop(columns="final_loss"), ax=new_axes())


def test_a_palette_dict_must_name_every_rule_as_everywhere_in_plot():
    # one palette rule (plot._common.level_colours) for every plot function
    frame = pd.DataFrame({"rule": ["none"] * 3 + ["global:1"] * 3, "update": [0, 1, 2] * 2,
                          "loss": [1.0, 0.5, 0.25, 1.0, 0.6, 0.3]})  # fmt: skip
    with pytest.raises(ValueError, match=r"^palette: no colour for hue level\(s\) \['global:1'\]"):
        training_curves(frame, palette={"none": "k"})
    ax = training_curves(frame, palette={"none": "k", "global:1": "r"})
    assert {line.get_color() for line in ax.lines} >= {"k", "r"}
