"""Layer-0 checks: clean values through, one-line errors naming the argument otherwise."""

import numpy as np
import pytest

from gradflow._validation import (
    as_array,
    as_choice,
    as_choices,
    as_dtype,
    as_float,
    as_floats,
    as_int,
    as_matrix,
)


def one_line_error(call, name, exc=(ValueError, TypeError)):
    with pytest.raises(exc) as info:
        call()
    message = str(info.value)
    assert message.startswith(f"{name}:"), message
    assert "\n" not in message
    return message


def test_as_array_converts_and_keeps_rank():
    assert as_array(2, "x").shape == ()
    out = as_array([[1, 2], [3, 4]], "x", ndim=2)
    assert out.dtype == np.float64 and out.flags.c_contiguous
    assert as_array(np.ones(3), "x", dtype=np.float32).dtype == np.float32
    fortran = np.asfortranarray(np.ones((3, 2)))
    assert as_array(fortran, "x").flags.c_contiguous


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (np.array([1.0, np.nan]), "1 NaN or infinite"),
        (np.array([np.inf]), "finite"),
        (np.ones((2, 0)), "non-empty"),
        (np.ones(2, complex), "real numbers"),
        (np.array([True, False]), "real numbers"),
        ("abc", "array of real numbers"),
        (None, "array of real numbers"),
    ],
)
def test_as_array_refuses(value, words):
    assert words in one_line_error(lambda: as_array(value, "W"), "W")


def test_as_array_rank_and_matrix_shape():
    assert "2-D" in one_line_error(lambda: as_array(np.ones(3), "W", ndim=2), "W")
    assert "square" in one_line_error(lambda: as_matrix(np.ones((2, 3)), "W"), "W")
    assert as_matrix(np.ones((4, 3, 3)), "W", batch=True).shape == (4, 3, 3)
    assert as_matrix(np.ones((2, 3)), "W", square=False).shape == (2, 3)


def test_scalars():
    assert as_float(np.float32(0.5), "gain", positive=True) == 0.5
    assert as_int(np.int64(3), "n", minimum=1) == 3
    one_line_error(lambda: as_float(0.0, "gain", positive=True), "gain")
    one_line_error(lambda: as_float(-1.0, "x", nonnegative=True), "x")
    one_line_error(lambda: as_float(float("nan"), "gain"), "gain")
    one_line_error(lambda: as_float(True, "gain"), "gain")
    one_line_error(lambda: as_float("1", "gain"), "gain")
    one_line_error(lambda: as_float(3.0, "p", low=0, high=1), "p")
    one_line_error(lambda: as_int(2.0, "n"), "n")
    one_line_error(lambda: as_int(True, "n"), "n")
    one_line_error(lambda: as_int(0, "n", minimum=1), "n")
    one_line_error(lambda: as_int(9, "t", maximum=8), "t")


def test_choice_and_dtype():
    assert as_choice("tanh", "activation", ("tanh", "relu")) == "tanh"
    assert "tanh, relu" in one_line_error(
        lambda: as_choice("elu", "activation", ("tanh", "relu")), "activation"
    )
    assert as_dtype("float32") == np.float32
    one_line_error(lambda: as_dtype(np.int32), "dtype")
    one_line_error(lambda: as_dtype("banana"), "dtype")


def test_lists_of_choices_and_floats():
    names = ("tanh", "relu")
    assert as_choices("tanh", "activations", names) == ["tanh"]
    assert as_choices(("relu", "tanh"), "activations", names) == ["relu", "tanh"]
    assert as_floats(0.5, "gains") == [0.5]
    assert as_floats(np.array([1, 2]), "gains", positive=True) == [1.0, 2.0]
    message = one_line_error(
        lambda: as_choices([], "inits", names, what="initialiser name"), "inits"
    )
    assert message == "inits: expected at least one initialiser name, got none"
    one_line_error(lambda: as_choices(["tanh", "elu"], "activations", names), "activations")
    assert "distinct" in one_line_error(
        lambda: as_choices(["tanh", "tanh"], "activations", names, distinct=True), "activations"
    )
    assert "gain, got none" in one_line_error(lambda: as_floats([], "gains", what="gain"), "gains")
    one_line_error(lambda: as_floats([1.0, 0.0], "gains", positive=True), "gains")
    one_line_error(lambda: as_floats(["a"], "gains"), "gains")
    assert "distinct" in one_line_error(lambda: as_floats([1, 1], "gains", distinct=True), "gains")
