"""gradflow.diagnose.report on layers read from real weight files: verdicts, closed forms,
every number against an independent computation, JSON and frames, reproducibility, errors."""

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest

from gradflow import init, io
from gradflow.cells import GRU, LSTM, Elman
from gradflow.diagnose import Report, report

N = 24
EXPECTED = {0.5: "vanishing", 1.0: "near-critical", 3.0: "exploding"}
SIGMA8 = 1.0 / (1.0 + math.exp(-8.0))


def _linear(layer):
    c = layer.cell
    return dataclasses.replace(layer, cell=Elman(c.W_hh, c.W_xh, c.b, activation="linear"))


def _npy_layer(tmp_path, W, name="W"):
    path = tmp_path / f"{name}.npy"
    np.save(path, W)
    [layer] = io.load(path)
    return layer


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _torch_rnn(torch, tmp_path, W, D=3):
    rnn = torch.nn.RNN(D, W.shape[0])
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(torch.from_numpy(W))
        rnn.bias_ih_l0.zero_()
        rnn.bias_hh_l0.zero_()
    path = tmp_path / "rnn.pt"
    torch.save(rnn.state_dict(), path)
    [layer] = io.load(path)
    return layer


def _torch_gated(torch, tmp_path, kind, bias, gain=0.5, n=16, D=3, seed=0):
    module = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](D, n)
    gates = 4 if kind == "lstm" else 3
    keep = slice(n, 2 * n)  # LSTM rows i, f, g, o; GRU rows r, z, n: the gate that keeps the state
    W = np.concatenate([init.orthogonal(n, gain=gain, rng=seed + k) for k in range(gates)])
    with torch.no_grad():
        module.weight_hh_l0.copy_(torch.from_numpy(W))
        module.bias_ih_l0.zero_()
        module.bias_hh_l0.zero_()
        module.bias_hh_l0[keep] = bias
    path = tmp_path / f"{kind}.pt"
    torch.save(module.state_dict(), path)
    [layer] = io.load(path)
    return layer, module


# -- verdicts -------------------------------------------------------------------------------
@pytest.mark.parametrize("gain", sorted(EXPECTED))
@pytest.mark.parametrize("activation", ["tanh", "linear"])
def test_scaled_orthogonal_verdicts_from_npy(tmp_path, gain, activation):
    layer = _npy_layer(tmp_path, init.orthogonal(N, gain=gain, rng=1))
    if activation == "linear":
        layer = _linear(layer)
    r = report(layer, rng=0)
    assert r.verdict == EXPECTED[gain]
    assert [g.inputs for g in r.growth] == ["zero"]  # no input weights in an .npy
    b = r.block("W_hh")
    for value in (b.spectral_radius, b.sigma_max, b.sigma_min):
        assert value == pytest.approx(gain, rel=1e-12)
    if activation == "linear":
        for value in (r.decision.rate, r.decision.exponent, r.growth[0].finite_time_exponent):
            assert value == pytest.approx(math.log(gain), abs=1e-12)


@pytest.mark.parametrize("gain", sorted(EXPECTED))
@pytest.mark.parametrize("activation", ["tanh", "linear"])
def test_scaled_orthogonal_verdicts_from_torch(torch, tmp_path, gain, activation):
    layer = _torch_rnn(torch, tmp_path, init.orthogonal(N, gain=gain, rng=2))
    assert layer.kind == "elman" and layer.cell.input_size == 3
    if activation == "linear":
        layer = _linear(layer)
    r = report(layer, rng=0)
    assert r.verdict == EXPECTED[gain], r.decision
    assert [g.inputs for g in r.growth] == ["zero", "gaussian"]
    if activation == "linear":  # J = W whatever the input: both drives give ln g
        for g in r.growth:  # (W went through float32)
            assert g.rate == pytest.approx(math.log(gain), abs=1e-6)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_saturated_keep_gate_is_near_critical_with_memory_of_sigma_8(torch, tmp_path, kind):
    layer, _ = _torch_gated(torch, tmp_path, kind, 8.0, gain=0.25)
    r = report(layer, rng=0)
    assert r.verdict == "near-critical", r.decision
    memory = r.growth_for("zero").memory_time
    assert memory == pytest.approx(-1.0 / math.log(SIGMA8), rel=0.03)  # 2981 steps
    assert any("memory time scale" in note and "longer" in note for note in r.notes)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_closed_keep_gate_is_vanishing(torch, tmp_path, kind):
    layer, _ = _torch_gated(torch, tmp_path, kind, -8.0, gain=1.0)
    r = report(layer, rng=0)
    assert r.verdict == "vanishing", r.decision
    assert r.growth_for("zero").memory_time < 1.0
    advice = " ".join(r.advice)
    assert ("Chrono initialisation with T_max ≈ 100" in advice) == (kind == "lstm")
    assert ("Raise the update-gate bias" in advice) == (kind == "gru")


