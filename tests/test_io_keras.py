"""Tests of gradflow.io._keras: Keras files written by Keras 3 itself, and Keras 2 layouts.

The key check: a cell read from a file and run by gradflow on the same inputs reproduces
Keras' own layer outputs to float32 precision. Keras 3 (torch backend) writes the ``.keras``,
``.weights.h5`` and legacy ``.h5`` files. TensorFlow is not installable here, so the genuine
Keras 2 / tf.keras layout (``model_weights/<layer>/<weight name>:0``) is written with h5py
following tf-keras v2.13.1 ``keras/saving/legacy/hdf5_format.py`` (``save_model_to_hdf5``,
``save_weights_to_hdf5_group``, ``save_subset_weights_to_hdf5_group``,
``save_attributes_to_hdf5_group``, read in the keras-team/keras repository at tag v2.13.1);
its CuDNNLSTM/CuDNNGRU weights are made by inverting ``_convert_rnn_weights`` there.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

from gradflow.errors import WeightFileError  # noqa: E402
from gradflow.io._keras import HDF5_SIGNATURE, is_keras_zip, read_keras  # noqa: E402
from gradflow.io._keras_cells import to_torch  # noqa: E402
from gradflow.io._layer import RecurrentLayer  # noqa: E402

# Keras' torch backend converts tensors with a NumPy 2 deprecation warning, once per call
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
RTOL, ATOL = 1e-5, 1e-6
FORMATS = (".keras", ".weights.h5", ".h5")
KIND = {"SimpleRNN": "elman", "LSTM": "lstm", "GRU": "gru"}


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("keras")


def randomise(model, seed=0):
    """Random weights, biases included (Keras initialises biases to zero)."""
    rng = np.random.default_rng(seed)
    for v in model.weights:
        v.assign(rng.normal(0.0, 0.5, tuple(v.shape)).astype(str(v.dtype)))
    return model


def inputs(d, *, batch=3, steps=6, seed=1):
    return np.random.default_rng(seed).normal(size=(batch, steps, d)).astype("float32")


def save(model, path, fmt):
    """Save in one of FORMATS; the file's path."""
    target = f"{path}{fmt}"
    model.save_weights(target) if fmt == ".weights.h5" else model.save(target)
    return target


def run(layer, x):
    """gradflow's outputs for batch-major ``x``, in the order the cell reads the steps."""
    xs = np.asarray(x, np.float64).transpose(1, 0, 2)
    if layer.direction == "reverse":
        xs = xs[::-1]
    return layer.cell.output(layer.cell.run(xs).states[1:]).transpose(1, 0, 2)


def reference(keras, layer, h, cells, *, bidi=False):
    """Append ``(keys, input, Keras output)`` for each recurrent layer under ``layer`` fed
    with ``h``, ``keys`` the (kind, units, direction) of its cells in order (several for
    stacked cells); return the layer's output."""
    if isinstance(layer, keras.Model):
        for sub in layer.layers:
            h = reference(keras, sub, h, cells)
        return h
    if isinstance(layer, keras.layers.InputLayer):
        return h
    output = keras.ops.convert_to_numpy(layer(h))
    if isinstance(layer, keras.layers.Bidirectional):
        for part in (layer.forward_layer, layer.backward_layer):
            reference(keras, part, h, cells, bidi=True)
    elif isinstance(layer, keras.layers.RNN):
        direction = "reverse" if layer.go_backwards else ("forward" if bidi else None)
        inner = getattr(layer.cell, "cells", [layer.cell])
        kinds = [KIND[type(c).__name__.removesuffix("Cell")] for c in inner]
        cells.append(([(k, c.units, direction) for k, c in zip(kinds, inner)], h, output))
    return output


def check_matches(keras, model, layers, x):
    """Every recurrent layer of a chain-shaped Keras model reproduced by the cells read."""
    cells = []
    reference(keras, model, x, cells)
    found = {(la.kind, la.hidden_size, la.direction): la for la in layers}
    assert len(found) == len(layers) == sum(len(keys) for keys, _, _ in cells)
    for keys, h, expected in cells:
        ours = h
        for key in keys:
            ours = run(found[key], ours)
        np.testing.assert_allclose(ours, expected, rtol=RTOL, atol=ATOL)


def one_line(excinfo, path, *words):
    message = str(excinfo.value)
    assert "\n" not in message and str(path) in message, message
    for word in words:
        assert word in message, message
    return message


# -- Keras 3 files ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def stack(keras):
    """Functional: SimpleRNN -> Bidirectional(LSTM) -> GRU(reset_after=True) -> Dense."""
    L = keras.layers
    x = inp = keras.Input((6, 3))
    x = L.SimpleRNN(4, return_sequences=True, name="simple_rnn")(x)
    x = L.Bidirectional(L.LSTM(3, return_sequences=True, name="lstm"), name="bidirectional")(x)
    x = L.GRU(5, return_sequences=True, name="gru")(x)
    return randomise(keras.Model(inp, L.Dense(2)(x)))


