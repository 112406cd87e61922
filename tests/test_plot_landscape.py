"""Tests of gradflow.plot.landscape: inspect the artists that each function draws."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from _plot_helpers import data_lines, lines_by_gid, new_axes
from matplotlib.collections import QuadMesh
from matplotlib.colors import LogNorm, Normalize, to_rgb

from gradflow import landscape as gl
from gradflow import tasks
from gradflow.plot.landscape import GIDS, landscape, trajectories


@pytest.fixture(scope="module")
def surf():
    return gl.surface(n_w=9, n_b=7)


@pytest.fixture(scope="module")
def paths():
    return gl.trajectories(n_steps=4)


# -- landscape --------------------------------------------------------------------------------
def test_landscape_draws_the_loss_on_a_log_scale_with_the_wall(surf):
    ax = new_axes()
    w = surf.w[surf.w > tasks.cliff_threshold()]
    wall = pd.DataFrame({"w": w, "b": tasks.cliff_wall(w)})
    assert landscape(surf, ax=ax, wall=wall) is ax
    (mesh,) = [c for c in ax.collections if isinstance(c, QuadMesh)]
    assert mesh.get_gid() == GIDS["surface"]
    np.testing.assert_array_equal(mesh.get_array().reshape(surf.loss.shape), surf.loss)
    assert isinstance(mesh.norm, LogNorm)
    (line,) = lines_by_gid(ax, GIDS["wall"])
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
    ax = new_axes()
    landscape(surf, ax=ax, colorbar=False)
    limits = ax.get_xlim(), ax.get_ylim()
    trajectories(paths, ax=ax)  # the unclipped path leaves the grid
    assert (ax.get_xlim(), ax.get_ylim()) == limits


def test_landscape_masks_non_positive_values_on_a_log_scale():
    frame = pd.DataFrame({"w": [0.0, 1.0, 0.0, 1.0], "b": [0.0, 0.0, 1.0, 1.0],
                          "loss": [0.0, 1e-3, 1e-2, np.inf]})  # fmt: skip
    ax = landscape(frame, ax=new_axes(), colorbar=False)
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
        landscape(surface, ax=new_axes(), **kwargs)


# -- trajectories -----------------------------------------------------------------------------
def test_trajectories_one_line_per_rule_in_step_order(paths):
    ax = new_axes()
    shuffled = paths.sample(frac=1.0, random_state=1)
    labels = {"none": "no clipping"}
    trajectories(shuffled, ax=ax, labels=labels, end=True)
    lines = data_lines(ax)
    assert [line.get_label() for line in lines] == ["no clipping", "value:1", "global:1"]
    for line, (_rule, part) in zip(lines, paths.groupby("rule", sort=False)):
        np.testing.assert_allclose(line.get_xdata(), part["w"])
        np.testing.assert_allclose(line.get_ydata(), part["b"])
    (start,) = lines_by_gid(ax, GIDS["start"])  # one shared start, marked once
    np.testing.assert_allclose(np.c_[start.get_xdata(), start.get_ydata()], [gl.DEFAULT_START])
    ends = lines_by_gid(ax, GIDS["end"])
    assert len(ends) == 3
    assert [to_rgb(e.get_color()) for e in ends] == [to_rgb(x.get_color()) for x in lines]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "no clipping", "value:1", "global:1", "start"
    ]  # fmt: skip


def test_trajectories_palette_order_and_colour(paths):
    ax = new_axes()
    colours = {"none": "black", "value:1": "orange", "global:1": "blue"}
    trajectories(paths, ax=ax, hue_order=["global:1", "none"], palette=colours, legend=False)
    lines = data_lines(ax)
    assert [line.get_label() for line in lines] == ["global:1", "none"]
    assert [to_rgb(line.get_color()) for line in lines] == [to_rgb("blue"), to_rgb("black")]
    assert ax.get_legend() is None
    ax = new_axes()
    trajectories(paths, ax=ax, color="red", start=False, legend=False)
    assert {to_rgb(line.get_color()) for line in data_lines(ax)} == {to_rgb("red")}
    assert lines_by_gid(ax, GIDS["start"]) == []


def test_trajectories_bad_input():
    with pytest.raises(TypeError, match="data: expected a pandas DataFrame"):
        trajectories(np.zeros((3, 2)), ax=new_axes())
    with pytest.raises(ValueError, match=r"data: missing column\(s\) \['b'\]"):
        trajectories(pd.DataFrame({"w": [0.0]}), ax=new_axes())
