"""gradflow.io._discover: naming conventions, kinds, bias rules, key selection, flattening.

Flattening is the private ``gradflow.io._flatten``'s (re-exported by ``_discover``), tested here.
"""

import numpy as np
import pytest
from scipy.special import expit

from gradflow.cells import GRU, LSTM, Elman
from gradflow.errors import WeightFileError
from gradflow.io import from_state_dict
from gradflow.io._discover import discover, flatten, under

RNG = np.random.default_rng(0)


def _torch_layer(kind, n=3, d=2, suffix="_l0", prefix=""):
    rows = {"elman": n, "lstm": 4 * n, "gru": 3 * n}[kind]
    return {
        f"{prefix}weight_hh{suffix}": RNG.normal(size=(rows, n)),
        f"{prefix}weight_ih{suffix}": RNG.normal(size=(rows, d)),
        f"{prefix}bias_ih{suffix}": RNG.normal(size=rows),
        f"{prefix}bias_hh{suffix}": RNG.normal(size=rows),
    }


def _one(arrays, **kwargs):
    layers = discover(arrays, origin="f", **kwargs)
    assert len(layers) == 1, layers
    return layers[0]


# -- PyTorch conventions ----------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "cls"), [("elman", Elman), ("lstm", LSTM), ("gru", GRU)])
def test_torch_stacked_layer_arrays_and_biases(kind, cls):
    arrays = _torch_layer(kind, prefix="encoder.rnn.", suffix="_l1")
    layer = _one(arrays)
    assert (layer.name, layer.kind, layer.index, layer.direction) == (
        "encoder.rnn.l1",
        kind,
        1,
        None,
    )
    assert isinstance(layer.cell, cls) and layer.source == tuple(arrays)
    cell = layer.cell
    np.testing.assert_array_equal(cell.W_hh, arrays["encoder.rnn.weight_hh_l1"])
    np.testing.assert_array_equal(cell.W_xh, arrays["encoder.rnn.weight_ih_l1"])
    b_ih, b_hh = arrays["encoder.rnn.bias_ih_l1"], arrays["encoder.rnn.bias_hh_l1"]
    if kind == "gru":
        np.testing.assert_array_equal(cell.b_ih, b_ih)
        np.testing.assert_array_equal(cell.b_hh, b_hh)
    else:
        np.testing.assert_array_equal(cell.b, b_ih + b_hh)


def test_multi_layer_bidirectional_order_and_directions():
    arrays = {}
    for k in (10, 2, 0, 1):  # out of order, two-digit index
        for rev in ("", "_reverse"):
            arrays.update(_torch_layer("gru", suffix=f"_l{k}{rev}", prefix="m.rnn."))
    arrays.update(_torch_layer("lstm", prefix="m.other."))
    layers = discover(arrays, origin="f")
    got = [(la.name, la.index, la.direction) for la in layers]
    want = [
        (f"m.rnn.l{k}{r}", k, d)
        for k in (0, 1, 2, 10)
        for r, d in (("", "forward"), ("_reverse", "reverse"))
    ]
    assert got == [*want, ("m.other.l0", 0, None)]
    rev = layers[1]
    np.testing.assert_array_equal(rev.cell.W_hh, arrays["m.rnn.weight_hh_l0_reverse"])
    np.testing.assert_array_equal(rev.cell.b_hh, arrays["m.rnn.bias_hh_l0_reverse"])


def test_prefix_splits_at_the_last_dot():
    arrays = _torch_layer("elman", prefix="a.b_c.weight_hh.d.")
    arrays["a.b_c.weight_hh.d.extra_l0"] = np.ones(3)
    layer = _one(arrays)
    assert layer.name == "a.b_c.weight_hh.d.l0"
    assert layer.source[0] == "a.b_c.weight_hh.d.weight_hh_l0"


def test_cells_without_suffix():
    for kind in ("elman", "lstm", "gru"):
        arrays = _torch_layer(kind, suffix="", prefix="decoder.cell.")
        layer = _one(arrays)
        assert (layer.name, layer.kind, layer.index) == ("decoder.cell", kind, None)
        np.testing.assert_array_equal(layer.cell.W_xh, arrays["decoder.cell.weight_ih"])
    assert _one(_torch_layer("lstm", suffix="")).name == "weight_hh"


