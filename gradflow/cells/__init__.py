"""Recurrent cells (layer 2): run a sequence, form Jacobians, VJPs and parameter gradients.

Every cell follows the interface of :class:`Cell`: ``run(xs, h0=None) -> Trajectory``,
``jacobian(traj, t)`` (∂s_t/∂s_{t-1}), ``iter_jacobians(traj)``, ``vjp(traj, t, v)``,
``jvp(traj, t, vectors)`` and ``param_grads(traj, adjoints)``.
"""

from .._activations import NAMES as ACTIVATIONS
from ._base import Cell, Trajectory, check_run
from .elman import Elman

__all__ = ["ACTIVATIONS", "Cell", "Elman", "Trajectory", "check_run"]
