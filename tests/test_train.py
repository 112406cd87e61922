"""Training: BPTT gradients of the full model, fit and the non-finite policy."""

import numpy as np
import pytest

from gradflow import clip, tasks, train
from gradflow._validation import NonFiniteError
from gradflow.cells import Elman

N, D, K, T, B = 4, 3, 3, 5, 2


def make_model(activation="tanh", objective="mse", *, gain=0.9, rng=0, n=N, d=D, k=K):
    rng = np.random.default_rng(rng)
    cell = Elman(
        rng.normal(size=(n, n)) * gain / np.sqrt(n),
        rng.normal(size=(n, d)),
        rng.normal(size=n) * 0.3,
        activation=activation,
    )
    return train.Model(cell, rng.normal(size=(k, n)), rng.normal(size=k) * 0.1, objective)


def make_batch(objective, per_step, rng=1):
    rng = np.random.default_rng(rng)
    xs = rng.normal(size=(T, B, D))
    lead = (T, B) if per_step else (B,)
    if objective == "mse":
        return xs, rng.normal(size=(*lead, K))
    return xs, rng.integers(0, K, size=lead)


def torch_loss_and_grads(torch, model, xs, ys, nonlinearity, dtype):
    """The loss and gradients of ``model`` on a batch by torch autograd, in ``dtype``
    (``b_hh``: torch's second bias, whose gradient is also that of our ``b``)."""
    rnn = torch.nn.RNN(D, N, nonlinearity=nonlinearity, dtype=dtype)
    readout = torch.nn.Linear(N, K, dtype=dtype)
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(torch.from_numpy(model.cell.W_hh))
        rnn.weight_ih_l0.copy_(torch.from_numpy(model.cell.W_xh))
        rnn.bias_ih_l0.copy_(torch.from_numpy(model.cell.b))
        rnn.bias_hh_l0.zero_()  # torch has two biases; ours is b_ih + b_hh
        readout.weight.copy_(torch.from_numpy(model.W_out))
        readout.bias.copy_(torch.from_numpy(model.b_out))
    hidden, _ = rnn(torch.tensor(xs, dtype=dtype))
    if model.objective == "mse":
        torch_loss = ((readout(hidden[-1]) - torch.tensor(ys, dtype=dtype)) ** 2).mean()
    else:
        logits = readout(hidden).reshape(-1, K)
        torch_loss = torch.nn.functional.cross_entropy(logits, torch.tensor(ys).reshape(-1))
    torch_loss.backward()
    pairs = {"W_hh": rnn.weight_hh_l0, "W_xh": rnn.weight_ih_l0, "b": rnn.bias_ih_l0,
             "W_out": readout.weight, "b_out": readout.bias, "b_hh": rnn.bias_hh_l0}  # fmt: skip
    return torch_loss.item(), {name: t.grad.numpy() for name, t in pairs.items()}


CASES = [
    (act, obj, per_step)
    for act in ("tanh", "relu")
    for obj in ("mse", "xent")
    for per_step in (False, True)
]