def test_missing_companions_and_biases():
    W = RNG.normal(size=(12, 3))
    layer = _one({"rnn.weight_hh_l0": W, "rnn.bias_hh_l0": np.ones(12)})
    assert layer.kind == "lstm" and layer.cell.W_xh is None
    np.testing.assert_array_equal(layer.cell.b, np.ones(12))
    gru = _one({"weight_hh_l0": RNG.normal(size=(9, 3)), "bias_hh_l0": np.ones(9)}).cell
    assert gru.b_ih is None or not gru.b_ih.any()
    np.testing.assert_array_equal(gru.b_hh, np.ones(9))


def test_projection_is_refused():
    arrays = {"lstm.weight_hh_l0": np.ones((16, 2)), "lstm.weight_hr_l0": np.ones((2, 4))}
    with pytest.raises(WeightFileError, match=r"^f: lstm\.weight_hr_l0: an LSTM with proj_size"):
        discover(arrays, origin="f")


# -- hand-written names -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("recurrent", "inputs"),
    [
        ("W_hh", "W_xh"),
        ("w_hh", "w_ih"),
        ("whh", "wih"),
        ("Whh", "Wxh"),
        ("W_rec", "W_in"),
        ("w_rec", "w_in"),
        ("U", "W"),
        ("W_hh", "W_ih"),
        ("w_hh", "w_xh"),
    ],
)
def test_hand_written_names(recurrent, inputs):
    W, V, b = RNG.normal(size=(4, 4)), RNG.normal(size=(4, 2)), RNG.normal(size=4)
    layer = _one({f"net.{recurrent}": W, f"net.{inputs}": V, "net.b": b, "other.x": np.ones(3)})
    assert (layer.name, layer.kind) == ("net", "elman")
    assert layer.source == (f"net.{recurrent}", f"net.{inputs}", "net.b")
    np.testing.assert_array_equal(layer.cell.W_xh, V)
    np.testing.assert_array_equal(layer.cell.b, b)


def test_hand_written_bias_pair_and_gru():
    W, b_ih, b_hh = RNG.normal(size=(6, 2)), RNG.normal(size=6), RNG.normal(size=6)
    layer = _one({"W_hh": W, "b_ih": b_ih, "b_hh": b_hh})
    assert (layer.name, layer.kind) == ("W_hh", "gru")
    np.testing.assert_array_equal(layer.cell.b_ih, b_ih)
    np.testing.assert_array_equal(layer.cell.b_hh, b_hh)
    single = _one({"whh": W, "b": b_ih}).cell  # one G·N bias is the input bias
    np.testing.assert_array_equal(single.b_ih, b_ih)


def test_weak_name_U_needs_a_recurrent_shape():
    arrays = {"attn.U": np.ones((3, 5)), "rnn.W_hh": np.eye(2)}
    assert [la.name for la in discover(arrays, origin="f")] == ["rnn"]


@pytest.mark.parametrize(("kind", "gates"), [("elman", 1), ("lstm", 4), ("gru", 3)])
def test_weak_name_U_reads_every_recurrent_shape(kind, gates):
    # U (G·N, N) with W (G·N, D): the recurrent and input weights of any of the three kinds
    n, d = 4, 2
    U, W = RNG.normal(size=(gates * n, n)), RNG.normal(size=(gates * n, d))
    layer = _one({"net.U": U, "net.W": W})
    assert (layer.name, layer.kind, layer.hidden_size) == ("net", kind, n)
    assert layer.source == ("net.U", "net.W")
    np.testing.assert_array_equal(layer.cell.W_hh, U)
    np.testing.assert_array_equal(layer.cell.W_xh, W)


@pytest.mark.parametrize(("kind", "gates"), [("elman", 1), ("lstm", 4), ("gru", 3)])
def test_cudnn_style_biases(kind, gates):
    n = 3
    rows = gates * n
    W, b = RNG.normal(size=(rows, n)), RNG.normal(size=2 * rows)
    for bias in (b, b.reshape(2, rows)):
        cell = _one({"W_hh": W, "bias": bias}).cell
        if kind == "gru":
            np.testing.assert_array_equal(cell.b_ih, b[:rows])
            np.testing.assert_array_equal(cell.b_hh, b[rows:])
        else:
            np.testing.assert_array_equal(cell.b, b[:rows] + b[rows:])
    with pytest.raises(WeightFileError, match=r"^f: bias: bias of shape \(7,\) fits neither"):
        discover({"W_hh": W, "bias": np.ones(7)}, origin="f")


