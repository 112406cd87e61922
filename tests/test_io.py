"""gradflow.io front door: format detection, load() on files written by the real frameworks,
from_state_dict and from_module, and cells that reproduce PyTorch's outputs."""

import json
import pickle
import struct
import zipfile

import numpy as np
import pytest

import gradflow
from gradflow.cells import GRU, LSTM, Elman
from gradflow.errors import WeightFileError
from gradflow.io import (
    FORMATS,
    RecurrentLayer,
    detect_format,
    from_module,
    from_state_dict,
    load,
)


def _one_line_about(exc_info, path):
    message = str(exc_info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message, message


def _torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    return torch


# -- format detection -------------------------------------------------------------------------
def test_io_is_a_lazy_submodule():
    assert "io" in dir(gradflow) and gradflow.io.load is load


def test_detect_format_from_content_not_extension(tmp_path):
    np.save(tmp_path / "a.npy", np.eye(2))
    (tmp_path / "a.npy").rename(tmp_path / "a.safetensors")
    with open(tmp_path / "b.pt", "wb") as f:
        np.savez(f, W_hh=np.eye(2))
    st = pytest.importorskip("safetensors.numpy")
    st.save_file({"W_hh": np.eye(2)}, tmp_path / "c.npz")
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "d.keras", "w") as f:
        f["x"] = np.ones(2)
    with zipfile.ZipFile(tmp_path / "e.h5", "w") as zf:
        zf.writestr("config.json", "{}")
        zf.writestr("metadata.json", "{}")
    assert [
        detect_format(tmp_path / n) for n in ("a.safetensors", "b.pt", "c.npz", "d.keras", "e.h5")
    ] == ["npy", "npz", "safetensors", "hdf5", "keras"]
    torch = _torch()
    torch.save({"w": torch.ones(2)}, tmp_path / "f.npy")
    torch.save({"w": torch.ones(2)}, tmp_path / "g", _use_new_zipfile_serialization=False)
    assert detect_format(tmp_path / "f.npy") == "torch"
    assert detect_format(tmp_path / "g") == "torch-legacy"
    assert set(FORMATS) >= {"npy", "npz", "safetensors", "torch", "torch-legacy", "keras", "hdf5"}


def test_hdf5_after_a_user_block(tmp_path):
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "u", "w", userblock_size=1024) as f:
        f["x"] = np.ones(2)
    assert detect_format(tmp_path / "u") == "hdf5"


def test_safetensors_whose_length_starts_like_a_pickle(tmp_path):
    header = json.dumps({"W_hh": {"dtype": "F64", "shape": [2, 2], "data_offsets": [0, 32]}})
    text = header.encode().ljust(0x180)  # length 384: first byte 0x80, like a pickle
    path = tmp_path / "w"
    path.write_bytes(struct.pack("<Q", len(text)) + text + np.eye(2).tobytes())
    assert path.read_bytes()[0] == 0x80 and detect_format(path) == "safetensors"
    np.testing.assert_array_equal(load(path)[0].cell.W_hh, np.eye(2))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("hello, world\n" * 3), r"unknown weight-file format .*b'hello, w'"),
        (lambda p: p.write_bytes(b"PK\x03\x04" + b"\0" * 40), "corrupt zip archive"),
        (
            lambda p: zipfile.ZipFile(p, "w").writestr("notes.txt", "hi"),
            r"neither an \.npz, a Keras nor a PyTorch file \(notes\.txt\)",
        ),
        (lambda p: p.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100), "corrupt"),
        (lambda p: p.write_bytes(b"\x93NUMPY\x01\x00"), "corrupt .npy header"),
    ],
)
def test_unreadable_files_give_one_line_naming_the_file(tmp_path, make, message):
    path = tmp_path / "weights.pt"
    make(path)
    with pytest.raises(WeightFileError, match=message) as info:
        load(path)
    _one_line_about(info, path)


def test_path_type_is_checked():
    with pytest.raises(TypeError, match=r"path: expected a str or os\.PathLike, got int"):
        load(3)
    with pytest.raises(TypeError, match="key: expected a non-empty string"):
        load("x", key="")


