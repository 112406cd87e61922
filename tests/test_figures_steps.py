"""Tests of gradflow.figures.steps: the figure in quick mode, its data, what it draws, and every
number of its caption recomputed from the data."""

import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from gradflow import figures, spectral
from gradflow.figures import steps as fig_steps  # registers the figure
from gradflow.plot.steps import GIDS

COLUMNS = ["layer", "cell", "t", "rho", "sigma_max", "gate", "gate_mean", "block", "block_rho"]
NUMBER = re.compile(r"-?\d+\.\d\d\b")  # the caption's data numbers (two decimals)


@pytest.fixture(scope="module")
def drawn():
    return figures.get("step_spectra")(quick=True)


def independent_numbers(data):
    """The caption's numbers in its order, recomputed here from the data alone."""
    steps = data[data["layer"] == "step"].set_index("cell")
    refs = data[data["layer"] == "reference"].set_index("cell")
    elman = steps.loc["Elman"]
    late = elman[elman["t"] > elman["t"].max() / 2]
    out = [elman["rho"].iloc[0], refs.loc["Elman", "block_rho"]]
    out += [late["gate_mean"].median(), late["rho"].median()]
    for name in ("LSTM", "GRU"):
        cell = steps.loc[name]
        for rows in (cell[cell["gate_mean"] > 0.5], cell[cell["gate_mean"] <= 0.5]):
            out += [rows["rho"].median(), rows["gate_mean"].median()]
        if name == "LSTM":
            lstm = cell
            out.append(
                pd.Series(lstm["rho"].to_numpy()).corr(pd.Series(lstm["gate_mean"].to_numpy()))
            )
            out += [refs.loc["LSTM", "block_rho"].min(), refs.loc["LSTM", "block_rho"].max()]
    return [f"{value:.2f}" for value in out]


def test_registered_with_a_filled_caption(drawn):
    spec = figures.get("step_spectra")
    assert "step_spectra" in figures.available()
    assert spec.source == "gradflow.figures.steps.step_spectra"
    assert spec.numbers is fig_steps.caption_numbers
    fig, data = drawn
    assert isinstance(fig, Figure) and list(data.columns) == COLUMNS
    assert "{" not in spec.describe(quick=True, data=data)


def test_data_holds_each_cell_and_its_blocks(drawn):
    _, data = drawn
    params = figures.get("step_spectra").parameters(quick=True)
    steps = data[data["layer"] == "step"]
    for name, gate, blocks in (
        ("Elman", "mean_phi_prime", ["W_hh"]),
        ("LSTM", "mean_f", ["W_hi", "W_hf", "W_hg", "W_ho"]),
        ("GRU", "mean_z", ["W_hr", "W_hz", "W_hn"]),
    ):
        part = steps[steps["cell"] == name]
        assert part["t"].tolist() == list(range(1, params["steps"] + 1))
        assert (part["gate"] == gate).all()
        assert (part["rho"] <= part["sigma_max"] * (1 + 1e-12)).all()
        refs = data[(data["layer"] == "reference") & (data["cell"] == name)]
        assert refs["block"].tolist() == blocks
    # the Elman state starts at 1e-3: J_1 = diag(phi') W with phi' = 1 to 1e-6, so rho(J_1) = rho(W)
    elman = steps[steps["cell"] == "Elman"]
    rho_w = data.loc[(data["layer"] == "reference") & (data["cell"] == "Elman"), "block_rho"]
    assert elman["rho"].iloc[0] == pytest.approx(rho_w.iloc[0], rel=1e-4)


def test_every_caption_number_is_the_data(drawn, tmp_path):
    _, data = drawn
    spec = figures.get("step_spectra")
    params = spec.parameters(quick=True)
    text = spec.describe(quick=True, data=data)
    assert NUMBER.findall(text) == independent_numbers(data)
    assert f"N = {params['hidden_size']} units (T = {params['steps']} steps)" in text
    assert f"gain g = {params['gain']:g}" in text and f"period {params['period']} steps" in text
    # the README is rendered from the CSV for figures not redrawn: the same caption
    csv = tmp_path / "step_spectra.csv"
    data.to_csv(csv, index=False, float_format="%.10g", lineterminator="\n")
    assert spec.describe(quick=True, data=pd.read_csv(csv)) == text


def test_panels_draw_the_data_and_print_the_caption_numbers(drawn):
    fig, data = drawn
    numbers = independent_numbers(data)
    top = fig.axes[:3]
    for ax, name in zip(top, fig_steps.CELLS):
        part = data[(data["layer"] == "step") & (data["cell"] == name)]
        (rho,) = [line for line in ax.lines if line.get_gid() == GIDS["rho"]]
        np.testing.assert_allclose(rho.get_ydata(), part["rho"])
        refs = [line.get_ydata()[0] for line in ax.lines if line.get_gid() == GIDS["reference"]]
        blocks = data[(data["layer"] == "reference") & (data["cell"] == name)]["block_rho"]
        np.testing.assert_allclose(refs, blocks)
        assert ax.get_title().startswith(name)
    titles = " ".join(ax.get_title() for ax in top)
    for value in (numbers[0], numbers[1], numbers[3], *numbers[4:7:2], numbers[8]):
        assert value in titles
    bottom = fig.axes[3:]
    for ax, name in zip(bottom, fig_steps.CELLS):
        part = data[(data["layer"] == "step") & (data["cell"] == name)]
        np.testing.assert_allclose(ax.lines[0].get_ydata(), part["gate_mean"])
        assert ax.get_xlabel() == "time step $t$"


def test_block_radii_are_those_of_the_cells(drawn):
    _, data = drawn
    params = figures.get("step_spectra").parameters(quick=True)
    gen = fig_steps.spawn_generators(params["rng"], 3)[1]
    cells = fig_steps._cells(params["hidden_size"], params["gain"], gen)
    for name, cell in cells.items():
        refs = data[(data["layer"] == "reference") & (data["cell"] == name)]
        expected = [spectral.spectral_radius(W) for W in cell.recurrent_blocks.values()]
        np.testing.assert_allclose(refs["block_rho"], expected, rtol=1e-12)


@pytest.mark.slow
def test_full_size_shows_saturation_and_the_forget_gates():
    _, data = figures.get("step_spectra")()
    numbers = fig_steps.caption_numbers(data)
    assert numbers["elman_rho_first"] == pytest.approx(numbers["elman_rho_w"], rel=1e-3)
    assert numbers["elman_rho_late"] < 0.7 * numbers["elman_rho_w"]  # saturation pulls it down
    assert numbers["elman_phi"] < 0.5
    assert numbers["lstm_rho_open"] > 2 * numbers["lstm_rho_shut"]
    assert numbers["lstm_corr"] > 0.9
    assert numbers["lstm_f_open"] > 0.9 > 0.2 > numbers["lstm_f_shut"]
    assert numbers["gru_rho_carry"] > numbers["gru_rho_update"]
