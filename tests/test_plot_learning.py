"""Tests of gradflow.plot.learning: the drawn artists carry exactly the data."""

import numpy as np
import pandas as pd
import pytest
from _plot_helpers import new_axes

from gradflow.plot.learning import MARKERS, STYLE_DASHES, loss_bands, solved_against_length


def summary():
    rows = []
    for init in ("orthogonal", "gaussian"):
        for rule in ("none", "global:1"):
            for T, value in zip((10, 20, 40), (1.0, 0.5 if rule == "none" else 0.75, 0.0)):
                rows.append((init, rule, T, value if init == "orthogonal" else value / 2))
    return pd.DataFrame(rows, columns=["init", "rule", "T", "solved_fraction"])


def test_one_line_per_combination_with_its_values():
    data = summary()
    ax = solved_against_length(data, ax=new_axes(), palette={"orthogonal": "C0",
                                                              "gaussian": "C1"})  # fmt: skip
    lines = [line for line in ax.lines if len(line.get_xdata())]
    assert len(lines) == 4
    drawn = sorted(tuple(line.get_ydata()) for line in lines)
    expected = sorted(tuple(part["solved_fraction"]) for _, part in data.groupby(["init", "rule"]))
    assert drawn == expected
    assert ax.get_xscale() == "log" and list(ax.get_xticks()) == [10, 20, 40]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["10", "20", "40"]
    assert {line.get_marker() for line in lines} == set(MARKERS[:2])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["orthogonal", "gaussian", "none", "global:1"]


def test_dodge_moves_x_apart_but_keeps_y_and_nan_is_not_drawn():
    data = summary()
    data.loc[0, "solved_fraction"] = np.nan
    ax = solved_against_length(data, ax=new_axes(), dodge=0.1, legend=False)
    by_colour = {}
    for line in ax.lines:
        if len(line.get_xdata()):
            by_colour.setdefault(line.get_color(), []).append(np.asarray(line.get_xdata()))
    xs = [np.concatenate(v) for v in by_colour.values()]
    # two hue levels at x·exp(∓0.05): the ratio of their x positions at one T is exp(0.1)
    ratio = np.max(xs[1]) / np.max(xs[0])
    assert ratio == pytest.approx(np.exp(0.1)) or 1 / ratio == pytest.approx(np.exp(0.1))
    ys = np.concatenate([line.get_ydata() for line in ax.lines if len(line.get_xdata())])
    assert np.isfinite(ys[~np.isnan(ys)]).all()
    assert np.isnan(ys).sum() <= 1  # the NaN point is not drawn as a number


def test_too_many_styles_and_missing_columns_give_one_line_errors():
    data = summary()
    many = pd.concat([data.assign(rule=f"r{k}") for k in range(len(STYLE_DASHES) + 1)])
    with pytest.raises(ValueError, match="style"):
        solved_against_length(many, ax=new_axes())
    with pytest.raises(ValueError, match="missing"):
        solved_against_length(data.drop(columns="T"), ax=new_axes())


def test_loss_bands_draw_the_median_and_the_band_edges():
    steps = np.arange(5)
    data = pd.concat([
        pd.DataFrame({"combination": name, "update": steps, "loss": base * (steps + 1.0),
                      "loss_low": base * (steps + 0.5), "loss_high": base * (steps + 2.0)})
        for name, base in (("a", 1.0), ("b", 2.0))
    ])  # fmt: skip
    ax = loss_bands(data, ax=new_axes(), dashes={"b": (2, 2)}, reference=1 / 6)
    lines = [line for line in ax.lines if line.get_label() in ("a", "b")]
    assert [line.get_label() for line in lines] == ["a", "b"]
    np.testing.assert_allclose(lines[1].get_ydata(), 2.0 * (steps + 1.0))
    assert lines[0].get_linestyle() == "-" and lines[1].get_linestyle() == "--"
    for band, base in zip(ax.collections, (1.0, 2.0)):
        ys = band.get_paths()[0].vertices[:, 1]
        assert ys.min() == pytest.approx(base * 0.5) and ys.max() == pytest.approx(base * 6.0)
    assert any(line.get_ydata()[0] == pytest.approx(1 / 6) for line in ax.lines)
    assert ax.get_yscale() == "log"
