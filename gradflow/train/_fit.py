"""fit: BPTT training with clipping, recorded step by step; PCA of the parameter path."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import clip as _clip
from .. import optim as _optim
from .. import spectral as _spectral_mod
from .._rng import as_generator
from .._validation import NonFiniteError, as_array, as_int, renamed
from ._model import Model
from ._task import make_task

__all__ = ["COLUMNS", "History", "fit", "pca_path", "project_paths"]

COLUMNS = (
    "update", "loss", "grad_norm", "grad_norm_clipped", "update_norm", "cosine",
    "entries_clipped", "clipped", "nonfinite", "skipped", "spectral_radius", "sigma_max",
)  # fmt: skip


@dataclass(frozen=True, eq=False)
class History:
    """The record of one :func:`fit` run.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per recorded update: ``update`` (updates made before it), ``loss`` (on that
        update's batch, before it is applied), ``grad_norm`` (raw global norm),
        ``grad_norm_clipped``,
        ``update_norm`` (global norm of the parameter change; 0 on a skipped step), ``cosine``
        (raw vs clipped gradient), ``entries_clipped`` (fraction of gradient entries at the
        bound), ``clipped``, ``nonfinite`` (gradient
        or loss NaN/inf), ``skipped`` (no update made), ``spectral_radius`` and ``sigma_max`` of
        the recurrent weights before the update (NaN when not computed): of ``W_hh`` for an
        Elman cell, the largest over the gate blocks (``cell.recurrent_blocks``) otherwise.
    snapshot_updates : ndarray of int, shape (S,)
        Updates at which parameters were kept (before that update; the last is the end).
        ``snapshot_steps`` is its older alias.
    snapshots : ndarray, shape (S, P)
        The parameters flattened in the order of ``model.params``, in the model's dtype
        (float32 snapshots of a float32 model hold its parameters exactly).
    model : Model
        The final model (the last finite parameters).
    status : {"completed", "nonfinite_params"}
        ``"nonfinite_params"``: an update made a parameter NaN/inf and the run stopped there.
    path : pandas.DataFrame
        The snapshots projected on their first two principal components (``update``, ``pc1``,
        ``pc2``); see :func:`pca_path`.
    explained_variance : ndarray, shape (2,)
        Fraction of the path's variance along ``pc1`` and ``pc2``.
    n_skipped : int
        Steps without an update, recorded or not.
    n_nonfinite_loss : int
        Steps whose loss was NaN/inf, recorded or not.
    """

    frame: pd.DataFrame
    snapshot_updates: np.ndarray
    snapshots: np.ndarray
    model: Model
    status: str
    path: pd.DataFrame
    explained_variance: np.ndarray
    n_skipped: int = 0
    n_nonfinite_loss: int = 0

    @property
    def snapshot_steps(self) -> np.ndarray:
        """Older alias of ``snapshot_updates``."""
        return self.snapshot_updates

    @property
    def diverged(self) -> bool:
        """A loss was NaN/inf, or the parameters became non-finite."""
        return self.status != "completed" or self.n_nonfinite_loss > 0

    def params_at(self, index: int) -> dict[str, np.ndarray]:
        """Snapshot ``index`` as a parameter dict."""
        flat, out, start = self.snapshots[index], {}, 0
        for name, value in self.model.params.items():
            out[name] = flat[start : start + value.size].reshape(value.shape)
            start += value.size
        return out


def _flatten(params) -> np.ndarray:
    return np.concatenate([v.reshape(-1) for v in params.values()])


def record_row(step, loss, info, update_norm, stopped, radius, sigma) -> tuple:
    """One row of a run's frame (:data:`COLUMNS`) from a step's loss, ClipInfo and update."""
    return (
        step, loss, info.norm, info.norm_after, update_norm, info.cosine, info.entries_clipped,
        info.clipped, info.nonfinite or not np.isfinite(loss), bool(info.skip or stopped),
        radius, sigma,
    )  # fmt: skip


def _progress(updates: range, show: bool, desc: str):
    """The update loop, with a tqdm bar only when asked for: ``tqdm.auto`` in a notebook
    without ipywidgets warns even for a disabled bar, so none is made then."""
    if not show:
        return updates
    from tqdm.auto import tqdm

    return tqdm(updates, desc=desc, leave=False)


def _spectral(cell) -> tuple[float, float]:
    """The largest spectral radius and σ_max over the cell's recurrent blocks (one for Elman)."""
    blocks = cell.recurrent_blocks.values()
    return (
        max(float(_spectral_mod.spectral_radius(W)) for W in blocks),
        max(float(_spectral_mod.spectral_norm(W)) for W in blocks),
    )


def fit(
    task,
    model,
    *,
    clip="none",
    optimizer="adam",
    lr=None,
    updates=None,
    batch,
    rng=None,
    T=None,
    record_every=1,
    snapshot_every=None,
    spectral=True,
    progress=True,
    steps=None,
) -> History:
    """Train ``model`` on ``task`` by BPTT: gradient, clip, optimiser step, record.

    Parameters
    ----------
    task : Task, str or callable
        See :func:`make_task` (a name or callable needs ``T``).
    model : Model
        The starting point (not modified). A float32 model (``init_model(..., dtype=
        np.float32)``) trains in float32 end to end: gradients, clipping, the optimiser's
        moments and updates.
    clip : str or Clipper, default "none"
        A clipper or a spec for :func:`gradflow.clip.get` (``"global:1"``, ...); its
        ``nonfinite`` policy decides what a NaN/inf gradient does (``"skip"``: no update).
    optimizer : str or Optimizer, default "adam"
        ``"sgd"``, ``"momentum"``, ``"adam"`` (with ``lr``) or a
        :class:`gradflow.optim.Optimizer`.
    lr : float
        Learning rate, > 0 (None with an Optimizer instance).
    updates : int
        Number of optimiser updates (``steps`` is its older alias).
    batch : int
        Sequences per batch.
    rng : int, Generator or None
        Draws the batches, in order.
    T : int, optional
        Sequence length for a named or callable task.
    record_every : int, default 1
        Record every this many updates (and the last).
    snapshot_every : int, optional
        Keep the parameters every this many updates (default: about 100 snapshots).
    spectral : bool, default True
        Compute the spectral radius and σ_max of the recurrent weights at recorded steps
        (an O(N³) cost per block).
    progress : bool, default True
        Show a tqdm progress bar.

    Returns
    -------
    History

    Notes
    -----
    Step k: draw a batch, compute ``(loss, g)`` at θ_k, clip g to ĝ, then
    ``updates = optimizer(ĝ)`` and θ_{k+1} = θ_k + updates (Pascanu et al. 2013, Algorithm 1,
    for the global-norm rule). A forward run that overflows counts as a non-finite loss and
    gradient. If θ_{k+1} is not finite the run stops with ``status="nonfinite_params"``.

    Examples
    --------
    >>> from gradflow.train import fit, init_model
    >>> model = init_model("adding", 8, rng=0)
    >>> history = fit("adding", model, T=10, clip="global:1", lr=1e-2, updates=5, batch=4,
    ...               rng=1, progress=False)
    >>> history.frame.shape[0], history.status, history.snapshot_updates.tolist()[-1]
    (5, 'completed', 5)
    """
    spec = make_task(task, T)
    if not isinstance(model, Model):
        raise TypeError(f"model: expected a gradflow.train.Model, got {type(model).__name__}")
    clipper = _clip.get(clip)
    opt = _optim.get(optimizer, lr)
    steps = as_int(renamed(updates, steps, "updates", "steps"), "updates", minimum=1)
    batch = as_int(batch, "batch", minimum=1)
    record_every = as_int(record_every, "record_every", minimum=1)
    snapshot_every = (
        max(1, steps // 100)
        if snapshot_every is None
        else as_int(snapshot_every, "snapshot_every", minimum=1)
    )
    gen = as_generator(rng)
    adaptive = clipper.name == "adaptive"
    params = model.params
    state = opt.init(params)
    rows, snap_steps, snaps = [], [], []
    n_skipped = n_nonfinite_loss = 0
    status, step = "completed", 0
    for step in _progress(range(steps), progress, f"fit {clipper!r}"):
        if step % snapshot_every == 0:
            snap_steps.append(step)
            snaps.append(_flatten(params))
        record = step % record_every == 0 or step == steps - 1
        radius, sigma = _spectral(model.cell) if spectral and record else (np.nan, np.nan)
        xs, ys = spec.sample(batch, gen)
        try:
            loss, grads = model.value_and_grad(xs, ys)
        except NonFiniteError:
            loss = np.inf
            grads = {k: np.full(v.shape, np.nan, v.dtype) for k, v in params.items()}
        clipped, info = clipper(grads, params if adaptive else None)
        update_norm = 0.0
        if not info.skip:
            with np.errstate(over="ignore", invalid="ignore"):  # checked just below
                updates, state = opt.update(clipped, state)
                new = _optim.apply_updates(params, updates)
            update_norm = _clip.global_norm(updates)
            if not all(np.isfinite(v).all() for v in new.values()):
                status = "nonfinite_params"
            else:
                params = new
                model = model.with_params(params)
        n_skipped += bool(info.skip or status != "completed")
        n_nonfinite_loss += not np.isfinite(loss)
        if record or status != "completed":
            if spectral and not record:  # stopped: the model is still the one of this step
                radius, sigma = _spectral(model.cell)
            rows.append(record_row(step, loss, info, update_norm, status != "completed",
                                   radius, sigma))  # fmt: skip
        if status != "completed":
            break
    final_step = step + 1 if status == "completed" else step
    if snap_steps[-1] != final_step:
        snap_steps.append(final_step)
        snaps.append(_flatten(params))
    snapshots = np.stack(snaps)
    snapshot_updates = np.asarray(snap_steps)
    coords, explained = pca_path(snapshots)
    path = pd.DataFrame({"update": snapshot_updates, "pc1": coords[:, 0], "pc2": coords[:, 1]})
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return History(
        frame, snapshot_updates, snapshots, model, status, path, explained,
        n_skipped, n_nonfinite_loss,
    )  # fmt: skip


def pca_path(snapshots, n_components=2):
    """Project a path of parameter vectors on its principal components.

    Parameters
    ----------
    snapshots : array_like, shape (S, P)
        One flattened parameter vector per row, in order along the path.
    n_components : int, default 2

    Returns
    -------
    coords : ndarray, shape (S, n_components)
        Coordinates of the centred snapshots along the leading right singular vectors (the
        sign fixed so the last snapshot has a non-negative coordinate); zero columns where the
        path has fewer directions.
    explained : ndarray, shape (n_components,)
        Fraction of the total variance along each component (0 for a path that never moves).

    Notes
    -----
    X − mean = U Σ Vᵀ (``numpy.linalg.svd``); coords = UΣ, explained_i = σ_i² / Σ_j σ_j².
    Li et al. (2018) use this projection to draw optimisation paths on loss landscapes.

    References
    ----------
    Li, H., Xu, Z., Taylor, G., Studer, C. & Goldstein, T. (2018). Visualizing the loss
    landscape of neural nets. NeurIPS.

    Examples
    --------
    >>> t = np.linspace(0, 1, 5)
    >>> coords, explained = pca_path(np.stack([t, 2 * t, 0 * t], axis=1))
    >>> explained.round(6).tolist(), coords[:, 1].round(12).tolist()
    ([1.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0])
    """
    X = as_array(snapshots, "snapshots", ndim=2)
    n_components = as_int(n_components, "n_components", minimum=1)
    centred = X - X.mean(axis=0)
    scale = float(np.max(np.abs(centred))) if centred.size else 0.0
    coords = np.zeros((X.shape[0], n_components))
    explained = np.zeros(n_components)
    if scale > 0 and np.isfinite(scale):  # scaled so squares neither overflow nor underflow
        u, sv, _ = np.linalg.svd(centred / scale, full_matrices=False)
        m = min(n_components, sv.size)
        coords[:, :m] = u[:, :m] * (sv[:m] * scale)
        explained[:m] = sv[:m] ** 2 / np.sum(sv**2)
        coords *= np.where(coords[-1] < 0, -1.0, 1.0)
    return coords, explained


def project_paths(histories, n_components=2):
    """Project several runs' parameter paths on one common set of principal components.

    Parameters
    ----------
    histories : mapping of label to History
        Runs of the same model shape (e.g. one per clipping rule from one start).
    n_components : int, default 2

    Returns
    -------
    frame : pandas.DataFrame
        ``label``, ``update``, ``pc1``, ... one row per snapshot of each run.
    explained : ndarray, shape (n_components,)
        Variance fractions of the pooled snapshots.

    Examples
    --------
    >>> from gradflow.train import fit, init_model
    >>> model = init_model("adding", 4, rng=0)
    >>> runs = {rule: fit("adding", model, T=5, clip=rule, lr=0.1, updates=3, batch=2, rng=0,
    ...                   spectral=False, progress=False) for rule in ("none", "value:0.01")}
    >>> frame, explained = project_paths(runs)
    >>> frame.groupby("label").size().to_dict()
    {'none': 4, 'value:0.01': 4}
    >>> bool(np.isclose(*frame[frame["update"] == 0].pc1))  # one start, one point
    True
    """
    if not isinstance(histories, Mapping) or not histories:
        raise TypeError("histories: expected a non-empty dict mapping labels to History objects")
    for label, h in histories.items():
        if not isinstance(h, History):
            raise TypeError(f"histories[{label!r}]: expected a History, got {type(h).__name__}")
    sizes = {h.snapshots.shape[1] for h in histories.values()}
    if len(sizes) != 1:
        raise ValueError(f"histories: expected runs of one model shape, got sizes {sorted(sizes)}")
    coords, explained = pca_path(np.vstack([h.snapshots for h in histories.values()]), n_components)
    labels = np.concatenate([[str(k)] * len(h.snapshot_updates) for k, h in histories.items()])
    frame = pd.DataFrame({"label": labels})
    frame["update"] = np.concatenate([h.snapshot_updates for h in histories.values()])
    for i in range(coords.shape[1]):
        frame[f"pc{i + 1}"] = coords[:, i]
    return frame, explained