def test_a_pickle_that_is_not_a_state_dict(tmp_path):
    pytest.importorskip("torch")  # read_torch is the reader; its refusal is the answer
    path = tmp_path / "obj.pkl"
    path.write_bytes(pickle.dumps(np.eye(2), protocol=2))
    with pytest.raises(WeightFileError) as info:
        load(path)
    _one_line_about(info, path)


# -- .npy and .npz ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rows", "kind", "cls"), [(4, "elman", Elman), (16, "lstm", LSTM), (12, "gru", GRU)]
)
def test_npy_kind_from_shape(tmp_path, rows, kind, cls):
    W = np.random.default_rng(0).normal(size=(rows, 4)).astype(np.float32)
    np.save(tmp_path / "rec.npy", W)
    [layer] = load(tmp_path / "rec.npy")
    assert (layer.name, layer.kind, layer.source) == ("rec", kind, ("rec",))
    assert isinstance(layer.cell, cls) and layer.cell.W_xh is None
    np.testing.assert_array_equal(layer.cell.W_hh, W.astype(np.float64))


def test_npy_refusals(tmp_path):
    np.save(tmp_path / "w.npy", np.ones((3, 5)))
    with pytest.raises(WeightFileError, match=r"w\.npy: w: shape \(3, 5\) is neither") as info:
        load(tmp_path / "w.npy")
    _one_line_about(info, tmp_path / "w.npy")
    with pytest.raises(WeightFileError, match=r"an \.npy file holds one matrix"):
        load(tmp_path / "w.npy", key="w")


def test_npz_with_hand_written_names_and_a_wrong_extension(tmp_path):
    rng = np.random.default_rng(1)
    W, V, b = rng.normal(size=(5, 5)), rng.normal(size=(5, 2)), rng.normal(size=5)
    path = tmp_path / "weights.bin"
    with open(path, "wb") as f:
        np.savez(f, **{"rnn/W_hh": W, "rnn/W_xh": V, "rnn/b": b, "readout/W": np.ones((1, 5))})
    [layer] = load(path)
    assert (layer.name, layer.kind, layer.source) == (
        "rnn",
        "elman",
        ("rnn/W_hh", "rnn/W_xh", "rnn/b"),
    )
    for got, want in ((layer.cell.W_hh, W), (layer.cell.W_xh, V), (layer.cell.b, b)):
        np.testing.assert_array_equal(got, want)


def test_load_key_choices_and_no_layer(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, a=np.eye(3), b=np.eye(2), c=np.ones(4))
    with pytest.raises(
        WeightFileError, match=r"candidates by shape: a \(3, 3\), b \(2, 2\)"
    ) as info:
        load(path)
    _one_line_about(info, path)
    assert load(path, key="b")[0].hidden_size == 2
    np.savez(path, c=np.ones(4), d=np.ones((2, 3)))
    with pytest.raises(WeightFileError, match="no recurrent layer found") as info:
        load(path)
    _one_line_about(info, path)


# -- Keras dispatch (the reader itself is tested in test_io_keras) ------------------------------
def test_keras_files_go_to_read_keras_and_key_filters(tmp_path, monkeypatch):
    from gradflow.io import _keras

    layers = [
        RecurrentLayer("lstm", "lstm", LSTM(np.zeros((8, 2))), ("lstm/kernel",)),
        RecurrentLayer("gru_1", "gru", GRU(np.zeros((6, 2))), ("gru_1/kernel",)),
    ]
    monkeypatch.setattr(_keras, "read_keras", lambda path: layers)
    path = tmp_path / "model"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.json", "{}")
        zf.writestr("model.weights.h5", b"")
    assert load(path) == layers
    assert load(path, key="gru_1") == layers[1:]
    with pytest.raises(WeightFileError, match=r"key 'gru' matches no recurrent layer; found lstm"):
        load(path, key="gru")
    monkeypatch.setattr(_keras, "read_keras", lambda path: [])
    with pytest.raises(WeightFileError, match="no recurrent layer in this Keras file"):
        load(path)


# -- PyTorch files ----------------------------------------------------------------------------
def _model(torch):
    """Modules as found in real checkpoints, with prefixes (float64, random biases)."""
    return torch.nn.ModuleDict(
        {
            "encoder": torch.nn.ModuleDict(
                {"rnn": torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)}
            ),
            "decoder": torch.nn.GRU(8, 5, num_layers=2),
            "cell": torch.nn.RNNCell(3, 2),
            "head": torch.nn.Linear(5, 2),
        }
    ).double()


