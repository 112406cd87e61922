"""Tests of the cliff figure (gradflow.figures.cliff) in quick mode: its data and drawing."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import QuadMesh
from matplotlib.figure import Figure
from scipy.special import expit

from gradflow import figures, landscape, tasks
from gradflow.figures import clipping
from gradflow.plot.landscape import GIDS

COLUMNS = ["layer", "panel", "rule", "update", "w", "b", "loss", "grad_norm"]


@pytest.fixture(scope="module")
def drawn():
    return figures.get("cliff")(quick=True)


def _lines(ax):
    return [line for line in ax.lines if line.get_gid() is None and len(line.get_xdata())]


def test_registered_first_of_the_clipping_figures():
    names = figures.available()
    assert names[names.index("cliff") + 1] == "clipping_adding"
    spec = figures.get("cliff")
    assert spec.source == "gradflow.figures.cliff.cliff"
    assert "{" not in spec.describe() and "{" not in spec.describe(quick=True)
    assert clipping.cliff is spec  # still importable from gradflow.figures.clipping


def test_returns_figure_and_frame_and_csv(drawn, tmp_path):
    fig, data = drawn
    assert isinstance(fig, Figure) and isinstance(data, pd.DataFrame)
    assert list(data.columns) == COLUMNS and len(data) > 0
    figures.write_catalogue(tmp_path, only=["cliff"], quick=True)
    csv = pd.read_csv(tmp_path / "cliff.csv")
    assert list(csv.columns) == COLUMNS and len(csv) == len(data)
    numeric = data.select_dtypes("number").columns
    np.testing.assert_allclose(csv[numeric], data[numeric], rtol=1e-9, atol=1e-12)
    assert (tmp_path / "cliff.png").read_bytes()[:4] == b"\x89PNG"


def test_cliff_data_and_drawing(drawn):
    fig, data = drawn
    params = figures.get("cliff").parameters(quick=True)
    paths = data[data["layer"] == "path"]
    expected = landscape.trajectories(params["rules"], lr=params["lr"],
                                      updates=params["updates"], steps=params["steps"])  # fmt: skip
    np.testing.assert_allclose(paths[["w", "b", "loss"]], expected[["w", "b", "loss"]])
    overview, zoom = fig.axes[0], fig.axes[1]
    # the overview surface is the frame's overview grid, rows along b
    grid = data[(data["layer"] == "surface") & (data["panel"] == "overview")]
    (mesh,) = [c for c in overview.collections if isinstance(c, QuadMesh)]
    n = params["n_grid"]
    np.testing.assert_allclose(mesh.get_array().reshape(n, n).filled(np.nan),
                               grid["loss"].to_numpy().reshape(n, n))  # fmt: skip
    # each path drawn over both surfaces, in step order
    for ax in (overview, zoom):
        lines = _lines(ax)
        assert len(lines) == len(params["rules"])
        np.testing.assert_allclose(lines[0].get_xdata(), paths[paths.rule == "none"]["w"])
    # the wall: x0 = w sigma(x0) + b holds on it, and only beyond the threshold
    wall = data[data["layer"] == "wall"]
    np.testing.assert_allclose(wall["w"] * expit(0.5) + wall["b"], 0.5, atol=1e-12)
    assert wall["w"].min() > tasks.cliff_threshold()
    (drawn_wall,) = [line for line in zoom.lines if line.get_gid() == GIDS["wall"]]
    np.testing.assert_allclose(drawn_wall.get_xdata(), wall[wall.panel == "zoom"]["w"])


def test_cliff_science(drawn):
    _, data = drawn
    lr = figures.get("cliff").parameters(quick=True)["lr"]
    paths = data[data["layer"] == "path"]
    first = {rule: part.iloc[:2] for rule, part in paths.groupby("rule")}
    length = {r: np.hypot(*np.diff(p[["w", "b"]].to_numpy(), axis=0)[0]) for r, p in first.items()}
    g0 = first["none"]["grad_norm"].iloc[0]
    assert g0 > 100  # the start is on the face of the wall
    assert length["none"] == pytest.approx(lr * g0)  # unclipped: the full gradient step
    assert length["global:1"] == pytest.approx(lr * 1.0)  # Pascanu's rule: exactly lr * c
    assert length["value:1"] == pytest.approx(lr * np.sqrt(2))  # both components at c
    end = paths[paths.rule == "none"].iloc[-1]
    assert end["loss"] == pytest.approx(0.09) and end["grad_norm"] < 1e-12  # the plateau


def test_cliff_caption_numbers_come_from_the_data(drawn):
    _, data = drawn
    spec = figures.get("cliff")
    text = spec.describe(quick=True, data=data)
    assert "{" not in text and "…" not in text
    paths = data[data["layer"] == "path"]
    none = paths[paths["rule"] == "none"].sort_values("update")
    start = none.iloc[0]
    assert f"(w > {tasks.cliff_threshold():.3g})" in text
    assert f"has norm {start['grad_norm']:.3g}:" in text
    step = np.hypot(none["w"].iloc[1] - start["w"], none["b"].iloc[1] - start["b"])
    assert f"step has length {step:.3g} and" in text
    assert f"(w, b) = ({none['w'].iloc[1]:.1f}, {none['b'].iloc[1]:.1f})" in text
    assert f"(loss {none['loss'].iloc[-1]:.3f}," in text
    clipped = paths[paths["rule"] != "none"]
    reach = np.hypot(clipped["w"] - start["w"], clipped["b"] - start["b"]).max()
    assert f"within {reach:.2g} of the start" in text
    assert f"up to {clipped['loss'].max():.2g} and" in text
    moved = data.copy()
    moved.loc[moved["layer"] == "path", "grad_norm"] *= 3
    assert spec.describe(quick=True, data=moved) != text
