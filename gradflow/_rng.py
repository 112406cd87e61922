"""Randomness as an argument (layer 0).

Every random function takes ``rng``: ``None`` (fresh entropy), an ``int`` seed, a
``numpy.random.SeedSequence`` or a ``numpy.random.Generator``. Nothing seeds global state.
Independent streams for parallel tasks come from ``SeedSequence.spawn`` in a fixed order, so a
result does not depend on which worker, or how many, ran each task.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["as_generator", "spawn_generators", "spawn_seeds"]


def as_generator(rng=None) -> np.random.Generator:
    """Return a ``numpy.random.Generator`` for ``rng`` (None, int, SeedSequence or Generator).

    A Generator passed in is returned as it is (its state advances as it is used).

    Examples
    --------
    >>> int(as_generator(0).integers(10)) == int(as_generator(0).integers(10))
    True
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    if isinstance(rng, bool) or not isinstance(rng, (numbers.Integral, np.integer)):
        raise TypeError(
            f"rng: expected None, an int seed, a SeedSequence or a numpy Generator, got {rng!r}"
        )
    if int(rng) < 0:
        raise ValueError(f"rng: expected a non-negative int seed, got {int(rng)}")
    return np.random.default_rng(int(rng))


def spawn_seeds(rng, n: int) -> list[np.random.SeedSequence]:
    """``n`` independent child ``SeedSequence`` objects derived from ``rng`` in a fixed order.

    A Generator contributes the child sequences of its bit generator's seed sequence
    (advancing its spawn counter), an int or None a fresh ``SeedSequence``.
    """
    if isinstance(rng, np.random.Generator):
        return list(rng.bit_generator.seed_seq.spawn(n))
    if isinstance(rng, np.random.SeedSequence):
        return list(rng.spawn(n))
    as_generator(rng)  # validates the type and sign
    return list(np.random.SeedSequence(None if rng is None else int(rng)).spawn(n))


def spawn_generators(rng, n: int) -> list[np.random.Generator]:
    """``n`` independent Generators derived from ``rng`` (see :func:`spawn_seeds`)."""
    return [np.random.default_rng(seq) for seq in spawn_seeds(rng, n)]
