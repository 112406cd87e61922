"""Tests of gradflow.plot.clipping: inspect the artists that each function draws."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection, QuadMesh
from matplotlib.colors import LogNorm, Normalize, to_rgb

from gradflow import landscape as gl
from gradflow import tasks
from gradflow.plot.clipping import (
    GIDS,
    PlainLogFormatter,
    landscape,
    parameter_paths,
    threshold_sensitivity,
    training_curves,
    trajectories,
)


def _ax():
    return plt.figure().subplots()


def _by_gid(ax, gid):
    return [line for line in ax.lines if line.get_gid() == gid]


def _data_lines(ax):
    return [line for line in ax.lines if line.get_gid() is None and len(line.get_xdata())]


@pytest.fixture(scope="module")
def surf():
    return gl.surface(n_w=9, n_b=7)


@pytest.fixture(scope="module")
def paths():
    return gl.trajectories(n_steps=4)


@pytest.fixture
def curves():
    rng = np.random.default_rng(0)
    rows = []
    for rule, scale in [("none", 2.0), ("global:1", 1.0)]:
        for seed in range(5):
            for step in range(6):
                rows.append((rule, seed, step, scale * np.exp(rng.normal()) / (step + 1)))
    return pd.DataFrame(rows, columns=["rule", "seed", "step", "loss"])


# -- landscape --------------------------------------------------------------------------------
def test_landscape_draws_the_loss_on_a_log_scale_with_the_wall(surf):
    ax = _ax()
    w = surf.w[surf.w > tasks.cliff_threshold()]
    wall = pd.DataFrame({"w": w, "b": tasks.cliff_wall(w)})
    assert landscape(surf, ax=ax, wall=wall) is ax
    (mesh,) = [c for c in ax.collections if isinstance(c, QuadMesh)]
    assert mesh.get_gid() == GIDS["surface"]
    np.testing.assert_array_equal(mesh.get_array().reshape(surf.loss.shape), surf.loss)
    assert isinstance(mesh.norm, LogNorm)
    (line,) = _by_gid(ax, GIDS["wall"])
    np.testing.assert_allclose(line.get_xdata(), wall["w"])
    np.testing.assert_allclose(line.get_ydata(), wall["b"])
    assert line.get_linestyle() == "--"
    # cell-centred: the view reaches half a cell beyond the outer grid points
    half = (surf.w[1] - surf.w[0]) / 2
    assert ax.get_xlim() == pytest.approx((surf.w[0] - half, surf.w[-1] + half))
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("$w$", "$b$")
    assert len(ax.figure.axes) == 2  # the colour bar
    assert ax.figure.axes[1].get_ylabel() == "loss (log scale)"


def test_landscape_from_a_tidy_frame_matches_the_surface(surf):
    ax1, ax2 = plt.figure().subplots(1, 2)
    landscape(surf, ax=ax1, colorbar=False)
    frame = surf.to_frame().sample(frac=1.0, random_state=0)  # row order must not matter
    landscape(frame, ax=ax2, colorbar=False, log=False, vmin=0.0)
    first, second = ax1.collections[0], ax2.collections[0]
    np.testing.assert_allclose(second.get_array(), first.get_array())
    assert type(second.norm) is Normalize and second.norm.vmin == 0.0
    assert ax1.get_xlim() == pytest.approx(ax2.get_xlim())
    assert len(ax1.figure.axes) == 2


def test_landscape_fixes_the_view_so_later_paths_are_clipped(surf, paths):
    ax = _ax()
    landscape(surf, ax=ax, colorbar=False)
    limits = ax.get_xlim(), ax.get_ylim()
    trajectories(paths, ax=ax)  # the unclipped path leaves the grid
    assert (ax.get_xlim(), ax.get_ylim()) == limits


def test_landscape_masks_non_positive_values_on_a_log_scale():
    frame = pd.DataFrame({"w": [0.0, 1.0, 0.0, 1.0], "b": [0.0, 0.0, 1.0, 1.0],
                          "loss": [0.0, 1e-3, 1e-2, np.inf]})  # fmt: skip
    ax = landscape(frame, ax=_ax(), colorbar=False)
    array = ax.collections[0].get_array()
    assert array.mask.ravel().tolist() == [True, False, False, True]


@pytest.mark.parametrize(
    ("surface", "kwargs", "error", "match"),
    [
        ("nope", {}, TypeError, "surface: expected a Surface or a DataFrame"),
        (pd.DataFrame({"w": [0.0]}), {}, ValueError, r"surface: missing column\(s\)"),
        (pd.DataFrame({"w": [0.0, 1.0], "b": [0.0, 1.0], "loss": [1.0, 2.0]}), {},
         ValueError, "full"),
        (pd.DataFrame({"w": [0.0], "b": [0.0], "loss": [0.0]}), {}, ValueError, "positive"),
        (pd.DataFrame({"w": [0.0], "b": [0.0], "loss": [1.0]}),
         {"wall": pd.DataFrame({"x": [1]})}, ValueError, "wall: missing"),
    ],
)  # fmt: skip
def test_landscape_bad_input(surface, kwargs, error, match):
    with pytest.raises(error, match=match):
        landscape(surface, ax=_ax(), **kwargs)


# -- trajectories and parameter paths ---------------------------------------------------------
def test_trajectories_one_line_per_rule_in_step_order(paths):
    ax = _ax()
    shuffled = paths.sample(frac=1.0, random_state=1)
    labels = {"none": "no clipping"}
    trajectories(shuffled, ax=ax, labels=labels, end=True)
    lines = _data_lines(ax)
    assert [line.get_label() for line in lines] == ["no clipping", "value:1", "global:1"]
    for line, (_rule, part) in zip(lines, paths.groupby("rule", sort=False)):
        np.testing.assert_allclose(line.get_xdata(), part["w"])
        np.testing.assert_allclose(line.get_ydata(), part["b"])
    (start,) = _by_gid(ax, GIDS["start"])  # one shared start, marked once
    np.testing.assert_allclose(np.c_[start.get_xdata(), start.get_ydata()], [gl.DEFAULT_START])
    ends = _by_gid(ax, GIDS["end"])
    assert len(ends) == 3
    assert [to_rgb(e.get_color()) for e in ends] == [to_rgb(x.get_color()) for x in lines]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "no clipping", "value:1", "global:1", "start"
    ]  # fmt: skip


def test_trajectories_palette_order_and_colour(paths):
    ax = _ax()
    colours = {"none": "black", "value:1": "orange", "global:1": "blue"}
    trajectories(paths, ax=ax, hue_order=["global:1", "none"], palette=colours, legend=False)
    lines = _data_lines(ax)
    assert [line.get_label() for line in lines] == ["global:1", "none"]
    assert [to_rgb(line.get_color()) for line in lines] == [to_rgb("blue"), to_rgb("black")]
    assert ax.get_legend() is None
    ax = _ax()
    trajectories(paths, ax=ax, color="red", start=False, legend=False)
    assert {to_rgb(line.get_color()) for line in _data_lines(ax)} == {to_rgb("red")}
    assert _by_gid(ax, GIDS["start"]) == []


def test_parameter_paths_labels_and_markers():
    frame = pd.DataFrame({
        "label": ["a"] * 3 + ["b"] * 3, "step": [0, 5, 10] * 2,
        "pc1": [0.0, 1.0, 2.0, 0.0, -1.0, -2.0], "pc2": [0.0, 0.5, 0.2, 0.0, 0.1, 0.3],
    })  # fmt: skip
    ax = parameter_paths(frame, ax=_ax(), explained=(0.8, 0.15))
    assert ax.get_xlabel() == "PC 1 (80 % of variance)"
    assert ax.get_ylabel() == "PC 2 (15 % of variance)"
    ends = _by_gid(ax, GIDS["end"])
    assert sorted((e.get_xdata()[0], e.get_ydata()[0]) for e in ends) == [(-2.0, 0.3), (2.0, 0.2)]
    assert len(_by_gid(ax, GIDS["start"])) == 1
    ax = parameter_paths(frame, ax=_ax())
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("PC 1", "PC 2")


def test_trajectories_bad_input():
    with pytest.raises(TypeError, match="data: expected a pandas DataFrame"):
        trajectories(np.zeros((3, 2)), ax=_ax())
    with pytest.raises(ValueError, match=r"data: missing column\(s\) \['b'\]"):
        trajectories(pd.DataFrame({"w": [0.0]}), ax=_ax())


# -- training curves --------------------------------------------------------------------------
def test_training_curves_raw_values_with_one_row_per_step():
    frame = pd.DataFrame({"rule": ["none"] * 4 + ["global:1"] * 4, "step": list(range(4)) * 2,
                          "grad_norm": [1.0, 10.0, 100.0, 1e3, 1.0, 1.0, 1.0, 1.0]})  # fmt: skip
    ax = training_curves(frame, ax=_ax(), y="grad_norm", log=True, labels={"none": "no clip"})
    lines = _data_lines(ax)
    assert len(lines) == 2
    np.testing.assert_allclose(lines[0].get_ydata(), [1.0, 10.0, 100.0, 1e3])
    np.testing.assert_allclose(lines[1].get_xdata(), range(4))
    assert not [c for c in ax.collections if isinstance(c, PolyCollection)]  # no band
    assert ax.get_yscale() == "log"
    assert isinstance(ax.yaxis.get_major_formatter(), PlainLogFormatter)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("step", "grad norm")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["no clip", "global:1"]


def test_training_curves_median_and_band_over_seeds(curves):
    ax = training_curves(curves, ax=_ax(), legend=False)
    lines = _data_lines(ax)
    for line, (_rule, part) in zip(lines, curves.groupby("rule", sort=False)):
        np.testing.assert_allclose(line.get_ydata(), part.groupby("step")["loss"].median())
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2
    low = curves[curves.rule == "none"].groupby("step")["loss"].quantile(0.1)
    assert bands[0].get_paths()[0].vertices[:, 1].min() == pytest.approx(low.min())
    assert ax.get_legend() is None


def test_training_curves_mark_the_first_non_finite_step_and_hide_non_positive():
    frame = pd.DataFrame({"rule": ["none"] * 5, "step": range(5),
                          "update_norm": [1.0, 0.0, 1e300, np.inf, np.nan]})  # fmt: skip
    ax = training_curves(frame, ax=_ax(), y="update_norm", log=True, reference=0.5,
                         reference_label="half")  # fmt: skip
    (line,) = _data_lines(ax)
    # 0 on a log axis, inf and NaN are not drawn
    assert line.get_xdata().tolist() == [0, 2] and line.get_ydata().tolist() == [1.0, 1e300]
    (mark,) = _by_gid(ax, GIDS["nonfinite"])
    assert mark.get_xdata().tolist() == [3.0] and mark.get_ydata().tolist() == [1.0]
    (ref,) = _by_gid(ax, GIDS["baseline"])
    assert ref.get_ydata()[0] == 0.5
    assert "half" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_plain_log_formatter():
    formatter = PlainLogFormatter()
    ax = _ax()
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
    ax = threshold_sensitivity(sweep, ax=_ax(), reference=reference, baseline=1 / 6)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    lines = _data_lines(ax)
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
    (ref,) = _by_gid(ax, GIDS["reference"])
    assert ref.get_ydata()[0] == pytest.approx(0.45)  # the median of the unclipped runs
    (band,) = [p for p in ax.patches if p.get_gid() == GIDS["reference_band"]]
    assert (band.get_y(), band.get_y() + band.get_height()) == pytest.approx((0.3, 0.9))
    (base,) = _by_gid(ax, GIDS["baseline"])
    assert base.get_ydata()[0] == pytest.approx(1 / 6)
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["value", "global", "no clipping", "baseline"]
    assert ax.get_xlabel() == "clipping threshold"


def test_threshold_sensitivity_marks_diverged_runs(sweep):
    sweep.loc[(sweep.rule == "global") & (sweep.threshold == 10.0) & (sweep.seed == 0),
              "final_loss"] = np.inf  # fmt: skip
    ax = threshold_sensitivity(sweep, ax=_ax(), reference=0.2, legend=False, points=False)
    (mark,) = _by_gid(ax, GIDS["nonfinite"])
    assert mark.get_xdata().tolist() == [10.0]
    line = _data_lines(ax)[1]
    rest = sweep[(sweep.rule == "global") & (sweep.threshold == 10.0) & (sweep.seed > 0)]
    assert line.get_ydata()[-1] == pytest.approx(rest.final_loss.median())
    assert _by_gid(ax, GIDS["reference"])[0].get_ydata()[0] == 0.2
    assert ax.get_legend() is None


def test_threshold_sensitivity_bad_input(sweep):
    with pytest.raises(ValueError, match=r"reference: missing column"):
        threshold_sensitivity(sweep, ax=_ax(), reference=pd.DataFrame({"x": [1.0]}))
    with pytest.raises(ValueError, match=r"data: missing column\(s\) \['final_loss'\]"):
        threshold_sensitivity(sweep.drop(columns="final_loss"), ax=_ax())