# -- Keras layouts ----------------------------------------------------------------------------
def _keras_lstm_step(x, h, c, kernel, rec, bias):
    z = x @ kernel + h @ rec + bias
    i, f, g, o = np.split(z, 4, axis=-1)  # Keras order i, f, c, o
    c = expit(f) * c + expit(i) * np.tanh(g)
    return expit(o) * np.tanh(c), c


def _keras_gru_step(x, h, kernel, rec, bias):
    """Keras GRU, reset_after=True: gates z, r, h; bias rows (input, recurrent)."""
    xi = x @ kernel + bias[0]
    hr = h @ rec + bias[1]
    xz, xr, xh = np.split(xi, 3, axis=-1)
    hz, hr_, hh = np.split(hr, 3, axis=-1)
    z, r = expit(xz + hz), expit(xr + hr_)
    return z * h + (1 - z) * np.tanh(xh + r * hh)


def test_keras_lstm_matches_keras_equations():
    n, d, T = 3, 2, 6
    kernel, rec, bias = (
        RNG.normal(size=(d, 4 * n)),
        RNG.normal(size=(n, 4 * n)),
        RNG.normal(size=4 * n),
    )
    layer = _one(
        {
            "lstm/lstm_cell/kernel:0": kernel,
            "lstm/lstm_cell/recurrent_kernel:0": rec,
            "lstm/lstm_cell/bias:0": bias,
        }
    )
    assert (layer.name, layer.kind) == ("lstm/lstm_cell", "lstm")
    xs = RNG.normal(size=(T, d))
    h, c = np.zeros(n), np.zeros(n)
    for x in xs:
        h, c = _keras_lstm_step(x, h, c, kernel, rec, bias)
    np.testing.assert_allclose(layer.cell.run(xs).states[-1], np.concatenate([h, c]), atol=1e-12)


@pytest.mark.parametrize("bias_shape", [(2, 9), (18,)])
def test_keras_gru_matches_keras_equations(bias_shape):
    n, d, T = 3, 2, 6
    kernel, rec = RNG.normal(size=(d, 3 * n)), RNG.normal(size=(n, 3 * n))
    bias = RNG.normal(size=(2, 3 * n))
    layer = _one(
        {"gru.kernel": kernel, "gru.recurrent_kernel": rec, "gru.bias": bias.reshape(bias_shape)}
    )
    assert layer.kind == "gru"
    xs = RNG.normal(size=(T, d))
    h = np.zeros(n)
    for x in xs:
        h = _keras_gru_step(x, h, kernel, rec, bias)
    np.testing.assert_allclose(layer.cell.run(xs).states[-1], h, atol=1e-12)


def test_keras_gru_without_reset_after_is_refused():
    arrays = {
        "g.kernel": np.ones((2, 9)),
        "g.recurrent_kernel": np.ones((3, 9)),
        "g.bias": np.ones(9),
    }
    with pytest.raises(WeightFileError, match=r"^f: g\.bias: a Keras GRU .*reset_after=False"):
        discover(arrays, origin="f")


def test_keras_simple_rnn_is_transposed():
    rec, kernel = RNG.normal(size=(3, 3)), RNG.normal(size=(2, 3))
    cell = _one({"rnn.recurrent_kernel": rec, "rnn.kernel": kernel}).cell
    np.testing.assert_array_equal(cell.W_hh, rec.T)
    np.testing.assert_array_equal(cell.W_xh, kernel.T)


