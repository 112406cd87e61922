"""train._task: tasks by name, with K copy symbols, and callables (more in test_train.py)."""

import numpy as np
import pytest

from gradflow import tasks, train


def test_make_task_copy_with_k_symbols():
    task = train.make_task("copy:3", T=5)
    assert (task.name, task.objective, task.input_size, task.output_size) == ("copy:3", "xent",
                                                                              10, 10)  # fmt: skip
    assert task.baseline == pytest.approx(tasks.copy_baseline(5, symbols=3))
    xs, ys = task.sample(4, rng=0)
    expected = tasks.copy(5, 4, rng=0, symbols=3)
    np.testing.assert_array_equal(xs, expected[0])
    np.testing.assert_array_equal(ys, expected[1])
    for bad in ("copy:0", "copy:x", "copy:"):
        with pytest.raises(ValueError, match="task") as info:
            train.make_task(bad, T=5)
        assert "\n" not in str(info.value)
