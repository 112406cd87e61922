"""Tests of gradflow.clip: optax-style properties, numerics, policies and PyTorch agreement."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from gradflow import clip
from gradflow._validation import NonFiniteError

RULES = [
    clip.by_value(0.05),
    clip.by_norm(0.5),
    clip.by_global_norm(0.5),
    clip.adaptive(0.01),
    clip.none(),
]


def _grads(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "W_hh": rng.normal(size=(6, 6)),
        "W_xh": 0.1 * rng.normal(size=(6, 3)),
        "b": rng.normal(size=6),
    }


def _params(seed=1):
    rng = np.random.default_rng(seed)
    return {
        "W_hh": rng.normal(size=(6, 6)) * np.arange(6)[:, None],  # row 0 all zeros: eps floor
        "W_xh": rng.normal(size=(6, 3)),
        "b": 0.01 * rng.normal(size=6),
    }


def _flat(tree):
    return np.concatenate([np.ravel(v) for v in tree.values()])


def _apply(rule, grads):
    return rule(grads, params=_params() if rule.name == "adaptive" else None)


# ---------------------------------------------------------------- optax-style properties


def test_global_norm_clips_to_one_over_i_and_repeated_clipping_is_stable():
    grads = _grads()
    updates = grads
    for i in range(1, 21):
        clipper = clip.by_global_norm(1.0 / i)
        updates, info = clipper(updates)  # continuously re-clip the clipped gradient
        assert np.linalg.norm(_flat(updates)) == pytest.approx(1.0 / i, rel=1e-12, abs=0)
        assert info.norm_after == pytest.approx(1.0 / i, rel=1e-12, abs=0)
        once, _ = clipper(grads)
        for key in grads:
            np.testing.assert_allclose(updates[key], once[key], rtol=1e-13)


@pytest.mark.parametrize("rule", RULES, ids=repr)
def test_clipping_twice_changes_nothing(rule):
    once, _ = _apply(rule, _grads())
    twice, _ = _apply(rule, once)
    for key in once:
        np.testing.assert_allclose(twice[key], once[key], rtol=1e-14, atol=0)


@pytest.mark.parametrize(
    "rule", [clip.by_value(1e3), clip.by_norm(1e3), clip.by_global_norm(1e3), clip.adaptive(1e3)]
)
def test_below_threshold_is_bitwise_unchanged_and_a_copy(rule):
    grads = _grads()
    out, info = _apply(rule, grads)
    for key in grads:
        assert out[key].tobytes() == grads[key].tobytes()
        assert not np.may_share_memory(out[key], grads[key])
    assert (info.clipped, info.scale, info.cosine, info.entries_clipped) == (False, 1.0, 1.0, 0.0)
    assert info.norm == info.norm_after == pytest.approx(np.linalg.norm(_flat(grads)), rel=1e-13)


@pytest.mark.parametrize("rule", RULES, ids=repr)
def test_inputs_are_never_modified(rule):
    grads, saved = _grads(), _grads()
    out, _ = _apply(rule, grads)
    for key in out:
        out[key] += 1.0
        assert np.array_equal(grads[key], saved[key])


def test_value_clipping_bounds_every_entry_as_np_clip():
    grads = _grads()
    out, info = clip.by_value(0.3)(grads)
    for key in grads:
        assert np.all(np.abs(out[key]) <= 0.3)
        np.testing.assert_array_equal(out[key], np.clip(grads[key], -0.3, 0.3))
    raw, new = _flat(grads), _flat(out)
    assert info.entries_clipped == np.mean(np.abs(raw) > 0.3)
    expected_cosine = raw @ new / (np.linalg.norm(raw) * np.linalg.norm(new))
    assert info.cosine == pytest.approx(expected_cosine, rel=1e-13, abs=0)
    assert info.scale == pytest.approx(np.linalg.norm(new) / np.linalg.norm(raw), rel=1e-13)


def test_value_clipping_turns_the_gradient_norm_clipping_does_not():
    out, info = clip.by_value(1.0)({"g": [3.0, 4.0]})
    assert out["g"].tolist() == [1.0, 1.0]
    assert info.cosine == pytest.approx(7 / math.sqrt(50), rel=1e-14, abs=0)  # 0.98995
    assert (info.norm, info.norm_after, info.entries_clipped) == (5.0, math.sqrt(2), 1.0)
    for rule in (clip.by_norm(1.0), clip.by_global_norm(1.0)):
        out, info = rule({"g": [3.0, 4.0]})
        np.testing.assert_allclose(out["g"], [0.6, 0.8], rtol=1e-15)
        assert info.cosine == pytest.approx(1.0, abs=1e-15)
        assert (info.norm, info.scale, info.clipped) == (
            5.0,
            pytest.approx(0.2, rel=1e-15, abs=0),
            True,
        )


def test_global_norm_keeps_direction_on_random_gradients():
    grads = _grads(3)
    out, info = clip.by_global_norm(0.1)(grads)
    raw, new = _flat(grads), _flat(out)
    assert raw @ new / (np.linalg.norm(raw) * np.linalg.norm(new)) == pytest.approx(1, abs=1e-14)
    np.testing.assert_allclose(new, raw * 0.1 / np.linalg.norm(raw), rtol=1e-14)
    assert info.scale == pytest.approx(0.1 / np.linalg.norm(raw), rel=1e-14, abs=0)
    assert info.entries_clipped == 1.0 and info.cosine == 1.0


def test_by_norm_clips_each_tensor_on_its_own():
    grads = {"big": np.array([[3.0, 4.0], [0.0, 0.0]]), "small": np.array([0.3, 0.4])}
    out, info = clip.by_norm(1.0)(grads)
    np.testing.assert_allclose(out["big"], grads["big"] / 5.0, rtol=1e-15)
    assert out["small"].tobytes() == grads["small"].tobytes()
    assert info.entries_clipped == 2 / 6  # the zeros of "big" do not change
    raw, new = _flat(grads), _flat(out)
    assert info.norm_after == pytest.approx(np.linalg.norm(new), rel=1e-14, abs=0)
    assert info.cosine == pytest.approx(raw @ new / (np.linalg.norm(raw) * np.linalg.norm(new)))
    assert info.cosine < 1.0
    # the global rule, by contrast, scales the small tensor too
    out_global, _ = clip.by_global_norm(1.0)(grads)
    assert not np.array_equal(out_global["small"], grads["small"])


# ---------------------------------------------------------------- exactly at the threshold
# Pascanu et al. (2013), Algorithm 1, clips when ||g|| >= c; at ||g|| = c the scale c/||g|| is 1,
# so the values stay as they are while info counts the clip. [3, 4] has norm exactly 5.


def _unchanged_copy(out, grads):
    for key in grads:
        assert out[key].tobytes() == np.asarray(grads[key], dtype=float).tobytes()
        assert not np.may_share_memory(out[key], grads[key])


@pytest.mark.parametrize(
    ("rule", "fraction"),
    [
        (clip.by_global_norm(5.0), 2 / 5),  # the non-zero entries 3 and 4 of all five
        (clip.by_norm(5.0), 0.0),  # no single tensor reaches 5
    ],
    ids=repr,
)
def test_a_global_norm_exactly_at_the_threshold(rule, fraction):
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([4.0]), "c": np.zeros(2)}
    out, info = rule(grads)
    _unchanged_copy(out, grads)
    assert info.norm == info.norm_after == 5.0
    assert (info.clipped, info.scale, info.cosine) == (fraction > 0, 1.0, 1.0)
    assert info.entries_clipped == fraction


@pytest.mark.parametrize("factory", [clip.by_norm, clip.by_global_norm])
def test_a_tensor_norm_exactly_at_the_threshold_is_clipped_with_scale_one(factory):
    grads = {"w": np.array([[3.0, 0.0], [4.0, 0.0]]), "b": np.array([0.0])}
    out, info = factory(5.0)(grads)
    _unchanged_copy(out, grads)
    assert (info.clipped, info.scale, info.cosine) == (True, 1.0, 1.0)
    assert info.entries_clipped == 2 / 5  # the non-zero entries of the clipped tensor
    # one ulp either side: not clipped above the norm; scaled by c/5 < 1 below it
    above, info = factory(np.nextafter(5.0, np.inf))(grads)
    _unchanged_copy(above, grads)
    assert (info.clipped, info.scale, info.entries_clipped) == (False, 1.0, 0.0)
    below = np.nextafter(5.0, 0.0)
    out, info = factory(below)(grads)
    np.testing.assert_allclose(out["w"], grads["w"] * (below / 5.0), rtol=1e-15, atol=0)
    assert info.clipped and info.entries_clipped == 2 / 5
    assert info.scale == pytest.approx(below / 5.0, rel=1e-15, abs=0) and info.scale < 1.0


def test_entries_exactly_at_the_value_bound_count_as_clipped():
    grads = {"g": np.array([1.0, -1.0, 0.5, 0.0])}
    out, info = clip.by_value(1.0)(grads)
    _unchanged_copy(out, grads)
    assert (info.clipped, info.scale, info.cosine) == (True, 1.0, 1.0)
    assert info.entries_clipped == np.mean(np.abs(grads["g"]) >= 1.0) == 2 / 4
    grads = {"g": np.array([2.0, -1.0, 0.5]), "h": np.array([-1.0])}
    out, info = clip.by_value(1.0)(grads)
    np.testing.assert_array_equal(out["g"], [1.0, -1.0, 0.5])
    assert out["h"].tolist() == [-1.0]
    assert info.clipped and info.entries_clipped == 3 / 4  # 2, -1 and -1 reach the bound
    _, info = clip.by_value(np.nextafter(1.0, np.inf))({"g": [1.0, -1.0, 0.5]})
    assert (info.clipped, info.entries_clipped) == (False, 0.0)


def test_a_unit_exactly_at_its_adaptive_bound_is_clipped_with_scale_one():
    # bounds 0.5 * ||W_u||: 2.5 for row 0 (||[1.5, 2]|| = 2.5 exactly) and 0.5 for row 1
    params = {"W": np.array([[3.0, 4.0], [1.0, 0.0]])}
    grads = {"W": np.array([[1.5, 2.0], [0.1, 0.0]])}
    out, info = clip.adaptive(0.5)(grads, params=params)
    _unchanged_copy(out, grads)
    assert (info.clipped, info.scale, info.cosine) == (True, 1.0, 1.0)
    assert info.entries_clipped == 2 / 4  # row 0's two entries
    _, info = clip.adaptive(np.nextafter(0.5, np.inf))(grads, params=params)
    assert (info.clipped, info.entries_clipped) == (False, 0.0)


# ---------------------------------------------------------------- adaptive clipping


def test_adaptive_bounds_each_row_and_leaves_rows_below_unchanged():
    grads, params, clipping, eps = _grads(), _params(), 0.05, 1e-3
    grads["W_hh"] *= 0.1  # rows 3..5 of W_hh below their bound, rows 0..2 above
    out, info = clip.adaptive(clipping, eps=eps)(grads, params=params)
    n_clipped_rows = n_kept_rows = 0
    for key in ("W_hh", "W_xh"):
        bound = clipping * np.maximum(np.linalg.norm(params[key], axis=1), eps)
        before = np.linalg.norm(grads[key], axis=1)
        after = np.linalg.norm(out[key], axis=1)
        assert np.all(after <= bound * (1 + 1e-12))
        below = before <= bound
        assert out[key][below].tobytes() == grads[key][below].tobytes()
        np.testing.assert_allclose(after[~below], bound[~below], rtol=1e-13)
        cos = np.sum(out[key] * grads[key], axis=1)[~below] / (after * before)[~below]
        np.testing.assert_allclose(cos, 1.0, rtol=1e-14)
        n_clipped_rows += np.count_nonzero(~below)
        n_kept_rows += np.count_nonzero(below)
    assert n_clipped_rows > 0 and n_kept_rows > 0 and info.clipped
    # the zero row 0 of W_hh is held to clipping * eps
    assert np.linalg.norm(out["W_hh"][0]) == pytest.approx(clipping * eps, rel=1e-13, abs=0)
    # a bias is one unit as a whole
    bias_bound = clipping * max(np.linalg.norm(params["b"]), eps)
    assert np.linalg.norm(out["b"]) == pytest.approx(bias_bound, rel=1e-13, abs=0)
    direction = grads["b"] / np.linalg.norm(grads["b"])
    np.testing.assert_allclose(out["b"] / np.linalg.norm(out["b"]), direction, rtol=1e-13)


def test_adaptive_treats_axis_zero_of_higher_rank_tensors_as_units_and_scalars_as_one():
    rng = np.random.default_rng(5)
    grads = {"k": rng.normal(size=(3, 2, 2)), "s": np.array(5.0)}
    params = {"k": rng.normal(size=(3, 2, 2)), "s": np.array(2.0)}
    out, _ = clip.adaptive(0.1)(grads, params=params)
    bound = 0.1 * np.linalg.norm(params["k"].reshape(3, -1), axis=1)
    np.testing.assert_allclose(np.linalg.norm(out["k"].reshape(3, -1), axis=1), bound, rtol=1e-13)
    assert out["s"].shape == () and float(out["s"]) == pytest.approx(0.2, rel=1e-15, abs=0)


def test_adaptive_needs_matching_params():
    grads = _grads()
    rule = clip.adaptive(0.01)
    with pytest.raises(ValueError, match="params"):
        rule(grads)
    with pytest.raises(TypeError, match="params"):
        rule(grads, params=[1.0])
    with pytest.raises(ValueError, match="params: expected the keys"):
        rule(grads, params={"W_hh": _params()["W_hh"]})
    bad = dict(_params(), b=np.zeros(5))
    with pytest.raises(ValueError, match=r"params\['b'\]: expected shape \(6,\)"):
        rule(grads, params=bad)
    with pytest.raises(ValueError, match=r"params\['b'\]"):
        rule(grads, params=dict(_params(), b=np.full(6, np.nan)))


# ---------------------------------------------------------------- numerics


def test_norms_of_huge_and_tiny_gradients_are_exact():
    for scale in (1e200, 1e-200, 1e300, 1e-300):
        grads = {"a": scale * np.array([3.0, 4.0]), "b": scale * np.array([[12.0]])}
        assert clip.global_norm(grads) == pytest.approx(13 * scale, rel=1e-15, abs=0)
        assert clip.global_norm(grads) == pytest.approx(math.hypot(*_flat(grads)), rel=1e-15)
        out, info = clip.by_global_norm(1.0)(grads)
        assert info.norm == pytest.approx(13 * scale, rel=1e-15, abs=0)
        if scale > 1:
            np.testing.assert_allclose(_flat(out), np.array([3, 4, 12]) / 13, rtol=1e-14)
            assert info.norm_after == pytest.approx(1.0, rel=1e-14, abs=0)
        out, _ = clip.by_norm(1.0)(grads)
        assert np.all(np.isfinite(_flat(out)))
    big = {"W": np.array([[3e200, 4e200], [1e-3, 0.0]])}
    out, _ = clip.adaptive(0.5)(big, params={"W": np.array([[1.0, 0.0], [1.0, 0.0]])})
    np.testing.assert_allclose(out["W"], [[0.3, 0.4], [1e-3, 0.0]], rtol=1e-14)


def test_global_norm_matches_numpy_on_random_gradients():
    grads = _grads(11)
    assert clip.global_norm(grads) == pytest.approx(np.linalg.norm(_flat(grads)), rel=1e-14)


def test_empty_and_scalar_gradients():
    out, info = clip.by_global_norm(1.0)({})
    assert out == {} and info.norm == 0.0 and info.entries_clipped == 0.0
    out, info = clip.by_global_norm(1.0)({"s": np.float64(-4.0), "e": np.zeros((0, 3))})
    assert out["s"].shape == () and float(out["s"]) == -1.0 and out["e"].shape == (0, 3)


# ---------------------------------------------------------------- non-finite gradients


def _broken():
    grads = _grads()
    grads["W_xh"][1, 2] = np.nan
    grads["b"][0] = np.inf
    return grads


@pytest.mark.parametrize("rule", RULES, ids=repr)
def test_skip_returns_zeros_and_flags_the_step(rule):
    grads = _broken()
    out, info = _apply(rule, grads)
    assert all(out[k].shape == grads[k].shape and not out[k].any() for k in grads)
    assert info.nonfinite and info.skip and not info.clipped
    assert math.isnan(info.norm) and info.norm_after == 0.0 and info.scale == 0.0
    only_inf = _grads()
    only_inf["b"][0] = -np.inf
    assert _apply(rule, only_inf)[1].norm == math.inf


@pytest.mark.parametrize("rule", RULES, ids=repr)
def test_raise_names_the_tensor(rule):
    raising = dataclasses.replace(rule, nonfinite="raise")
    with pytest.raises(NonFiniteError, match=r"^grads\['W_xh'\]: 1 of 18 entries") as err:
        _apply(raising, _broken())
    assert "\n" not in str(err.value) and isinstance(err.value, ValueError)


@pytest.mark.parametrize("rule", RULES, ids=repr)
def test_zero_replaces_nonfinite_entries_then_clips(rule):
    zeroing = dataclasses.replace(rule, nonfinite="zero")
    grads = _broken()
    out, info = _apply(zeroing, grads)
    clean = {k: np.where(np.isfinite(v), v, 0.0) for k, v in grads.items()}
    expected, expected_info = _apply(rule, clean)
    for key in grads:
        assert np.all(np.isfinite(out[key]))
        np.testing.assert_array_equal(out[key], expected[key])
    assert info.nonfinite and not info.skip and math.isnan(info.norm)
    assert info.norm_after == expected_info.norm_after
    assert info.entries_clipped >= 2 / _flat(grads).size


# ---------------------------------------------------------------- PyTorch agreement


def test_global_norm_agrees_with_torch_clip_grad_norm():
    torch = pytest.importorskip("torch")
    grads = {k: 10 * v for k, v in _grads(7).items()}
    tensors = [
        torch.zeros(v.shape, dtype=torch.float64, requires_grad=True) for v in grads.values()
    ]
    for tensor, value in zip(tensors, grads.values(), strict=True):
        tensor.grad = torch.from_numpy(value.copy())
    total = float(torch.nn.utils.clip_grad_norm_(tensors, max_norm=1.0))
    out, info = clip.by_global_norm(1.0)(grads)
    assert info.norm == pytest.approx(total, rel=1e-13, abs=0)
    for tensor, key in zip(tensors, grads, strict=True):
        # torch divides by (norm + 1e-6): a relative difference of 1e-6 / norm
        np.testing.assert_allclose(tensor.grad.numpy(), out[key], rtol=1e-6)
        np.testing.assert_allclose(tensor.grad.numpy(), out[key] / (1 + 1e-6 / total), rtol=1e-13)


def test_value_clipping_agrees_exactly_with_torch_clip_grad_value():
    torch = pytest.importorskip("torch")
    grads = _grads(8)
    tensors = [
        torch.zeros(v.shape, dtype=torch.float64, requires_grad=True) for v in grads.values()
    ]
    for tensor, value in zip(tensors, grads.values(), strict=True):
        tensor.grad = torch.from_numpy(value.copy())
    torch.nn.utils.clip_grad_value_(tensors, clip_value=0.4)
    out, _ = clip.by_value(0.4)(grads)
    for tensor, key in zip(tensors, grads, strict=True):
        np.testing.assert_array_equal(tensor.grad.numpy(), out[key])


# ---------------------------------------------------------------- arguments, objects, get()


@pytest.mark.parametrize(
    ("factory", "argument"),
    [
        (clip.by_value, "max_value"),
        (clip.by_norm, "max_norm"),
        (clip.by_global_norm, "max_norm"),
        (clip.adaptive, "clipping"),
    ],
)
@pytest.mark.parametrize("bad", [-1.0, 0.0, math.nan, math.inf])
def test_thresholds_must_be_positive_and_finite(factory, argument, bad):
    with pytest.raises(ValueError, match=rf"^{argument}: expected") as err:
        factory(bad)
    assert "\n" not in str(err.value)
    with pytest.raises(TypeError, match=rf"^{argument}:"):
        factory("1")


def test_other_bad_arguments():
    with pytest.raises(ValueError, match=r"^eps:"):
        clip.adaptive(0.01, eps=0.0)
    with pytest.raises(ValueError, match=r"^nonfinite: expected one of skip, raise, zero"):
        clip.by_global_norm(1.0, nonfinite="ignore")
    rule = clip.by_global_norm(1.0)
    for grads in (np.ones(3), [np.ones(3)], None):
        with pytest.raises(TypeError, match=r"^grads: expected a dict"):
            rule(grads)
    with pytest.raises(TypeError, match=r"^grads\['w'\]"):
        rule({"w": "abc"})
    with pytest.raises(TypeError, match=r"^grads\['w'\]"):
        rule({"w": np.ones(2, dtype=complex)})


def test_clipper_objects_are_frozen_readable_and_tidy():
    rule = clip.by_global_norm(1)
    assert repr(rule) == "by_global_norm(max_norm=1.0)"
    assert (rule.name, rule.threshold) == ("by_global_norm", 1.0)
    assert repr(clip.by_value(0.5, nonfinite="zero")) == "by_value(max_value=0.5, nonfinite='zero')"
    assert repr(clip.adaptive(0.01)) == "adaptive(clipping=0.01, eps=0.001)"
    assert repr(clip.none()) == "none()" and clip.none().threshold == math.inf
    assert rule == clip.by_global_norm(1.0) and hash(rule) == hash(clip.by_global_norm(1.0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.threshold = 2.0
    _, info = rule({"w": [3.0, 4.0]})
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.norm = 0.0
    assert set(dataclasses.asdict(info)) >= {"norm", "norm_after", "scale", "cosine", "clipped"}


def test_none_reports_without_changing():
    grads = _grads()
    out, info = clip.none()(grads)
    assert all(out[k].tobytes() == grads[k].tobytes() for k in grads)
    assert info.norm == pytest.approx(np.linalg.norm(_flat(grads)), rel=1e-14)
    assert (info.clipped, info.scale, info.cosine) == (False, 1.0, 1.0)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("none", clip.none()),
        ("value:1", clip.by_value(1.0)),
        ("norm:2.5", clip.by_norm(2.5)),
        (" global:1e-1 ", clip.by_global_norm(0.1)),
        ("adaptive:0.01", clip.adaptive(0.01)),
    ],
)
def test_get_parses_specs(spec, expected):
    assert clip.get(spec) == expected
    assert clip.get(expected) is expected
    assert clip.get(spec, nonfinite="raise").nonfinite == "raise"


@pytest.mark.parametrize(
    "spec",
    ["foo:1", "global", "global:", "global:-1", "global:0", "global:nan", "norm:abc", "none:1"],
)
def test_get_rejects_bad_specs_naming_rule(spec):
    with pytest.raises(ValueError, match=r"^rule: expected") as err:
        clip.get(spec)
    assert "\n" not in str(err.value)


def test_get_rejects_non_strings():
    with pytest.raises(TypeError, match=r"^rule:"):
        clip.get(1.0)


# ---------------------------------------------------------------- float32 gradients


def _single(tree):
    return {k: np.asarray(v, dtype=np.float32) for k, v in tree.items()}


def _widened(tree):
    return {k: v.astype(np.float64) for k, v in tree.items()}


def _apply32(rule, grads):
    params = _single(_params()) if rule.name == "adaptive" else None
    return rule(grads, params=params)


@pytest.mark.parametrize("rule", RULES, ids=repr)
def test_float32_gradients_give_float32_arrays_and_float64_norms(rule):
    grads = _single(_grads(4))
    before = {k: v.copy() for k, v in grads.items()}
    out, info = _apply32(rule, grads)
    # the same rule on the same values held in float64
    wide, wide_info = _apply(rule, _widened(grads))
    for k in grads:
        assert out[k].dtype == np.float32 and out[k].shape == grads[k].shape, k
        assert not np.may_share_memory(out[k], grads[k]), k
        np.testing.assert_array_equal(grads[k], before[k])
        np.testing.assert_allclose(out[k], wide[k], rtol=2e-7, atol=0, err_msg=k)
    assert type(info.norm) is float
    assert info.norm == pytest.approx(wide_info.norm, rel=1e-15, abs=0)  # exact accumulation
    assert info.norm_after == pytest.approx(wide_info.norm_after, rel=1e-6)
    assert info.clipped == wide_info.clipped and info.entries_clipped == wide_info.entries_clipped
    assert info.cosine == pytest.approx(wide_info.cosine, rel=1e-6)
    assert clip.global_norm(out) == pytest.approx(info.norm_after, rel=1e-15)


@pytest.mark.parametrize("policy", ["skip", "zero"])
@pytest.mark.parametrize("rule", RULES, ids=repr)
def test_float32_nonfinite_policies_keep_float32(rule, policy):
    out, info = _apply32(dataclasses.replace(rule, nonfinite=policy), _single(_broken()))
    assert info.nonfinite and info.skip == (policy == "skip")
    for k, v in out.items():
        assert v.dtype == np.float32 and np.all(np.isfinite(v)), k


def test_float32_and_float64_tensors_keep_their_own_dtypes():
    grads = {"a": np.array([3.0, 0.0], np.float32), "b": np.array([4.0]), "c": [[0.0]]}
    for rule in RULES:
        params = {k: np.ones(np.shape(v)) for k, v in grads.items()}
        out, info = rule(grads, params=params if rule.name == "adaptive" else None)
        assert {k: v.dtype for k, v in out.items()} == {
            "a": np.float32, "b": np.float64, "c": np.float64
        }  # fmt: skip
        assert info.norm == 5.0


def test_float32_norms_do_not_overflow_or_underflow():
    # squares of 1e30 overflow float32 and those of 1e-30 underflow it; in float64 neither does
    for scale in (1e30, 1e-30, 1e37, 1e-40):
        grads = _single({"a": scale * np.array([3.0, 4.0]), "b": scale * np.array([[12.0]])})
        exact = math.sqrt(sum(float(x) ** 2 for x in _flat(_widened(grads))))
        assert clip.global_norm(grads) == pytest.approx(exact, rel=1e-15, abs=0)
        out, info = clip.by_global_norm(1.0)(grads)
        assert info.norm == pytest.approx(exact, rel=1e-15, abs=0)
        expected = np.array([3, 4, 12]) / 13
        if scale > 1:
            np.testing.assert_allclose(_flat(out), expected, rtol=1e-6)
        out, info = clip.by_norm(1.0)(grads)
        assert all(v.dtype == np.float32 and np.all(np.isfinite(v)) for v in out.values())
    # a factor below float32's normal range (1e-20 / 1.3e31): scaled in float64, rounded once
    grads = _single({"a": 1e30 * np.array([3.0, 4.0]), "b": 1e30 * np.array([12.0])})
    out, info = clip.by_global_norm(1e-20)(grads)
    assert info.scale < np.finfo(np.float32).tiny
    np.testing.assert_allclose(_flat(out) / 1e-20, [3 / 13, 4 / 13, 12 / 13], rtol=1e-6)
    out, _ = clip.by_norm(1e-20)(grads)
    np.testing.assert_allclose(out["a"] / 1e-20, [0.6, 0.8], rtol=1e-6)
    big = _single({"a": [1.5e38, 2e38]})  # norm 2.5e38: its square overflows float32
    out, info = clip.by_global_norm(1e38)(big)
    assert out["a"].dtype == np.float32 and np.all(np.isfinite(out["a"]))
    np.testing.assert_allclose(out["a"], [6e37, 8e37], rtol=1e-6)
    out, _ = clip.adaptive(0.5)(big, params=_single({"a": [1.0, 0.0]}))
    np.testing.assert_allclose(out["a"], [0.3, 0.4], rtol=1e-6)
    assert out["a"].dtype == np.float32
