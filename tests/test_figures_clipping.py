"""Tests of the training-based clipping figures (gradflow.figures.clipping), in quick mode."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from gradflow import figures, train
from gradflow.figures import clipping
from gradflow.plot.clipping import GIDS

NAMES = ("clipping_adding", "clipping_thresholds", "update_paths")
COLUMNS = {
    "clipping_adding": [
        "rule", "update", "loss", "grad_norm", "update_norm", "cosine", "spectral_radius"
    ],
    "clipping_thresholds": ["rule", "threshold", "seed", "final_loss", "diverged"],
    "update_paths": [
        "basis", "rule", "update", "pc1", "pc2", "explained_pc1", "explained_pc2", "distance",
        "loss", "grad_norm", "update_norm", "spectral_radius",
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def drawn():
    return {name: figures.get(name)(quick=True) for name in NAMES}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("clipping")
    figures.write_catalogue(out, only=NAMES, quick=True)
    return out


def _lines(ax):
    return [line for line in ax.lines if line.get_gid() is None and len(line.get_xdata())]


def test_registered_in_order_with_captions():
    names = figures.available()
    assert [n for n in names if n in NAMES] == list(NAMES)
    for name in NAMES:
        spec = figures.get(name)
        assert spec.source == f"gradflow.figures.clipping.{name}"
        assert "{" not in spec.describe() and "{" not in spec.describe(quick=True)


@pytest.mark.parametrize("name", NAMES)
def test_returns_figure_and_frame_and_csv(drawn, written, name):
    fig, data = drawn[name]
    assert isinstance(fig, Figure) and isinstance(data, pd.DataFrame)
    assert list(data.columns) == COLUMNS[name]
    assert len(data) > 0
    csv = pd.read_csv(written / f"{name}.csv")
    assert list(csv.columns) == COLUMNS[name] and len(csv) == len(data)
    numeric = data.select_dtypes("number").columns
    np.testing.assert_allclose(csv[numeric], data[numeric], rtol=1e-9, atol=1e-12)
    assert (written / f"{name}.png").read_bytes()[:4] == b"\x89PNG"


def test_rule_labels_and_colours():
    assert clipping.rule_label("global:1") == "global norm, c = 1"
    assert clipping.rule_label("adaptive:0.01") == "adaptive (AGC), λ = 0.01"
    assert clipping.rule_label("none") == "no clipping"
    colours = clipping.rule_colours(["value:0.1", "value:1", "global:1", "none"])
    assert colours["value:0.1"] == colours["value:1"] != colours["global:1"] != colours["none"]


def test_rule_names_come_from_their_owner():
    """Every rule of gradflow.clip.RULES has a display name and its own colour, and the
    figures' tables name no rule the package does not have; the most rules the CLI's summary
    figure accepts is the number of dash patterns of the plot layer."""
    from gradflow import clip
    from gradflow.cli._clip import _max_plot_rules
    from gradflow.figures._common import _FAMILY_COLOUR, _FAMILY_NAME
    from gradflow.plot.learning import STYLE_DASHES

    assert set(_FAMILY_NAME) == set(clip.RULES)
    assert set(_FAMILY_COLOUR) == set(clip.RULES) - {"none"}
    colours = clipping.rule_colours([f"{r}:1" for r in clip.RULES])
    assert len({tuple(c) for c in colours.values()}) == len(clip.RULES)
    assert _max_plot_rules() == len(STYLE_DASHES)


def test_initialiser_scales_have_one_owner():
    from gradflow import init, simulate
    from gradflow.figures import foundation

    assert foundation._DISK_SCALE is init.IID_SCALE is simulate._IID_SCALE
    assert init.IID_SCALE["uniform"] == pytest.approx(3**-0.5)
    assert set(init.IID_SCALE) <= set(init.available())


# -- clipping on the adding task --------------------------------------------------------------
def test_clipping_adding_matches_direct_training(drawn):
    fig, data = drawn["clipping_adding"]
    p = figures.get("clipping_adding").parameters(quick=True)
    task = train.make_task("adding", p["T"])
    init_seed, data_seed = np.random.SeedSequence(p["rng"]).spawn(2)
    model = train.init_model(
        task, p["hidden_size"], init=p["init"], gain=p["gain"], activation=p["activation"],
        rng=np.random.default_rng(init_seed),
    )  # fmt: skip
    history = train.fit(task, model, clip="global:1", optimizer=p["optimizer"], lr=p["lr"],
                        updates=p["updates"], batch=p["batch"],
                        rng=np.random.default_rng(data_seed), progress=False)  # fmt: skip
    part = data[data["rule"] == "global:1"].reset_index(drop=True)
    expected = history.frame[COLUMNS["clipping_adding"][1:]]
    pd.testing.assert_frame_equal(part[expected.columns], expected)
    # the loss panel draws the loss of each rule against the step
    lines = _lines(fig.axes[0])
    assert len(lines) == len(p["rules"])
    finite = part[np.isfinite(part["loss"])]
    np.testing.assert_allclose(lines[p["rules"].index("global:1")].get_ydata(), finite["loss"])
    assert fig.axes[0].get_yscale() == "log" and fig.axes[3].get_yscale() == "linear"


def test_clipping_adding_science(drawn):
    _, data = drawn["clipping_adding"]
    lr = figures.get("clipping_adding").parameters(quick=True)["lr"]
    by_rule = dict(tuple(data.groupby("rule")))
    ok = by_rule["none"][np.isfinite(by_rule["none"]["grad_norm"])]
    # plain SGD without clipping: the update is lr times the raw gradient
    np.testing.assert_allclose(ok["update_norm"], lr * ok["grad_norm"], rtol=1e-10)
    # global-norm clipping at 1: updates of at most lr, the direction kept
    glob = by_rule["global:1"]
    assert (glob["update_norm"] <= lr * (1 + 1e-12)).all()
    np.testing.assert_array_equal(glob["cosine"], 1.0)
    assert (by_rule["value:0.1"]["cosine"] < 1).any()  # value clipping turns the gradient


def test_clipping_adding_caption_numbers_come_from_the_data(drawn):
    _, data = drawn["clipping_adding"]
    text = figures.get("clipping_adding").describe(quick=True, data=data)
    assert "{" not in text and "…" not in text
    steps = data["update"].max() + 1
    tail = max(1, steps // 10)
    last = data[data["update"] >= steps - tail]
    none = data[data["rule"] == "none"]
    peak = none.loc[np.isfinite(none["grad_norm"]), "grad_norm"].max()
    assert f"reaches norm {peak:.3g}" in text
    for rule in ("value:0.1", "norm:1", "global:1"):
        loss = last.loc[last["rule"] == rule, "loss"].median()
        assert f"{clipping.rule_label(rule)} {loss:.3g}" in text
    finals = [last.loc[last["rule"] == r, "loss"].median() for r in ("value:0.1", "norm:1",
                                                                      "global:1")]  # fmt: skip
    assert f"{sum(f < 1 / 12 for f in finals)} of 3 clipped runs end below half" in text
    rho = data.loc[data["rule"] != "none", "spectral_radius"].max()
    assert f"at most {rho:.2g}" in text
    cos = data.loc[data["rule"] == "value:0.1", "cosine"].min()
    assert f"value, c = 0.1 down to {cos:.2f}" in text
    # an overflowing unclipped run is described as such, at its first non-finite step
    blown = data.copy()
    first = blown.index[blown["rule"] == "none"][3]
    blown.loc[first:, "loss"] = np.where(blown.loc[first:, "rule"] == "none", np.inf,
                                         blown.loc[first:, "loss"])  # fmt: skip
    text = figures.get("clipping_adding").describe(quick=True, data=blown)
    assert f"overflows at update {int(blown.loc[first, 'update'])}" in text


# -- thresholds -------------------------------------------------------------------------------
def test_clipping_thresholds_matches_compare_clipping(drawn):
    fig, data = drawn["clipping_thresholds"]
    p = figures.get("clipping_thresholds").parameters(quick=True)
    direct = train.compare_clipping(
        "adding", ["none", *p["rules"]], list(p["thresholds"]), p["seeds"], T=p["T"],
        hidden_size=p["hidden_size"], init=p["init"], gain=p["gain"], activation=p["activation"],
        optimizer=p["optimizer"], lr=p["lr"], updates=p["updates"], batch=p["batch"], rng=p["rng"],
    )  # fmt: skip
    pd.testing.assert_frame_equal(data, direct[COLUMNS["clipping_thresholds"]])
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    lines = _lines(ax)
    value = data[data["rule"] == "value"]
    np.testing.assert_allclose(
        lines[0].get_ydata(), value.groupby("threshold")["final_loss"].median()
    )
    (ref,) = [line for line in ax.lines if line.get_gid() == GIDS["reference"]]
    assert ref.get_ydata()[0] == pytest.approx(data[data.rule == "none"]["final_loss"].median())


# -- update paths -----------------------------------------------------------------------------
def test_update_paths_bases(drawn):
    fig, data = drawn["update_paths"]
    rules = figures.get("update_paths").parameters(quick=True)["rules"]
    assert list(dict.fromkeys(data["basis"])) == ["all runs", "clipped runs"]
    assert set(data[data.basis == "clipped runs"]["rule"]) == set(rules) - {"none"}
    for _basis, part in data.groupby("basis"):
        starts = part[part["update"] == 0][["pc1", "pc2"]].to_numpy()
        np.testing.assert_allclose(starts - starts[0], 0.0, atol=1e-9)  # one common start
        explained = part[["explained_pc1", "explained_pc2"]].drop_duplicates().to_numpy()
        assert explained.shape == (1, 2) and explained.sum() <= 1 + 1e-12
    assert len(fig.axes) == 2
    lines = _lines(fig.axes[0])
    first = data[(data.basis == "all runs") & (data.rule == rules[0])]
    np.testing.assert_allclose(lines[0].get_xdata(), first["pc1"])
    assert fig.axes[0].get_xlabel().startswith("PC 1 (")


def test_update_paths_caption_numbers_come_from_the_data(drawn):
    _, data = drawn["update_paths"]
    spec = figures.get("update_paths")
    text = spec.describe(quick=True, data=data)
    assert "{" not in text and "…" not in text
    part = data[data["basis"] == "all runs"]
    runs = {rule: frame for rule, frame in part.groupby("rule")}
    none = runs.pop("none")
    assert f"({len(none)} snapshots per run)" in text
    assert f"first raw gradient has norm {none['grad_norm'].iloc[0]:.3g}," in text
    assert f"first unclipped update has length {none['update_norm'].iloc[0]:.2g}:" in text
    assert f"ends {none['distance'].iloc[-1]:.2g} from the start" in text
    assert f"reaches {none['spectral_radius'].max():.2g} (from" in text
    tail = none[none["update"] >= 0.8 * none["update"].max()]
    assert f"snapshots is {tail['loss'].median():.3g}." in text
    ends = [frame["distance"].iloc[-1] for frame in runs.values()]
    assert f"end {min(ends):.2g}–{max(ends):.2g} from the start" in text
    glob = runs["global:1"]["update_norm"].max()
    assert f"{glob:.2g} for global norm, c = 1)" in text
    lr = spec.parameters(quick=True)["lr"]
    assert glob <= lr * (1 + 1e-12)  # what the caption states: global-norm steps ≤ lr·c
    starts = data[data["update"] == 0]["distance"]
    np.testing.assert_array_equal(starts, 0.0)
    # the text follows the data: a changed number changes the caption
    moved = data.copy()
    moved.loc[moved["basis"] == "all runs", "grad_norm"] *= 2
    assert spec.describe(quick=True, data=moved) != text


def test_clipping_thresholds_caption_numbers_come_from_the_data(drawn):
    _, data = drawn["clipping_thresholds"]
    text = figures.get("clipping_thresholds").describe(quick=True, data=data)
    none = data.loc[data["rule"] == "none", "final_loss"].median()
    assert f"median of {none:.2g};" in text
    for rule, name in (("value", "value"), ("global", "global norm")):
        medians = data[data["rule"] == rule].groupby("threshold")["final_loss"].median()
        assert f"{name} clipping does best at c = {medians.idxmin():g}" in text
        assert f"(median {medians.min():.2g})" in text
    # a threshold whose median is above the unclipped one is named as worse
    worse = data.copy()
    worse.loc[(worse["rule"] == "value") & (worse["threshold"] == 0.1), "final_loss"] = 10.0
    text = figures.get("clipping_thresholds").describe(quick=True, data=worse)
    assert "worse than not clipping at c = 0.1" in text
