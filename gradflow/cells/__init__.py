"""Recurrent cells (layer 2): run a sequence, form Jacobians, VJPs and parameter gradients.

Every cell follows the interface of :class:`Cell`: ``run(xs, h0=None) -> Trajectory``,
``jacobian(traj, t)`` (∂s_t/∂s_{t-1}), ``iter_jacobians(traj)``, ``vjp(traj, t, v)``,
``jvp(traj, t, vectors)`` and ``param_grads(traj, adjoints)``.
"""

from .._activations import NAMES as ACTIVATIONS
from ._base import Cell, Trajectory, check_run
from ._factory import GATES, KINDS, STATE_BLOCKS, build, check_kind, initial_params, kind_of
from .elman import Elman
from .gru import GRU
from .lstm import LSTM

__all__ = [
    "ACTIVATIONS",
    "GATES",
    "GRU",
    "KINDS",
    "LSTM",
    "STATE_BLOCKS",
    "Cell",
    "Elman",
    "Trajectory",
    "build",
    "check_kind",
    "check_run",
    "initial_params",
    "kind_of",
]
