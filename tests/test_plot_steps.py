"""Tests of gradflow.plot.steps: inspect the artists each function draws (seaborn's manner)."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgb

from gradflow.plot import step_gates, step_spectra
from gradflow.plot.steps import GATE_LABELS, GIDS


def _gid(ax, gid):
    return [line for line in ax.lines if line.get_gid() == gid]


def _legend(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


@pytest.fixture
def frame():
    t = np.arange(1, 21)
    rows = []
    for cell, scale in (("Elman", 1.0), ("LSTM", 0.5)):
        for network in (0, 1):
            rho = scale * (1.5 - 0.02 * t) + 0.01 * network
            rows.append(pd.DataFrame({"cell": cell, "network": network, "t": t[::-1],
                                      "rho": rho[::-1], "sigma_max": 2 * rho[::-1],
                                      "mean_f": np.linspace(0.1, 0.9, 20)[::-1],
                                      "mean_o": 0.5}))  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def test_step_spectra_draws_rho_solid_and_sigma_dashed_per_network(frame):
    _fig, ax = plt.subplots()
    part = frame[frame["cell"] == "Elman"]
    out = step_spectra(part, ax=ax, references={r"$\rho(W)$": 1.5}, legend=True)
    assert out is ax
    rho, sigma = _gid(ax, GIDS["rho"]), _gid(ax, GIDS["sigma_max"])
    assert len(rho) == len(sigma) == 2  # one line per network (units default "network")
    for line, dashed, (_, rows) in zip(rho, sigma, part.groupby("network")):
        rows = rows.sort_values("t")
        np.testing.assert_array_equal(line.get_xdata(), rows["t"])  # sorted by t
        np.testing.assert_array_equal(line.get_ydata(), rows["rho"])
        np.testing.assert_array_equal(dashed.get_ydata(), rows["sigma_max"])
        assert line.get_linestyle() == "-" and dashed.get_linestyle() == "--"
        assert line.get_color() == dashed.get_color()
    (reference,) = _gid(ax, GIDS["reference"])
    assert list(reference.get_ydata()) == [1.5, 1.5]
    assert _legend(ax) == [r"$\rho(J_t)$", r"$\sigma_{\max}(J_t)$", r"$\rho(W)$"]
    assert ax.get_xlabel() == "time step $t$"
    assert ax.get_ylim()[0] == 0.0


def test_step_spectra_hue_palette_and_shared_reference_label(frame):
    colours = {"Elman": "tab:blue", "LSTM": "tab:orange"}
    references = {"W_hi": 1.0, "W_hf": 1.1, "W_hg": 1.2}
    ax = step_spectra(frame, ax=plt.figure().subplots(), hue="cell", palette=colours,
                      units="network", references=references, reference_label="gate blocks",
                      labels={"LSTM": "long short-term"})  # fmt: skip
    rho = _gid(ax, GIDS["rho"])
    assert len(rho) == 4
    assert [to_rgb(line.get_color()) for line in rho] == [to_rgb("tab:blue")] * 2 + [
        to_rgb("tab:orange")
    ] * 2
    references = _gid(ax, GIDS["reference"])
    assert [line.get_ydata()[0] for line in references] == [1.0, 1.1, 1.2]
    assert {line.get_linestyle() for line in references} == {":"}
    assert _legend(ax) == ["Elman", "long short-term", "gate blocks"]


def test_step_spectra_without_sigma_or_legend(frame):
    part = frame[(frame["cell"] == "LSTM") & (frame["network"] == 0)].drop(columns="network")
    ax = step_spectra(part, ax=plt.figure().subplots(), sigma=None, legend=False)
    assert not _gid(ax, GIDS["sigma_max"]) and len(_gid(ax, GIDS["rho"])) == 1
    assert ax.get_legend() is None
    ax = step_spectra(part.drop(columns="sigma_max"), ax=plt.figure().subplots())
    assert not _gid(ax, GIDS["sigma_max"])


def test_step_gates_single_and_several_columns(frame):
    part = frame[(frame["cell"] == "Elman") & (frame["network"] == 0)]
    ax = step_gates(part, ax=plt.figure().subplots())
    (line,) = ax.lines
    np.testing.assert_array_equal(line.get_ydata(), part.sort_values("t")["mean_f"])
    assert _legend(ax) == [GATE_LABELS["mean_f"]]
    assert ax.get_ylim() == pytest.approx((-0.03, 1.03))
    assert ax.get_ylabel() == "mean over units"
    ax = step_gates(part, ax=plt.figure().subplots(), y=["mean_f", "mean_o"])
    assert _legend(ax) == ["mean forget gate $f_t$", "mean output gate $o_t$"]
    assert len({line.get_color() for line in ax.lines}) == 2
    negative = part.assign(mean_g=-0.4)
    ax = step_gates(negative, ax=plt.figure().subplots(), y="mean_g", legend=False)
    assert ax.get_ylim() == pytest.approx((-1.03, 1.03)) and ax.get_legend() is None


def test_step_gates_hue(frame):
    ax = step_gates(frame, ax=plt.figure().subplots(), hue="cell", palette=["k", "r"])
    assert len(ax.lines) == 4  # two cells x two networks
    assert _legend(ax) == ["Elman", "LSTM"]


def test_bad_frames_fail_naming_data(frame):
    with pytest.raises(TypeError, match=r"^data: expected a pandas DataFrame"):
        step_spectra(frame.to_dict())
    with pytest.raises(ValueError, match=r"^data: missing column\(s\) \['rho'\]"):
        step_spectra(frame.drop(columns="rho"))
    with pytest.raises(ValueError, match=r"^data: missing column\(s\) \['mean_z'\]"):
        step_gates(frame, y="mean_z")
    with pytest.raises(ValueError, match=r"^palette: no colour"):
        step_spectra(frame, hue="cell", palette={"Elman": "k"})