def _check_against_state_dict(layers, state):
    """Every layer's arrays are the tensors, bit for bit (LSTM/Elman b = bias_ih + bias_hh)."""
    for layer in layers:
        hh, ih, bias_ih, bias_hh = (state[k].double().numpy() for k in layer.source)
        cell = layer.cell
        np.testing.assert_array_equal(cell.W_hh, hh)
        np.testing.assert_array_equal(cell.W_xh, ih)
        if layer.kind == "gru":
            np.testing.assert_array_equal(cell.b_ih, bias_ih)
            np.testing.assert_array_equal(cell.b_hh, bias_hh)
        else:
            np.testing.assert_array_equal(cell.b, bias_ih + bias_hh)


_EXPECTED = [
    ("encoder.rnn.l0", "lstm", "forward", 0),
    ("encoder.rnn.l0_reverse", "lstm", "reverse", 0),
    ("encoder.rnn.l1", "lstm", "forward", 1),
    ("encoder.rnn.l1_reverse", "lstm", "reverse", 1),
    ("decoder.l0", "gru", None, 0),
    ("decoder.l1", "gru", None, 1),
    ("cell", "elman", None, None),
]


@pytest.mark.parametrize("name", ["ckpt", "model.npz", "weights.safetensors", "m.pt"])
@pytest.mark.parametrize("legacy", [False, True])
def test_torch_save_state_dict_any_extension(tmp_path, name, legacy):
    torch = _torch()
    model = _model(torch)
    state = model.state_dict()
    torch.save(state, tmp_path / name, _use_new_zipfile_serialization=not legacy)
    layers = load(tmp_path / name)
    assert [(la.name, la.kind, la.direction, la.index) for la in layers] == _EXPECTED
    _check_against_state_dict(layers, state)


def test_torch_checkpoint_with_optimizer_state(tmp_path):
    torch = _torch()
    model = _model(torch)
    opt = torch.optim.Adam(model.parameters())
    out, _ = model["decoder"](torch.randn(4, 8, dtype=torch.float64))
    out.sum().backward()
    opt.step()
    ckpt = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "epoch": 3,
        "config": {"hidden": 4, "name": "run"},
    }
    torch.save(ckpt, tmp_path / "last")
    layers = load(tmp_path / "last")
    assert [la.name for la in layers] == [f"model.{e[0]}" for e in _EXPECTED]
    _check_against_state_dict(layers, {f"model.{k}": v for k, v in model.state_dict().items()})
    assert [la.name for la in load(tmp_path / "last", key="model.decoder")] == [
        "model.decoder.l0",
        "model.decoder.l1",
    ]


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_torch_low_precision_widens_exactly(tmp_path, dtype):
    torch = _torch()
    lstm = torch.nn.LSTM(3, 4).to(getattr(torch, dtype))
    torch.save(lstm.state_dict(), tmp_path / "w")
    [layer] = load(tmp_path / "w")
    np.testing.assert_array_equal(layer.cell.W_hh, lstm.weight_hh_l0.detach().double().numpy())
    b = (lstm.bias_ih_l0.double() + lstm.bias_hh_l0.double()).detach().numpy()
    np.testing.assert_array_equal(layer.cell.b, b)
    assert [la.name for la in from_module(lstm)] == ["l0"]


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
def test_safetensors_torch_save_file(tmp_path, dtype):
    torch = _torch()
    st = pytest.importorskip("safetensors.torch")
    model = _model(torch).to(getattr(torch, dtype))
    st.save_file(model.state_dict(), tmp_path / "model")
    layers = load(tmp_path / "model")
    assert {(la.name, la.kind, la.direction, la.index) for la in layers} == set(_EXPECTED)
    _check_against_state_dict(layers, model.state_dict())


def test_torch_save_of_a_bare_tensor(tmp_path):
    torch = _torch()
    torch.save(torch.eye(3), tmp_path / "W.pt")
    [layer] = load(tmp_path / "W.pt")
    assert (layer.name, layer.kind) == ("W", "elman")


