"""The diagnosis figure: one network trained in-package, diagnosed before and after training.

An Elman network on the adding task starts from an exploding Gaussian draw and is trained
without clipping; the same task trained from an orthogonal start under global-norm clipping is
the contrast. :func:`gradflow.diagnose.report` diagnoses each model's recurrent weights and
:func:`gradflow.figures.diagnose_panel` draws the three reports, one panel
each, as ``gradflow diagnose --plot`` does for a user's checkpoint.
"""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from .. import diagnose, train
from .._rng import spawn_seeds
from ._catalogue import register
from ._diagnose_panel import diagnose_panel

__all__ = ["RUNS", "diagnosis"]

#: The three diagnosed models, in panel order: (label, key).
RUNS = (
    ("before training (Gaussian, gain {gain:g})", "before"),
    ("after {updates} updates without clipping", "unclipped"),
    ("orthogonal start, global-norm clipping at {threshold:g}, after {updates} updates", "clipped"),
)


def _numbers(data: pd.DataFrame) -> dict:
    """Each run's verdict, deciding statistic, top exponent, ρ(W_hh) and final loss."""
    out = {}
    for run, part in data.groupby("run", sort=False):
        values = part.set_index("quantity")["value"]
        spectra = part[part["block"] == "W_hh"].set_index("quantity")["value"]
        decided = part[(part["quantity"] == "exponent") & (part["inputs"] == part["decided_by"])]
        out[f"{run}_verdict"] = part["verdict"].iloc[0]
        out[f"{run}_rho"] = spectra["spectral_radius"]
        out[f"{run}_exponent"] = decided["value"].iloc[0]
        out[f"{run}_loss"] = values["final_loss"]
    return out


@register(
    "diagnosis",
    caption=(
        "gradflow diagnose on networks trained in-package: an Elman network (N = {hidden_size}, "
        "tanh) on the adding task (T = {T}, batches of {batch}, Adam at lr = {lr:g}) from a "
        "Gaussian W_hh at gain {gain:g}, diagnosed before training and after {updates} updates "
        "without clipping, and the same task from an orthogonal W_hh under global-norm "
        "clipping at {threshold:g}. Each panel: the eigenvalues of W_hh with the unit circle, "
        "the circular-law disk and the σ_max circle; its singular values against Pascanu's "
        "bound 1/γ; the gradient norm against the lag along zero-input and Gaussian-input "
        "trajectories, with the near-critical cone. Before training: {before_verdict} "
        "(ρ(W_hh) = {before_rho:.2f}, λ₁ = {before_exponent:+.3f} per step, held-out loss "
        "{before_loss:.3f}). Unclipped: {unclipped_verdict} (ρ = {unclipped_rho:.2f}, "
        "λ₁ = {unclipped_exponent:+.3f}, loss {unclipped_loss:.3f}). Orthogonal and clipped: "
        "{clipped_verdict} (ρ = {clipped_rho:.2f}, λ₁ = {clipped_exponent:+.3f}, loss "
        "{clipped_loss:.3f}); the memoryless baseline is 0.167. One draw (rng = {rng}): at "
        "this length whether a run learns depends on the seed."
    ),
    quick={"hidden_size": 8, "updates": 20, "steps": 20},
    numbers=_numbers,
)
def diagnosis(
    *, T=20, hidden_size=64, gain=2.0, threshold=1.0, updates=3000, batch=32, lr=5e-3, steps=50,
    rng=5,
) -> tuple[Figure, pd.DataFrame]:  # fmt: skip
    """Diagnoses of a network before and after training, unclipped, and of a clipped one.

    Returns
    -------
    fig : matplotlib.figure.Figure
    data : pandas.DataFrame
        The reports' tidy frames (:meth:`gradflow.diagnose.Report.to_frame`) with ``run``
        ("before", "unclipped", "clipped"), ``label``, ``decided_by`` (the input kind of
        the verdict) and one extra row per run, ``final_loss`` (held-out batch of 512).
    """
    init_seq, data_seq, eval_seq, diag_seq = spawn_seeds(rng, 4)
    task = train.make_task("adding", T)
    xs, ys = task.sample(512, rng=eval_seq)
    starts = {
        "gaussian": train.init_model(task, hidden_size, init="gaussian", gain=gain, rng=init_seq),
        "orthogonal": train.init_model(task, hidden_size, init="orthogonal", rng=init_seq),
    }
    fit = dict(optimizer="adam", lr=lr, updates=updates, batch=batch, spectral=False,
               progress=False)  # fmt: skip
    models = {
        "before": starts["gaussian"],
        "unclipped": train.fit(task, starts["gaussian"], clip="none", rng=data_seq, **fit).model,
        "clipped": train.fit(task, starts["orthogonal"], clip=f"global:{threshold:g}",
                             rng=data_seq, **fit).model,
    }  # fmt: skip
    names = dict((key, label.format(gain=gain, updates=updates, threshold=threshold))
                 for label, key in RUNS)  # fmt: skip
    reports, frames = [], []
    for run, model in models.items():
        r = diagnose.report(model.cell, steps=steps, inputs="gaussian", rng=diag_seq)
        reports.append(r)
        frame = r.to_frame()
        loss = pd.DataFrame({"layer": [r.layer], "kind": r.kind, "verdict": r.verdict,
                             "block": "", "inputs": "", "quantity": "final_loss",
                             "value": model.loss(xs, ys)})  # fmt: skip
        frames.append(pd.concat([frame, loss], ignore_index=True).assign(
            run=run, label=names[run], decided_by=r.decision.inputs))  # fmt: skip
    fig = diagnose_panel(reports, labels=[names[run] for run in models])
    return fig, pd.concat(frames, ignore_index=True)
