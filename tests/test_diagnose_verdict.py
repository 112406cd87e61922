"""gradflow.diagnose._verdict: the rule, its thresholds and the clipping threshold."""

import math
from types import SimpleNamespace

import pytest

from gradflow.diagnose import (
    CLIP_FACTOR,
    NEAR_CRITICAL_FACTOR,
    NEAR_CRITICAL_RATE,
    VERDICTS,
    clip_threshold,
    decide,
    threshold,
)
from gradflow.diagnose._verdict import advice, notes


def test_threshold_is_the_smaller_of_the_rate_and_the_window_factor():
    assert (NEAR_CRITICAL_RATE, NEAR_CRITICAL_FACTOR) == (0.01, 10.0)
    assert threshold(100) == 0.01 and threshold(230) == 0.01
    assert threshold(1000) == pytest.approx(math.log(10.0) / 1000)
    assert threshold(1) == 0.01


@pytest.mark.parametrize(
    ("rate", "exponent", "verdict"),
    [
        (math.log(0.5), math.log(0.5), "vanishing"),
        (0.0, 0.0, "near-critical"),
        (math.log(3.0), math.log(3.0), "exploding"),
        (0.0101, -1.0, "exploding"),  # either number growing is enough
        (-1.0, 0.0101, "exploding"),
        (-1.0, -0.0101, "vanishing"),  # vanishing needs both to decay
        (-1.0, -0.0099, "near-critical"),
        (-0.0099, -1.0, "near-critical"),
        (0.01, 0.01, "near-critical"),  # the band is closed
        (-0.01, -0.01, "near-critical"),
        (-math.inf, -math.inf, "vanishing"),
        (-math.inf, -0.0003, "near-critical"),
    ],
)
def test_rule(rate, exponent, verdict):
    d = decide(rate, exponent, 100, "gaussian")
    assert d.verdict == verdict and d.verdict in VERDICTS
    assert (d.rate, d.exponent, d.threshold, d.inputs) == (rate, exponent, 0.01, "gaussian")
    assert d.statistic == max(rate, exponent)


def test_long_windows_tighten_the_band():
    assert decide(0.005, 0.005, 100).verdict == "near-critical"
    assert decide(0.005, 0.005, 1000).verdict == "exploding"  # e^5 = 148x over 1000 steps
    assert decide(-0.005, -0.005, 1000).verdict == "vanishing"


def test_clip_threshold_is_three_times_the_window_norm():
    assert CLIP_FACTOR == 3.0
    assert clip_threshold(7.0) == 21.0 and clip_threshold(math.inf) == math.inf


def _parts(rate, rate_se, exponent, exponent_se):
    import numpy as np

    from gradflow.diagnose import block_spectrum

    growth = SimpleNamespace(rate=rate, rate_stderr=rate_se, exponent=exponent,
                             exponent_stderr=exponent_se, memory_time=None, steps=100,
                             step_means={"mean_phi_prime": 0.9}, shortened=False,
                             window_gradient_norm=5.0)  # fmt: skip
    return {
        "decision": decide(rate, exponent, 100), "blocks": [block_spectrum(np.eye(3), "W_hh",
        "tanh")], "primary": growth, "growth": [growth], "others": [], "gated": False,
        "kind": "elman", "activation": "tanh", "has_inputs": True, "spectra": "full",
        "clip_threshold": 15.0,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("numbers", "marginal"),
    [
        ((0.013, 0.002, -0.2, 0.001), True),  # the rate decides, 1.5 s.e. from +0.01
        ((0.013, 0.001, -0.2, 0.001), False),  # 3 s.e.
        ((-0.3, 0.01, -0.0085, 0.001), True),  # λ₁ decides, 1.5 s.e. from -0.01
        ((-0.3, 0.01, -0.0085, 0.0005), False),
        ((-math.inf, 0.0, -math.inf, 0.0), False),
    ],
)
def test_marginal_verdict_note(numbers, marginal):
    text = notes(_parts(*numbers))
    assert any(n.startswith("A marginal verdict") for n in text) == marginal


