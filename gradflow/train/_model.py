"""Models: a recurrent cell with a linear readout, its loss and exact gradient (tasks: _task)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import log_softmax

from .. import cells as _cells
from .._rng import as_generator
from .._validation import as_array, as_choice, as_dtype, as_int, renamed
from ..cells import Cell
from ..jacobians import backprop
from ._task import TASKS, Task, make_task

__all__ = [
    "OBJECTIVES",
    "TASKS",
    "Model",
    "Task",
    "check_targets",
    "init_model",
    "make_task",
    "objective_loss",
]

OBJECTIVES = ("mse", "xent")


def objective_loss(objective: str, out, ys, network_axis: int | None = None):
    """``(loss, dloss/dout)`` of readouts ``out`` against targets ``ys`` at the steps with one.

    ``"mse"``: the mean of ``(out - ys)²``; ``"xent"``: the mean softmax cross-entropy of the
    logits ``out (…, K)`` for the integer classes ``ys (…)``. The mean runs over every entry,
    or, with ``network_axis``, over every entry of each network of a population (then the
    loss is ``(P,)``): the formulas of :class:`Model`, applied network by network.
    """
    count = ys.size if network_axis is None else ys.size // ys.shape[network_axis]
    if objective == "mse":
        err = out - ys
        per_entry = err * err
        dout = err * (2.0 / count)
    else:
        logp = log_softmax(out, axis=-1)
        index = ys[..., None]
        dout = np.exp(logp)
        np.put_along_axis(dout, index, np.take_along_axis(dout, index, -1) - 1.0, -1)
        dout /= count
        per_entry = -np.take_along_axis(logp, index, -1)
    if network_axis is None:  # accumulated in float64, whatever the dtype
        return float(np.mean(per_entry, dtype=np.float64)), dout
    axes = tuple(a for a in range(per_entry.ndim) if a != network_axis)
    return per_entry.sum(axis=axes) / count, dout


def check_targets(objective: str, ys, n_steps: int, lead: tuple, k: int, dtype):
    """``(ys, per_step)``: targets checked against the batch shape ``lead`` (``(B,)``, or
    ``(P, M)`` for a population) and whether the loss sits at every step.

    ``"mse"``: floats ``(*lead, K)`` at the last step or ``(T, *lead, K)``; ``"xent"``: class
    ids in [0, K), ``lead`` or ``(T, *lead)``. One-line errors name ``ys``.
    """
    names = "(B,) or (T, B)" if len(lead) == 1 else "(P, M) or (T, P, M)"
    if objective == "mse":
        ys = as_array(ys, "ys", ndim=(len(lead) + 1, len(lead) + 2), dtype=dtype, finite=False)
        shapes = {len(lead) + 1: (*lead, k), len(lead) + 2: (n_steps, *lead, k)}
    else:
        ys = np.asarray(ys)
        if ys.dtype.kind not in "iu" or ys.ndim not in (len(lead), len(lead) + 1):
            raise TypeError(
                f"ys: expected integer class ids of shape {names}, got {ys.dtype} {ys.shape}"
            )
        if ys.size and (ys.min() < 0 or ys.max() >= k):
            raise ValueError(f"ys: expected class ids in [0, {k}), got {ys.min()}..{ys.max()}")
        shapes = {len(lead): lead, len(lead) + 1: (n_steps, *lead)}
    if ys.shape != shapes[ys.ndim]:
        raise ValueError(f"ys: expected shape {shapes[ys.ndim]}, got {ys.shape}")
    return ys, ys.ndim == max(shapes)


class ReadoutParams:
    """What a model and a population share: a cell and a readout ``W_out``, ``b_out`` as one
    dict of trainable arrays (the unit clippers and optimisers act on)."""

    @property
    def params(self) -> dict[str, np.ndarray]:
        """Every trainable array by name: the cell's, then ``W_out`` and ``b_out``."""
        return {**self.cell.params, "W_out": self.W_out, "b_out": self.b_out}

    def with_params(self, params):
        """The same kind of object with ``params`` (the keys and shapes of ``params``)."""
        cell = self.cell.with_params({k: params[k] for k in self.cell.params})
        return type(self)(cell, params["W_out"], params["b_out"], self.objective)