# -- kinds, shapes and values -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"rnn.weight_hh_l0": np.ones((5, 3))}, r"rnn\.weight_hh_l0: shape \(5, 3\) is neither"),
        ({"rnn.weight_hh_l0": np.ones((6, 3))}, r"rnn\.weight_hh_l0: shape \(6, 3\) is neither"),
        ({"W_hh": np.ones((3, 4))}, r"W_hh: shape \(3, 4\) is neither"),
        ({"rnn.weight_hh_l0": np.ones(9)}, r"expected 2-D recurrent weights, got shape \(9,\)"),
        ({"rnn.weight_hh_l0": np.ones((0, 0))}, r"expected 2-D recurrent weights"),
        (
            {"weight_hh_l0": np.eye(3), "weight_ih_l0": np.ones((12, 2))},
            r"weight_ih_l0: shape \(12, 2\) is inconsistent with weight_hh_l0 \(an Elman",
        ),
        (
            {"weight_hh_l0": np.ones((12, 3)), "bias_ih_l0": np.ones(3)},
            r"bias_ih_l0: expected shape \(12,\)",
        ),
        ({"W_hh": np.array([[1.0, np.nan], [0, 1]])}, r"W_hh: 1 NaN or infinite entries"),
        ({"W_hh": np.eye(2), "b": np.array([np.inf, 0])}, r"b: 1 NaN or infinite"),
        ({"W_hh": np.eye(2, dtype=int)}, r"W_hh: expected floating-point weights, got dtype int"),
    ],
)
def test_shape_and_value_errors_name_the_key(arrays, message):
    with pytest.raises(WeightFileError, match=message) as info:
        discover(arrays, origin="ckpt.pt")
    assert str(info.value).startswith("ckpt.pt: ") and "\n" not in str(info.value)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, "bfloat16"])
def test_low_precision_converts_exactly(dtype):
    if dtype == "bfloat16":
        dtype = pytest.importorskip("ml_dtypes").bfloat16
    W = RNG.normal(size=(8, 2)).astype(dtype)
    cell = _one({"weight_hh_l0": W}).cell
    assert cell.W_hh.dtype == np.float64
    np.testing.assert_array_equal(cell.W_hh, W.astype(np.float32).astype(np.float64))


def test_arrays_are_copies():
    W = np.eye(3)
    cell = _one({"W_hh": W}).cell
    W[0, 0] = 5.0
    assert cell.W_hh[0, 0] == 1.0


def test_activation_reaches_elman_only():
    arrays = {**_torch_layer("elman", prefix="a."), **_torch_layer("lstm", prefix="b.")}
    layers = discover(arrays, origin="f", activation="relu")
    assert layers[0].cell.activation == "relu" and layers[1].kind == "lstm"


# -- key selection and fallbacks --------------------------------------------------------------
def test_key_picks_by_prefix_at_a_boundary_name_or_full_key():
    arrays = {
        **_torch_layer("lstm", prefix="enc.rnn."),
        **_torch_layer("gru", prefix="encoder.rnn."),
        **_torch_layer("elman", prefix="enc.rnn.", suffix="_l1"),
    }
    names = lambda key: [la.name for la in discover(arrays, origin="f", key=key)]  # noqa: E731
    assert names("enc") == ["enc.rnn.l0", "enc.rnn.l1"]
    assert names("enc.") == ["enc.rnn.l0", "enc.rnn.l1"]
    assert names("encoder") == ["encoder.rnn.l0"]
    assert names("enc.rnn.l1") == ["enc.rnn.l1"]
    assert names("enc.rnn.weight_hh_l0") == ["enc.rnn.l0"]
    with pytest.raises(WeightFileError, match=r"key 'en' matches no array; found enc\.rnn\.l0"):
        discover(arrays, origin="f", key="en")


def test_key_reads_a_matrix_no_convention_names():
    arrays = {**_torch_layer("lstm"), "readout.weight": np.eye(5), "readout.bias": np.ones(5)}
    layer = _one(arrays, key="readout.weight")
    assert (layer.name, layer.kind, layer.source) == (
        "readout.weight",
        "elman",
        ("readout.weight",),
    )
    assert _one(arrays, key="readout").name == "readout.weight"  # the only matrix under it


def test_no_convention_single_array_candidates_and_nothing():
    assert _one({"arr_0": np.ones((12, 3))}).kind == "lstm"
    arrays = {"a": np.eye(3), "b": np.ones((8, 2)), "c": np.ones((3, 5)), "d": np.ones(3)}
    with pytest.raises(
        WeightFileError,
        match=r"^f: no recurrent layer .*candidates by shape: "
        r"a \(3, 3\), b \(8, 2\); pass key=",
    ):
        discover(arrays, origin="f")
    with pytest.raises(WeightFileError, match=r"^f: no recurrent layer found"):
        discover({"x": np.ones((3, 5)), "y": np.ones(2)}, origin="f")
    with pytest.raises(WeightFileError, match=r"^f: no recurrent layer found"):
        discover({}, origin="f")
    many = {f"m{i}": np.eye(2) for i in range(12)}
    with pytest.raises(WeightFileError, match=r"m7 \(2, 2\) and 4 more; pass key="):
        discover(many, origin="f")
    with pytest.raises(WeightFileError, match=r"key 'm' matches no array"):
        discover(many, origin="f", key="m")
    with pytest.raises(WeightFileError, match=r"key 'x' matches several matrices: x\.a, x\.b"):
        discover({"x.a": np.eye(2), "x.b": np.eye(2), "z": np.eye(2)}, origin="f", key="x")


