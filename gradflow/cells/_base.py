"""What every recurrent cell shares: the :class:`Trajectory` and the :class:`Cell` interface.

A cell maps a state ``s_{t-1}`` and an input ``x_t`` to ``s_t``. Its state is everything that
carries over a step (``h`` for Elman and GRU, ``[h, c]`` for LSTM), and its Jacobians are those
of the full state. Arrays are time-major: inputs ``(T, [B,] D)``, states ``(T+1, [B,] S)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from .._validation import as_array, as_int

__all__ = ["Cell", "Trajectory", "check_run"]


def _frozen(arr: np.ndarray | None) -> np.ndarray | None:
    if arr is not None:
        arr.flags.writeable = False
    return arr


@dataclass(frozen=True, eq=False)
class Trajectory:
    """A forward run of a cell, kept for Jacobians and backpropagation.

    Attributes
    ----------
    states : ndarray, shape (T+1, S) or (T+1, B, S)
        ``states[0]`` is the initial state ``s_0``; ``states[t]`` the state after step ``t``.
    inputs : ndarray, shape (T, D) or (T, B, D), or None
        The inputs ``x_1..x_T`` (None for an input-free run).
    cache : mapping of str to ndarray
        Whatever else a cell needs to form Jacobians without recomputing the run (gate
        values, say); empty for Elman, whose states suffice. Read-only.
    """

    states: np.ndarray
    inputs: np.ndarray | None = None
    cache: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self):
        _frozen(self.states)
        _frozen(self.inputs)
        for value in self.cache.values():
            _frozen(value)
        object.__setattr__(self, "cache", MappingProxyType(dict(self.cache)))

    @property
    def n_steps(self) -> int:
        """The number of steps T."""
        return self.states.shape[0] - 1

    @property
    def batch_size(self) -> int | None:
        """B for a batched run, None otherwise."""
        return self.states.shape[1] if self.states.ndim == 3 else None

    @property
    def state_size(self) -> int:
        """S, the size of the full state."""
        return self.states.shape[-1]

    def __repr__(self) -> str:
        batch = "" if self.batch_size is None else f", batch_size={self.batch_size}"
        return f"Trajectory(n_steps={self.n_steps}, state_size={self.state_size}{batch})"


class Cell:
    """Interface of a recurrent cell (subclasses: :class:`~gradflow.cells.Elman`, ...).

    Subclasses set ``state_size``, ``n_networks`` (B for stacked weights, else None) and
    implement ``run``, ``_jacobian``, ``_vjp`` and ``_jvp`` on validated arguments; this
    class checks the public arguments once and leaves the inner loops free of checks.
    """

    state_size: int
    n_networks: int | None

    # -- subclass hooks (unchecked; t is 1-based) -------------------------------------------
    def _jacobian(self, traj: Trajectory, t: int) -> np.ndarray:
        raise NotImplementedError

    def _vjp(self, traj: Trajectory, t: int, v: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _jvp(self, traj: Trajectory, t: int, vectors: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _jtvp(self, traj: Trajectory, t: int, vectors: np.ndarray) -> np.ndarray:
        """J_tᵀ V for a block ``V`` of shape ``(…, S, k)``."""
        raise NotImplementedError

    def with_params(self, params) -> Cell:
        """The same kind of cell (same activation, dtype, ...) with new trainable arrays.

        ``params`` maps the names of :attr:`params` to arrays of the same shapes; it is how a
        trainer steps a cell without knowing its constructor.
        """
        raise NotImplementedError

    # -- public, checked ----------------------------------------------------------------------
    def check_trajectory(self, traj) -> Trajectory:
        """Return ``traj`` if it is a Trajectory of this cell's state size, else raise."""
        if not isinstance(traj, Trajectory):
            raise TypeError(f"traj: expected a Trajectory from cell.run, got {type(traj).__name__}")
        if traj.state_size != self.state_size:
            raise ValueError(
                f"traj: expected states of size {self.state_size}, got {traj.state_size}"
            )
        if self.n_networks is not None and traj.batch_size != self.n_networks:
            raise ValueError(
                f"traj: expected a batch of {self.n_networks} networks, got {traj.batch_size}"
            )
        return traj

    def _check_step(self, traj: Trajectory, t) -> int:
        return as_int(t, "t", minimum=1, maximum=traj.n_steps)

    def _check_state_vector(self, traj: Trajectory, v, name: str = "v", *, trailing: int = 0):
        """``v`` shaped like one state (``(S,)`` or ``(B, S)``), plus ``trailing`` extra axes."""
        v = as_array(v, name, ndim=(1 + trailing, 2 + trailing), dtype=traj.states.dtype)
        axis = -1 - trailing
        if v.shape[axis] != self.state_size:
            raise ValueError(
                f"{name}: expected size {self.state_size} on axis {axis}, got {v.shape}"
            )
        batched = v.ndim == 2 + trailing
        if batched and v.shape[0] != traj.batch_size:
            raise ValueError(
                f"{name}: expected a leading batch axis of {traj.batch_size}, got shape {v.shape}"
            )
        return v

    def jacobian(self, traj: Trajectory, t: int) -> np.ndarray:
        """∂s_t/∂s_{t-1}, shape ``(S, S)`` or ``(B, S, S)``; ``t`` runs from 1 to T."""
        traj = self.check_trajectory(traj)
        return self._jacobian(traj, self._check_step(traj, t))

    def iter_jacobians(self, traj: Trajectory, start: int = 1, stop: int | None = None):
        """Yield ∂s_t/∂s_{t-1} for t = start, ..., stop (inclusive; default 1..T), one at a time."""
        traj = self.check_trajectory(traj)
        first = self._check_step(traj, start)
        last = traj.n_steps if stop is None else self._check_step(traj, stop)
        for t in range(first, last + 1):
            yield self._jacobian(traj, t)

    def vjp(self, traj: Trajectory, t: int, v) -> np.ndarray:
        """The vector–Jacobian product vᵀ ∂s_t/∂s_{t-1}: ``v`` is ``(S,)`` or ``(B, S)``."""
        traj = self.check_trajectory(traj)
        t = self._check_step(traj, t)
        v = self._check_state_vector(traj, v)
        if traj.batch_size is not None and v.ndim == 1:
            v = np.broadcast_to(v, (traj.batch_size, self.state_size))
        return self._vjp(traj, t, v)

    def jvp(self, traj: Trajectory, t: int, vectors) -> np.ndarray:
        """The product ∂s_t/∂s_{t-1} · V for a block ``V`` of shape ``(S, k)`` or ``(B, S, k)``.

        This is what Lyapunov and product-spectrum computations need: for Elman it costs
        2·S²·k flops, without forming the Jacobian.
        """
        traj = self.check_trajectory(traj)
        t = self._check_step(traj, t)
        vectors = self._check_state_vector(traj, vectors, "vectors", trailing=1)
        if traj.batch_size is not None and vectors.ndim == 2:
            vectors = np.broadcast_to(vectors, (traj.batch_size, *vectors.shape))
        return self._jvp(traj, t, vectors)


def check_run(cell, traj) -> tuple[Cell, Trajectory]:
    """``(cell, traj)`` once ``cell`` is a gradflow cell and ``traj`` a run of it, else raise.

    What every function taking a cell and its trajectory checks first (one-line errors that
    name ``cell`` or ``traj``).
    """
    if not isinstance(cell, Cell):
        raise TypeError(f"cell: expected a gradflow cell, got {type(cell).__name__}")
    return cell, cell.check_trajectory(traj)