@pytest.mark.parametrize("fmt", FORMATS)
def test_functional_stack_reproduces_keras(keras, stack, out, fmt):
    layers = read_keras(save(stack, out / "stack", fmt))
    check_matches(keras, stack, layers, inputs(3))
    assert all(isinstance(la, RecurrentLayer) and la.cell.dtype == np.float64 for la in layers)


def test_stack_names_directions_and_sources(stack, out):
    layers = read_keras(save(stack, out / "stack", ".keras"))
    assert [la.name for la in layers] == [
        "simple_rnn",
        "bidirectional/forward_lstm",
        "bidirectional/backward_lstm",
        "gru",
    ]
    assert [la.direction for la in layers] == [None, "forward", "reverse", None]
    assert layers[1].source == tuple(
        f"layers/bidirectional/forward_layer/cell/vars/{k}" for k in "012"
    )
    weights_only = read_keras(save(stack, out / "stack", ".weights.h5"))
    assert [la.name for la in weights_only] == [
        "bidirectional/backward_layer",
        "bidirectional/forward_layer",
        "gru",
        "simple_rnn",
    ]
    assert [la.direction for la in weights_only] == ["reverse", "forward", None, None]
    legacy = read_keras(save(stack, out / "stack", ".h5"))
    assert legacy[2].source[0] == (
        "model_weights/bidirectional/bidirectional/backward_lstm/lstm_cell/kernel"
    )


def test_bidirectional_output_is_forward_then_reversed_backward(keras, stack, out):
    fwd, bwd = read_keras(save(stack, out / "stack", ".keras"))[1:3]
    bidi = stack.layers[2]
    h = inputs(4, seed=5)
    expected = keras.ops.convert_to_numpy(bidi(h))
    ours = np.concatenate([run(fwd, h), run(bwd, h)[:, ::-1]], axis=-1)
    np.testing.assert_allclose(ours, expected, rtol=RTOL, atol=ATOL)


@pytest.fixture(scope="module")
def options(keras):
    """Sequential: a Masking layer (whose value the inputs never hit), relu, sigmoid and
    linear SimpleRNNs, no biases, unit_forget_bias=False, dropout, go_backwards."""
    L = keras.layers
    return randomise(
        keras.Sequential(
            [
                keras.Input((5, 2)),
                L.Masking(mask_value=1e6),
                L.SimpleRNN(3, activation="relu", use_bias=False, return_sequences=True),
                L.LSTM(
                    4, unit_forget_bias=False, use_bias=False, dropout=0.3, return_sequences=True
                ),
                L.GRU(2, use_bias=False, return_sequences=True),
                L.SimpleRNN(5, activation="sigmoid", return_sequences=True),
                L.LSTM(3, go_backwards=True, return_sequences=True),
                L.SimpleRNN(6, activation="linear", return_sequences=True, name="plain"),
            ]
        ),
        seed=2,
    )


@pytest.mark.parametrize("fmt", [".keras", ".h5"])
def test_options_the_cell_represents_reproduce_keras(keras, options, out, fmt):
    layers = read_keras(save(options, out / "options", fmt))
    assert [la.cell.activation for la in layers if la.kind == "elman"] == [
        "relu",
        "sigmoid",
        "linear",
    ]
    assert layers[1].cell.b is None and layers[-2].direction == "reverse"
    assert layers[-1].name == "plain"
    check_matches(keras, options, layers, inputs(2, steps=5))


@pytest.fixture(scope="module")
def nested(keras):
    """Functional with a nested Sequential, RNN(cell) and RNN(StackedRNNCells)."""
    L = keras.layers
    x = inp = keras.Input((4, 3))
    inner = [L.LSTM(2, return_sequences=True, name="a"), L.GRU(3, return_sequences=True, name="b")]
    x = keras.Sequential(inner, name="inner")(x)
    x = L.RNN(L.SimpleRNNCell(4), return_sequences=True, name="c")(x)
    cells = L.StackedRNNCells([L.LSTMCell(3, name="d0"), L.GRUCell(2, name="d1")])
    stacked = L.RNN(cells, return_sequences=True, name="d")
    return randomise(keras.Model(inp, stacked(x)), seed=3)


@pytest.mark.parametrize("fmt", FORMATS)
def test_nested_models_and_stacked_cells_reproduce_keras(keras, nested, out, fmt):
    layers = read_keras(save(nested, out / "nested", fmt))
    check_matches(keras, nested, layers, inputs(3, steps=4))
    if fmt != ".weights.h5":
        assert [la.name for la in layers] == ["inner/a", "inner/b", "c", "d/d0", "d/d1"]
        assert [la.index for la in layers] == [None, None, None, 0, 1]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