def test_under():
    assert under("enc", "enc.rnn") and under("enc", "enc") and under("enc", "enc/x")
    assert under("enc.", "enc.rnn") and not under("enc", "encoder.rnn")
    assert not under("enc.rnn.weight_hh_l1", "enc.rnn.weight_hh_l10")


# -- flattening -------------------------------------------------------------------------------
class _FakeTensor:
    """Duck-typed like a torch tensor (detach / cpu / numpy), counting conversions."""

    def __init__(self, array, dtype="torch.float64"):
        self.array, self.dtype = array, dtype

    def detach(self):
        return self

    def cpu(self):
        return self

    def float(self):
        return _FakeTensor(self.array.astype(np.float32), "torch.float32")

    def numpy(self):
        if "bfloat16" in self.dtype:
            raise TypeError("Got unsupported ScalarType BFloat16")
        return self.array


def test_flatten_nested_checkpoint():
    W = np.eye(2)
    ckpt = {
        "model": {"rnn.weight_hh_l0": _FakeTensor(W), "layers": [{"w_hh": W}, (W,)]},
        "optimizer": {"state": {0: {"exp_avg": W}}, "param_groups": [{"lr": 0.1}]},
        "optimizer_states": [{"W_hh": W}],
        "lr_schedulers": [{"W_hh": W}],
        "scaler": {"W_hh": W},
        "epoch": 3,
        "name": "run",
        "none": None,
        "objs": np.array([1, None], dtype=object),
        "optimal_rnn": {"W_hh": W},
        "opt": {"W_hh": W},
        "opt_state": [{"W_hh": W}],
        "Optimizer_State_Dict": {"W_hh": W},
        7: W,
    }
    ckpt["model"]["self"] = ckpt  # a cycle
    flat = flatten(ckpt)
    assert list(flat) == [
        "model.rnn.weight_hh_l0",
        "model.layers.0.w_hh",
        "model.layers.1.0",
        "optimal_rnn.W_hh",
        "opt.W_hh",
        "7",
    ]
    assert flatten(W) == {"": W}


def test_flatten_keeps_the_first_of_two_equal_keys():
    # {"rnn.weight_hh": ..} and {"rnn": {"weight_hh": ..}} both flatten to "rnn.weight_hh"
    first, second = np.eye(2), 2.0 * np.eye(2)
    one_way = {"rnn.weight_hh": first, "rnn": {"weight_hh": second}}
    other_way = {"rnn": {"weight_hh": second}, "rnn.weight_hh": first}
    for ckpt, kept in ((one_way, first), (other_way, second)):
        flat = flatten(ckpt)
        assert list(flat) == ["rnn.weight_hh"]
        np.testing.assert_array_equal(flat["rnn.weight_hh"], kept)
        [layer] = from_state_dict(ckpt)
        np.testing.assert_array_equal(layer.cell.W_hh, kept)


def test_from_state_dict_duck_typed_tensors_and_bf16():
    bf = pytest.importorskip("ml_dtypes").bfloat16
    W = RNG.normal(size=(4, 4)).astype(bf).astype(np.float64)
    layers = from_state_dict({"rnn.weight_hh_l0": _FakeTensor(W.astype(bf), "torch.bfloat16")})
    np.testing.assert_array_equal(layers[0].cell.W_hh, W)


def test_flatten_keeps_no_reference_cycle_to_the_arrays():
    import gc
    import weakref

    from gradflow.io._discover import flatten

    class Tagged(np.ndarray):  # ndarrays cannot be weakly referenced; a subclass can
        pass

    array = np.zeros(3).view(Tagged)
    ref = weakref.ref(array)
    flat = flatten({"model": {"w": array}})
    del flat, array
    gc.disable()
    try:
        assert ref() is None  # freed by reference counting, without waiting for the collector
    finally:
        gc.enable()
