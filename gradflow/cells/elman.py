"""The Elman (vanilla) recurrent cell h_t = φ(W_hh h_{t-1} + W_xh x_t + b)."""

from __future__ import annotations

import numpy as np

from .. import _activations
from .._validation import NonFiniteError, as_array, as_matrix
from ._base import Cell, Trajectory
from ._linalg import matvec, network_sum, outer_sum, rmatvec

__all__ = ["Elman"]


class Elman(Cell):
    r"""Elman cell :math:`h_t = \varphi(W_{hh} h_{t-1} + W_{xh} x_t + b)`.

    Parameters
    ----------
    W_hh : array_like, shape (N, N) or (B, N, N)
        Recurrent weights; a stack of B matrices runs B independent networks at once.
    W_xh : array_like, shape (N, D) or (B, N, D), optional
        Input weights (None: the cell takes no input).
    b : array_like, shape (N,) or (B, N), optional
        Bias (None: zero).
    activation : {"tanh", "relu", "sigmoid", "linear"}
        The nonlinearity φ.
    dtype : {float64, float32}
        Working precision.

    Notes
    -----
    The Jacobian of one step is :math:`J_t = \partial h_t/\partial h_{t-1} =
    \operatorname{diag}(\varphi'(a_t))\, W_{hh}` with :math:`a_t` the pre-activation, so a
    gradient flowing back k steps is multiplied by :math:`J_{t}^\top \cdots J_{t-k+1}^\top`
    (Pascanu, Mikolov & Bengio 2013). Gradients of the parameters follow from the adjoints
    :math:`\lambda_t = \partial L/\partial h_t`: with :math:`\delta_t = \lambda_t \odot
    \varphi'(a_t)`, :math:`\partial L/\partial W_{hh} = \sum_t \delta_t h_{t-1}^\top`,
    :math:`\partial L/\partial W_{xh} = \sum_t \delta_t x_t^\top`,
    :math:`\partial L/\partial b = \sum_t \delta_t`.

    References
    ----------
    Elman, J. L. (1990). Finding structure in time. Cognitive Science 14(2), 179–211.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow.cells import Elman
    >>> cell = Elman(0.5 * np.eye(3), activation="linear")
    >>> traj = cell.run(4, h0=np.ones(3))
    >>> traj.states[-1]
    array([0.0625, 0.0625, 0.0625])
    >>> cell.jacobian(traj, 1)[0, 0]
    np.float64(0.5)
    """

    def __init__(self, W_hh, W_xh=None, b=None, activation="tanh", *, dtype=np.float64):
        self.W_hh = as_matrix(W_hh, "W_hh", batch=True, dtype=dtype)
        self.activation = _activations.get(activation).name
        self._phi = _activations.get(activation)
        self.n_networks = self.W_hh.shape[0] if self.W_hh.ndim == 3 else None
        self.hidden_size = self.W_hh.shape[-1]
        self.state_size = self.hidden_size
        lead = () if self.n_networks is None else (self.n_networks,)
        self.W_xh = None
        if W_xh is not None:
            self.W_xh = as_array(W_xh, "W_xh", ndim=self.W_hh.ndim, dtype=dtype)
            if self.W_xh.shape[:-1] != (*lead, self.hidden_size):
                raise ValueError(
                    f"W_xh: expected shape {(*lead, self.hidden_size, 'D')} to match W_hh "
                    f"{self.W_hh.shape}, got {self.W_xh.shape}"
                )
        self.b = None
        if b is not None:
            self.b = as_array(b, "b", ndim=self.W_hh.ndim - 1, dtype=dtype)
            if self.b.shape != (*lead, self.hidden_size):
                raise ValueError(
                    f"b: expected shape {(*lead, self.hidden_size)} to match W_hh "
                    f"{self.W_hh.shape}, got {self.b.shape}"
                )
        self.input_size = 0 if self.W_xh is None else self.W_xh.shape[-1]
        self.dtype = self.W_hh.dtype

    def __repr__(self) -> str:
        batch = "" if self.n_networks is None else f", n_networks={self.n_networks}"
        return (
            f"Elman(hidden_size={self.hidden_size}, input_size={self.input_size}, "
            f"activation={self.activation!r}{batch})"
        )

    @property
    def params(self) -> dict[str, np.ndarray]:
        """The trainable arrays by name (those that are not None)."""
        named = {"W_hh": self.W_hh, "W_xh": self.W_xh, "b": self.b}
        return {name: value for name, value in named.items() if value is not None}

    def with_params(self, params) -> Elman:
        """An Elman cell with this one's activation and dtype and the arrays of ``params``."""
        return Elman(
            params["W_hh"],
            params.get("W_xh"),
            params.get("b"),
            activation=self.activation,
            dtype=self.dtype,
        )

    @property
    def recurrent_blocks(self) -> dict[str, np.ndarray]:
        """``{"W_hh": W_hh}``: an Elman cell has one recurrent matrix."""
        return {"W_hh": self.W_hh}

    def step_summary(self, traj: Trajectory) -> dict[str, np.ndarray]:
        """``{"mean_phi_prime": (T, [B])}``: the mean of φ'(a_t) over units, t = 1..T."""
        traj = self.check_trajectory(traj)
        return {"mean_phi_prime": self._phi.derivative(traj.states[1:]).mean(axis=-1)}

    # -- forward ------------------------------------------------------------------------------
    def run(self, xs, h0=None) -> Trajectory:
        """Run the cell for T steps.

        Parameters
        ----------
        xs : int or array_like, shape (T, D), (T, B, D) or (T, P, M, D)
            Inputs, or the number of steps T for an input-free run. ``(T, P, M, D)`` is a
            population run of stacked weights: network p runs its M sequences.
        h0 : array_like, shape (N,), (B, N) or (P, M, N), optional
            Initial state (default zeros).

        Returns
        -------
        Trajectory
            ``states`` of shape ``(T+1, [B,] N)``, or ``(T+1, P, M, N)`` for a population;
            batched when the weights, the inputs or ``h0`` carry a batch axis (their sizes
            must agree).
        """
        n_steps, inputs, h0, lead = self._resolve_batch(xs, h0)
        states = np.empty((n_steps + 1, *h0.shape), self.dtype)
        states[0] = h0
        with np.errstate(over="ignore", invalid="ignore"):
            if len(lead) == 2 and (inputs is None or inputs.ndim == 4):
                self._run_population(states, inputs)
            else:
                drive = self._drive(inputs, n_steps, lead, self.b)
                phi = self._phi.forward
                for t in range(n_steps):
                    a = matvec(self.W_hh, states[t])
                    if drive is not None:
                        a += drive[t]
                    states[t + 1] = phi(a)
        if not np.all(np.isfinite(states[-1])):
            raise NonFiniteError(
                "W_hh: the forward run overflowed to a non-finite state; "
                "reduce the gain, the number of steps or use a bounded activation"
            )
        return Trajectory(states, inputs)

    def _run_population(self, states, inputs):
        """The steps of a population run, in place: P networks, M sequences each.

        Every step is two batched GEMMs into the new state's own memory (on C-ordered copies
        of W_hhᵀ and W_xhᵀ), the bias and φ in place: the working set is one step's
        ``(P, M, N)``, where a precomputed input drive would be all T of them.
        """
        W_T = np.ascontiguousarray(np.swapaxes(self.W_hh, -1, -2))
        U_T = None if inputs is None else np.ascontiguousarray(np.swapaxes(self.W_xh, -1, -2))
        bias = None if self.b is None else self.b[:, None, :]
        phi = self._phi.forward
        scratch = None if inputs is None else np.empty_like(states[0])
        for t in range(states.shape[0] - 1):
            a = np.matmul(states[t], W_T, out=states[t + 1])
            if U_T is not None:
                a += np.matmul(inputs[t], U_T, out=scratch)
            if bias is not None:
                a += bias
            phi(a, out=a)

    def step(self, h, x=None):
        """One step: returns ``(h_next, a)`` with ``a`` the pre-activation."""
        h = as_array(h, "h", ndim=(1, 2), dtype=self.dtype)
        a = matvec(self.W_hh, h)
        if x is not None:
            if self.W_xh is None:
                raise ValueError("x: this cell has no W_xh, so it takes no input")
            a = a + matvec(self.W_xh, as_array(x, "x", ndim=(1, 2), dtype=self.dtype))
        if self.b is not None:
            a = a + self.b
        return self._phi.forward(a), a

    # -- derivatives --------------------------------------------------------------------------
    # φ'(a_t) is recomputed from h_t = φ(a_t) where it is needed: a few flops per unit, cheaper
    # than storing (and page-faulting in) a second (T, B, N) array during the run.
    def _derivs(self, traj, t):
        return self._phi.derivative(traj.states[t])

    def _dense_jacobian(self, traj, t):
        return self._derivs(traj, t)[..., :, None] * self.W_hh

    def vjp_vector(self, traj, t, v):
        d = self._derivs(traj, t)  # a new array: scaled in place
        if d.dtype != np.result_type(d, v):
            d = d.astype(np.result_type(d, v))
        d *= v
        return rmatvec(self.W_hh, d)

    def jvp_block(self, traj, t, vectors):
        if self.W_hh.ndim == 2 and vectors.ndim == 2:
            # (Vᵀ Wᵀ)ᵀ: the same GEMM, but the product comes out in Fortran order, which the
            # LAPACK factorisations of Lyapunov and product-spectrum loops take without a copy.
            out = (vectors.T @ self.W_hh.T).T
        else:
            out = np.matmul(self.W_hh, vectors)
        out *= self._derivs(traj, t)[..., :, None]
        return out

    def vjp_block(self, traj, t, vectors):
        return np.matmul(
            np.swapaxes(self.W_hh, -1, -2), self._derivs(traj, t)[..., :, None] * vectors
        )

    def param_grads(self, traj: Trajectory, adjoints) -> dict[str, np.ndarray]:
        r"""Gradients of the parameters from the state adjoints.

        Parameters
        ----------
        traj : Trajectory
            The forward run.
        adjoints : array_like, shape (T+1, [B,] N)
            :math:`\lambda_t = \partial L/\partial h_t`, the total derivative of the loss with
            respect to each state (as returned by :func:`gradflow.jacobians.backprop`).

        Returns
        -------
        dict
            ``"W_hh"``, and ``"W_xh"`` and ``"b"`` where the cell has them, each shaped like the
            parameter; for shared weights and a batch of sequences, summed over the batch (for
            a population, over each network's sequences).
        """
        traj, adjoints = self._check_adjoints(traj, adjoints)
        if traj.n_sequences is not None and (traj.inputs is None or traj.inputs.ndim == 4):
            return self._population_grads(traj, adjoints)
        delta = adjoints[1:] * self._phi.derivative(traj.states[1:])
        P = self.n_networks
        grads = {"W_hh": outer_sum(delta, traj.states[:-1], P)}
        if self.W_xh is not None:
            inputs = traj.inputs
            if inputs is None:
                grads["W_xh"] = np.zeros_like(self.W_xh)
            else:
                grads["W_xh"] = outer_sum(delta, inputs, P)
        if self.b is not None:
            grads["b"] = network_sum(delta, P)
        return grads

    def _population_grads(self, traj, adjoints):
        r""":meth:`param_grads` of a population run, step by step: per step and network, one
        batched GEMM :math:`\delta_t^\top [h_{t-1}, x_t]` over its M sequences, with
        :math:`\delta_t` formed while it is in cache (no ``(T, P, M, N)`` temporaries)."""
        states, inputs, derivative = traj.states, traj.inputs, self._phi.derivative
        grads = {"W_hh": np.zeros_like(self.W_hh)}
        if self.W_xh is not None:
            grads["W_xh"] = np.zeros_like(self.W_xh)
        if self.b is not None:
            grads["b"] = np.zeros_like(self.b)
        part = np.empty_like(self.W_hh)
        part_x = None if inputs is None else np.empty_like(self.W_xh)
        delta = np.empty_like(states[0])  # reused: no allocation (and page faults) per step
        for t in range(1, traj.n_steps + 1):
            derivative(states[t], out=delta)
            delta *= adjoints[t]
            delta_T = np.swapaxes(delta, -1, -2)
            grads["W_hh"] += np.matmul(delta_T, states[t - 1], out=part)
            if part_x is not None:
                grads["W_xh"] += np.matmul(delta_T, inputs[t - 1], out=part_x)
            if self.b is not None:
                grads["b"] += delta.sum(axis=1)
        return grads