def test_hot_gate_blocks_that_do_not_explode_get_a_note(torch, tmp_path):
    layer, _ = _torch_gated(torch, tmp_path, "lstm", 8.0, gain=3.0)
    r = report(layer, rng=0)
    assert r.verdict != "exploding" and all(b.spectral_radius > 2.9 for b in r.blocks)
    [note] = [n for n in r.notes if n.startswith("Gate blocks with ρ > 1")]
    assert "W_hf (ρ = 3)" in note and "verdict rests on the measured growth" in note


# -- every number against an independent computation ---------------------------------------
def test_lstm_block_numbers_match_numpy_on_the_torch_tensor(torch, tmp_path):
    layer, module = _torch_gated(torch, tmp_path, "lstm", 1.0, gain=1.0)
    with torch.no_grad():
        module.weight_hh_l0.add_(0.2 * torch.randn_like(module.weight_hh_l0))
    torch.save(module.state_dict(), tmp_path / "trained.pt")
    [layer] = io.load(tmp_path / "trained.pt")
    W = module.weight_hh_l0.detach().numpy().astype(np.float64)
    r = report(layer, rng=0)
    n = 16
    for k, b in enumerate(r.blocks):
        block = W[k * n : (k + 1) * n]
        eig, sv = np.linalg.eigvals(block), np.linalg.svd(block, compute_uv=False)
        assert b.block == "W_h" + "ifgo"[k]
        assert b.spectral_radius == pytest.approx(np.abs(eig).max(), rel=1e-10)
        assert (b.sigma_max, b.sigma_min) == (pytest.approx(sv[0]), pytest.approx(sv[-1]))
        assert b.condition_number == pytest.approx(sv[0] / sv[-1])
        assert b.circular_law_radius == pytest.approx(block.std() * math.sqrt(n))
        assert b.gamma == (1.0 if k == 2 else 0.25)
    assert r.to_dict()["blocks"][1]["singular_values"] == pytest.approx(
        list(np.linalg.svd(W[n : 2 * n], compute_uv=False))
    )


def test_clip_threshold_is_three_times_the_median_window_norm(tmp_path):
    r = report(_npy_layer(tmp_path, init.orthogonal(N, gain=0.9, rng=0)), rng=0)
    logs = r.growth[0].log_norms
    want = 3.0 * np.median(np.sqrt(np.sum(np.exp(2.0 * logs), axis=0)))
    assert r.clip_threshold == pytest.approx(want, rel=1e-12)
    assert r.clip_threshold == pytest.approx(3.0 / math.sqrt(1.0 - 0.81), rel=0.05)


def test_clip_threshold_takes_the_median_over_samples(tmp_path):
    r = report(_npy_layer(tmp_path, init.gaussian(N, gain=1.0, rng=5)), steps=40, rng=0)
    log_g = 0.5 * np.log(np.sum(np.exp(2.0 * r.growth[0].log_norms), axis=0))
    assert np.ptp(log_g) > 0.1  # the samples differ: the median is not the mean
    assert r.clip_threshold == pytest.approx(3.0 * np.exp(np.median(log_g)), rel=1e-12)
    assert r.clip_threshold != pytest.approx(3.0 * np.exp(np.mean(log_g)), rel=1e-6)


