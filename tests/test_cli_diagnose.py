"""``gradflow diagnose``: the table, --json equal to the reports, --plot, and every error path
(real corrupt files) ending in one line and exit status 2."""

import json
import struct

import numpy as np
import pytest
from _cli_helpers import one_error_line

from gradflow import cells, cli, diagnose, init, io
from gradflow.cli import _diagnose


@pytest.fixture
def files(tmp_path):
    """Before/after files: an .npy Elman W = Q (near-critical) and an .npz with W = 3Q."""
    before, after = tmp_path / "before.npy", tmp_path / "after.npz"
    np.save(before, init.orthogonal(12, rng=0))
    np.savez(after, **{"rnn.W_hh": init.orthogonal(12, gain=3.0, rng=0),
                       "rnn.W_xh": np.ones((12, 2)) / 4})  # fmt: skip
    return before, after


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def test_table_for_two_files(files, capsys):
    before, after = files
    assert cli.main(["diagnose", str(before), str(after), "--steps", "30"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["path", "layer", "kind", "N", "ρ", "σ_max", "rate/step",
                                "λ₁/step", "verdict"]  # fmt: skip
    rows = [line.split() for line in lines[1:3]]
    assert [r[:4] for r in rows] == [[str(before), "before", "elman", "12"],
                                     [str(after), "rnn", "elman", "12"]]  # fmt: skip
    assert [r[-1] for r in rows] == ["near-critical", "exploding"]
    want = diagnose.report(io.load(after)[0], steps=30, rng=0)
    assert rows[1][4:8] == [diagnose._format.fmt(x) for x in (
        want.block("W_hh").spectral_radius, want.block("W_hh").sigma_max, want.decision.rate,
        want.decision.exponent)]  # fmt: skip
    assert lines[3].startswith("rate: growth of the gradient norm per step")
    starts = {line.index("elman") for line in lines[1:3]}  # aligned columns
    assert len(starts) == 1 and lines[0].index("kind") in starts


def test_json_equals_the_reports(files, capsys):
    before, after = files
    argv = ["diagnose", str(before), str(after), "--steps", "25", "--inputs", "zero", "--json"]
    assert cli.main(argv) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["gradflow"] and document["settings"]["steps"] == 25
    assert [item["path"] for item in document["reports"]] == [str(before), str(after)]
    for item, path in zip(document["reports"], files):
        [layer] = io.load(path)
        assert item["report"] == diagnose.report(layer, steps=25, rng=0).to_dict()
    assert cli.main(argv) == 0 and json.loads(capsys.readouterr().out) == document


def test_json_with_gaussian_inputs_and_a_seed(files, capsys):
    _, after = files
    argv = ["diagnose", str(after), "--steps", "20", "--json", "--inputs", "gaussian"]
    assert cli.main([*argv, "--seed", "3"]) == 0
    [item] = json.loads(capsys.readouterr().out)["reports"]
    want = diagnose.report(io.load(after)[0], steps=20, inputs="gaussian", rng=3).to_dict()
    assert item["report"] == want and item["report"]["decision"]["inputs"] == "gaussian"


def test_torch_checkpoint_layers_and_layer_choice(torch, tmp_path, capsys):
    lstm = torch.nn.LSTM(3, 8, num_layers=2)
    torch.save({"model": lstm.state_dict(), "epoch": 4}, tmp_path / "ckpt")
    assert cli.main(["diagnose", str(tmp_path / "ckpt"), "--steps", "10"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[1:3] for line in out[1:3]] == [["model.l0", "lstm"], ["model.l1", "lstm"]]
    argv = ["diagnose", str(tmp_path / "ckpt"), "--steps", "10", "--layer", "model.l1", "--json"]
    assert cli.main(argv) == 0
    [item] = json.loads(capsys.readouterr().out)["reports"]
    assert item["report"]["layer"] == "model.l1" and len(item["report"]["blocks"]) == 4


def test_gated_rows_show_the_largest_block_radius_and_norm(tmp_path, capsys):
    W = np.concatenate([init.orthogonal(6, gain=g, rng=0) for g in (0.5, 2.0, 1.0, 0.7)])
    np.save(tmp_path / "lstm.npy", W)
    assert cli.main(["diagnose", str(tmp_path / "lstm.npy"), "--steps", "10"]) == 0
    row = capsys.readouterr().out.splitlines()[1].split()
    assert row[2:6] == ["lstm", "6", "2", "2"]


def test_plot_writes_one_png(files, tmp_path, capsys):
    image = tmp_path / "panel.png"
    assert cli.main(["diagnose", *map(str, files), "--steps", "10", "--plot", str(image)]) == 0
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert capsys.readouterr().out.splitlines()[-1] == f"{image}: 2 panels"


def test_activation_and_details(files, capsys):
    after = files[1]
    argv = ["diagnose", str(after), "--steps", "10", "--activation", "linear", "--details"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "For a linear cell ρ decides exactly" in out and f"== {after} ==" in out
    assert "Verdict: exploding" in out


def test_choices_match_the_package():
    assert cli.ACTIVATIONS == cells.ACTIVATIONS
    assert _diagnose._SPECTRA == diagnose.SPECTRA


# -- every failure ends in one line and status 2 ----------------------------------------------
def _write_errors(tmp_path):
    """Real broken files, and the words their one-line error must contain."""
    cases = {}
    (tmp_path / "junk.bin").write_bytes(b"not a weight file at all")
    cases["junk.bin"] = "unknown weight-file format"
    header = json.dumps({"W_hh": {"dtype": "F64", "shape": [4, 4],
                                  "data_offsets": [0, 128]}}).encode()  # fmt: skip
    (tmp_path / "past.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(16))
    cases["past.safetensors"] = "outside the 16 bytes"
    np.savez(tmp_path / "norec.npz", mean=np.zeros(3), std=np.ones(3))
    cases["norec.npz"] = "no recurrent layer found"
    np.save(tmp_path / "rect.npy", np.ones((3, 5)))
    cases["rect.npy"] = "(3, 5) is neither (N, N) Elman"
    nan = np.eye(4)
    nan[1, 2] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    cases["nan.npy"] = "weights must be finite"
    cases["missing.pt"] = "no such file"
    return cases


def test_broken_files_exit_2_with_one_line(tmp_path, capsys):
    for name, words in _write_errors(tmp_path).items():
        assert cli.main(["diagnose", str(tmp_path / name)]) == 2, name
        line = one_error_line(capsys)
        assert f"{tmp_path / name}: " in line and words in line, line


def test_corrupt_torch_files_exit_2_with_one_line(torch, tmp_path, capsys):
    rnn = torch.nn.RNN(2, 6)
    torch.save(rnn.state_dict(), tmp_path / "good.pt")
    raw = (tmp_path / "good.pt").read_bytes()
    (tmp_path / "truncated.pt").write_bytes(raw[: len(raw) // 2])
    flipped = bytearray(raw)
    for i in range(200, 600):
        flipped[i] ^= 0xFF
    (tmp_path / "flipped.pt").write_bytes(bytes(flipped))

    class Payload:
        def __reduce__(self):
            return (print, ("ran pickled code",))

    torch.save({"w": torch.eye(3), "x": Payload()}, tmp_path / "evil.pt")
    refused = "refused to load the pickle global 'builtins.print'"
    for name, words in [
        ("truncated.pt", "corrupt"),
        ("flipped.pt", "corrupt"),
        ("evil.pt", refused),
    ]:
        assert cli.main(["diagnose", str(tmp_path / name)]) == 2, name
        line = one_error_line(capsys)
        assert words in line and "ran pickled code" not in line, line
    assert cli.main(["diagnose", str(tmp_path / "good.pt"), "--steps", "5"]) == 0


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--layer", "nope"], "has no layer named 'nope'; its layers: rnn"),
        (["--key", "zzz"], "zzz"),
        (["--plot", "panel.jpg"], "plot: expected a file name ending in .png, .svg, .pdf"),
        (["--plot", "no/such/dir/panel.png"], "No such file or directory"),
        (["--steps", "0"], "--steps: expected an integer >= 1, got 0"),
        (["--inputs", "noise"], "--inputs: invalid choice"),
        (["--json", "--details"], "not allowed with argument"),
    ],
)
def test_bad_options_exit_2_with_one_line(files, tmp_path, capsys, monkeypatch, extra, words):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["diagnose", str(files[1]), "--steps", "5", *extra]) == 2
    assert words in one_error_line(capsys)


def test_gaussian_inputs_on_a_layer_without_input_weights(files, capsys):
    assert cli.main(["diagnose", str(files[0]), "--inputs", "gaussian"]) == 2
    line = one_error_line(capsys)
    assert line == (f"gradflow: error: {files[0]}: inputs: layer 'before' has no input weights, "
                    "so it takes no input; use 'zero'")  # fmt: skip


def test_overflowing_layer_exits_2(tmp_path, capsys):
    np.save(tmp_path / "relu.npy", init.orthogonal(8, gain=60.0, rng=0))
    assert cli.main(["diagnose", str(tmp_path / "relu.npy"), "--activation", "relu"]) == 2
    assert "the forward run overflows within" in one_error_line(capsys)
