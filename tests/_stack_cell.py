"""A minimal cell whose step Jacobians are given, for the tests of layer 3."""

import numpy as np

from gradflow.cells import Cell, Trajectory


class StackCell(Cell):
    """J_t = jacobians[t-1], ``(T, [B,] S, S)``: products of different matrices at every step.

    Products of *different* i.i.d. matrices (Fuss–Catalan, Newman) need this: an Elman cell
    repeats one W.
    """

    def __init__(self, jacobians):
        self.jacobians = np.asarray(jacobians, dtype=float)
        self.state_size = self.hidden_size = self.jacobians.shape[-1]
        self.n_networks = self.jacobians.shape[1] if self.jacobians.ndim == 4 else None

    def trajectory(self):
        lead = () if self.n_networks is None else (self.n_networks,)
        return Trajectory(np.zeros((len(self.jacobians) + 1, *lead, self.state_size)))

    def _dense_jacobian(self, traj, t):
        return self.jacobians[t - 1]

    def jvp_block(self, traj, t, vectors):
        return self.jacobians[t - 1] @ vectors

    def vjp_block(self, traj, t, vectors):
        return np.swapaxes(self.jacobians[t - 1], -1, -2) @ vectors

    # Not a trainable cell: the rest of the interface is not needed by the products.
    def run(self, xs, h0=None):
        raise NotImplementedError

    params = recurrent_blocks = property(lambda self: {})

    def with_params(self, params):
        raise NotImplementedError

    def param_grads(self, traj, adjoints):
        raise NotImplementedError