def test_no_hot_block_note_when_only_sigma_max_exceeds_one(torch, tmp_path):
    module = torch.nn.LSTM(3, 16)
    W = np.concatenate([init.gaussian(16, gain=0.7, rng=k) for k in range(4)])
    with torch.no_grad():
        module.weight_hh_l0.copy_(torch.from_numpy(W))
    torch.save(module.state_dict(), tmp_path / "cool.pt")
    [layer] = io.load(tmp_path / "cool.pt")
    r = report(layer, steps=30, rng=0)
    assert all(b.spectral_radius < 1.0 < b.sigma_max for b in r.blocks)
    assert not any(n.startswith("Gate blocks with ρ > 1") for n in r.notes)


def test_a_sharp_verdict_is_not_flagged_as_marginal(tmp_path):
    W = init.orthogonal(N, gain=math.exp(0.012), rng=0)  # linear: rate = λ₁ = 0.012 exactly
    sharp = report(_linear(_npy_layer(tmp_path, W)), rng=0)
    assert sharp.verdict == "exploding" and not any("marginal" in n for n in sharp.notes)


def test_reproducible_and_independent_of_what_else_is_measured(torch, tmp_path):
    layer = _torch_rnn(torch, tmp_path, init.orthogonal(N, gain=1.2, rng=3))
    a, b = report(layer, rng=7), report(layer, rng=7)
    assert a.to_dict() == b.to_dict()
    assert report(layer, rng=np.random.SeedSequence(7)).to_dict() == a.to_dict()
    given = np.random.default_rng(0).standard_normal((50, 3))
    c = report(layer, rng=7, inputs=given)
    d = report(layer, rng=7, inputs="gaussian")
    for other in (c, d):
        for kind in ("zero", "gaussian"):
            np.testing.assert_array_equal(other.growth_for(kind).log_norms,
                                          a.growth_for(kind).log_norms)  # fmt: skip
    assert (c.inputs, c.decision.inputs, [g.inputs for g in c.growth]) == (
        "given", "given", ["zero", "gaussian", "given"])  # fmt: skip
    assert d.decision.rate == a.growth_for("gaussian").rate
    assert report(layer, rng=8).decision.rate != a.decision.rate


def test_layer_order_in_a_file_does_not_matter(tmp_path):
    W0, W1 = init.orthogonal(N, gain=1.1, rng=0), init.gaussian(N, gain=0.9, rng=1)
    np.savez(tmp_path / "two.npz", **{"a.W_hh": W0, "b.W_hh": W1})
    np.savez(tmp_path / "swapped.npz", **{"a.W_hh": W1, "b.W_hh": W0})
    two = {la.name: la for la in io.load(tmp_path / "two.npz")}
    swapped = {la.name: la for la in io.load(tmp_path / "swapped.npz")}
    first, second = report(two["a"], rng=0).to_dict(), report(swapped["b"], rng=0).to_dict()
    first.pop("layer"), second.pop("layer")
    first.pop("source"), second.pop("source")
    assert first == second


# -- forms ------------------------------------------------------------------------------------
def test_to_dict_round_trips_through_json_with_non_finite_values_as_strings(tmp_path):
    r = report(_npy_layer(tmp_path, np.zeros((N, N))), rng=0)  # J = 0: -inf growth, κ = inf
    d = r.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text) == d
    growth, block = d["growth"][0], d["blocks"][0]
    assert (growth["rate"], growth["exponent"], block["condition_number"]) == (
        "-inf",
        "-inf",
        "inf",
    )
    assert d["verdict"] == "vanishing" and d["decision"]["statistic"] == "-inf"
    assert growth["curve"]["log_norm"][1:] == ["-inf"] * 100
    assert growth["memory_time"] is None and growth["input_drive_rms"] is None


def test_to_dict_holds_every_number(torch, tmp_path):
    layer, _ = _torch_gated(torch, tmp_path, "gru", 2.0, gain=1.0)
    r = report(layer, steps=40, rng=0)
    d = json.loads(json.dumps(r.to_dict()))
    assert d["settings"] == {"steps": 40, "inputs": "zero", "samples": 8, "burn_in": 40,
                             "windows": 6, "spectra": "full"}  # fmt: skip
    for got, b in zip(d["blocks"], r.blocks):
        assert got["eigenvalues"]["real"] == list(b.eigenvalues.real)
        assert got["eigenvalues"]["imag"] == list(b.eigenvalues.imag)
        assert got["spectral_radius"] == b.spectral_radius and got["pascanu"] == b.pascanu
    for got, g in zip(d["growth"], r.growth):
        assert got["curve"]["log_norms"] == g.log_norms.T.tolist()
        assert got["step_means"] == dict(g.step_means) and got["exponent"] == g.exponent
    assert d["notes"] == list(r.notes) and d["advice"] == list(r.advice)
    assert d["clip_threshold"] == r.clip_threshold