@pytest.mark.parametrize(("activation", "objective", "per_step"), CASES)
def test_gradients_match_central_differences(activation, objective, per_step):
    model = make_model(activation, objective)
    xs, ys = make_batch(objective, per_step)
    loss, grads = model.value_and_grad(xs, ys)
    assert loss == pytest.approx(model.loss(xs, ys), rel=1e-15)
    params = model.params
    assert sorted(grads) == sorted(params) == ["W_hh", "W_out", "W_xh", "b", "b_out"]
    eps = 1e-6
    for name, value in params.items():
        numeric = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            shifted = {k: v.copy() for k, v in params.items()}
            shifted[name][index] = value[index] + eps
            up = model.with_params(shifted).loss(xs, ys)
            shifted[name][index] = value[index] - eps
            down = model.with_params(shifted).loss(xs, ys)
            numeric[index] = (up - down) / (2 * eps)
        assert grads[name].shape == value.shape
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-6, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize(("objective", "per_step"), [("mse", False), ("xent", True)])
def test_gradients_match_torch_autograd(nonlinearity, objective, per_step):
    torch = pytest.importorskip("torch")
    model = make_model(nonlinearity, objective, rng=5)
    xs, ys = make_batch(objective, per_step, rng=6)
    loss, grads = model.value_and_grad(xs, ys)

    torch_loss, torch_grads = torch_loss_and_grads(torch, model, xs, ys, nonlinearity,
                                                   torch.float64)  # fmt: skip
    assert loss == pytest.approx(torch_loss, rel=1e-12)
    for name in grads:
        np.testing.assert_allclose(grads[name], torch_grads[name], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(grads["b"], torch_grads["b_hh"], rtol=1e-10, atol=1e-13)


def test_copy_task_loss_at_init_is_near_uniform_guess():
    task = train.make_task("copy", T=5)
    model = train.init_model(task, 16, rng=0)
    xs, ys = task.sample(64, rng=1)
    loss, grads = model.value_and_grad(xs, ys)
    # small readout weights: logits near 0, so every step costs about ln 10
    assert abs(loss - np.log(10)) < 0.2
    assert grads["W_out"].shape == (10, 16)


def test_make_task_and_init_model():
    task = train.make_task("adding", T=12)
    assert (task.input_size, task.output_size, task.objective) == (2, 1, "mse")
    assert task.baseline == pytest.approx(tasks.adding_baseline())
    copy = train.make_task("copy", T=7)
    assert copy.baseline == pytest.approx(tasks.copy_baseline(7))
    assert train.make_task(task) is task

    def custom(T, batch, rng=None):
        return np.ones((T, batch, 4)), np.zeros((T, batch), dtype=int)

    spec = train.make_task(custom, T=3)
    assert (spec.input_size, spec.objective) == (4, "xent")
    a = train.init_model(task, 8, gain=1.3, rng=4)
    b = train.init_model("adding", 8, gain=1.3, rng=4)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    # orthogonal times gain: every singular value equals the gain
    np.testing.assert_allclose(np.linalg.svd(a.cell.W_hh, compute_uv=False), 1.3, rtol=1e-12)
    assert np.all(np.abs(a.cell.W_xh) <= 1 / np.sqrt(8))


def _nan_sometimes(T, batch, rng=None):
    """The adding task with NaN targets on about a third of the batches."""
    rng = np.random.default_rng(rng)
    xs, ys = tasks.adding(T, batch, rng=rng)
    if rng.random() < 0.35:
        ys = ys * np.nan
    return xs, ys


def test_fit_skips_nonfinite_steps_and_leaves_parameters_unchanged():
    model = train.init_model("adding", 6, rng=0)
    history = train.fit(
        _nan_sometimes, model, T=8, clip="global:1", optimizer="momentum", lr=0.05,
        steps=30, batch=4, rng=2, snapshot_every=1, progress=False,
    )  # fmt: skip
    frame = history.frame
    bad = frame["nonfinite"].to_numpy()
    assert 3 <= bad.sum() <= 20
    assert np.array_equal(frame["skipped"].to_numpy(), bad)
    assert np.all(frame.loc[bad, "update_norm"] == 0)
    assert np.all(frame.loc[~bad, "update_norm"] > 0)
    moved = np.any(np.diff(history.snapshots, axis=0) != 0, axis=1)
    assert np.array_equal(moved, ~bad)
    assert history.status == "completed" and history.diverged  # NaN losses are recorded


def test_fit_nonfinite_raise_and_zero_policies():
    model = train.init_model("adding", 6, rng=0)
    kwargs = {"T": 8, "lr": 0.05, "steps": 30, "batch": 4, "rng": 2, "progress": False}
    with pytest.raises(NonFiniteError, match="nonfinite='raise'"):
        train.fit(_nan_sometimes, model, clip=clip.by_norm(1.0, nonfinite="raise"), **kwargs)
    history = train.fit(_nan_sometimes, model, clip=clip.none(nonfinite="zero"), **kwargs)
    assert history.frame["nonfinite"].any() and not history.frame["skipped"].any()


def test_fit_records_forward_overflow_and_stops_on_nonfinite_parameters():
    rng = np.random.default_rng(0)
    cell = Elman(1e3 * np.eye(4), rng.normal(size=(4, 2)), np.zeros(4), activation="linear")
    model = train.Model(cell, rng.normal(size=(1, 4)), np.zeros(1))
    history = train.fit("adding", model, T=120, lr=0.1, steps=3, batch=2, progress=False)
    assert np.isinf(history.frame["loss"]).all() and history.frame["skipped"].all()
    assert history.diverged and history.status == "completed"

    model = train.init_model("adding", 6, rng=0)
    history = train.fit(
        "adding", model, T=8, optimizer="sgd", lr=1e308, steps=10, batch=4, rng=1, progress=False
    )
    assert history.status == "nonfinite_params" and history.diverged
    assert len(history.frame) == 1 and history.frame["skipped"].iloc[0]
    assert np.isinf(history.frame["update_norm"].iloc[0])
    for name, value in history.model.params.items():  # the last finite parameters
        np.testing.assert_array_equal(value, model.params[name])


def test_fit_frame_records_clipping_and_spectra():
    model = train.init_model("adding", 8, gain=1.2, rng=3)
    lr, threshold = 0.01, 0.05
    history = train.fit(
        "adding", model, T=20, clip=f"global:{threshold}", optimizer="sgd", lr=lr,
        steps=12, batch=8, rng=4, snapshot_every=1, record_every=1, progress=False,
    )  # fmt: skip
    frame = history.frame
    assert tuple(frame.columns) == train.COLUMNS
    assert frame["update"].tolist() == list(range(12))
    clipped = frame["clipped"].to_numpy()
    assert clipped.any()
    np.testing.assert_allclose(frame.loc[clipped, "grad_norm_clipped"], threshold, rtol=1e-12)
    np.testing.assert_allclose(frame["update_norm"], lr * frame["grad_norm_clipped"], rtol=1e-12)
    np.testing.assert_allclose(frame.loc[clipped, "cosine"], 1.0)
    assert np.all(frame.loc[clipped, "grad_norm"] > threshold)
    for i, step in enumerate(history.snapshot_updates[:-1]):
        W = history.params_at(i)["W_hh"]
        row = frame.set_index("update").loc[step]
        assert row["spectral_radius"] == pytest.approx(np.abs(np.linalg.eigvals(W)).max())
        assert row["sigma_max"] == pytest.approx(np.linalg.norm(W, 2))
    np.testing.assert_array_equal(history.params_at(-1)["W_hh"], history.model.cell.W_hh)
    sparse = train.fit(
        "adding", model, T=20, lr=lr, steps=12, batch=8, rng=4, record_every=5, progress=False
    )
    assert sparse.frame["update"].tolist() == [0, 5, 10, 11]


def test_fit_with_adaptive_clipping_passes_the_parameters():
    model = train.init_model("adding", 6, rng=1)
    history = train.fit(
        "adding", model, T=10, clip="adaptive:0.01", optimizer="sgd", lr=0.1, steps=4,
        batch=4, rng=0, snapshot_every=1, spectral=False, progress=False,
    )  # fmt: skip
    frame = history.frame
    assert frame["clipped"].all()
    assert np.all(frame["grad_norm_clipped"] < frame["grad_norm"])
    # AGC bounds each row of the update by lr * 0.01 * the row's weight norm (eps 1e-3)
    before, after = history.params_at(0), history.params_at(1)
    step = np.linalg.norm(after["W_hh"] - before["W_hh"], axis=1)
    bound = 0.1 * 0.01 * np.maximum(np.linalg.norm(before["W_hh"], axis=1), 1e-3)
    assert np.all(step <= bound * (1 + 1e-12))


def test_fit_learns_the_adding_task():
    """A seeded IRNN (identity init, ReLU; Le et al. 2015) beats the baseline 1/6 at T = 50."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    task = train.make_task("adding", T=50)
    model = train.init_model(task, 32, init="identity", activation="relu", rng=0)
    with threadpoolctl.threadpool_limits(1):  # small GEMMs: threads only add contention
        history = train.fit(
            task, model, clip="global:1", optimizer="adam", lr=3e-3, steps=300, batch=32,
            rng=1, spectral=False, progress=False,
        )  # fmt: skip
    xs, ys = task.sample(512, rng=99)
    assert history.model.loss(xs, ys) < 0.6 * task.baseline
    assert model.loss(xs, ys) > task.baseline  # it was not solved at the start


def test_pca_path_against_independent_decompositions():
    rng = np.random.default_rng(0)
    plane = np.linalg.qr(rng.normal(size=(50, 2)))[0]  # orthonormal 2-frame in R^50
    coords_true = rng.normal(size=(9, 2)) * [3.0, 0.5]
    snapshots = 7.0 + coords_true @ plane.T
    coords, explained = train.pca_path(snapshots)
    pairwise = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
    original = np.linalg.norm(snapshots[:, None] - snapshots[None], axis=-1)
    np.testing.assert_allclose(pairwise, original, atol=1e-10)
    assert explained.sum() == pytest.approx(1.0)
    noisy = snapshots + rng.normal(size=snapshots.shape)
    _, explained = train.pca_path(noisy, n_components=3)
    centred = noisy - noisy.mean(axis=0)
    eig = np.sort(np.linalg.eigvalsh(centred @ centred.T))[::-1]
    np.testing.assert_allclose(explained, eig[:3] / eig.sum(), rtol=1e-10)
    still, ratio = train.pca_path(np.ones((4, 3)))
    assert np.all(still == 0) and np.all(ratio == 0)


def test_project_paths_shares_one_basis():
    model = train.init_model("adding", 4, rng=0)
    runs = {
        rule: train.fit("adding", model, T=6, clip=rule, lr=0.05, steps=6, batch=3, rng=0,
                        snapshot_every=1, spectral=False, progress=False)
        for rule in ("none", "global:0.01")
    }  # fmt: skip
    frame, explained = train.project_paths(runs)
    assert frame.groupby("label").size().to_dict() == {"global:0.01": 7, "none": 7}
    start = frame[frame["update"] == 0]
    np.testing.assert_allclose(start["pc1"].iloc[0], start["pc1"].iloc[1])  # same start
    assert 0 < explained.sum() <= 1


@pytest.mark.parametrize(
    ("call", "exc", "words"),
    [
        (dict(lr=0.0), ValueError, "lr"),
        (dict(lr=-1e-3), ValueError, "lr"),
        (dict(optimizer="rmsprop"), ValueError, "optimizer"),
        (dict(clip="value:-1"), ValueError, "threshold"),
        (dict(clip="bogus:1"), ValueError, "rule"),
        (dict(updates=0), ValueError, "updates"),
        (dict(batch=2.5), TypeError, "batch"),
        (dict(T=None), ValueError, "T"),
        (dict(task="addition"), ValueError, "task"),
        (dict(model="model"), TypeError, "model"),
        (dict(record_every=0), ValueError, "record_every"),
    ],
)
def test_fit_bad_arguments_give_one_line_errors(call, exc, words):
    kwargs = {
        "task": "adding", "model": train.init_model("adding", 3, rng=0), "T": 5, "lr": 0.1,
        "updates": 2, "batch": 2, "progress": False,
    }  # fmt: skip
    kwargs.update(call)
    with pytest.raises(exc) as info:
        train.fit(kwargs.pop("task"), kwargs.pop("model"), **kwargs)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_model_bad_inputs():
    model = make_model()
    xs, ys = make_batch("mse", False)
    with pytest.raises(ValueError, match="ys: expected shape"):
        model.value_and_grad(xs, ys[:, :2])
    with pytest.raises(ValueError, match="xs"):
        model.value_and_grad(xs[0], ys)
    with pytest.raises(TypeError, match="ys"):
        make_model(objective="xent").value_and_grad(xs, ys)
    with pytest.raises(ValueError, match="class ids"):
        make_model(objective="xent").value_and_grad(xs, np.full(B, K))
    with pytest.raises(ValueError, match="W_out"):
        train.Model(model.cell, np.zeros((2, N + 1)), np.zeros(2))
    with pytest.raises(ValueError, match="objective"):
        train.Model(model.cell, model.W_out, model.b_out, "hinge")
    with pytest.raises(ValueError, match="shared weights"):
        train.Model(Elman(np.zeros((2, N, N)), np.zeros((2, N, D))), model.W_out, model.b_out)
    with pytest.raises(ValueError, match="W_xh"):
        train.Model(Elman(np.eye(N)), model.W_out, model.b_out)
    with pytest.raises(ValueError, match="task"):
        train.init_model((2,), 4)
    with pytest.raises(ValueError, match="hidden"):
        train.init_model("adding", 0)


# -- float32 ----------------------------------------------------------------------------------
def as_float32(model):
    """The float64 ``model`` rounded to float32 (the same cell kind and activation)."""
    cell = model.cell
    cell32 = Elman(cell.W_hh, cell.W_xh, cell.b, activation=cell.activation, dtype=np.float32)
    return train.Model(cell32, model.W_out, model.b_out, model.objective)


def assert_close_relative(actual, desired, rtol, name):
    """Entries within ``rtol`` of the largest entry of ``desired`` (float32 rounding is
    relative to the scale of a whole gradient, not of each entry)."""
    scale = float(np.max(np.abs(desired)))
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * scale, err_msg=name)


@pytest.mark.parametrize(("activation", "objective", "per_step"), CASES)
def test_float32_gradients_match_the_float64_model(activation, objective, per_step):
    model = make_model(activation, objective)
    single = as_float32(model)
    xs, ys = make_batch(objective, per_step)
    loss, grads = model.value_and_grad(xs, ys)
    loss32, grads32 = single.value_and_grad(xs, ys)
    assert type(loss32) is float and loss32 == pytest.approx(loss, rel=1e-5)
    assert single.loss(xs, ys) == pytest.approx(loss32, rel=1e-6)
    assert single.predict(xs).dtype == np.float32
    assert sorted(grads32) == sorted(grads)
    for name, g in grads32.items():
        assert g.dtype == np.float32 and g.shape == grads[name].shape, name
        assert_close_relative(g, grads[name], 1e-4, name)


@pytest.mark.parametrize("cell", ["elman", "lstm", "gru"])
@pytest.mark.parametrize("task", ["adding", "copy"])
def test_init_model_float32_draws_the_float64_numbers_rounded(cell, task):
    model = train.init_model(task, 6, cell=cell, rng=7)
    single = train.init_model(task, 6, cell=cell, rng=7, dtype=np.float32)
    assert model.dtype == np.float64 and single.dtype == single.cell.dtype == np.float32
    assert list(single.params) == list(model.params)
    for name, value in single.params.items():
        assert value.dtype == np.float32, name
        np.testing.assert_array_equal(value, model.params[name].astype(np.float32), err_msg=name)
    xs, ys = train.make_task(task, T=8).sample(3, rng=2)
    loss, grads = model.value_and_grad(xs, ys)
    loss32, grads32 = single.value_and_grad(xs, ys)
    assert loss32 == pytest.approx(loss, rel=1e-5)
    for name, g in grads32.items():
        assert g.dtype == np.float32, name
        assert_close_relative(g, grads[name], 1e-4, name)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize(("objective", "per_step"), [("mse", False), ("xent", True)])
def test_float32_gradients_match_torch_float32_autograd(nonlinearity, objective, per_step):
    torch = pytest.importorskip("torch")
    model = as_float32(make_model(nonlinearity, objective, rng=5))
    xs, ys = make_batch(objective, per_step, rng=6)
    loss, grads = model.value_and_grad(xs, ys)

    torch_loss, torch_grads = torch_loss_and_grads(torch, model, xs, ys, nonlinearity,
                                                   torch.float32)  # fmt: skip
    assert loss == pytest.approx(torch_loss, rel=1e-5)
    for name in grads:
        assert grads[name].dtype == np.float32
        assert_close_relative(grads[name], torch_grads[name], 1e-4, name)


def test_float32_model_keeps_float32_through_with_params_and_nan_gradients():
    single = as_float32(make_model())
    wide = {k: v.astype(np.float64) + 0.5 for k, v in single.params.items()}
    moved = single.with_params(wide)
    assert moved.dtype == np.float32
    for name, value in moved.params.items():
        assert value.dtype == np.float32, name
        np.testing.assert_array_equal(value, wide[name].astype(np.float32))
    xs, ys = make_batch("mse", False)
    _, grads = single.value_and_grad(xs, ys * np.nan)  # NaN targets: NaN gradients, float32
    for name, g in grads.items():
        assert g.dtype == np.float32 and np.isnan(g).all(), name


@pytest.mark.parametrize(
    ("clip_rule", "optimizer", "lr"),
    [("global:1", "adam", 1e-2), ("value:0.05", "momentum", 0.05), ("adaptive:0.05", "sgd", 0.2)],
)
def test_float32_fit_tracks_the_float64_fit(clip_rule, optimizer, lr):
    task = train.make_task("adding", T=15)
    model = train.init_model(task, 12, rng=3)
    single = train.init_model(task, 12, rng=3, dtype=np.float32)
    kwargs = dict(
        clip=clip_rule, optimizer=optimizer, lr=lr, steps=20, batch=8, rng=4, snapshot_every=5,
        progress=False,
    )  # fmt: skip
    history = train.fit(task, model, **kwargs)
    history32 = train.fit(task, single, **kwargs)
    assert history32.status == "completed" and not history32.diverged
    assert history32.model.dtype == np.float32
    assert all(v.dtype == np.float32 for v in history32.model.params.values())
    assert history32.snapshots.dtype == np.float32
    assert history32.snapshots.shape == history.snapshots.shape
    assert history32.snapshot_updates.tolist() == [0, 5, 10, 15, 20]
    assert all(v.dtype == np.float32 for v in history32.params_at(-1).values())
    np.testing.assert_array_equal(history32.params_at(-1)["W_hh"], history32.model.cell.W_hh)
    frame, frame64 = history32.frame, history.frame
    assert tuple(frame.columns) == train.COLUMNS and len(frame) == 20
    assert frame.select_dtypes("number").notna().all().all()
    assert frame["clipped"].any()
    np.testing.assert_array_equal(frame["clipped"], frame64["clipped"])
    for column in ("loss", "grad_norm", "grad_norm_clipped", "update_norm", "spectral_radius"):
        np.testing.assert_allclose(frame[column], frame64[column], rtol=1e-3, err_msg=column)
    assert frame["loss"].iloc[-5:].mean() < frame["loss"].iloc[:5].mean()  # it learns
    np.testing.assert_allclose(history32.snapshots, history.snapshots, rtol=0, atol=1e-3)
    np.testing.assert_allclose(
        np.abs(history32.path[["pc1", "pc2"]]), np.abs(history.path[["pc1", "pc2"]]), atol=1e-3
    )


def test_float32_fit_skips_nonfinite_steps():
    single = train.init_model("adding", 6, rng=0, dtype=np.float32)
    history = train.fit(
        _nan_sometimes, single, T=8, clip="global:1", optimizer="adam", lr=0.05,
        steps=30, batch=4, rng=2, snapshot_every=1, progress=False,
    )  # fmt: skip
    bad = history.frame["nonfinite"].to_numpy()
    assert 3 <= bad.sum() <= 20 and np.array_equal(history.frame["skipped"], bad)
    moved = np.any(np.diff(history.snapshots, axis=0) != 0, axis=1)
    assert np.array_equal(moved, ~bad)
    assert history.model.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float16, np.int32, "complex64", "bogus", 3])
def test_init_model_refuses_other_dtypes_naming_dtype(dtype):
    with pytest.raises(TypeError) as info:
        train.init_model("adding", 4, dtype=dtype)
    message = str(info.value)
    assert message.startswith("dtype: expected float64 or float32") and "\n" not in message


def test_init_model_cell_factory_must_build_in_the_dtype():
    def factory(hidden, inputs, rng):
        return Elman(np.eye(hidden), rng.uniform(size=(hidden, inputs)), np.zeros(hidden))

    assert train.init_model("adding", 4, cell=factory, rng=0).dtype == np.float64
    with pytest.raises(ValueError) as info:
        train.init_model("adding", 4, cell=factory, rng=0, dtype=np.float32)
    message = str(info.value)
    assert message.startswith("dtype:") and "float32" in message and "\n" not in message


def test_no_progress_bar_is_made_when_progress_is_false(monkeypatch):
    # tqdm.auto warns in a notebook without ipywidgets even for a disabled bar: make none
    import tqdm.auto

    def refuse(*args, **kwargs):
        raise AssertionError("a progress bar was made with progress=False")

    monkeypatch.setattr(tqdm.auto, "tqdm", refuse)
    model = train.init_model("adding", 3, rng=0)
    train.fit("adding", model, T=4, lr=0.1, updates=2, batch=2, progress=False)
    population = train.Population.stack([model, model])
    train.fit_population("adding", population, T=4, lr=0.1, updates=2, batch=2, progress=False)
    with pytest.raises(AssertionError, match="progress bar"):
        train.fit("adding", model, T=4, lr=0.1, updates=2, batch=2, progress=True)
