"""The step-spectra figure: ρ(J_t) and σ_max(J_t) at every step of Elman, LSTM and GRU runs.

:func:`step_spectra` computes the spectra through :func:`gradflow.jacobians.step_spectra`,
draws them with :mod:`gradflow.plot.steps` and returns ``(Figure, DataFrame)``. Every number
its caption states comes from that DataFrame (:func:`caption_numbers`, registered as the
figure's ``numbers``), and the panels print the same numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .. import init, jacobians, spectral
from .. import plot as gplot
from .._rng import spawn_generators
from .._validation import as_float, as_int
from ..cells import GRU, LSTM, Elman
from ._catalogue import register
from ._common import _freeze_layout

__all__ = ["CELLS", "GATES", "caption_numbers", "step_spectra"]

#: The cells drawn, left to right.
CELLS = ("Elman", "LSTM", "GRU")
#: The step-summary column drawn under each cell.
GATES = {"Elman": "mean_phi_prime", "LSTM": "mean_f", "GRU": "mean_z"}
_COLUMNS = ["layer", "cell", "t", "rho", "sigma_max", "gate", "gate_mean", "block", "block_rho"]
_GATE_WEIGHT, _FORGET_BIAS = 3.0, 1.0

_CAPTION = (
    "Spectral radius ρ(J_t) (solid) and largest singular value σ_max(J_t) (dashed) of the "
    "one-step Jacobian of the full state, J_t = ∂s_t/∂s_(t−1), at every step of one run of an "
    "Elman (tanh), an LSTM and a GRU network of N = {hidden_size} units (T = {steps} steps), their "
    "recurrent weight blocks Gaussian with gain g = {gain:g} (entries N(0, g²/n)); dotted: "
    "ρ(W_hh) for Elman, ρ of each gate block for LSTM and GRU. Below: the mean over units of "
    "φ'(a_t), of the forget gates f_t and of the update gates z_t. The state starts at 10⁻³; "
    "the input has two channels, white noise whose amplitude ramps up to {drive:g} (into the "
    "Elman units and the candidates) and a square wave of period {period} steps (weight 3 into "
    "every forget gate, forget bias 1, and into every update gate). "
)
_FINDINGS = (
    "Elman: while the state is small J_t ≈ W, so ρ(J_1) = {elman_rho_first:.2f} = ρ(W) = "
    "{elman_rho_w:.2f}; once it has grown into saturation (median φ' {elman_phi:.2f} over the "
    "second half) ρ(J_t) falls to a median of {elman_rho_late:.2f}, below max|φ'|·σ_max(W). "
    "LSTM: the forget gates set ρ(J_t) step by step, median {lstm_rho_open:.2f} while mean "
    "f_t ≈ {lstm_f_open:.2f} and {lstm_rho_shut:.2f} while it is ≈ {lstm_f_shut:.2f} "
    "(correlation {lstm_corr:.2f} over the steps), with every gate block's ρ between "
    "{lstm_block_low:.2f} and {lstm_block_high:.2f}. GRU: median ρ(J_t) {gru_rho_carry:.2f} "
    "while the update gates carry the state (mean z_t ≈ {gru_z_carry:.2f}) and "
    "{gru_rho_update:.2f} while they replace it (≈ {gru_z_update:.2f})."
)


def _inputs(steps, drive, period, gen):
    """``(T, 2)``: ramping white noise and a ±1 square wave (high first)."""
    t = np.arange(1, steps + 1)
    ramp = drive * np.clip((t - 0.1 * steps) / (0.75 * steps), 0.0, 1.0)
    square = np.where((t - 1) % period < period / 2, 1.0, -1.0)
    return np.stack([ramp * gen.standard_normal(steps), square], axis=1)


def _cells(n, gain, gen):
    """The three cells: Gaussian recurrent blocks, noise into the units or candidates, the
    square wave into every forget (LSTM) or update (GRU) gate."""
    drive = gen.standard_normal(n)

    def blocks(count):
        return np.vstack([init.gaussian(n, gain=gain, rng=gen) for _ in range(count)])

    elman = Elman(blocks(1), np.stack([drive, np.zeros(n)], axis=1))
    W_xh, b = np.zeros((4 * n, 2)), np.zeros(4 * n)
    W_xh[2 * n : 3 * n, 0], W_xh[n : 2 * n, 1], b[n : 2 * n] = drive, _GATE_WEIGHT, _FORGET_BIAS
    lstm = LSTM(blocks(4), W_xh, b)
    W_xh = np.zeros((3 * n, 2))
    W_xh[2 * n :, 0], W_xh[n : 2 * n, 1] = drive, _GATE_WEIGHT
    gru = GRU(blocks(3), W_xh, np.zeros(3 * n), np.zeros(3 * n))
    return {"Elman": elman, "LSTM": lstm, "GRU": gru}


def caption_numbers(data: pd.DataFrame) -> dict:
    """Every number the caption states, computed from the figure's data (or its CSV).

    Medians of ρ(J_t) over the steps where the drawn gate mean is above (``open``/``carry``)
    or below (``shut``/``update``) 1/2, the median of the gate mean there, the Elman values
    at t = 1 and over the second half (t > T/2), the correlation of ρ(J_t) with mean f_t over
    the LSTM's steps, and the range of the gate blocks' spectral radii.
    """
    steps = data[data["layer"] == "step"]
    refs = data[data["layer"] == "reference"]
    part = {name: steps[steps["cell"] == name] for name in CELLS}
    elman = part["Elman"]
    late = elman[elman["t"] > elman["t"].max() / 2]
    out = {
        "elman_rho_first": float(elman.loc[elman["t"] == 1, "rho"].iloc[0]),
        "elman_rho_w": float(refs.loc[refs["cell"] == "Elman", "block_rho"].iloc[0]),
        "elman_phi": float(late["gate_mean"].median()),
        "elman_rho_late": float(late["rho"].median()),
    }
    for name, high, low in (("lstm", "open", "shut"), ("gru", "carry", "update")):
        cell = part[name.upper()]
        gate = "f" if name == "lstm" else "z"
        for key, rows in ((high, cell["gate_mean"] > 0.5), (low, cell["gate_mean"] <= 0.5)):
            out[f"{name}_rho_{key}"] = float(cell.loc[rows, "rho"].median())
            out[f"{name}_{gate}_{key}"] = float(cell.loc[rows, "gate_mean"].median())
    lstm = part["LSTM"]
    out["lstm_corr"] = float(np.corrcoef(lstm["rho"], lstm["gate_mean"])[0, 1])
    blocks = refs.loc[refs["cell"] == "LSTM", "block_rho"]
    out["lstm_block_low"], out["lstm_block_high"] = float(blocks.min()), float(blocks.max())
    return out


@register(
    "step_spectra",
    caption=_CAPTION + _FINDINGS,
    quick={"hidden_size": 24, "steps": 80, "period": 40},
    numbers=caption_numbers,
)
def step_spectra(
    *, hidden_size: int = 64, steps: int = 200, gain: float = 1.5, drive: float = 3.0,
    period: int = 80, rng=0,
):  # fmt: skip
    """ρ(J_t) and σ_max(J_t) against t for Elman, LSTM and GRU, with the gates that set them.

    Parameters
    ----------
    hidden_size : int, default 64
        Hidden units of every cell (the LSTM's state has 2n).
    steps : int, default 200
        Time steps T.
    gain : float, default 1.5
        Gain of the Gaussian recurrent blocks (entries N(0, gain²/n)).
    drive : float, default 3.0
        Final amplitude of the ramping noise input.
    period : int, default 80
        Period of the square wave that opens and shuts the forget and update gates.
    rng : int or Generator, default 0
        Seed: the inputs, the weights of each cell and the ARPACK/Lanczos starts.

    Returns
    -------
    fig : matplotlib.figure.Figure
    data : pandas.DataFrame
        ``layer`` "step": one row per (cell, t) with ``rho``, ``sigma_max``, ``gate`` (the
        step-summary column drawn below) and ``gate_mean``; ``layer`` "reference": one row
        per (cell, recurrent block) with ``block`` and ``block_rho``.
    """
    n, steps = as_int(hidden_size, "hidden_size", minimum=2), as_int(steps, "steps", minimum=4)
    gain, drive = as_float(gain, "gain", positive=True), as_float(drive, "drive", nonnegative=True)
    period = as_int(period, "period", minimum=2)
    gen_inputs, gen_cells, gen_spectra = spawn_generators(rng, 3)
    xs = _inputs(steps, drive, period, gen_inputs)
    frames = []
    for name, cell in _cells(n, gain, gen_cells).items():
        h0 = np.zeros(cell.state_size)
        h0[:n] = 1e-3 * gen_cells.standard_normal(n)
        frame = jacobians.step_spectra(
            cell, cell.run(xs, h0=h0), depths=(), smallest=False, rng=gen_spectra
        )
        frames.append(
            frame[["t", "rho", "sigma_max"]].assign(
                layer="step", cell=name, gate=GATES[name], gate_mean=frame[GATES[name]]
            )
        )
        blocks = cell.recurrent_blocks
        radii = spectral.spectral_radius(np.stack(list(blocks.values())))
        frames.append(pd.DataFrame({"layer": "reference", "cell": name, "block": list(blocks),
                                    "block_rho": radii}))  # fmt: skip
    data = pd.concat(frames, ignore_index=True)[_COLUMNS]
    return _draw(data, n=n, steps=steps, gain=gain), data


def _panel_texts(numbers, refs) -> dict:
    """The numbers each top panel prints under its title (those of the caption)."""
    gru = refs.loc[refs["cell"] == "GRU", "block_rho"]
    return {
        "Elman": f"ρ(W_hh) = {numbers['elman_rho_w']:.2f} (dotted), "
        f"ρ(J_1) = {numbers['elman_rho_first']:.2f}\n"
        f"median ρ(J_t) over t > T/2: {numbers['elman_rho_late']:.2f}",
        "LSTM": f"gate blocks' ρ: {numbers['lstm_block_low']:.2f}–"
        f"{numbers['lstm_block_high']:.2f} (dotted)\nmedian ρ(J_t): "
        f"{numbers['lstm_rho_open']:.2f} (f open), {numbers['lstm_rho_shut']:.2f} (f shut)\n"
        f"correlation with mean f_t: {numbers['lstm_corr']:.2f}",
        "GRU": f"gate blocks' ρ: {gru.min():.2f}–{gru.max():.2f} (dotted)\n"
        f"median ρ(J_t): {numbers['gru_rho_carry']:.2f} (z carries), "
        f"{numbers['gru_rho_update']:.2f} (z replaces)",
    }


def _draw(data, *, n, steps, gain) -> Figure:
    colours = dict(zip(CELLS, gplot.palette(range(3)).values()))
    fig = Figure(figsize=(10.5, 5.8), layout="constrained")
    axes = fig.subplots(2, 3, sharex=True, sharey="row", height_ratios=[2.1, 1])
    stepwise = data[data["layer"] == "step"]
    refs = data[data["layer"] == "reference"]
    texts = _panel_texts(caption_numbers(data), refs)
    # the axis holds rho, the references and all but the rarest sigma_max spikes
    body = max(stepwise["rho"].max(), refs["block_rho"].max(), stepwise["sigma_max"].quantile(0.99))
    top = 1.15 * float(body)
    titles = {"Elman": "state h, size n", "LSTM": "state [h, c], size 2n", "GRU": "state h, size n"}
    for j, name in enumerate(CELLS):
        part, ax = stepwise[stepwise["cell"] == name], axes[0, j]
        mine = refs[refs["cell"] == name]
        gplot.step_spectra(
            part, ax=ax, hue="cell", palette=colours,
            references=dict(zip(mine["block"], mine["block_rho"])),
            reference_label="recurrent blocks", legend=False,
        )  # fmt: skip
        ax.set_ylim(0.0, top)
        ax.set_xlabel("")
        ax.set_ylabel(ax.get_ylabel() if j == 0 else "")
        ax.set_title(f"{name} ({titles[name]})\n{texts[name]}", fontsize=8, linespacing=1.35)
        peak = part.loc[part["sigma_max"].idxmax()]
        if peak["sigma_max"] > top:  # a spike beyond the axis: its value beside it
            ax.annotate(f"↑ {peak['sigma_max']:.1f}", xy=(peak["t"], top), xytext=(3, -2),
                        textcoords="offset points", ha="left", va="top", fontsize=7.5,
                        color=colours[name])  # fmt: skip
        gate = GATES[name]
        gplot.step_gates(part, ax=axes[1, j], y="gate_mean", hue="cell", palette=colours,
                         legend=False)  # fmt: skip
        axes[1, j].set_title(gplot.steps.GATE_LABELS[gate], fontsize=8.5)
        axes[1, j].set_ylabel("mean over units" if j == 0 else "")
    handles = [
        Line2D([], [], color="0.2", linewidth=1.3),
        Line2D([], [], color="0.2", linewidth=0.9, linestyle="--"),
        Line2D([], [], color="0.3", linewidth=1.0, linestyle=":"),
    ]
    names = [r"$\rho(J_t)$", r"$\sigma_{\max}(J_t)$", "ρ of the recurrent weight blocks"]
    fig.legend(handles, names, loc="outside lower center", ncols=3)
    fig.suptitle(
        f"Spectra of the one-step Jacobian $J_t = \\partial s_t/\\partial s_{{t-1}}$ along one "
        f"run (N = {n}, T = {steps}, Gaussian blocks, g = {gain:g})"
    )
    return _freeze_layout(fig)