@pytest.mark.parametrize("fmt", [".keras", ".weights.h5"])
def test_storage_dtypes_convert_exactly_to_float64(keras, out, dtype, fmt):
    L = keras.layers
    glorot = {"recurrent_initializer": "glorot_uniform", "return_sequences": True}  # no fp16 QR
    built = [L.LSTM(3, dtype=dtype, **glorot), L.GRU(2, dtype=dtype, **glorot)]
    model = randomise(keras.Sequential([keras.Input((4, 2)), *built]), seed=4)
    layers = read_keras(save(model, out / f"store_{dtype}", fmt))
    stored = [
        [keras.ops.convert_to_numpy(keras.ops.cast(v, "float64")) for v in la.weights]
        for la in model.layers
    ]
    lstm, gru = sorted(layers, key=lambda la: la.kind == "gru")
    assert np.array_equal(lstm.cell.W_xh, stored[0][0].T) and lstm.cell.W_xh.dtype == np.float64
    assert np.array_equal(lstm.cell.W_hh, stored[0][1].T) and np.array_equal(
        lstm.cell.b, stored[0][2]
    )
    for ours, theirs in zip((gru.cell.W_xh, gru.cell.W_hh), stored[1]):  # gates reordered
        assert np.array_equal(np.sort(ours, axis=None), np.sort(theirs, axis=None))
    twin = keras.Sequential(
        [keras.Input((4, 2)), L.LSTM(3, return_sequences=True), L.GRU(2, return_sequences=True)]
    )
    for layer, values in zip(twin.layers, stored):
        layer.set_weights([v.astype("float32") for v in values])
    check_matches(keras, twin, layers, inputs(2, steps=4))


def refused(keras, out, name, layer, fmt=".keras"):
    """The one-line error on reading a file of ``layer``, named as the file names it."""
    path = save(keras.Sequential([keras.Input((3, 2)), layer]), out / name, fmt)
    with pytest.raises(WeightFileError) as excinfo:
        read_keras(path)
    named = layer.name if fmt != ".weights.h5" else type(layer).__name__.lower()
    return one_line(excinfo, path, repr(named))


@pytest.mark.parametrize("fmt", FORMATS)
def test_gru_reset_before_is_refused(keras, out, fmt):
    layer = keras.layers.GRU(3, reset_after=False, name="old_gru")
    assert "reset_after=False" in refused(keras, out, "reset_before", layer, fmt)


@pytest.mark.parametrize(
    ("cls", "option", "value"),
    [
        ("LSTM", "activation", "relu"),
        ("LSTM", "recurrent_activation", "hard_sigmoid"),
        ("GRU", "activation", "softsign"),
        ("GRU", "recurrent_activation", "tanh"),
        ("SimpleRNN", "activation", "elu"),
    ],
)
def test_activations_a_pytorch_cell_lacks_are_refused(keras, out, cls, option, value):
    layer = getattr(keras.layers, cls)(2, **{option: value}, name=f"odd_{cls.lower()}")
    assert f"{option}={value!r}" in refused(keras, out, f"act_{cls}_{option}", layer)


def test_convlstm_is_refused(keras, out):
    model = keras.Sequential([keras.Input((3, 5, 2)), keras.layers.ConvLSTM1D(2, 3, name="conv")])
    with pytest.raises(WeightFileError) as excinfo:
        read_keras(save(model, out / "conv", ".keras"))
    one_line(excinfo, out / "conv.keras", "'conv'", "ConvLSTM1D")


def test_gru_without_bias_needs_a_config(keras, out):
    layer = keras.layers.GRU(2, use_bias=False, return_sequences=True, name="g")
    model = randomise(keras.Sequential([keras.Input((3, 2)), layer]))
    assert read_keras(save(model, out / "gru_nobias", ".keras"))[0].cell.b_ih is None
    with pytest.raises(WeightFileError) as excinfo:
        read_keras(save(model, out / "gru_nobias", ".weights.h5"))
    one_line(excinfo, "gru_nobias.weights.h5", "reset_after cannot be told")


