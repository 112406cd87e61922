r"""The single-unit loss surface and gradient descent on it, with and without clipping (layer 4).

Pascanu, Mikolov & Bengio (2013) explain exploding gradients with a one-neuron recurrent model
:math:`x_t = w\,\sigma(x_{t-1}) + b` (:func:`gradflow.tasks.single_unit`). For
:math:`w > 1/\sigma'(x_0)` its loss surface has a *wall*: along :math:`b^*(w) = x_0 -
w\,\sigma(x_0)` the initial state is an unstable fixed point, the loss jumps across the line
and the gradient explodes on its face. A gradient step that lands on the face is thrown far
away; a clipped step is not (their Figure 6).

- :func:`surface`: loss, log loss and gradient norm over a (w, b) grid, vectorised;
- :func:`trajectories`: gradient descent from one start under several clipping rules, applied
  to ``{"w": dL/dw, "b": dL/db}`` with the clippers of :mod:`gradflow.clip`.

The default start, ``DEFAULT_START = (4.6, b*(4.6) − 10⁻³)``, sits on the face of the wall
(:math:`b^*(4.6) = -2.3633`), where the gradient norm is about 314 while it is below 0.5 a
hundredth further down the slope. With ``lr = 0.1`` the unclipped first step has length about
31 and throws the parameters to (21, 24), on a flat shelf (loss 0.09) they never leave; with
global-norm clipping at 1 the step is exactly 0.1 (value clipping at 1: 0.1·√2) and the run
stays within about 0.16 of the start, crossing the wall back and forth, its loss jumping
between about 0.3 and 10⁻³–10⁻² instead of being thrown onto the shelf. Found by scanning
starts b*(w) − δ for w in {4.6, 5}, δ in {10⁻³, 3·10⁻³, 10⁻², 3·10⁻²} and lr in {0.03, 0.1,
0.3}: closer to the threshold w ≈ 4.26 the wall is lower, further from it the face is too thin
to land on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import clip as _clip
from . import tasks as _tasks
from ._validation import as_array, as_float, as_int, renamed

__all__ = ["DEFAULT_START", "Surface", "surface", "trajectories"]

DEFAULT_START = (4.6, float(_tasks.cliff_wall(4.6)) - 1e-3)
_DEFAULT_W = (3.5, 5.5)
_DEFAULT_B = (-3.2, -1.6)


@dataclass(frozen=True, eq=False)
class Surface:
    """The single-unit loss over a grid.

    Attributes
    ----------
    w : ndarray, shape (n_w,)
    b : ndarray, shape (n_b,)
    loss : ndarray, shape (n_b, n_w)
        ``loss[i, j]`` at ``(w[j], b[i])`` (rows along b: ready for ``pcolormesh(w, b, loss)``).
    grad_norm : ndarray, shape (n_b, n_w)
        :math:`\\lVert(\\partial L/\\partial w, \\partial L/\\partial b)\\rVert_2`.
    steps, x0, target
        The single unit's settings.
    """

    w: np.ndarray
    b: np.ndarray
    loss: np.ndarray
    grad_norm: np.ndarray
    steps: int
    x0: float
    target: float

    @property
    def log10_loss(self) -> np.ndarray:
        """``log10(loss)``, with exact zeros floored at the smallest positive float."""
        return np.log10(np.maximum(self.loss, np.finfo(float).tiny))

    def to_frame(self) -> pd.DataFrame:
        """Tidy: one row per grid point, columns ``w``, ``b``, ``loss``, ``log10_loss``,
        ``grad_norm``."""
        ww, bb = np.meshgrid(self.w, self.b)
        return pd.DataFrame(
            {
                "w": ww.ravel(),
                "b": bb.ravel(),
                "loss": self.loss.ravel(),
                "log10_loss": self.log10_loss.ravel(),
                "grad_norm": self.grad_norm.ravel(),
            }
        )


def _axis(values, name, default, n):
    if values is None:
        return np.linspace(*default, as_int(n, f"n_{name}", minimum=2))
    arr = as_array(values, name, ndim=1)
    if arr.size > 1 and not np.all(np.diff(arr) > 0):
        raise ValueError(f"{name}: expected strictly increasing values, got {arr[:4]}...")
    return arr


def surface(w=None, b=None, *, n_w=201, n_b=201, steps=50, x0=0.5, target=0.7) -> Surface:
    """Loss and gradient norm of the single unit on the grid ``w × b``.

    Parameters
    ----------
    w, b : array_like, 1-D, optional
        Increasing grid axes; default ``n_w`` points over [3.5, 5.5] and ``n_b`` over
        [−3.2, −1.6], a window around the start of :func:`trajectories` and the wall.
    n_w, n_b : int, default 201
        Sizes of the default axes (ignored for given axes).
    steps, x0, target
        Passed to :func:`gradflow.tasks.single_unit`.

    Returns
    -------
    Surface

    Notes
    -----
    One vectorised call of :func:`gradflow.tasks.single_unit` on the broadcast grid
    ``(b[:, None], w[None, :])``; the loss is :math:`(\\sigma(x_T) - \\text{target})^2`.

    References
    ----------
    Pascanu, R., Mikolov, T. & Bengio, Y. (2013). On the difficulty of training recurrent
    neural networks. ICML, Figure 6. https://arxiv.org/abs/1211.5063

    Examples
    --------
    >>> s = surface(n_w=5, n_b=3)
    >>> s.loss.shape, s.to_frame().shape
    ((3, 5), (15, 5))
    """
    w_axis = _axis(w, "w", _DEFAULT_W, n_w)
    b_axis = _axis(b, "b", _DEFAULT_B, n_b)
    loss, dw, db = _tasks.single_unit(
        w_axis[None, :], b_axis[:, None], steps=steps, x0=x0, target=target
    )
    return Surface(w_axis, b_axis, loss, np.hypot(dw, db), int(steps), float(x0), float(target))


def _label(rule) -> str:
    return rule if isinstance(rule, str) else repr(rule)


def trajectories(
    rules=("none", "value:1", "global:1"),
    *,
    start=None,
    lr=0.1,
    updates=None,
    steps=50,
    x0=0.5,
    target=0.7,
    n_steps=None,
) -> pd.DataFrame:
    """Gradient descent on the single unit from one start under each clipping rule.

    Parameters
    ----------
    rules : sequence of str or Clipper
        Specs for :func:`gradflow.clip.get` (``"none"``, ``"value:1"``, ``"global:1"``, ...)
        or clippers; each is applied to ``{"w": dL/dw, "b": dL/db}``. ``"global"`` is
        Pascanu's norm clipping; ``"norm"`` would clip each scalar on its own (like value
        clipping).
    start : (float, float), optional
        ``(w0, b0)``; default :data:`DEFAULT_START`, on the face of the wall.
    lr : float, default 0.1
        Step size, > 0.
    updates : int, default 30
        Gradient-descent updates (``n_steps`` is its older alias).
    steps, x0, target
        The single unit's settings (:func:`gradflow.tasks.single_unit`).

    Returns
    -------
    pandas.DataFrame
        One row per (rule, update), update = 0..updates: ``rule`` (the spec or the clipper's
        repr), ``update``, ``w``, ``b``, ``loss``, ``grad_norm`` (raw, at that point) and
        ``update_norm`` (length of the update made from that point; NaN at the last).

    Notes
    -----
    :math:`\\theta_{k+1} = \\theta_k - \\eta\\, \\mathrm{clip}(\\nabla L(\\theta_k))`. With
    global-norm clipping at c, every update from a point with :math:`\\lVert\\nabla L\\rVert > c`
    has length exactly :math:`\\eta c`.

    Examples
    --------
    >>> frame = trajectories(updates=1)
    >>> first = frame[frame["update"] == 0].set_index("rule")["update_norm"]
    >>> float(round(first["none"], 1)), float(round(first["global:1"], 12))
    (31.4, 0.1)
    """
    clippers = [(_label(r), _clip.get(r)) for r in rules]
    if not clippers:
        raise ValueError("rules: expected at least one rule, got none")
    labels = [label for label, _ in clippers]
    if len(set(labels)) != len(labels):
        raise ValueError(f"rules: expected distinct rules, got {labels}")
    if start is None:
        start = DEFAULT_START
    start = as_array(start, "start", ndim=1)
    if start.shape != (2,):
        raise ValueError(f"start: expected (w0, b0), got shape {start.shape}")
    lr = as_float(lr, "lr", positive=True)
    n_steps = as_int(renamed(updates, n_steps, "updates", "n_steps", default=30), "updates",
                     minimum=0)  # fmt: skip
    kwargs = {"steps": steps, "x0": x0, "target": target}
    frames = []
    for label, clipper in clippers:
        w, b = float(start[0]), float(start[1])
        rows = []
        for k in range(n_steps + 1):
            loss, dw, db = _tasks.single_unit(w, b, **kwargs)
            row = [label, k, w, b, float(loss), float(np.hypot(dw, db)), np.nan]
            if k < n_steps:
                clipped, _ = clipper({"w": dw, "b": db})
                w_new = w - lr * float(clipped["w"])
                b_new = b - lr * float(clipped["b"])
                row[-1] = float(np.hypot(w_new - w, b_new - b))
                w, b = w_new, b_new
            rows.append(row)
        frames.append(rows)
    columns = ["rule", "update", "w", "b", "loss", "grad_norm", "update_norm"]
    return pd.DataFrame([row for rows in frames for row in rows], columns=columns)