def test_advice_for_each_verdict():
    assert advice(_parts(0.5, 0.0, 0.5, 0.0))[1].startswith("Re-initialise W_hh orthogonally")
    assert "scale it by 1/ρ = 1" in advice(_parts(0.5, 0.0, 0.5, 0.0))[1]
    assert advice(_parts(0.0, 0.0, 0.0, 0.0))[1].startswith("No re-initialisation needed")
    for growing in (_parts(0.5, 0.0, 0.5, 0.0), _parts(0.0, 0.0, 0.0, 0.0)):
        assert advice(growing)[0].startswith(
            "Clip the global gradient norm (gradflow.clip.by_global_norm) at about 15 ×"
        )
    # clipping cannot restore vanishing gradients: no clipping advice, re-initialise first
    vanishing = advice(_parts(-1.0, 0.0, -1.0, 0.0))
    assert not any(line.startswith("Clip") for line in vanishing)
    assert vanishing[0].startswith("Re-initialise W_hh orthogonally")


def _gated_parts(blocks, rate, exponent):
    growth = SimpleNamespace(rate=rate, rate_stderr=0.0, exponent=exponent, exponent_stderr=0.0,
                             memory_time=None, steps=100, step_means={}, shortened=False,
                             window_gradient_norm=5.0)  # fmt: skip
    return {
        "decision": decide(rate, exponent, 100), "blocks": blocks, "primary": growth,
        "growth": [growth], "others": [], "gated": True, "kind": "lstm", "activation": None,
        "has_inputs": True, "spectra": "full", "clip_threshold": 15.0,
    }  # fmt: skip


def test_gate_block_notes_count_only_a_spectral_radius_above_one():
    import numpy as np

    from gradflow.diagnose import block_spectrum

    names = ("W_hi", "W_hf", "W_hg", "W_ho")
    unit = [block_spectrum(np.eye(3), b, "tanh" if b == "W_hg" else "sigmoid") for b in names]
    assert all(b.spectral_radius == 1.0 for b in unit)  # ρ(I) = 1 exactly: on the edge
    calm = notes(_gated_parts(unit, 0.0, 0.0))
    assert not any(n.startswith("Gate blocks with ρ > 1") for n in calm)
    loud = notes(_gated_parts(unit, 0.5, 0.5))
    assert any(n.startswith("Every gate block has ρ <= 1") for n in loud)
    hot = [block_spectrum(1.5 * np.eye(3), "W_hf", "sigmoid"), *unit[2:]]
    [note] = [n for n in notes(_gated_parts(hot, 0.0, 0.0)) if n.startswith("Gate blocks")]
    assert "W_hf (ρ = 1.5)" in note and "W_hg" not in note


@pytest.mark.parametrize("seed", [0, 127])  # ρ computed as 1 + 7e-16 and 1 - 1e-16 (OpenBLAS)
def test_orthogonal_blocks_are_neither_above_nor_below_one_in_the_notes(seed):
    # every eigenvalue of an orthogonal matrix has modulus 1; the computed ρ is 1 only to
    # rounding, which the notes must not read as ρ > 1 (or ρ < 1)
    from gradflow import init
    from gradflow.diagnose import block_spectrum

    Q = init.orthogonal(16, rng=seed)
    elman = block_spectrum(Q, "W_hh", "tanh")
    assert abs(elman.spectral_radius - 1.0) < 1e-14
    for rate, verdict in ((0.0, "near-critical"), (-0.5, "vanishing"), (0.5, "exploding")):
        parts = _parts(rate, 0.0, rate, 0.0)
        parts["blocks"] = [elman]
        assert parts["decision"].verdict == verdict
        assert not any(n.startswith("ρ(W_hh) = ") for n in notes(parts)), verdict
        parts["activation"] = "linear"
        [note] = [n for n in notes(parts) if n.startswith("For a linear cell")]
        assert "ρ = 1 >= 1" in note
    names = ("W_hi", "W_hf", "W_hg", "W_ho")
    gates = [block_spectrum(init.orthogonal(16, rng=seed + k), b, "sigmoid")
             for k, b in enumerate(names)]  # fmt: skip
    assert all(abs(b.spectral_radius - 1.0) < 1e-14 for b in gates)
    assert not any(n.startswith("Gate blocks") for n in notes(_gated_parts(gates, 0.0, 0.0)))
    loud = notes(_gated_parts(gates, 0.5, 0.5))
    assert any(n.startswith("Every gate block has ρ <= 1") for n in loud)
