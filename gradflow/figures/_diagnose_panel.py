"""One figure of one or more :class:`gradflow.diagnose.Report`: what ``gradflow diagnose --plot``
writes (not a catalogue figure: it draws the user's weights, not a fixed experiment).

Each report gets a panel (a subfigure), stacked top to bottom: the eigenvalues of every
recurrent block (one plane each: unit circle, circular-law disk of the block's entry scale,
σ_max circle), the singular values of all blocks against Pascanu's bounds, and the measured
gradient norm against the lag for each input kind over the verdict's near-critical cone, with
the long-run exponents dashed. The title states the verdict and the numbers behind it.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from ..diagnose import Report
from ..plot import eigenvalues, style_context
from ..plot import palette as _palette
from ..plot.diagnose import gradient_forecast, singular_values

__all__ = ["diagnose_panel"]

_WIDTH = 12.5  # inches
_ROW = {"elman": 3.9, "gated": 6.9}


def _title(report: Report, label: str) -> str:
    d = report.decision
    dims = f"N = {report.hidden_size}" + (f", {report.activation}" if report.activation else "")
    return (
        f"{label} ({report.kind}, {dims}): {d.verdict}, rate {d.rate:+.3g}/step and "
        f"λ₁ {d.exponent:+.3g}/step against ±{d.threshold:g} ({d.inputs} input, "
        f"T = {report.steps})"
    )


def _axes(subfig, n_blocks: int):
    """(eigenvalue axes per block, singular-value axes, growth axes)."""
    if n_blocks == 1:
        axes = subfig.subplots(1, 3, gridspec_kw={"width_ratios": [1.0, 1.1, 1.5]})
        return [axes[0]], axes[1], axes[2]
    grid = subfig.add_gridspec(2, 2 * n_blocks, height_ratios=[1.0, 1.05])
    eig = [subfig.add_subplot(grid[0, 2 * i : 2 * i + 2]) for i in range(n_blocks)]
    return eig, subfig.add_subplot(grid[1, :n_blocks]), subfig.add_subplot(grid[1, n_blocks:])


def _draw(subfig, report: Report, label: str) -> None:
    colours = _palette([b.block for b in report.blocks])
    eig_axes, sv_ax, growth_ax = _axes(subfig, len(report.blocks))
    frame = report.eigenvalue_frame()
    for i, (ax, b) in enumerate(zip(eig_axes, report.blocks)):
        part = frame[frame["block"] == b.block]
        eigenvalues(part, ax=ax, hue=None, radius=b.circular_law_radius or None,
                    sigma_max=b.sigma_max, color=colours[b.block], legend=False)  # fmt: skip
        if i == 0:
            ax.legend(loc="upper left", fontsize=7, handlelength=1.2, borderaxespad=0.2)
        extent = 1.08 * max(1.0, b.circular_law_radius, b.sigma_max, b.spectral_radius)
        ax.set_xlim(-extent, extent)
        ax.set_ylim(-extent, extent)
        if b.eigenvalues is None:
            ax.text(0.5, 0.04, "eigenvalues not computed (spectra='fast')", ha="center",
                    va="bottom", transform=ax.transAxes, fontsize=7.5, color="0.35")  # fmt: skip
        ax.set_title(f"{b.block} ({b.nonlinearity}): ρ = {b.spectral_radius:.3g}, "
                     f"$\\sigma_{{\\max}}$ = {b.sigma_max:.3g}")  # fmt: skip
    singular_values(report.singular_value_frame(), ax=sv_ax, palette=colours)
    sv_ax.set_title("singular values and Pascanu's bounds 1/γ")
    gradient_forecast(report.curves(), ax=growth_ax, threshold=report.decision.threshold,
                      exponents={g.inputs: g.exponent for g in report.growth})  # fmt: skip
    growth_ax.set_title(f"gradient norm: mean of logs, range over {report.samples} samples")
    subfig.suptitle(_title(report, label), fontsize=10)


def diagnose_panel(reports, *, labels=None) -> Figure:
    """Draw reports as one figure, one panel per report stacked top to bottom.

    Parameters
    ----------
    reports : Report or sequence of Report
    labels : sequence of str, optional
        Panel titles' leading label for each report (default: the layer names; the command
        line passes ``path: layer``).

    Returns
    -------
    matplotlib.figure.Figure
        Drawn in gradflow's style (:func:`gradflow.plot.style_context`); save it with
        :func:`gradflow.figures.save_figure`.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow import init
    >>> from gradflow.cells import Elman
    >>> from gradflow.diagnose import report
    >>> fig = diagnose_panel(report(Elman(init.orthogonal(8, rng=0)), steps=10, rng=0))
    >>> [ax.get_title().split(" ")[0] for ax in fig.axes]
    ['W_hh', 'singular', 'gradient']
    """
    reports = [reports] if isinstance(reports, Report) else list(reports)
    if not reports or not all(isinstance(r, Report) for r in reports):
        raise TypeError("reports: expected a Report or a non-empty sequence of Reports")
    labels = [r.layer for r in reports] if labels is None else [str(x) for x in labels]
    if len(labels) != len(reports):
        raise ValueError(f"labels: expected {len(reports)} labels, got {len(labels)}")
    heights = [_ROW["elman" if len(r.blocks) == 1 else "gated"] for r in reports]
    with style_context():
        fig = Figure(figsize=(_WIDTH, sum(heights)), layout="constrained")
        subfigs = fig.subfigures(len(reports), 1, height_ratios=heights, squeeze=False)[:, 0]
        for subfig, report, label in zip(subfigs, reports, labels):
            _draw(subfig, report, label)
    return fig
