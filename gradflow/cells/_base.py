"""What every recurrent cell shares: the :class:`Trajectory` and the :class:`Cell` interface.

A cell maps a state ``s_{t-1}`` and an input ``x_t`` to ``s_t``. Its state is everything that
carries over a step (``h`` for Elman and GRU, ``[h, c]`` for LSTM), and its Jacobians are those
of the full state. Arrays are time-major: inputs ``(T, [B,] D)``, states ``(T+1, [B,] S)``.
The batched products of :mod:`gradflow.cells._linalg` (``matvec``, ``rmatvec``, ``outer_sum``,
``network_sum``) are re-exported here.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from .._validation import as_array, as_int
from ._linalg import matvec, network_sum, outer_sum, rmatvec

__all__ = ["Cell", "Trajectory", "check_run", "matvec", "network_sum", "outer_sum", "rmatvec"]


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
        """B for a batched run (P, the number of networks, for a population run), else None."""
        return self.states.shape[1] if self.states.ndim >= 3 else None

    @property
    def n_sequences(self) -> int | None:
        """M for a population run (states ``(T+1, P, M, S)``), None otherwise."""
        return self.states.shape[2] if self.states.ndim == 4 else None

    @property
    def state_size(self) -> int:
        """S, the size of the full state."""
        return self.states.shape[-1]

    def __repr__(self) -> str:
        batch = "" if self.batch_size is None else f", batch_size={self.batch_size}"
        return f"Trajectory(n_steps={self.n_steps}, state_size={self.state_size}{batch})"


class Cell(abc.ABC):
    """A recurrent cell: what every consumer of a cell (layers 3 to 6) may rely on.

    Attributes
    ----------
    hidden_size : int
        N, the size of the output ``h`` a readout sees.
    state_size : int
        S, the size of the full state (N for Elman and GRU, 2N for the LSTM's ``[h, c]``).
    input_size : int
        D (0 for a cell without input weights).
    n_networks : int or None
        B for stacked weights (B independent networks run at once), else None.
    dtype : numpy.dtype
        Working precision (float64 or float32).

    Notes
    -----
    The block-product protocol (layer 3): the analyses of products of Jacobians never form
    :math:`J_t = \\partial s_t/\\partial s_{t-1}` unless asked to; they call three unchecked
    products on validated arguments (``t`` in 1..T, blocks shaped like the trajectory's states with
    a trailing axis k):

    - :meth:`jvp_block` ``(traj, t, V)`` -> :math:`J_t V` for ``V`` of shape ``(…, S, k)``;
    - :meth:`vjp_block` ``(traj, t, U)`` -> :math:`J_t^\\top U` for ``U`` of shape ``(…, S, k)``;
    - :meth:`vjp_vector` ``(traj, t, u)`` -> :math:`J_t^\\top u` for ``u`` of shape ``(…, S)``
      (by default through :meth:`vjp_block`; a cell may override it with a faster path).

    The checked :meth:`jacobian`, :meth:`vjp` and :meth:`jvp` validate their arguments and
    call these; :meth:`jacobian` applies :meth:`jvp_block` to the identity unless a cell has
    a cheaper dense form.

    Subclasses implement :meth:`run`, :attr:`params`, :meth:`with_params`,
    :meth:`param_grads`, :attr:`recurrent_blocks` and the two block products; input
    validation and the input drive (``_resolve_batch``, ``_drive``) live here.
    """

    hidden_size: int
    state_size: int
    input_size: int
    n_networks: int | None
    dtype: np.dtype
    W_xh: np.ndarray | None

    # -- what a subclass implements -----------------------------------------------------------
    @abc.abstractmethod
    def run(self, xs, h0=None) -> Trajectory:
        """Run the cell for T steps: ``xs`` inputs ``(T, [B,] D)`` or an int T (no input)."""

    @property
    @abc.abstractmethod
    def params(self) -> dict[str, np.ndarray]:
        """The trainable arrays by name, in a fixed order."""

    @abc.abstractmethod
    def with_params(self, params) -> Cell:
        """The same kind of cell (same activation, dtype, ...) with new trainable arrays.

        ``params`` maps the names of :attr:`params` to arrays of the same shapes; it is how a
        trainer steps a cell without knowing its constructor.
        """

    @abc.abstractmethod
    def param_grads(self, traj: Trajectory, adjoints) -> dict[str, np.ndarray]:
        """Gradients of :attr:`params` from the state adjoints ``(T+1, [B,] S)``."""

    @property
    @abc.abstractmethod
    def recurrent_blocks(self) -> dict[str, np.ndarray]:
        """The recurrent matrices by name, each ``(N, N)`` or ``(B, N, N)``.

        Elman: ``W_hh``; LSTM: the gate blocks of ``W_hh`` (i, f, g, o); GRU: r, z, n. What
        spectra of "the recurrent weights" are taken of.
        """

    @abc.abstractmethod
    def jvp_block(self, traj: Trajectory, t: int, vectors: np.ndarray) -> np.ndarray:
        """:math:`J_t V` for a block ``V`` of shape ``(…, S, k)`` (unchecked)."""

    @abc.abstractmethod
    def vjp_block(self, traj: Trajectory, t: int, vectors: np.ndarray) -> np.ndarray:
        """:math:`J_t^\\top U` for a block ``U`` of shape ``(…, S, k)`` (unchecked)."""

    def vjp_vector(self, traj: Trajectory, t: int, v: np.ndarray) -> np.ndarray:
        """:math:`J_t^\\top u` for ``u`` of shape ``(…, S)`` (unchecked)."""
        return self.vjp_block(traj, t, v[..., None])[..., 0]

    def _dense_jacobian(self, traj: Trajectory, t: int) -> np.ndarray:
        """:math:`J_t` as a dense ``([B,] S, S)`` array (unchecked); override when cheaper."""
        lead = () if traj.batch_size is None else (traj.batch_size,)
        eye = np.broadcast_to(np.eye(self.state_size, dtype=traj.states.dtype),
                              (*lead, self.state_size, self.state_size))  # fmt: skip
        return self.jvp_block(traj, t, eye)

    def step_summary(self, traj: Trajectory) -> dict[str, np.ndarray]:
        """Per-step means over units of what shapes :math:`J_t`, each ``(T, [B])``, t = 1..T.

        Column names of :func:`gradflow.jacobians.step_spectra`: Elman ``mean_phi_prime``
        (mean φ'(a_t)); LSTM ``mean_i``, ``mean_f``, ``mean_g``, ``mean_o`` (gate
        activations); GRU ``mean_r``, ``mean_z``, ``mean_n``. Empty for a cell with none.
        """
        return {}

    # -- the output a readout sees ------------------------------------------------------------
    def output(self, states: np.ndarray) -> np.ndarray:
        """The hidden part ``h`` of states ``(…, S)``: the first N entries (a view)."""
        return states[..., : self.hidden_size]

    # -- shared input handling ----------------------------------------------------------------
    def _resolve_batch(self, xs, h0):
        """Validate ``xs`` and ``h0``; return (T, inputs or None, s0 array, lead shape).

        ``lead`` is ``()`` for one sequence, ``(B,)`` for a batch (of sequences, of initial
        states or of stacked networks) and ``(P, M)`` for a population run: stacked weights of
        P networks with inputs ``(T, P, M, D)`` (or an initial state ``(P, M, S)``), network p
        running its own M sequences. ``inputs`` never shares memory with the caller's ``xs``
        (a trajectory freezes it).
        """
        sizes, lead = {}, {}
        population = self.n_networks is not None
        if population:
            sizes["W_hh"] = self.n_networks
        inputs = None
        if isinstance(xs, (int, np.integer)) and not isinstance(xs, bool):
            n_steps = as_int(xs, "xs", minimum=1)
        else:
            if self.W_xh is None:
                raise ValueError(
                    "xs: this cell has no W_xh, so it takes no inputs; pass an int number of steps"
                )
            ndim = (2, 3, 4) if population else (2, 3)
            inputs = as_array(xs, "xs", ndim=ndim, dtype=self.dtype)
            if isinstance(xs, np.ndarray) and np.may_share_memory(inputs, xs):
                inputs = inputs.copy()
            if inputs.shape[-1] != self.input_size:
                raise ValueError(
                    f"xs: expected {self.input_size} features on the last axis to match W_xh, "
                    f"got shape {inputs.shape}"
                )
            n_steps = inputs.shape[0]
            if inputs.ndim >= 3:
                sizes["xs"] = inputs.shape[1]
                lead["xs"] = inputs.shape[1:-1]
        if h0 is not None:
            ndim = (1, 2, 3) if population else (1, 2)
            h0 = as_array(h0, "h0", ndim=ndim, dtype=self.dtype)
            if h0.shape[-1] != self.state_size:
                raise ValueError(
                    f"h0: expected size {self.state_size} on the last axis, got {h0.shape}"
                )
            if h0.ndim >= 2:
                sizes["h0"] = h0.shape[0]
                lead["h0"] = h0.shape[:-1]
        if len(set(sizes.values())) > 1:
            detail = ", ".join(f"{k} {v}" for k, v in sizes.items())
            name = "h0" if "h0" in sizes else "xs"
            raise ValueError(f"{name}: batch sizes disagree ({detail})")
        shapes = set(lead.values())
        if len(shapes) > 1 and any(len(shape) == 2 for shape in shapes):
            raise ValueError(
                f"h0: expected shape {(*lead['xs'], self.state_size)} to match xs "
                f"{inputs.shape}, got {h0.shape}"
            )
        batch = next(iter(sizes.values()), None)
        shape = max(shapes, key=len) if shapes else (() if batch is None else (batch,))
        h0_shape = (*shape, self.state_size)
        h0 = np.zeros(h0_shape, self.dtype) if h0 is None else np.broadcast_to(h0, h0_shape)
        return n_steps, inputs, h0, shape

    def _drive(self, inputs, n_steps: int, lead: tuple, bias=None):
        """``W_xh x_t + bias`` for all t at once, ``(T, *lead, R)``: one GEMM, not T small ones.

        R is the number of rows of ``W_xh`` (N for Elman, 4N for the LSTM's gates); None
        when there is neither an input nor a bias. ``bias`` is ``(R,)`` or ``(B, R)``.
        """
        drive = None
        if inputs is not None:
            W = self.W_xh
            rows = W.shape[-2]
            if W.ndim == 2:  # one 2-D GEMM over all steps (and sequences)
                flat = inputs.reshape(-1, self.input_size) @ W.T
                drive = flat.reshape(*inputs.shape[:-1], rows)
                if inputs.ndim == 2 and lead:  # one sequence, a batch of states
                    drive = drive[:, None, :]
            elif inputs.ndim == 4:  # a population: P GEMMs (T·M, D) @ (D, R)
                x = np.moveaxis(inputs, 1, 0).reshape(W.shape[0], -1, self.input_size)
                drive = np.moveaxis(
                    np.matmul(x, np.swapaxes(W, -1, -2)).reshape(W.shape[0], n_steps, -1, rows),
                    0, 1,
                )  # fmt: skip
            elif inputs.ndim == 3:  # B GEMMs (R, D) @ (D, T), one per network
                drive = np.matmul(W, inputs.transpose(1, 2, 0)).transpose(2, 0, 1)
            else:  # one GEMM (T, D) @ (D, B·R) for inputs shared by the networks
                drive = (inputs @ W.reshape(-1, self.input_size).T).reshape(n_steps, *W.shape[:2])
            if len(lead) == 2 and drive.ndim == 3:  # shared by a population's M sequences
                drive = drive[:, :, None, :]
        if bias is not None:
            if len(lead) == 2 and bias.ndim == 2:  # (P, R): one bias per network
                bias = bias[:, None, :]
            drive = bias if drive is None else drive + bias
        if drive is not None:
            drive = np.broadcast_to(drive, (n_steps, *lead, drive.shape[-1]))
        return drive

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

    def _check_adjoints(self, traj, adjoints) -> tuple[Trajectory, np.ndarray]:
        """``(traj, adjoints)`` for :meth:`param_grads`: adjoints shaped like ``traj.states``."""
        traj = self.check_trajectory(traj)
        adjoints = as_array(adjoints, "adjoints", dtype=self.dtype)
        if adjoints.shape != traj.states.shape:
            raise ValueError(
                f"adjoints: expected shape {traj.states.shape} (like traj.states), "
                f"got {adjoints.shape}"
            )
        return traj, adjoints

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
        _refuse_population(traj)
        return self._dense_jacobian(traj, self._check_step(traj, t))

    def iter_jacobians(self, traj: Trajectory, start: int = 1, stop: int | None = None):
        """Yield ∂s_t/∂s_{t-1} for t = start, ..., stop (inclusive; default 1..T), one at a time."""
        traj = self.check_trajectory(traj)
        _refuse_population(traj)
        first = self._check_step(traj, start)
        last = traj.n_steps if stop is None else self._check_step(traj, stop)
        for t in range(first, last + 1):
            yield self._dense_jacobian(traj, t)

    def vjp(self, traj: Trajectory, t: int, v) -> np.ndarray:
        """The vector–Jacobian product vᵀ ∂s_t/∂s_{t-1}: ``v`` is ``(S,)`` or ``(B, S)``."""
        traj = self.check_trajectory(traj)
        _refuse_population(traj)
        t = self._check_step(traj, t)
        v = self._check_state_vector(traj, v)
        if traj.batch_size is not None and v.ndim == 1:
            v = np.broadcast_to(v, (traj.batch_size, self.state_size))
        return self.vjp_vector(traj, t, v)

    def jvp(self, traj: Trajectory, t: int, vectors) -> np.ndarray:
        """The product ∂s_t/∂s_{t-1} · V for a block ``V`` of shape ``(S, k)`` or ``(B, S, k)``.

        This is what Lyapunov and product-spectrum computations need: for Elman it costs
        2·S²·k flops, without forming the Jacobian.
        """
        traj = self.check_trajectory(traj)
        _refuse_population(traj)
        t = self._check_step(traj, t)
        vectors = self._check_state_vector(traj, vectors, "vectors", trailing=1)
        if traj.batch_size is not None and vectors.ndim == 2:
            vectors = np.broadcast_to(vectors, (traj.batch_size, *vectors.shape))
        return self.jvp_block(traj, t, vectors)


def check_run(cell, traj, *, population: bool = False) -> tuple[Cell, Trajectory]:
    """``(cell, traj)`` once ``cell`` is a gradflow cell and ``traj`` a run of it, else raise.

    What every function taking a cell and its trajectory checks first (one-line errors that
    name ``cell`` or ``traj``). A population run (states ``(T+1, P, M, S)``) is refused unless
    ``population`` is set: only backpropagation and parameter gradients take one.
    """
    if not isinstance(cell, Cell):
        raise TypeError(f"cell: expected a gradflow cell, got {type(cell).__name__}")
    traj = cell.check_trajectory(traj)
    if not population:
        _refuse_population(traj)
    return cell, traj


def _refuse_population(traj: Trajectory) -> None:
    if traj.n_sequences is not None:
        raise ValueError(
            f"traj: expected one sequence per network, got a population run of "
            f"{traj.n_sequences} sequences each (states {traj.states.shape}); Jacobian "
            "analyses take one sequence per network"
        )
