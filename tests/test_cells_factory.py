"""Cells by name: the kinds, their gate and state blocks, and shapes back to kinds."""

import pytest

from gradflow import cells


@pytest.mark.parametrize("kind", list(cells.KINDS))
def test_gate_and_state_blocks_are_those_of_the_built_cells(kind):
    cell = cells.build(kind, cells.initial_params(kind, 5, rng=0))
    assert len(cell.recurrent_blocks) == cells.GATES[kind]
    assert cell.W_hh.shape == (cells.GATES[kind] * 5, 5)
    assert cell.state_size == cells.STATE_BLOCKS[kind] * 5
    assert cells.kind_of(*cell.W_hh.shape) == kind


SHAPES = [((1, 1), "elman"), ((8, 2), "lstm"), ((6, 2), "gru"), ((4, 4), "elman"),
          ((4, 2), None), ((7, 2), None), ((3, 0), None)]  # fmt: skip


@pytest.mark.parametrize(("shape", "kind"), SHAPES)
def test_kind_of_shapes(shape, kind):
    assert cells.kind_of(*shape) == kind


@pytest.mark.parametrize("bias", [1.0, -0.5, 1e-12])
def test_an_elman_cell_refuses_any_nonzero_forget_bias(bias):
    # an Elman cell has no forget gate, so a forget bias of either sign is a mistake
    with pytest.raises(ValueError, match=r"^forget_bias: an Elman cell has no forget gate"):
        cells.check_kind("elman", forget_bias=bias)
    with pytest.raises(ValueError, match=r"^forget_bias: "):
        cells.initial_params("elman", 3, forget_bias=bias, rng=0)
    assert cells.check_kind("elman", forget_bias=0.0) == "elman"
