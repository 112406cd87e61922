"""Tests of gradflow.figures.gated: each figure in quick mode, its data, its caption's numbers."""

import re

import numpy as np
import pytest
from matplotlib.figure import Figure

from gradflow import figures

NAMES = ("gated_growth", "gated_lyapunov", "memory_timescale")


@pytest.fixture(scope="module")
def drawn():
    return {name: figures.get(name)(quick=True) for name in NAMES}


def caption_numbers(name, data):
    """Every number the caption states, in order, as floats."""
    text = figures.get(name).describe(quick=True, data=data)
    assert "{" not in text
    return text, [float(x) for x in re.findall(r"(?<![\w.])[-+]?\d+(?:\.\d+)?", text)]


def test_registered_and_drawn(drawn):
    for name in NAMES:
        assert name in figures.available()
        fig, data = drawn[name]
        assert isinstance(fig, Figure) and not data.empty


def test_gated_growth_data_and_caption(drawn):
    fig, data = drawn["gated_growth"]
    params = figures.get("gated_growth").parameters(quick=True)
    assert set(data["cell"]) == {"elman", "lstm", "gru"}
    assert set(data.loc[data["cell"] == "elman", "forget_bias"]) == {0.0}
    assert set(data.loc[data["cell"] == "lstm", "forget_bias"]) == {0.0, params["bias_high"]}
    assert (data["seeds"] == params["seeds"]).all()
    assert (data["log_norm_low"] <= data["log_norm"]).all()
    assert (data["log_norm"] <= data["log_norm_high"]).all()
    np.testing.assert_allclose(data.loc[data["lag"] == 0, "log_norm"], 0.0, atol=1e-12)
    # the caption's rates, recomputed: median log norm at lag T minus at T/2, over T/2
    T, g = params["steps"], max(params["gains"])
    at_g = data[data["gain"] == g].set_index(["cell", "forget_bias", "lag"])["log_norm"]

    def rate(cell, bias):
        return (at_g[(cell, bias, T)] - at_g[(cell, bias, T // 2)]) / (T - T // 2)

    text, _ = caption_numbers("gated_growth", data)
    high = params["bias_high"]
    for cell, bias in [("elman", 0.0), ("lstm", 0.0), ("lstm", high), ("gru", 0.0), ("gru", high)]:
        assert f"{rate(cell, bias):+.3f}" in text
    assert [ax.get_title() for ax in fig.axes[:3]] == ["Elman (tanh)", "LSTM", "GRU"]


def test_gated_lyapunov_data_and_caption(drawn):
    _, data = drawn["gated_lyapunov"]
    params = figures.get("gated_lyapunov").parameters(quick=True)
    n = params["hidden_size"]
    sizes = data.groupby(["cell", "analysis"])["state_size"].first().to_dict()
    assert sizes == {("lstm", "full"): 2 * n, ("lstm", "h_only"): n, ("gru", "full"): n}
    counts = data.groupby(["cell", "analysis", "gain", "network"]).size()
    assert counts[("lstm", "full")].eq(2 * n).all() and counts[("gru", "full")].eq(n).all()
    # exponents descend within every spectrum
    for _, part in data.groupby(["cell", "analysis", "gain", "network"]):
        assert np.all(np.diff(part["exponent"]) <= 1e-12)
    top = data[data["index"] == 1].groupby(["cell", "analysis", "gain"])["exponent"].mean()
    text, _ = caption_numbers("gated_lyapunov", data)
    for key in [("lstm", "full", 1.0), ("lstm", "h_only", 1.0), ("gru", "full", 1.0)]:
        assert f"{top[key]:.3f}" in text
    assert f"{-1 / top[('lstm', 'full', 1.0)]:.1f} steps" in text
    last = max(params["gains"])
    assert f"{top[('lstm', 'full', last)]:.3f} against {top[('lstm', 'h_only', last)]:.3f}" in text
    # what the h-only analysis misses: the slow cell-state path
    assert top[("lstm", "full", 1.0)] > top[("lstm", "h_only", 1.0)]


def test_memory_timescale_data_and_caption(drawn):
    _, data = drawn["memory_timescale"]
    params = figures.get("memory_timescale").parameters(quick=True)
    sweep = data[data["init"] == "forget bias"]
    np.testing.assert_allclose(sorted(sweep["forget_bias"].unique()), params["forget_biases"])
    np.testing.assert_allclose(
        sweep["zero_weight"], np.log(1 / (1 + np.exp(-sweep["forget_bias"])))
    )
    chrono = data[data["init"] == "chrono"]
    assert sorted(chrono["t_max"].unique()) == list(params["t_max"])
    lam = sweep.groupby("forget_bias")["exponent"].mean()
    assert lam.is_monotonic_increasing  # more forget bias, slower forgetting
    text, _ = caption_numbers("memory_timescale", data)
    assert f"{lam.iloc[0]:.3f} at b = {lam.index[0]:g}" in text
    assert f"{-1 / lam.iloc[0]:.1f} steps" in text
    for t_max, part in chrono.groupby("t_max"):
        assert f"{-1 / part['exponent'].mean():.0f} steps at T_max = {t_max:g}" in text