def test_to_frame_is_tidy_and_matches_the_attributes(torch, tmp_path):
    layer, _ = _torch_gated(torch, tmp_path, "lstm", 1.0)
    r = report(layer, steps=40, rng=0)
    frame = r.to_frame()
    assert list(frame.columns) == ["layer", "kind", "verdict", "block", "inputs", "quantity",
                                   "value"]  # fmt: skip
    assert not frame.duplicated(["block", "inputs", "quantity"]).any()
    assert frame["value"].dtype == np.float64 and set(frame["verdict"]) == {r.verdict}
    value = frame.set_index(["block", "inputs", "quantity"])["value"]
    assert value[("W_hf", "", "sigma_max")] == r.block("W_hf").sigma_max
    assert value[("W_hf", "", "vanishing_sufficient")] == 1.0
    assert value[("", "gaussian", "mean_f")] == r.growth_for("gaussian").step_means["mean_f"]
    assert value[("", "zero", "exponent")] == r.growth_for("zero").exponent
    assert value[("", "", "clip_threshold")] == r.clip_threshold
    curves = r.curves()
    assert list(curves.columns) == ["layer", "inputs", "lag", "log_norm", "log_norm_low",
                                    "log_norm_high"]  # fmt: skip
    assert len(curves) == 2 * 41 and (curves["log_norm_low"] <= curves["log_norm_high"]).all()
    zero = curves[curves["inputs"] == "zero"]
    np.testing.assert_array_equal(zero["log_norm"], r.growth_for("zero").log_norm)
    eig, sv = r.eigenvalue_frame(), r.singular_value_frame()
    assert len(eig) == len(sv) == 4 * 16 and set(sv["bound"]) == {1.0, 4.0}


def test_fast_spectra_skip_the_eigendecompositions(tmp_path):
    layer = _npy_layer(tmp_path, init.gaussian(N, rng=4))
    fast, full = report(layer, rng=0, spectra="fast"), report(layer, rng=0)
    fb, gb = fast.block("W_hh"), full.block("W_hh")
    assert fb.eigenvalues is None and fb.non_normality is None
    assert fb.spectral_radius == pytest.approx(gb.spectral_radius, rel=1e-8)
    assert fb.sigma_min == gb.sigma_min
    assert fast.to_dict()["blocks"][0]["non_normality"] is None
    assert fast.eigenvalue_frame().empty and any("spectra='fast'" in n for n in fast.notes)
    assert fast.verdict == full.verdict


def test_text_form(tmp_path):
    r = report(_npy_layer(tmp_path, init.orthogonal(N, gain=0.5, rng=0)), rng=0)
    text = str(r)
    assert text.startswith("Layer 'W': elman, N = 24, D = 0, tanh")
    assert "Verdict: vanishing" in text and "\nW_hh   tanh" in text
    assert "Pascanu et al.'s sufficient condition for vanishing gradients is met" in text
    assert "Re-initialise W_hh orthogonally" in text and "Clip the global gradient norm" not in text
    table = text.split("Gradient growth")[1].splitlines()
    assert table[1].split()[:2] == ["inputs", "rate/step"] and table[2].startswith("zero ")
    assert repr(r) == "Report(layer='W', kind='elman', verdict='vanishing')"


def test_notes_and_advice(torch, tmp_path):
    linear = report(_linear(_npy_layer(tmp_path, init.orthogonal(N, gain=3.0, rng=0))), rng=0)
    assert any(
        n.startswith("For a linear cell ρ decides exactly: ρ = 3 >= 1") for n in linear.notes
    )
    assert any("scale it by 1/ρ = 0.3333" in a for a in linear.advice)
    critical = report(_npy_layer(tmp_path, init.orthogonal(N, rng=0)), rng=0)
    assert critical.advice[1].startswith("No re-initialisation needed")
    assert "The layer has no input weights: zero input only." in critical.notes
    driven = _torch_rnn(torch, tmp_path, init.orthogonal(N, rng=0))
    strong = dataclasses.replace(driven, cell=Elman(driven.cell.W_hh, 3.0 * np.ones((N, 3))))
    r = report(strong, rng=0)
    assert (r.verdict, r.growth_for("gaussian").rate < -0.01) == ("near-critical", True)
    assert any(n.startswith("With gaussian input the same rule gives vanishing") for n in r.notes)


