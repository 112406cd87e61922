"""The h-only view of an LSTM (:meth:`LSTM.h_only <gradflow.cells.LSTM.h_only>`).

Importable as ``gradflow.cells.lstm.LSTMHiddenView``; tested in ``tests/test_lstm.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .._validation import as_array
from ._base import Cell, Trajectory
from ._lstm_steps import check_cache, gate_adjoint, gate_means, pull, push

if TYPE_CHECKING:
    from .lstm import LSTM

__all__ = ["LSTMHiddenView"]


class LSTMHiddenView(Cell):
    r"""An LSTM seen through h alone: :math:`J^h_t = \partial h_t/\partial h_{t-1}` at fixed c.

    Made by :meth:`LSTM.h_only`. Its state is :math:`h_t` (size N) and its Jacobian the
    top-left block of the LSTM's,

    .. math:: J^h_t = D^o W_{ho} + K (D^i W_{hi} + D^f W_{hf} + D^g W_{hg}),

    the Jacobian that published LSTM Lyapunov codes use. It takes the LSTM's own trajectories
    (:meth:`check_trajectory` returns a derived one whose ``states`` are the h part, a view,
    and whose cache is the LSTM's), so :func:`gradflow.lyapunov.along`,
    :func:`gradflow.jacobians.log_gradient_norms` and
    :func:`gradflow.jacobians.product_singular_values` work on it unchanged.

    It is not the Jacobian of the dynamics: with :math:`c_{t-1}` held fixed, every path through
    the cell state of earlier steps is dropped (the memory :math:`\partial c_t/\partial c_{t-1}
    = \operatorname{diag}(f)`, and :math:`h_{t-2} \to c_{t-1} \to h_t`), so products of
    :math:`J^h_t` are not chain-rule gradients and their spectrum is not the LSTM's Lyapunov
    spectrum (an LSTM with zero weights keeps N full-state exponents at :math:`\ln\sigma(b_f)`,
    while its h-only exponents are all :math:`-\infty`). No parameter gradients are defined.
    """

    def __init__(self, lstm: LSTM):
        self.lstm = lstm
        self.W_hh, self.W_xh, self.b = lstm.W_hh, lstm.W_xh, lstm.b
        self.hidden_size = self.state_size = lstm.hidden_size
        self.input_size, self.n_networks, self.dtype = lstm.input_size, lstm.n_networks, lstm.dtype

    @property
    def params(self) -> dict[str, np.ndarray]:
        """The LSTM's trainable arrays."""
        return self.lstm.params

    def with_params(self, params) -> LSTMHiddenView:
        """The h-only view of the LSTM with the arrays of ``params``."""
        return self.lstm.with_params(params).h_only()

    @property
    def recurrent_blocks(self) -> dict[str, np.ndarray]:
        """The LSTM's gate blocks ``W_hi``, ``W_hf``, ``W_hg``, ``W_ho``."""
        return self.lstm.recurrent_blocks

    def step_summary(self, traj) -> dict[str, np.ndarray]:
        """The LSTM's gate means, ``(T, [B])``."""
        return gate_means(self.check_trajectory(traj).cache)

    def param_grads(self, traj, adjoints):
        """Not defined: h-only adjoints hold c fixed, so they are not gradients of a loss."""
        raise TypeError(
            "cell: the h-only view of an LSTM has no parameter gradients; call param_grads on "
            "the LSTM with full-state adjoints"
        )

    def run(self, xs, h0=None) -> Trajectory:
        """Run the LSTM and return the h view; ``h0`` is ``[h_0, c_0]`` (2N) or h_0 (N, c_0 = 0)."""
        n = self.hidden_size
        if h0 is not None:
            h0 = as_array(h0, "h0", ndim=(1, 2), dtype=self.dtype)
            if h0.shape[-1] == n:
                h0 = np.concatenate([h0, np.zeros_like(h0)], axis=-1)
        return self.check_trajectory(self.lstm.run(xs, h0))

    def check_trajectory(self, traj) -> Trajectory:
        """The h view (``states[..., :N]``, the LSTM's cache) of a run of the LSTM, or ``traj``
        itself if it is one already; else raise."""
        n = self.hidden_size
        if isinstance(traj, Trajectory) and traj.state_size == 2 * n:
            traj = Trajectory(traj.states[..., :n], traj.inputs, traj.cache)
        traj = super().check_trajectory(traj)
        if traj.n_sequences is not None:
            raise ValueError(
                f"traj: the h-only view of an LSTM takes one sequence per network, got a "
                f"population run of {traj.n_sequences} sequences each (states "
                f"{traj.states.shape}); backpropagate through the LSTM itself"
            )
        check_cache(traj, n)
        return traj

    def _dense_jacobian(self, traj, t):
        n = self.hidden_size
        return self.lstm._dense_jacobian(traj, t)[..., :n, :n].copy()

    def jvp_block(self, traj, t, vectors):
        return push(self.W_hh, traj.cache, t, vectors)

    def vjp_block(self, traj, t, vectors):
        cache = traj.cache
        delta, _ = gate_adjoint(cache["dgates"][t - 1], cache["kappa"][t - 1], vectors)
        return np.matmul(np.swapaxes(self.W_hh, -1, -2), delta)

    def vjp_vector(self, traj, t, v):
        cache = traj.cache
        delta = cache["dgates"][t - 1].reshape(*v.shape[:-1], 4, self.hidden_size) * v[..., None, :]
        delta[..., :3, :] *= cache["kappa"][t - 1][..., None, :]
        flat = delta.reshape(*v.shape[:-1], 4 * self.hidden_size)
        return pull(self.W_hh, flat, np.empty(v.shape, delta.dtype))