def test_non_finite_weights_name_the_key(tmp_path):
    torch = _torch()
    gru = torch.nn.GRU(2, 3)
    with torch.no_grad():
        gru.weight_hh_l0[1, 1] = float("nan")
    torch.save({"net": gru.state_dict()}, tmp_path / "w")
    with pytest.raises(WeightFileError, match=r"net\.weight_hh_l0: 1 NaN or infinite") as info:
        load(tmp_path / "w")
    _one_line_about(info, tmp_path / "w")


# -- cells reproduce PyTorch ------------------------------------------------------------------
def _run_stack(layers, xs):
    """Outputs and final states of stacked (bidirectional) layers, as torch computes them."""
    finals, inputs = [], xs
    for index in sorted({la.index for la in layers}):
        outs = []
        for la in (la for la in layers if la.index == index):
            reverse = la.direction == "reverse"
            states = la.cell.run(inputs[::-1] if reverse else inputs).states
            finals.append(states[-1])
            h = states[1:, : la.hidden_size]
            outs.append(h[::-1] if reverse else h)
        inputs = np.concatenate(outs, axis=-1)
    return inputs, finals


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_cells_from_a_file_reproduce_torch(tmp_path, kind, bidirectional):
    torch = _torch()
    module = getattr(torch.nn, kind)(3, 4, num_layers=3, bidirectional=bidirectional).double()
    torch.save({"model": {"rnn." + k: v for k, v in module.state_dict().items()}}, tmp_path / "c")
    layers = load(tmp_path / "c")
    assert len(layers) == 3 * (1 + bidirectional)
    xs = np.random.default_rng(2).normal(size=(9, 3))
    with torch.no_grad():
        out, state = module(torch.from_numpy(xs))
    ours, finals = _run_stack(layers, xs)
    np.testing.assert_allclose(ours, out.numpy(), rtol=0, atol=1e-10)
    h_n, c_n = state if kind == "LSTM" else (state, None)
    for i, final in enumerate(finals):
        np.testing.assert_allclose(final[:4], h_n[i].numpy(), rtol=0, atol=1e-10)
        if c_n is not None:
            np.testing.assert_allclose(final[4:], c_n[i].numpy(), rtol=0, atol=1e-10)


def test_relu_rnn_needs_from_module_or_activation(tmp_path):
    torch = _torch()
    rnn = torch.nn.RNN(3, 4, num_layers=2, nonlinearity="relu").double()
    xs = np.random.default_rng(3).normal(size=(6, 3))
    with torch.no_grad():
        want = rnn(torch.from_numpy(xs))[0].numpy()
    torch.save(rnn.state_dict(), tmp_path / "r")
    assert {la.cell.activation for la in load(tmp_path / "r")} == {"tanh"}  # documented
    for layers in (from_module(rnn), from_state_dict(rnn.state_dict(), activation="relu")):
        assert {la.cell.activation for la in layers} == {"relu"}
        np.testing.assert_allclose(_run_stack(layers, xs)[0], want, rtol=0, atol=1e-10)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_torch_cells_reproduce(kind):
    torch = _torch()
    cell = getattr(torch.nn, kind)(3, 4).double()
    xs = np.random.default_rng(4).normal(size=(5, 3))
    [layer] = from_module(cell)
    assert layer.name == "weight_hh" and layer.index is None
    states = layer.cell.run(xs).states
    h = c = torch.zeros(4, dtype=torch.float64)
    with torch.no_grad():
        for t, x in enumerate(torch.from_numpy(xs), start=1):
            if kind == "LSTMCell":
                h, c = cell(x, (h, c))
                np.testing.assert_allclose(states[t][4:], c.numpy(), rtol=0, atol=1e-10)
            else:
                h = cell(x, h)
            np.testing.assert_allclose(states[t][:4], h.numpy(), rtol=0, atol=1e-10)


# -- from_module and from_state_dict ----------------------------------------------------------
def _same_layers(a, b):
    assert [(x.name, x.kind, x.direction, x.index, x.source) for x in a] == [
        (x.name, x.kind, x.direction, x.index, x.source) for x in b
    ]
    for x, y in zip(a, b):
        assert type(x.cell) is type(y.cell)
        for name, value in x.cell.params.items():
            np.testing.assert_array_equal(value, y.cell.params[name])


