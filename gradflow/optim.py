r"""First-order optimisers for parameter dicts (layer 4): SGD, momentum and Adam.

An optimiser is a small frozen object with two pure methods, as in optax:

- ``state = opt.init(params)``;
- ``updates, state = opt.update(grads, state)``, then ``params = apply_updates(params, updates)``.

``params``, ``grads`` and ``updates`` are dicts name -> array (the unit that
:mod:`gradflow.clip` acts on, so a clipper sits between the gradient and ``update``), float64
or float32: the moments are kept in each parameter's dtype and the updates come out in it, so
a float32 model trains in float32 throughout. Nothing is modified in place: ``update`` returns
new arrays and a new state. The formulas and defaults are PyTorch's (``torch.optim.SGD`` with
``dampening=0`` and ``torch.optim.Adam``), so a run matches PyTorch step for step on the same
gradients.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from ._validation import as_choice, as_float, renamed

__all__ = [
    "OPTIMIZERS",
    "OptState",
    "Optimizer",
    "adam",
    "apply_updates",
    "get",
    "momentum",
    "sgd",
]

OPTIMIZERS = ("sgd", "momentum", "adam")


@dataclass(frozen=True, eq=False)
class OptState:
    """The state of an optimiser between steps.

    Attributes
    ----------
    count : int or ndarray of int
        Number of updates made so far; an array ``(P,)`` for a population of P networks
        stacked on the leading axis of every parameter, each with its own count (Adam's
        bias corrections then differ network by network).
    mu : mapping of str to ndarray
        First moments (momentum buffers, Adam's m), each in its parameter's dtype; empty for
        plain SGD.
    nu : mapping of str to ndarray
        Second moments (Adam's v), likewise; empty otherwise.
    """

    count: int | np.ndarray
    mu: Mapping[str, np.ndarray]
    nu: Mapping[str, np.ndarray]


def _dtype(value) -> np.dtype:
    """The working dtype of a parameter: float32 stays float32, anything else is float64."""
    dtype = np.asarray(value).dtype
    return dtype if dtype == np.float32 else np.dtype(np.float64)


def _zeros(params) -> Mapping[str, np.ndarray]:
    return MappingProxyType({k: np.zeros_like(v, dtype=_dtype(v)) for k, v in params.items()})


@dataclass(frozen=True)
class Optimizer:
    """A first-order optimiser; build it with :func:`sgd`, :func:`momentum` or :func:`adam`.

    Attributes
    ----------
    name : {"sgd", "momentum", "adam"}
    lr : float
        Learning rate, > 0.
    beta1 : float
        Momentum coefficient (momentum) or first-moment decay (Adam); 0 for SGD.
    beta2 : float
        Second-moment decay (Adam only; 0 otherwise).
    eps : float
        Adam's denominator offset (0 otherwise).
    nesterov : bool
        Nesterov momentum (momentum only).
    """

    name: str
    lr: float
    beta1: float = 0.0
    beta2: float = 0.0
    eps: float = 0.0
    nesterov: bool = False

    def __post_init__(self):
        as_choice(self.name, "optimizer", OPTIMIZERS)
        object.__setattr__(self, "lr", as_float(self.lr, "lr", positive=True))
        for field_name in ("beta1", "beta2"):
            value = as_float(getattr(self, field_name), field_name, low=0.0)
            if value >= 1.0:
                raise ValueError(f"{field_name}: expected a number in [0, 1), got {value:g}")
            object.__setattr__(self, field_name, value)
        object.__setattr__(self, "eps", as_float(self.eps, "eps", nonnegative=True))

    def init(self, params) -> OptState:
        """The initial state for ``params`` (dict name -> array): zero moments, count 0.

        The moments take each parameter's dtype (float32 for a float32 array, else float64).
        """
        if not isinstance(params, Mapping):
            raise TypeError(f"params: expected a dict mapping names to arrays, got {type(params)}")
        empty = MappingProxyType({})
        mu = _zeros(params) if self.name != "sgd" else empty
        nu = _zeros(params) if self.name == "adam" else empty
        return OptState(0, mu, nu)

    def update(self, grads, state: OptState):
        """One step: ``(updates, new_state)``; add ``updates`` to the parameters.

        ``grads`` must have the keys of the state (for SGD, any keys); arrays are not checked
        again here (the trainer checks once), so pass arrays of the parameter shapes and
        dtypes (float64 or float32). The updates and the new moments are in the dtype of the
        moments (for SGD, of the gradients): a float32 step does float32 arithmetic, with
        Adam's bias corrections rounded to float32 once per step.
        """
        count = state.count + 1
        lr = self.lr
        if self.name == "sgd":
            updates = {k: -lr * g for k, g in grads.items()}
            return updates, OptState(count, state.mu, state.nu)
        if self.name == "momentum":
            beta = self.beta1
            mu = {k: beta * state.mu[k] + g for k, g in grads.items()}
            if self.nesterov:
                updates = {k: -lr * (g + beta * mu[k]) for k, g in grads.items()}
            else:
                updates = {k: -lr * m for k, m in mu.items()}
            return updates, OptState(count, MappingProxyType(mu), state.nu)
        b1, b2 = self.beta1, self.beta2
        step_size = lr / (1.0 - b1**count)
        root_correction = np.sqrt(1.0 - b2**count)
        mu, nu, updates = {}, {}, {}
        for k, g in grads.items():
            step_size_k, root_k = step_size, root_correction
            if np.ndim(count):  # per network: (P,) factors, broadcast over each parameter
                shape = (-1,) + (1,) * (g.ndim - 1)
                step_size_k, root_k = step_size.reshape(shape), root_correction.reshape(shape)
            dtype = state.mu[k].dtype
            if dtype != np.float64:  # float64 factors would promote (or upcast the loops)
                step_size_k, root_k = np.asarray(step_size_k, dtype), np.asarray(root_k, dtype)
            m = state.mu[k] * b1
            m += (1.0 - b1) * g
            v = state.nu[k] * b2
            v += (1.0 - b2) * (g * g)
            denom = np.sqrt(v)
            denom /= root_k
            denom += self.eps
            mu[k], nu[k] = m, v
            updates[k] = (-step_size_k) * m / denom
        return updates, OptState(count, MappingProxyType(mu), MappingProxyType(nu))


def apply_updates(params, updates) -> dict[str, np.ndarray]:
    """``params + updates`` key by key (new arrays).

    Examples
    --------
    >>> apply_updates({"w": np.array([1.0, 2.0])}, {"w": np.array([0.5, -0.5])})["w"]
    array([1.5, 1.5])
    """
    return {k: params[k] + updates[k] for k in params}


def sgd(lr) -> Optimizer:
    r"""Plain stochastic gradient descent: :math:`\theta \leftarrow \theta - \eta g`.

    Parameters
    ----------
    lr : float
        Learning rate :math:`\eta`, > 0.

    Examples
    --------
    >>> opt = sgd(0.1)
    >>> updates, state = opt.update({"w": np.array([2.0])}, opt.init({"w": np.zeros(1)}))
    >>> updates["w"]
    array([-0.2])
    """
    return Optimizer("sgd", lr)


def momentum(lr, beta=0.9, *, nesterov=False) -> Optimizer:
    r"""Heavy-ball momentum (PyTorch's ``SGD(momentum=beta, dampening=0)``).

    Parameters
    ----------
    lr : float
        Learning rate :math:`\eta`, > 0.
    beta : float, default 0.9
        Momentum coefficient in [0, 1).
    nesterov : bool, default False
        Use Nesterov's variant.

    Notes
    -----
    :math:`v_t = \beta v_{t-1} + g_t` (with :math:`v_0 = 0`), :math:`\theta_t = \theta_{t-1} -
    \eta v_t`; Nesterov: :math:`\theta_t = \theta_{t-1} - \eta (g_t + \beta v_t)`.

    References
    ----------
    Polyak, B. T. (1964). Some methods of speeding up the convergence of iteration methods.
    Sutskever, I., Martens, J., Dahl, G. & Hinton, G. (2013). On the importance of
    initialization and momentum in deep learning. ICML.

    Examples
    --------
    >>> opt = momentum(0.1, beta=0.5)
    >>> state = opt.init({"w": np.zeros(1)})
    >>> for _ in range(2):
    ...     updates, state = opt.update({"w": np.array([1.0])}, state)
    >>> updates["w"]  # -0.1 * (0.5 * 1 + 1)
    array([-0.15])
    """
    return Optimizer("momentum", lr, beta1=beta, nesterov=bool(nesterov))


def adam(lr, beta1=None, beta2=None, eps=1e-8, *, b1=None, b2=None) -> Optimizer:
    r"""Adam (Kingma & Ba 2015), with PyTorch's placement of ``eps``.

    Parameters
    ----------
    lr : float
        Step size :math:`\alpha`, > 0.
    beta1, beta2 : float, default 0.9, 0.999
        Decay rates of the first and second moment estimates, in [0, 1) (the
        :class:`Optimizer` fields of the same names; ``b1`` and ``b2`` are their older aliases).
    eps : float, default 1e-8
        Added to the bias-corrected root second moment.

    Notes
    -----
    :math:`m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t`,
    :math:`v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2`,
    :math:`\theta_t = \theta_{t-1} - \alpha\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)` with
    :math:`\hat m_t = m_t/(1-\beta_1^t)`, :math:`\hat v_t = v_t/(1-\beta_2^t)`: Algorithm 1 of
    the paper, and ``torch.optim.Adam``. The first step moves every entry by about
    :math:`\alpha` whatever the gradient's scale, which is why clipping a global norm changes
    Adam's first steps little.

    References
    ----------
    Kingma, D. P. & Ba, J. (2015). Adam: A method for stochastic optimization. ICLR.
    https://arxiv.org/abs/1412.6980

    Examples
    --------
    >>> opt = adam(0.01)
    >>> updates, state = opt.update({"w": np.array([300.0, -1e-3])}, opt.init({"w": np.zeros(2)}))
    >>> updates["w"].round(6)
    array([-0.01,  0.01])
    """
    beta1 = renamed(beta1, b1, "beta1", "b1", default=0.9)
    beta2 = renamed(beta2, b2, "beta2", "b2", default=0.999)
    return Optimizer("adam", lr, beta1=beta1, beta2=beta2, eps=eps)


def get(optimizer, lr=None) -> Optimizer:
    """An optimiser by name (``"sgd"``, ``"momentum"``, ``"adam"``) and learning rate.

    An :class:`Optimizer` is returned as it is (then ``lr`` must be None: it has its own).

    Examples
    --------
    >>> get("adam", 1e-3)
    Optimizer(name='adam', lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08, nesterov=False)
    """
    if isinstance(optimizer, Optimizer):
        if lr is not None:
            raise ValueError(
                f"lr: the optimizer {optimizer.name!r} has its own lr={optimizer.lr:g}; "
                "pass lr=None"
            )
        return optimizer
    if not isinstance(optimizer, str):
        raise TypeError(
            f"optimizer: expected one of {', '.join(OPTIMIZERS)} or an Optimizer, "
            f"got {type(optimizer).__name__}"
        )
    as_choice(optimizer, "optimizer", OPTIMIZERS)
    if lr is None:
        raise ValueError(f"lr: expected a learning rate > 0 for optimizer {optimizer!r}, got None")
    return {"sgd": sgd, "momentum": momentum, "adam": adam}[optimizer](lr)
