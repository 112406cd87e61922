"""Randomness as an argument: seeds, generators and spawned streams."""

import numpy as np
import pytest

from gradflow._rng import as_generator, spawn_generators, spawn_seeds


def test_as_generator_accepts_seeds_sequences_and_generators():
    assert as_generator(5).random() == as_generator(5).random()
    gen = np.random.default_rng(1)
    assert as_generator(gen) is gen
    seq = np.random.SeedSequence(3)
    assert as_generator(seq).random() == np.random.default_rng(np.random.SeedSequence(3)).random()
    assert isinstance(as_generator(None), np.random.Generator)


@pytest.mark.parametrize("bad", [1.5, "seed", True, -1])
def test_as_generator_refuses_with_one_line(bad):
    with pytest.raises((TypeError, ValueError)) as info:
        as_generator(bad)
    assert str(info.value).startswith("rng:") and "\n" not in str(info.value)


def test_spawned_streams_are_reproducible_and_independent():
    first = [g.random(4) for g in spawn_generators(7, 3)]
    again = [g.random(4) for g in spawn_generators(7, 3)]
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first[0], first[1])
    # The i-th child does not depend on how many are spawned.
    np.testing.assert_array_equal(spawn_generators(7, 5)[1].random(4), first[1])
    assert len(spawn_seeds(None, 2)) == 2
    gen = np.random.default_rng(0)
    a, b = spawn_seeds(gen, 1)[0], spawn_seeds(gen, 1)[0]
    assert a.spawn_key != b.spawn_key  # a Generator advances its spawn counter