def test_lambda_layers_are_read_as_data(keras, out):
    L = keras.layers
    model = keras.Sequential(
        [keras.Input((3, 2)), L.Lambda(lambda t: 2.0 * t), L.LSTM(2, return_sequences=True)]
    )
    path = save(randomise(model), out / "lambda", ".keras")
    assert "Lambda" in zipfile.ZipFile(path).read("config.json").decode()
    (layer,) = read_keras(path)
    np.testing.assert_allclose(
        run(layer, 2.0 * inputs(2, steps=3)),
        keras.ops.convert_to_numpy(model(inputs(2, steps=3))),
        rtol=RTOL,
        atol=ATOL,
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_model_without_recurrent_layers_is_an_error(keras, out, fmt):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    path = save(model, out / "dense", fmt)
    with pytest.raises(WeightFileError) as excinfo:
        read_keras(path)
    one_line(excinfo, path, "no recurrent layer")


# -- Keras 2 / tf.keras layouts, written as tf-keras 2.13 wrote them ---------------------------
def write_keras2(path, groups, config=None, *, chunked=False, **options):
    """``groups``: [(layer name, [(weight name, array)])] in model order. With a config, a
    whole-model file (``save_model_to_hdf5``), else a ``save_weights`` file."""
    with h5py.File(path, "w", **options) as f:
        root = f
        if config is not None:
            f.attrs["keras_version"], f.attrs["backend"] = "2.13.1", "tensorflow"
            f.attrs["model_config"] = json.dumps(config).encode("utf8")
            root = f.create_group("model_weights")
        names = [name.encode("utf8") for name, _ in groups]
        if chunked:  # save_attributes_to_hdf5_group splits long lists into name0, name1, ...
            root.attrs["layer_names0"], root.attrs["layer_names1"] = names[:1], names[1:]
        else:
            root.attrs["layer_names"] = names
        root.attrs["backend"], root.attrs["keras_version"] = b"tensorflow", b"2.13.1"
        for name, weights in sorted(groups, key=lambda g: g[0]):
            group = root.create_group(name)
            group.attrs["weight_names"] = [w.encode("utf8") for w, _ in weights]
            for weight, value in weights:
                group.create_dataset(weight, value.shape, dtype=value.dtype)[:] = value
        root.create_group("top_level_model_weights").attrs["weight_names"] = []
    return path


def k2_layer(cls, name, units, **options):
    """A Keras 2 layer config entry (``get_config`` of tf-keras 2.13)."""
    config = {
        "name": name,
        "trainable": True,
        "dtype": "float32",
        "return_sequences": True,
        "return_state": False,
        "go_backwards": False,
        "stateful": False,
        "unroll": False,
        "time_major": False,
        "units": units,
        "use_bias": True,
        "dropout": 0.0,
        "recurrent_dropout": 0.0,
    }
    if not cls.startswith("CuDNN"):
        config["activation"] = "tanh"
    if cls in ("LSTM", "GRU"):
        config.update(recurrent_activation="sigmoid", implementation=2)
    config.update({"GRU": {"reset_after": True}, "LSTM": {"unit_forget_bias": True}}.get(cls, {}))
    config.update(options)
    return {
        "class_name": cls,
        "config": config,
        "name": name,
        "inbound_nodes": [[["input_1", 0, 0, {}]]],
    }


INPUT_1 = {
    "class_name": "InputLayer",
    "name": "input_1",
    "inbound_nodes": [],
    "config": {
        "batch_input_shape": [None, 6, 3],
        "dtype": "float32",
        "sparse": False,
        "ragged": False,
        "name": "input_1",
    },
}


def cell_weights(prefix, layer, offset=0):
    values = layer.get_weights()[offset : offset + 3]
    return [
        (f"{prefix}/{role}:0", v) for role, v in zip(("kernel", "recurrent_kernel", "bias"), values)
    ]


@pytest.fixture(scope="module")
def keras2(keras, out):
    """A Keras 3 twin and Keras 2 files of a functional Bidirectional(LSTM) -> nested
    Sequential(GRU) -> SimpleRNN model; the Keras 2 weight names are TF2's."""
    L = keras.layers
    x = inp = keras.Input((6, 3))
    bidi = L.Bidirectional(L.LSTM(3, return_sequences=True))
    x = bidi(x)
    gru = L.GRU(4, return_sequences=True)
    x = keras.Sequential([gru])(x)
    simple = L.SimpleRNN(2, return_sequences=True)
    twin = randomise(keras.Model(inp, simple(x)), seed=6)
    groups = [
        ("input_1", []),
        (
            "bidirectional",
            cell_weights("bidirectional/forward_lstm/lstm_cell_1", bidi)
            + cell_weights("bidirectional/backward_lstm/lstm_cell_2", bidi, 3),
        ),
        ("sequential", cell_weights("gru/gru_cell", gru)),
        ("simple_rnn", cell_weights("simple_rnn/simple_rnn_cell", simple)),
    ]
    nested = {
        "class_name": "Sequential",
        "name": "sequential",
        "inbound_nodes": [],
        "config": {"name": "sequential", "layers": [k2_layer("GRU", "gru", 4)]},
    }
    bidi_cfg = {
        "class_name": "Bidirectional",
        "name": "bidirectional",
        "inbound_nodes": [],
        "config": {
            "name": "bidirectional",
            "merge_mode": "concat",
            "layer": k2_layer("LSTM", "lstm", 3),
        },
    }
    config = {
        "class_name": "Functional",
        "keras_version": "2.13.1",
        "backend": "tensorflow",
        "config": {
            "name": "model",
            "input_layers": [["input_1", 0, 0]],
            "layers": [INPUT_1, bidi_cfg, nested, k2_layer("SimpleRNN", "simple_rnn", 2)],
            "output_layers": [["simple_rnn", 0, 0]],
        },
    }
    return twin, groups, config


@pytest.mark.parametrize("variant", ["model", "weights", "chunked"])
def test_keras2_files_reproduce_keras(keras, keras2, out, variant):
    twin, groups, config = keras2
    path = write_keras2(
        out / f"k2_{variant}.h5",
        groups,
        config if variant == "model" else None,
        chunked=variant == "chunked",
    )
    layers = read_keras(path)
    assert [la.name for la in layers] == [
        "bidirectional/forward_lstm",
        "bidirectional/backward_lstm",
        "sequential/gru",
        "simple_rnn",
    ]
    assert (
        layers[0].source[0] == "model_weights/bidirectional/bidirectional/forward_lstm/"
        "lstm_cell_1/kernel:0"
        if variant == "model"
        else True
    )
    check_matches(keras, twin, layers, inputs(3))


def to_cudnn(kernel, recurrent, gates):
    """Keras kernels in CuDNNLSTM/CuDNNGRU's layout: tf-keras ``_convert_rnn_weights`` with
    ``from_cudnn=False`` (``transpose_input``: ``k.T.reshape(k.shape, order="C")``)."""
    k = np.hstack([b.T.reshape(b.shape, order="C") for b in np.hsplit(kernel, gates)])
    return k, np.hstack([b.T for b in np.hsplit(recurrent, gates)])


@pytest.mark.parametrize("with_config", [True, False])
def test_cudnn_weights_reproduce_keras(keras, out, with_config):
    L = keras.layers
    lstm, gru = L.LSTM(4, return_sequences=True), L.GRU(3, return_sequences=True)
    twin = randomise(keras.Sequential([keras.Input((5, 3)), lstm, gru]), seed=7)
    (k, r, b), (gk, gr, gb) = lstm.get_weights(), gru.get_weights()
    split = np.random.default_rng(8).normal(size=b.shape).astype("float32")
    lstm_bias = np.concatenate([b - split, split])  # input and recurrent halves, unevenly
    groups = [
        (
            "cu_dnnlstm",
            list(
                zip(
                    ("cu_dnnlstm/kernel:0", "cu_dnnlstm/recurrent_kernel:0", "cu_dnnlstm/bias:0"),
                    (*to_cudnn(k, r, 4), lstm_bias),
                )
            ),
        ),
        (
            "cu_dnngru",
            list(
                zip(
                    ("cu_dnngru/kernel:0", "cu_dnngru/recurrent_kernel:0", "cu_dnngru/bias:0"),
                    (*to_cudnn(gk, gr, 3), gb.ravel()),
                )
            ),
        ),
    ]
    config = {
        "class_name": "Sequential",
        "config": {
            "name": "sequential",
            "layers": [
                k2_layer("CuDNNLSTM", "cu_dnnlstm", 4),
                k2_layer("CuDNNGRU", "cu_dnngru", 3),
            ],
        },
    }
    path = write_keras2(out / f"cudnn_{with_config}.h5", groups, config if with_config else None)
    layers = read_keras(path)
    assert [la.kind for la in layers] == ["lstm", "gru"]
    check_matches(keras, twin, layers, inputs(3, steps=5))


def test_keras22_names_and_refusals(out):
    rng = np.random.default_rng(9)
    lstm = [
        (f"lstm_1/{role}:0", rng.normal(size=shape).astype("float32"))
        for role, shape in (("kernel", (3, 8)), ("recurrent_kernel", (2, 8)), ("bias", (8,)))
    ]
    (layer,) = read_keras(write_keras2(out / "k22.h5", [("lstm_1", lstm)]))
    assert layer.name == "lstm_1" and layer.source[0] == "lstm_1/lstm_1/kernel:0"
    np.testing.assert_array_equal(layer.cell.W_xh, lstm[0][1].T.astype(np.float64))
    # Keras 2.2's LSTM default was recurrent_activation="hard_sigmoid"
    config = {
        "class_name": "Sequential",
        "config": {
            "name": "s",
            "layers": [k2_layer("LSTM", "lstm_1", 2, recurrent_activation="hard_sigmoid")],
        },
    }
    path = write_keras2(out / "k22_hard.h5", [("lstm_1", lstm)], config)
    with pytest.raises(WeightFileError) as excinfo:
        read_keras(path)
    one_line(excinfo, path, "'lstm_1'", "recurrent_activation='hard_sigmoid'")
    gru = [
        (f"gru_1/{role}:0", rng.normal(size=shape).astype("float32"))
        for role, shape in (("kernel", (3, 6)), ("recurrent_kernel", (2, 6)), ("bias", (6,)))
    ]
    path = write_keras2(out / "k22_gru.h5", [("gru_1", gru)])
    with pytest.raises(WeightFileError) as excinfo:
        read_keras(path)
    one_line(excinfo, path, "'gru_1'", "reset_after=False")


def test_hdf5_after_a_user_block(keras, keras2, out):
    twin, groups, config = keras2
    path = write_keras2(out / "userblock.h5", groups, config, userblock_size=512)
    assert path.read_bytes()[:8] != HDF5_SIGNATURE
    check_matches(keras, twin, read_keras(path), inputs(3))


def test_keras2_missing_dataset_is_named(out):
    rng = np.random.default_rng(10)
    weights = [
        (f"lstm/lstm_cell/{role}:0", rng.normal(size=shape).astype("float32"))
        for role, shape in (("kernel", (3, 8)), ("recurrent_kernel", (2, 8)))
    ]
    path = write_keras2(out / "k2_missing.h5", [("lstm", weights)])
    with h5py.File(path, "a") as f:
        f["lstm"].attrs["weight_names"] = [
            b"lstm/lstm_cell/kernel:0",
            b"lstm/lstm_cell/recurrent_kernel:0",
            b"lstm/lstm_cell/bias:0",
        ]
    with pytest.raises(WeightFileError) as excinfo:
        read_keras(path)
    one_line(excinfo, path, "'lstm'", "missing weights entry lstm/lstm/lstm_cell/bias:0")


# -- array layouts ----------------------------------------------------------------------------
def blocks(rows, n, gates, scale):
    """(rows, gates·n) with gate g's block filled by scale·(g + 1) + a distinct fraction."""
    base = np.arange(rows * n).reshape(rows, n) / 1000.0
    return np.hstack([scale * (g + 1) + base for g in range(gates)])


def test_lstm_kernels_are_transposed_with_gate_order_kept():
    kernel, recurrent, bias = blocks(3, 2, 4, 10), blocks(2, 2, 4, 100), np.arange(8.0)
    W_hh, W_xh, rows = to_torch("lstm", kernel, recurrent, bias)
    np.testing.assert_array_equal(W_xh, kernel.T)  # i, f, c, o = PyTorch's i, f, g, o
    np.testing.assert_array_equal(W_hh, recurrent.T)
    np.testing.assert_array_equal(rows[0], bias)


def test_gru_gates_go_from_z_r_h_to_r_z_n_and_bias_rows_stay_apart():
    kernel, recurrent = blocks(3, 2, 3, 10), blocks(2, 2, 3, 100)
    bias = np.vstack([np.repeat([1.0, 2.0, 3.0], 2), np.repeat([-1.0, -2.0, -3.0], 2)])
    W_hh, W_xh, (b_ih, b_hh) = to_torch("gru", kernel, recurrent, bias)
    z, r, h = np.hsplit(kernel, 3)
    np.testing.assert_array_equal(W_xh, np.vstack([r.T, z.T, h.T]))
    np.testing.assert_array_equal(W_hh[:2], np.hsplit(recurrent, 3)[1].T)
    np.testing.assert_array_equal(b_ih, np.repeat([2.0, 1.0, 3.0], 2))
    np.testing.assert_array_equal(b_hh, np.repeat([-2.0, -1.0, -3.0], 2))


@pytest.mark.parametrize(("kind", "gates"), [("lstm", 4), ("gru", 3)])
def test_cudnn_kernels_follow_tf_keras_conversion(kind, gates):
    rng = np.random.default_rng(11)
    kernel, recurrent = rng.normal(size=(5, 3 * gates)), rng.normal(size=(3, 3 * gates))
    # tf-keras _convert_rnn_weights, from_cudnn=True: k.T.reshape(k.shape, order="F"), k.T
    plain_k = np.hstack([b.T.reshape(b.shape, order="F") for b in np.hsplit(kernel, gates)])
    plain_r = np.hstack([b.T for b in np.hsplit(recurrent, gates)])
    bias = rng.normal(size=2 * 3 * gates)
    ours = to_torch(kind, kernel, recurrent, bias, cudnn=True)
    theirs = to_torch(kind, plain_k, plain_r, bias.reshape(2, -1))
    for a, b in zip(ours[:2] + ours[2], theirs[:2] + theirs[2]):
        np.testing.assert_array_equal(a, b)


# -- errors -----------------------------------------------------------------------------------
def rezip(source, target, *, drop=(), replace=None):
    """A copy of a .keras archive without the members in ``drop``, others replaced."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for name in zin.namelist():
            if name not in drop:
                zout.writestr(name, (replace or {}).get(name, zin.read(name)))
    return target


def edited_weights(archive, edit):
    """The model.weights.h5 of an archive after ``edit(h5py.File)``, as bytes."""
    buffer = io.BytesIO(zipfile.ZipFile(archive).read("model.weights.h5"))
    with h5py.File(buffer, "a") as f:
        edit(f)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def stack_keras(stack, out):
    return save(stack, out / "base", ".keras")


def read_error(path):
    with pytest.raises(WeightFileError) as excinfo:
        read_keras(path)
    return excinfo


def test_layers_are_found_by_their_stored_names_when_config_order_differs(keras, out):
    L = keras.layers
    inp = keras.Input((4, 2))
    alpha, zeta = L.LSTM(3, return_sequences=True, name="alpha"), L.LSTM(3, name="zeta")
    model = randomise(keras.Model(inp, [alpha(inp), zeta(inp)]), seed=12)
    path = save(model, out / "order", ".keras")
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    entries = config["config"]["layers"]
    entries[1], entries[2] = entries[2], entries[1]  # zeta listed first: its key is "lstm"
    swapped = rezip(path, out / "swapped.keras", replace={"config.json": json.dumps(config)})
    layers = {la.name: la for la in read_keras(swapped)}
    assert [la.source[0] for la in layers.values()] == [
        "layers/lstm_1/cell/vars/0",
        "layers/lstm/cell/vars/0",
    ]
    x = inputs(2, steps=4)
    for layer in (alpha, zeta):
        layer.return_sequences = True
        expected = keras.ops.convert_to_numpy(layer(x))
        np.testing.assert_allclose(run(layers[layer.name], x), expected, rtol=RTOL, atol=ATOL)


def test_missing_weights_entries_are_named(stack_keras, out):
    data = edited_weights(stack_keras, lambda f: f.__delitem__("layers/gru/cell/vars/1"))
    path = rezip(stack_keras, out / "no_gru_rk.keras", replace={"model.weights.h5": data})
    one_line(read_error(path), path, "layer 'gru'", "missing weights entry layers/gru/cell/vars/1")
    data = edited_weights(stack_keras, lambda f: f.__delitem__("layers/gru/cell/vars/2"))
    path = rezip(stack_keras, out / "no_gru_bias.keras", replace={"model.weights.h5": data})
    one_line(read_error(path), path, "layer 'gru'", "bias")
    path = rezip(stack_keras, out / "no_weights.keras", drop={"model.weights.h5"})
    one_line(read_error(path), path, "missing weights entry model.weights.h5")


def test_links_out_of_the_file_are_refused(stack, out, tmp_path):
    path = save(stack, tmp_path / "linked", ".weights.h5")
    with h5py.File(path, "a") as f:
        del f["layers/gru/cell/vars/0"]
        f["layers/gru/cell/vars/0"] = h5py.ExternalLink("elsewhere.h5", "/data")
    one_line(read_error(path), path, "ExternalLink (refused)")
    with h5py.File(path, "a") as f:
        del f["layers/gru/cell/vars/0"]
        f["layers/gru/cell/vars/0"] = h5py.SoftLink("/layers/gru/cell/vars/1")
    one_line(read_error(path), path, "SoftLink (refused)")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "not a Keras file"),
        (b"hello world\n", "not a Keras file"),
        (HDF5_SIGNATURE, "truncated or corrupt"),
        (b"PK\x03\x04" + bytes(20), "truncated or corrupt"),
    ],
)
def test_files_that_are_not_keras_files(tmp_path, content, words):
    path = tmp_path / "x.keras"
    path.write_bytes(content)
    one_line(read_error(path), path, words)


def test_zips_and_hdf5_files_of_other_kinds(tmp_path):
    torchy = tmp_path / "model.pt"
    with zipfile.ZipFile(torchy, "w") as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    assert not is_keras_zip(zipfile.ZipFile(torchy)) and not is_keras_zip(tmp_path / "none")
    one_line(read_error(torchy), torchy, "not a Keras one")
    npz = tmp_path / "npz.keras"
    with zipfile.ZipFile(npz, "w") as zf:
        zf.writestr("config.json", "{}")
        zf.writestr("model.weights.npz", b"")
    one_line(read_error(npz), npz, "model.weights.npz are not supported")
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f["data"] = np.zeros(3)
    one_line(read_error(plain), plain, "without Keras weights")
    one_line(read_error(tmp_path / "absent.keras"), tmp_path / "absent.keras", "cannot read")


def test_is_keras_zip_on_a_real_archive(stack_keras):
    assert is_keras_zip(stack_keras) and is_keras_zip(zipfile.ZipFile(stack_keras))


def test_bad_values_are_named(stack, out, tmp_path):
    path = save(stack, tmp_path / "values", ".weights.h5")
    with h5py.File(path, "a") as f:
        value = f["layers/gru/cell/vars/1"][()]
        del f["layers/gru/cell/vars/1"]
        f["layers/gru/cell/vars/1"] = value.astype(np.int32)
    one_line(read_error(path), path, "layer 'gru'", "int32, not floating-point")
    with h5py.File(path, "a") as f:
        del f["layers/gru/cell/vars/1"]
        f["layers/gru/cell/vars/1"] = np.full(value.shape, np.nan, np.float32)
    one_line(read_error(path), path, "layer 'gru'")
    with h5py.File(path, "a") as f:
        del f["layers/gru/cell/vars/1"]
        f["layers/gru/cell/vars/1"] = np.zeros((5, 16), np.float32)
    one_line(read_error(path), path, "layer 'gru'", "recurrent_kernel (5, 16)")


def test_without_h5py_the_error_says_what_to_install(stack_keras, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    one_line(read_error(stack_keras), stack_keras, 'pip install "gradflow-rnn[io]"')


# -- fuzzing ----------------------------------------------------------------------------------
def mutants(data, rng, *, truncations=40, flips=60):
    """Truncations at many lengths and seeded random byte flips of ``data``."""
    lengths = sorted(set(np.linspace(0, len(data) - 1, truncations).astype(int)) | {1, 8, 9})
    yield from (data[:n] for n in lengths)
    for _ in range(flips):
        damaged = bytearray(data)
        for at in rng.integers(0, len(data), rng.integers(1, 5)):
            damaged[at] = rng.integers(0, 256)
        yield bytes(damaged)


def scrambled(config, rng, count):
    """Copies of a JSON tree with one to three nodes replaced by values of other types."""
    paths = []

    def collect(node, path):
        paths.append(path)
        items = (
            node.items()
            if isinstance(node, dict)
            else enumerate(node)
            if isinstance(node, list)
            else ()
        )
        for key, child in items:
            collect(child, (*path, key))

    collect(config, ())
    for _ in range(count):
        tree = json.loads(json.dumps(config))
        for at in rng.choice(len(paths) - 1, rng.integers(1, 4)) + 1:
            *parents, last = paths[at]
            node = tree
            try:
                for key in parents:
                    node = node[key]
                node[last] = [None, 7, "LSTM", [], {}, {"class_name": "GRU"}, -1.5][rng.integers(7)]
            except (KeyError, IndexError, TypeError):
                pass
        yield tree


def test_fuzzed_files_either_read_or_raise_weightfileerror(
    keras, stack, stack_keras, keras2, out, tmp_path
):
    rng = np.random.default_rng(2024)
    bases = {fmt: save(stack, out / "fuzz", fmt) for fmt in (".weights.h5", ".h5")}
    bases[".keras"] = stack_keras
    bases["k2.h5"] = write_keras2(out / "fuzz_k2.h5", keras2[1], keras2[2])
    cases = {name: list(mutants(Path(path).read_bytes(), rng)) for name, path in bases.items()}
    with zipfile.ZipFile(stack_keras) as zf:  # damage inside the archive, behind valid CRCs
        for member in ("model.weights.h5", "config.json"):
            cases[f"keras:{member}"] = [
                rezip(stack_keras, io.BytesIO(), replace={member: damaged}).getvalue()
                for damaged in mutants(zf.read(member), rng, truncations=20, flips=40)
            ]
    config = json.loads(zipfile.ZipFile(stack_keras).read("config.json"))
    cases["keras:config tree"] = [
        rezip(stack_keras, io.BytesIO(), replace={"config.json": json.dumps(tree)}).getvalue()
        for tree in scrambled(config, rng, 60)
    ]
    stats = {}
    for name, contents in cases.items():
        path = tmp_path / f"case{os.path.splitext(name)[1] or '.keras'}"
        read = failed = 0
        for content in contents:
            path.write_bytes(content)
            try:
                layers = read_keras(path)
            except WeightFileError as exc:
                assert "\n" not in str(exc) and str(exc).startswith(f"{path}: "), str(exc)
                failed += 1
            else:
                assert layers and all(isinstance(la, RecurrentLayer) for la in layers)
                read += 1
        stats[name] = (read, failed)
    print("fuzz (read, WeightFileError):", stats)
    assert sum(len(c) for c in cases.values()) >= 400
    assert stats[".weights.h5"][0] > 0 and stats["keras:config tree"][0] > 0