def test_from_module_matches_loading_its_saved_state_dict(tmp_path):
    torch = _torch()
    model = _model(torch)
    torch.save(model.state_dict(), tmp_path / "m")
    _same_layers(from_module(model), load(tmp_path / "m"))
    _same_layers(from_module(model), from_state_dict(model.state_dict()))
    lstm = model["encoder"]["rnn"]
    _same_layers(from_module(lstm), from_state_dict(lstm.state_dict()))
    assert [la.name for la in from_module(model, key="decoder")] == ["decoder.l0", "decoder.l1"]
    with pytest.raises(WeightFileError, match="module: key 'dec' matches no recurrent layer"):
        from_module(model, key="dec")


def test_from_module_refusals():
    torch = _torch()
    with pytest.raises(WeightFileError, match=r"^module: LSTM: an LSTM with proj_size=2 is not"):
        from_module(torch.nn.LSTM(3, 4, proj_size=2))
    nested = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.LSTM(3, 4, proj_size=2))
    with pytest.raises(WeightFileError, match=r"^module: 1: an LSTM with proj_size=2"):
        from_module(nested)
    with pytest.raises(WeightFileError, match=r"^module: no recurrent layer in Linear"):
        from_module(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match=r"obj: expected a torch\.nn\.Module .* got dict"):
        from_module({})
    with pytest.raises(WeightFileError, match=r"proj_size > 0"):
        from_state_dict(torch.nn.LSTM(3, 4, proj_size=2).state_dict())


def test_from_state_dict_arguments():
    with pytest.raises(TypeError, match=r"mapping: expected a mapping .* got list"):
        from_state_dict([np.eye(2)])
    with pytest.raises(ValueError, match="activation"):
        from_state_dict({"W_hh": np.eye(2)}, activation="softplus")
    with pytest.raises(WeightFileError, match=r"^mapping: no recurrent layer found"):
        from_state_dict({"epoch": 3})
    torch = _torch()
    layers = from_state_dict({"rnn": torch.nn.GRU(2, 3).state_dict(), "step": torch.tensor(5)})
    assert [la.name for la in layers] == ["rnn.l0"]
    params = dict(torch.nn.GRU(2, 3).named_parameters())  # requires_grad tensors
    assert from_state_dict(params)[0].kind == "gru"


class _DuckModule:
    """Answers the calls from_module makes of a torch.nn.Module, with numpy parameters."""

    def __init__(self, params, **attrs):
        self.params = params
        self.__dict__.update(attrs)

    def named_modules(self):
        return [("", self)]

    def named_parameters(self, recurse=True):
        return list(self.params.items())


def test_from_module_checks_the_layer_count():
    one = {"weight_hh_l0": np.eye(2)}
    assert len(from_module(_DuckModule(one, num_layers=1))) == 1
    for attrs in ({"num_layers": 2}, {"num_layers": 1, "bidirectional": True}):
        with pytest.raises(WeightFileError, match=r"^module: _DuckModule: expected 2 recurrent"):
            from_module(_DuckModule(one, **attrs))


def test_tensors_that_will_not_convert_name_the_key():
    torch = _torch()
    for tensor in (torch.empty(4, 4, device="meta"), torch.eye(4).to_sparse()):
        with pytest.raises(WeightFileError, match=r"^mapping: rnn\.weight_hh_l0: cannot convert"):
            from_state_dict({"rnn": {"weight_hh_l0": tensor}})


def test_torch_file_peak_memory_stays_near_the_file_size(tmp_path):
    import tracemalloc

    torch = _torch()
    lstm = torch.nn.LSTM(64, 256, num_layers=2).double()
    torch.save({"model": lstm.state_dict()}, tmp_path / "big")
    size = (tmp_path / "big").stat().st_size
    tracemalloc.start()
    try:
        layers = load(tmp_path / "big")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(layers) == 2 and peak <= 1.5 * size


def test_from_module_reads_parametrized_weights():
    torch = _torch()
    from torch.nn.utils import parametrize

    class Symmetric(torch.nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(-1, -2)

    rnn = torch.nn.RNN(3, 4, num_layers=2).double()
    parametrize.register_parametrization(rnn, "weight_hh_l1", Symmetric())
    layers = from_module(rnn)
    assert [la.name for la in layers] == ["l0", "l1"]
    np.testing.assert_array_equal(layers[1].cell.W_hh, rnn.weight_hh_l1.detach().numpy())
    np.testing.assert_array_equal(layers[1].cell.W_hh, layers[1].cell.W_hh.T)