@dataclass(frozen=True, eq=False)
class Model(ReadoutParams):
    r"""A recurrent cell with a linear readout :math:`y_t = W_{out} h_t + b_{out}`.

    The readout sees the cell's output ``h`` (:meth:`gradflow.cells.Cell.output`): the whole
    state for Elman and GRU, the first N entries of ``[h, c]`` for the LSTM. The model works in
    its cell's dtype (``cell.dtype``, float64 or float32): the readout is kept in it, inputs and
    float targets are cast to it and the gradients come out in it; the loss is a Python float
    (a float32 model's mean accumulated in float64).

    Parameters
    ----------
    cell : Cell
        A cell with shared weights and input weights (``cell.W_xh`` not None).
    W_out : array_like, shape (K, N)
    b_out : array_like, shape (K,)
    objective : {"mse", "xent"}
        Mean squared error or softmax cross-entropy; at the last step or at every step,
        as the shape of the targets says (see :mod:`gradflow.train`).

    Notes
    -----
    Over the M target entries (B·K, or T·B·K at every step), ``"mse"`` is
    :math:`L = \frac1M\sum (y - \hat y)^2`; ``"xent"`` over M = B (or T·B) class ids c is
    :math:`L = -\frac1M\sum \log\operatorname{softmax}(y)_c`, in nats: the scales of
    :func:`gradflow.tasks.adding_baseline` and :func:`gradflow.tasks.copy_baseline`.
    With :math:`\lambda_t = \partial L/\partial h_t` the adjoints,
    :math:`\partial L/\partial W_{out} = \sum_t (\partial L/\partial y_t) h_t^\top` and the cell
    receives the cotangent :math:`W_{out}^\top \partial L/\partial y_t` at each step with a loss;
    :func:`gradflow.jacobians.backprop` accumulates :math:`\lambda_{t-1} = J_t^\top\lambda_t +
    W_{out}^\top \partial L/\partial y_{t-1}` and the cell's ``param_grads`` turns the adjoints
    into weight gradients (Werbos 1990).

    References
    ----------
    Werbos, P. J. (1990). Backpropagation through time: what it does and how to do it.
    Proceedings of the IEEE 78(10), 1550–1560.

    Examples
    --------
    >>> from gradflow.train import init_model, make_task
    >>> model = init_model("adding", 8, rng=0)
    >>> xs, ys = make_task("adding", T=20).sample(4, rng=1)
    >>> loss, grads = model.value_and_grad(xs, ys)
    >>> sorted(grads), grads["W_hh"].shape
    (['W_hh', 'W_out', 'W_xh', 'b', 'b_out'], (8, 8))
    """

    cell: Cell
    W_out: np.ndarray
    b_out: np.ndarray
    objective: str = "mse"

    def __post_init__(self):
        if not isinstance(self.cell, Cell):
            raise TypeError(f"cell: expected a gradflow cell, got {type(self.cell).__name__}")
        if self.cell.n_networks is not None:
            raise ValueError(
                f"cell: expected shared weights, got a stack of {self.cell.n_networks} networks"
            )
        if getattr(self.cell, "W_xh", None) is None:
            raise ValueError("cell: expected a cell with input weights W_xh, got W_xh=None")
        n, dtype = self.cell.hidden_size, self.cell.dtype
        W_out = as_array(self.W_out, "W_out", ndim=2, dtype=dtype)
        if W_out.shape[1] != n:
            raise ValueError(f"W_out: expected shape (K, {n}), got {W_out.shape}")
        b_out = as_array(self.b_out, "b_out", ndim=1, dtype=dtype)
        if b_out.shape != (W_out.shape[0],):
            raise ValueError(f"b_out: expected shape ({W_out.shape[0]},), got {b_out.shape}")
        object.__setattr__(self, "W_out", W_out)
        object.__setattr__(self, "b_out", b_out)
        as_choice(self.objective, "objective", OBJECTIVES)

    @property
    def dtype(self) -> np.dtype:
        """The working precision, the cell's: float64 or float32."""
        return self.cell.dtype

    def _outputs(self, xs):
        traj = self.cell.run(as_array(xs, "xs", ndim=3, dtype=self.cell.dtype))
        return traj, self.cell.output(traj.states[1:]) @ self.W_out.T + self.b_out

    def predict(self, xs) -> np.ndarray:
        """Readout at every step, shape ``(T, B, K)`` (logits for ``"xent"``)."""
        return self._outputs(xs)[1]

    def _targets(self, ys, n_steps: int, batch: int):
        """Validated targets and whether the loss sits at every step."""
        return check_targets(self.objective, ys, n_steps, (batch,), self.W_out.shape[0],
                             self.cell.dtype)  # fmt: skip

    def loss(self, xs, ys) -> float:
        """The objective on a batch ``xs (T, B, D)``, ``ys`` (see :mod:`gradflow.train`)."""
        _, out = self._outputs(xs)
        ys, per_step = self._targets(ys, out.shape[0], out.shape[1])
        with np.errstate(over="ignore", invalid="ignore"):
            return objective_loss(self.objective, out if per_step else out[-1], ys)[0]

    def value_and_grad(self, xs, ys):
        """``(loss, grads)``: the objective on a batch and its gradient, a dict like ``params``.

        Raises :class:`~gradflow.errors.NonFiniteError` if the forward run overflows. A
        non-finite loss gradient (NaN targets, overflow) or a backward pass that overflows gives
        NaN for every cell gradient, left for the clipper's ``nonfinite`` policy.
        """
        traj = self.cell.run(as_array(xs, "xs", ndim=3, dtype=self.cell.dtype))
        states = traj.states
        ys, per_step = self._targets(ys, states.shape[0] - 1, states.shape[1])
        hidden = self.cell.output(states[1:] if per_step else states[-1])
        k, n = self.W_out.shape
        with np.errstate(over="ignore", invalid="ignore"):
            out = hidden @ self.W_out.T + self.b_out
            loss, dout = objective_loss(self.objective, out, ys)
            flat = dout.reshape(-1, k)
            grads_out = {"W_out": flat.T @ hidden.reshape(-1, n), "b_out": flat.sum(axis=0)}
            cotangent = dout @ self.W_out
        adjoints = None
        if np.isfinite(cotangent).all():
            # The readout sees h, the first N entries of the state (all of it but for the LSTM)
            v = np.zeros_like(states if per_step else states[-1])
            self.cell.output(v[1:] if per_step else v)[...] = cotangent
            adjoints = backprop(self.cell, traj, v)
        if adjoints is not None and np.isfinite(adjoints).all():
            grads = self.cell.param_grads(traj, adjoints)
        else:  # NaN targets or an overflow: the clipper's nonfinite policy decides
            grads = {k: np.full(p.shape, np.nan, p.dtype) for k, p in self.cell.params.items()}
        grads.update(grads_out)
        return loss, grads


