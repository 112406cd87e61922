"""Sequence tasks of a fixed length: :class:`Task` and :func:`make_task` (by name or callable)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import tasks as _tasks
from .._validation import as_array, as_choice, as_int

__all__ = ["TASKS", "Task", "make_task"]

# name -> (generator, objective, input size, output size, baseline(T))
_NAMED = {
    "adding": (_tasks.adding, "mse", 2, 1, lambda T: _tasks.adding_baseline()),
    "copy": (_tasks.copy, "xent", 10, 10, _tasks.copy_baseline),
}
TASKS = tuple(_NAMED)


@dataclass(frozen=True)
class Task:
    """A sequence task of fixed length: ``sample(batch, rng) -> (xs, ys)``.

    Attributes
    ----------
    name : str
    T : int
        The length argument passed to ``sampler``.
    sampler : callable
        ``sampler(T, batch, rng=...) -> (xs (T', B, D), ys)``; module-level (picklable) for
        process executors.
    objective : {"mse", "xent"}
    input_size, output_size : int
        D and K (the number of classes for ``"xent"``).
    baseline : float or None
        The loss of a memoryless predictor, when known.
    """

    name: str
    T: int
    sampler: Callable
    objective: str
    input_size: int
    output_size: int
    baseline: float | None = None

    def sample(self, batch: int, rng=None):
        """A batch ``(xs, ys)`` drawn with ``rng``."""
        return self.sampler(self.T, batch, rng=rng)


def make_task(task, T=None) -> Task:
    """A :class:`Task` from a Task, a name (``"adding"``, ``"copy"``) or a callable.

    Parameters
    ----------
    task : Task, str or callable
        A name: ``"adding"``, ``"copy"`` or ``"copy:K"`` (the copy task with K symbols to
        recall, :func:`gradflow.tasks.copy`'s ``symbols``). A callable ``(T, batch, rng) ->
        (xs (T', B, D), ys)`` is sampled once to learn D, K and
        the objective (integer ``ys``: ``"xent"`` with K = max id + 1 over that sample, unless
        the callable has an ``output_size`` attribute; float ``ys``: ``"mse"``).
    T : int, optional
        Sequence length; required unless ``task`` is a Task (then it must be None or equal).

    Examples
    --------
    >>> task = make_task("adding", T=50)
    >>> task.objective, task.input_size, task.output_size, round(task.baseline, 4)
    ('mse', 2, 1, 0.1667)
    >>> xs, ys = task.sample(3, rng=0)
    >>> xs.shape, ys.shape
    ((50, 3, 2), (3, 1))
    """
    if isinstance(task, Task):
        if T is not None and as_int(T, "T", minimum=1) != task.T:
            raise ValueError(f"T: the task already has T={task.T}, got T={T}")
        return task
    if T is None:
        raise ValueError(f"T: expected the sequence length for task {task!r}, got None")
    T = as_int(T, "T", minimum=1)
    if isinstance(task, str) and task.startswith("copy:"):  # the copy task with K symbols
        try:
            k = int(task[5:])
        except ValueError:
            k = 0
        if k < 1:
            raise ValueError(f"task: expected copy:K with K an integer >= 1, got {task!r}")
        sampler = functools.partial(_tasks.copy, symbols=k)
        return Task(task, T, sampler, "xent", 10, 10, _tasks.copy_baseline(T, symbols=k))
    if isinstance(task, str):
        sampler, objective, d, k, baseline = _NAMED[as_choice(task, "task", TASKS)]
        return Task(task, T, sampler, objective, d, k, baseline(T))
    if not callable(task):
        raise TypeError(
            f"task: expected a Task, one of {', '.join(TASKS)} or a callable, got {type(task)}"
        )
    xs, ys = task(T, 2, rng=0)
    xs = as_array(xs, "task(...)[0]", ndim=3)
    ys = np.asarray(ys)
    if ys.dtype.kind in "iu":
        objective, k = "xent", getattr(task, "output_size", int(ys.max()) + 1)
    else:
        objective, k = "mse", ys.shape[-1]
    return Task(getattr(task, "__name__", "task"), T, task, objective, xs.shape[-1], k)
