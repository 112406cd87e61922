"""Tests of gradflow.figures.diagnosis: quick mode, the reports in its data, its caption."""

import numpy as np
import pytest

from gradflow import figures


@pytest.fixture(scope="module")
def drawn():
    return figures.get("diagnosis")(quick=True)


def test_three_reports_one_panel_each(drawn):
    fig, data = drawn
    assert list(dict.fromkeys(data["run"])) == ["before", "unclipped", "clipped"]
    assert len(fig.subfigs) == 3
    for _, part in data.groupby("run"):
        assert part["verdict"].nunique() == 1
        assert part["verdict"].iloc[0] in ("exploding", "vanishing", "near-critical")
        assert (part["quantity"] == "final_loss").sum() == 1


def test_the_spectra_are_those_of_the_trained_weights(drawn):
    _, data = drawn
    params = figures.get("diagnosis").parameters(quick=True)
    before = data[(data["run"] == "before") & (data["block"] == "W_hh")]
    values = before.set_index("quantity")["value"]
    # the start: a Gaussian draw at the figure's gain, entries N(0, g²/N)
    assert values["entry_std"] * np.sqrt(params["hidden_size"]) == pytest.approx(
        params["gain"], rel=0.3
    )
    assert values["sigma_max"] >= values["spectral_radius"] >= values["sigma_min"]


def test_caption_numbers_come_from_the_data(drawn):
    _, data = drawn
    text = figures.get("diagnosis").describe(quick=True, data=data)
    for run in ("before", "unclipped", "clipped"):
        part = data[data["run"] == run]
        rho = part[(part["block"] == "W_hh") & (part["quantity"] == "spectral_radius")]["value"]
        decided = part["decided_by"].iloc[0]
        exponent = part[(part["quantity"] == "exponent") & (part["inputs"] == decided)]["value"]
        loss = part[part["quantity"] == "final_loss"]["value"]
        assert f"{rho.iloc[0]:.2f}" in text
        assert f"λ₁ = {exponent.iloc[0]:+.3f}" in text
        assert f"{loss.iloc[0]:.3f}" in text
        assert part["verdict"].iloc[0] in text