def init_model(
    task,
    hidden_size=None,
    *,
    init="orthogonal",
    gain=1.0,
    activation="tanh",
    objective=None,
    rng=None,
    cell="elman",
    forget_bias=0.0,
    dtype=np.float64,
    hidden=None,
) -> Model:
    """A freshly initialised recurrent network (Elman, LSTM or GRU) with a linear readout.

    Parameters
    ----------
    task : Task, str or tuple of int
        Sets D, K and the objective: a :class:`Task`, a task name, or ``(input_size,
        output_size)`` (objective ``"mse"`` unless given).
    hidden_size : int
        Number of hidden units N (``hidden`` is its older alias).
    init : str, default "orthogonal"
        Initialiser of ``W_hh`` by name (:func:`gradflow.init.get`), scaled by ``gain``; for
        gated cells, of each gate block (:func:`gradflow.cells.initial_params`).
    gain : float, default 1.0
    activation : {"tanh", "relu", "sigmoid", "linear"}
    objective : {"mse", "xent"}, optional
        Overrides the task's objective.
    rng : int, Generator or None
        Draws W_hh (and a gated cell's biases), then W_xh, then W_out, in that order.
    cell : {"elman", "lstm", "gru"} or callable, default "elman"
        The recurrent cell, by name, or a factory ``cell(hidden_size, input_size, rng=Generator)
        -> Cell`` (with input weights; ``init``, ``gain``, ``activation`` and
        ``forget_bias`` are then the factory's business and must keep their defaults).
    forget_bias : float, default 0.0
        Gated cells: added to the LSTM's forget-gate (or the GRU's update-gate) bias.
    dtype : {float64, float32}, default float64
        Working precision of the cell and the readout (a cell factory must return a cell of
        this dtype).

    Notes
    -----
    ``W_xh`` and ``W_out`` are drawn from U(−1/√N, 1/√N), PyTorch's default for ``nn.RNN`` and
    ``nn.Linear(N, K)``; the Elman bias starts at zero, a gated cell's biases as
    :func:`gradflow.cells.initial_params` draws them (zero but for ``forget_bias``, unless
    ``init="uniform"``, PyTorch's default for the whole layer). Every draw is made in float64
    and then cast: whatever the dtype the same random numbers are drawn, and a float32 model
    starts from the float64 one rounded to float32.

    Examples
    --------
    >>> model = init_model((3, 2), 16, gain=1.5, rng=0)
    >>> model.cell, model.W_out.shape, model.objective
    (Elman(hidden_size=16, input_size=3, activation='tanh'), (2, 16), 'mse')
    >>> single = init_model((3, 2), 16, gain=1.5, rng=0, dtype=np.float32)
    >>> single.W_out.dtype, bool(np.all(single.W_out == model.W_out.astype(np.float32)))
    (dtype('float32'), True)
    """
    if isinstance(task, tuple):
        d, k = (as_int(v, "task", minimum=1) for v in task) if len(task) == 2 else (0, 0)
        if not d:
            raise ValueError(f"task: expected (input_size, output_size), got {task!r}")
        default = "mse"
    else:
        spec = make_task(task, T=1 if isinstance(task, str) else None)
        d, k, default = spec.input_size, spec.output_size, spec.objective
    hidden_size = as_int(renamed(hidden_size, hidden, "hidden_size", "hidden"), "hidden_size",
                         minimum=1)  # fmt: skip
    dtype = as_dtype(dtype, "dtype")
    gen = as_generator(rng)
    bound = 1.0 / np.sqrt(hidden_size)
    if callable(cell):
        options = {"init": init, "gain": gain, "activation": activation, "forget_bias": forget_bias}
        changed = [name for name, value in options.items() if value != _DEFAULTS[name]]
        if changed:
            raise ValueError(f"cell: a cell factory takes no {', '.join(changed)}; set them in it")
        recurrent = cell(hidden_size, d, rng=gen)
        if not isinstance(recurrent, Cell) or recurrent.hidden_size != hidden_size:
            raise TypeError(
                "cell: expected the factory to return a gradflow cell of hidden size "
                f"{hidden_size}, got {recurrent!r}"
            )
        if recurrent.dtype != dtype:
            raise ValueError(
                f"dtype: expected the cell factory to return a {dtype} cell, got "
                f"{recurrent.dtype}; build the cell in that dtype"
            )
    else:
        kind = _cells.check_kind(cell, activation, forget_bias)
        params = _cells.initial_params(
            kind, hidden_size, init=init, gain=gain, forget_bias=forget_bias, rng=gen
        )
        rows = params["W_hh"].shape[0]
        params["W_xh"] = gen.uniform(-bound, bound, size=(rows, d))
        if kind == "elman":
            params["b"] = np.zeros(hidden_size)
        recurrent = _cells.build(kind, params, activation=activation, dtype=dtype)
    W_out = gen.uniform(-bound, bound, size=(k, hidden_size))  # float64, cast by Model
    return Model(recurrent, W_out, np.zeros(k), default if objective is None else objective)


_DEFAULTS = {"init": "orthogonal", "gain": 1.0, "activation": "tanh", "forget_bias": 0.0}