# -- inputs and errors ----------------------------------------------------------------------
def test_bare_cells_and_float32(tmp_path):
    W = init.orthogonal(8, gain=0.7, rng=0)
    r64 = report(Elman(W, activation="linear"), steps=20, rng=0)
    r32 = report(Elman(W, activation="linear", dtype=np.float32), steps=20, rng=0)
    assert (r64.layer, r64.source, isinstance(r64, Report)) == ("cell", (), True)
    assert r32.decision.rate == pytest.approx(math.log(0.7), abs=1e-6)
    gru = report(GRU(np.zeros((24, 8))), steps=20, rng=0)
    assert gru.kind == "gru" and [b.block for b in gru.blocks] == ["W_hr", "W_hz", "W_hn"]


@pytest.mark.parametrize(
    ("layer", "kwargs", "error", "match"),
    [
        ("W.npy", {}, TypeError, "layer: expected a gradflow.io.RecurrentLayer or a cell"),
        (LSTM(np.zeros((8, 2))).h_only(), {}, TypeError, "h-only view"),
        (Elman(np.stack([np.eye(2)] * 3)), {}, ValueError, "stacked weights of 3 networks"),
        (Elman(np.eye(2)), {"steps": 0}, ValueError, "steps"),
        (Elman(np.eye(2)), {"samples": 1}, ValueError, "samples"),
        (Elman(np.eye(2)), {"windows": 1}, ValueError, "windows"),
        (Elman(np.eye(2)), {"inputs": "gaussian"}, ValueError, "no input weights"),
        (Elman(np.eye(2)), {"inputs": "noise"}, ValueError, "inputs: expected one of"),
        (Elman(np.eye(2)), {"inputs": np.ones((5, 1))}, ValueError, "no input weights"),
        (Elman(np.eye(2), np.ones((2, 3))), {"inputs": np.ones((5, 2))}, ValueError, r"\(L, 3\)"),
        (Elman(np.eye(2), np.ones((2, 3))), {"inputs": np.ones((5, 4, 3))}, ValueError,
         "samples=8"),
        (Elman(np.eye(2)), {"spectra": "exact"}, ValueError, "spectra"),
    ],
)  # fmt: skip
def test_bad_arguments(layer, kwargs, error, match):
    with pytest.raises(error, match=match):
        report(layer, **kwargs)


def test_curves_frame_concatenates_across_reports(tmp_path):
    a = report(_npy_layer(tmp_path, init.orthogonal(8, gain=0.5, rng=0), "a"), steps=10, rng=0)
    b = report(_npy_layer(tmp_path, init.orthogonal(8, gain=2.0, rng=0), "b"), steps=10, rng=0)
    frame = pd.concat([a.curves(), b.curves()], ignore_index=True)
    assert frame.groupby("layer").size().to_dict() == {"a": 11, "b": 11}


def test_progress_bar_only_on_a_terminal(monkeypatch, capsys):
    import tqdm

    seen = []

    class Recorder(tqdm.tqdm):
        def __init__(self, *args, **kwargs):
            seen.append(kwargs)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(tqdm, "tqdm", Recorder)
    cell = Elman(init.orthogonal(4, rng=0))
    report(cell, steps=5, rng=0)  # stderr is not a terminal under pytest
    report(cell, steps=5, rng=0, progress=True)
    assert [k["disable"] for k in seen] == [True, False]
    assert seen[1]["total"] == 1 + 3 and seen[1]["delay"] == 1.0  # one block, one input kind
    assert capsys.readouterr().err == ""  # shown only after 1 s


def test_a_dead_layer_reads_minus_infinity_without_a_meaningless_stderr():
    from gradflow.cells import Elman

    text = str(report(Elman(np.zeros((4, 4))), steps=20, rng=0))
    assert "-inf ± " not in text and "-inf" in text
