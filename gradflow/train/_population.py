"""Population: P independent networks, each a :class:`Model`, run and differentiated at once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import NonFiniteError, as_array, as_choice, as_int
from ..cells import Cell
from ..cells._base import outer_sum
from ..jacobians import backprop
from ._model import OBJECTIVES, Model, ReadoutParams, check_targets, objective_loss

__all__ = ["Population"]


@dataclass(frozen=True, eq=False)
class Population(ReadoutParams):
    r"""P independent recurrent networks with linear readouts, stacked on a leading axis.

    Its ``params`` (each ``(P, …)``) and ``with_params`` are those of a :class:`Model`.
    Network p is the :class:`Model` ``population.network(p)``: the cell with stacked weights
    (``cell.n_networks`` = P) and the readouts ``W_out[p]``, ``b_out[p]``. Each network sees
    its own batch: inputs ``(T, P, M, D)`` (network p runs ``xs[:, p]``), targets stacked the
    same way (``(P, M, K)`` at the last step, ``(T, P, M, K)`` at every step; integer classes
    ``(P, M)`` or ``(T, P, M)``). One batched GEMM per step replaces P small ones, which is
    what makes training many seeds and initialisers at once cheap.

    Parameters
    ----------
    cell : Cell
        A cell with stacked weights of P networks and input weights.
    W_out : array_like, shape (P, K, N)
    b_out : array_like, shape (P, K)
    objective : {"mse", "xent"}

    Notes
    -----
    The loss of network p is its :class:`Model` loss :math:`L_p` on its own batch, and its
    gradient is :math:`\nabla_{\theta_p} L_p`: the networks share nothing, so one backward
    pass of :math:`\sum_p L_p` gives every network's gradient at once.

    Examples
    --------
    >>> from gradflow.train import Population, init_model, make_task
    >>> models = [init_model("adding", 8, rng=seed) for seed in range(3)]
    >>> population = Population.stack(models)
    >>> task = make_task("adding", T=20)
    >>> batches = [task.sample(4, rng=seed) for seed in range(3)]
    >>> xs = np.stack([x for x, _ in batches], axis=1)
    >>> ys = np.stack([y for _, y in batches])
    >>> losses, grads = population.value_and_grad(xs, ys)
    >>> losses.shape, grads["W_hh"].shape
    ((3,), (3, 8, 8))
    >>> bool(np.isclose(losses[1], models[1].loss(*batches[1])))
    True
    """

    cell: Cell
    W_out: np.ndarray
    b_out: np.ndarray
    objective: str = "mse"

    def __post_init__(self):
        if not isinstance(self.cell, Cell):
            raise TypeError(f"cell: expected a gradflow cell, got {type(self.cell).__name__}")
        P = self.cell.n_networks
        if P is None:
            raise ValueError("cell: expected stacked weights (P, ...) of P networks, got one")
        if getattr(self.cell, "W_xh", None) is None:
            raise ValueError("cell: expected a cell with input weights W_xh, got W_xh=None")
        W_out = as_array(self.W_out, "W_out", ndim=3, dtype=self.cell.dtype)
        if W_out.shape[0] != P or W_out.shape[2] != self.cell.hidden_size:
            raise ValueError(
                f"W_out: expected shape ({P}, K, {self.cell.hidden_size}), got {W_out.shape}"
            )
        b_out = as_array(self.b_out, "b_out", ndim=2, dtype=self.cell.dtype)
        if b_out.shape != W_out.shape[:2]:
            raise ValueError(f"b_out: expected shape {W_out.shape[:2]}, got {b_out.shape}")
        object.__setattr__(self, "W_out", W_out)
        object.__setattr__(self, "b_out", b_out)
        as_choice(self.objective, "objective", OBJECTIVES)

    @classmethod
    def stack(cls, models) -> Population:
        """The population of ``models`` (a non-empty sequence of :class:`Model` of one shape)."""
        models = list(models)
        if not models or not all(isinstance(m, Model) for m in models):
            raise TypeError("models: expected a non-empty sequence of gradflow.train.Model")
        first = models[0]
        shapes = {tuple((k, v.shape) for k, v in m.params.items()) for m in models}
        kinds = {(type(m.cell), getattr(m.cell, "activation", None), m.objective) for m in models}
        if len(shapes) > 1 or len(kinds) > 1:
            raise ValueError(
                "models: expected models of one cell kind, activation, objective and shape"
            )
        params = {k: np.stack([m.params[k] for m in models]) for k in first.params}
        cell = first.cell.with_params({k: params[k] for k in first.cell.params})
        return cls(cell, params["W_out"], params["b_out"], first.objective)

    @property
    def n_networks(self) -> int:
        """P, the number of networks."""
        return self.cell.n_networks

    def network(self, index: int) -> Model:
        """Network ``index`` as a :class:`Model` of its own (copies of its arrays)."""
        index = as_int(index, "index", minimum=0, maximum=self.n_networks - 1)
        params = {k: v[index].copy() for k, v in self.params.items()}
        cell = self.cell.with_params({k: params[k] for k in self.cell.params})
        return Model(cell, params["W_out"], params["b_out"], self.objective)

    def _targets(self, ys, xs_shape):
        """Validated targets and whether the loss sits at every step."""
        n_steps, P, M = xs_shape[:3]
        return check_targets(self.objective, ys, n_steps, (P, M), self.W_out.shape[1],
                             self.cell.dtype)  # fmt: skip

    def _check_inputs(self, xs) -> np.ndarray:
        xs = as_array(xs, "xs", ndim=4, dtype=self.cell.dtype)
        if xs.shape[1] != self.n_networks:
            raise ValueError(
                f"xs: expected shape (T, {self.n_networks}, M, D) for {self.n_networks} "
                f"networks, got {xs.shape}"
            )
        return xs

    def _readout(self, hidden):
        """``W_out[p] h + b_out[p]`` for hidden ``(…, P, M, N)`` -> ``(…, P, M, K)``."""
        return np.matmul(hidden, np.swapaxes(self.W_out, -1, -2)) + self.b_out[:, None, :]

    def loss(self, xs, ys) -> np.ndarray:
        """The loss of every network on its batch, ``(P,)`` (inf where a run overflows)."""
        xs = self._check_inputs(xs)
        ys, per_step = self._targets(ys, xs.shape)
        try:
            traj = self.cell.run(xs)
        except NonFiniteError:
            return np.array([self._network_loss(p, xs, ys, per_step) for p in range(len(ys))])
        hidden = self.cell.output(traj.states[1:] if per_step else traj.states[-1])
        with np.errstate(over="ignore", invalid="ignore"):
            return objective_loss(self.objective, self._readout(hidden), ys, int(per_step))[0]

    def _network_loss(self, p, xs, ys, per_step) -> float:
        try:
            return self.network(p).loss(xs[:, p], ys[:, p] if per_step else ys[p])
        except NonFiniteError:
            return np.inf

    def value_and_grad(self, xs, ys):
        """``(losses (P,), grads)``: each network's loss on its batch and its gradient.

        ``grads`` is a dict like ``params``. Network by network it is what
        :meth:`Model.value_and_grad` gives: a network whose backward pass (or loss gradient)
        is not finite gets NaN for every cell gradient, and a forward run that overflows
        gives an infinite loss and NaN gradients for that network alone (the others are
        unaffected).
        """
        xs = self._check_inputs(xs)
        ys, per_step = self._targets(ys, xs.shape)
        try:
            traj = self.cell.run(xs)
        except NonFiniteError:  # rare: find the networks that overflow, one by one
            return self._one_by_one(xs, ys, per_step)
        states, P = traj.states, self.n_networks
        hidden = self.cell.output(states[1:] if per_step else states[-1])
        axis = int(per_step)  # the network axis of the outputs and targets
        with np.errstate(over="ignore", invalid="ignore"):
            losses, dout = objective_loss(self.objective, self._readout(hidden), ys, axis)
            steps = (lambda a: a) if per_step else (lambda a: a[None])  # a time axis first
            grads_out = {
                "W_out": outer_sum(steps(dout), steps(hidden), P),
                "b_out": np.moveaxis(steps(dout), 1, 0).reshape(P, -1, dout.shape[-1]).sum(1),
            }
            cotangent = np.matmul(dout, self.W_out)
        bad = ~np.isfinite(cotangent).reshape(*cotangent.shape[:axis], P, -1).all(axis=-1)
        bad = bad.any(axis=0) if per_step else bad
        v = np.zeros_like(states if per_step else states[-1])
        self.cell.output(v[1:] if per_step else v)[...] = np.where(
            _expand(bad, cotangent.ndim, axis), 0.0, cotangent
        )
        adjoints = backprop(self.cell, traj, v)
        bad |= ~np.isfinite(adjoints).reshape(adjoints.shape[0], P, -1).all(axis=(0, 2))
        if bad.any():
            adjoints = np.where(_expand(bad, adjoints.ndim, 1), 0.0, adjoints)
        grads = self.cell.param_grads(traj, adjoints)
        for g in grads.values():
            g[bad] = np.nan
        grads.update(grads_out)
        return losses, grads

    def _one_by_one(self, xs, ys, per_step):
        losses, rows = [], []
        for p in range(self.n_networks):
            model = self.network(p)
            try:
                loss, grads = model.value_and_grad(xs[:, p], ys[:, p] if per_step else ys[p])
            except NonFiniteError:
                loss = np.inf
                grads = {k: np.full(v.shape, np.nan) for k, v in model.params.items()}
            losses.append(loss)
            rows.append(grads)
        return np.array(losses), {k: np.stack([g[k] for g in rows]) for k in rows[0]}


def _expand(mask: np.ndarray, ndim: int, axis: int) -> np.ndarray:
    """A ``(P,)`` mask shaped to broadcast along ``axis`` of an ``ndim``-D array."""
    shape = [1] * ndim
    shape[axis] = mask.size
    return mask.reshape(shape)
