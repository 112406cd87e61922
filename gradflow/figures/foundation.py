"""The first figures of the catalogue: spectra of the initialisers and gradient growth.

Each function computes its tidy data through the numerical layers (``init``, ``spectral``,
``cells``, ``jacobians``, ``theory``), draws it with :mod:`gradflow.plot` and returns
``(Figure, DataFrame)``. Seeds are fixed per figure.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .. import init, spectral, theory
from .. import plot as gplot
from .._rng import spawn_generators
from .._validation import as_choice, as_float, as_int
from ..cells import ACTIVATIONS, Elman
from ..jacobians import log_gradient_norms
from ._catalogue import register
from ._common import figure_legend, init_colours, init_label, init_legend

__all__ = ["eigenvalues", "growth"]

# Circular-law radius of each random initialiser in units of the gain, g·sqrt(n·Var(W_ij)):
# Gaussian N(0, g²/n) -> g; Glorot U(-a, a), a = sqrt(6/(2n)), variance 1/n -> g;
# PyTorch's U(-1/sqrt(n), 1/sqrt(n)), variance 1/(3n) -> g/sqrt(3).
_DISK_SCALE = {"gaussian": 1.0, "glorot_uniform": 1.0, "uniform": 1.0 / math.sqrt(3.0)}

_NORM_LABEL = r"$\Vert\partial\langle v, h_T\rangle / \partial h_{T-\mathrm{lag}}\Vert$"


def _inits(inits) -> list[str]:
    names = init.available()
    if inits is None:
        return list(names)
    chosen = [inits] if isinstance(inits, str) else list(inits)
    if not chosen:
        raise ValueError("inits: expected at least one initialiser name, got none")
    return [as_choice(name, "inits", names) for name in chosen]


@register(
    "eigenvalues",
    caption=(
        "Eigenvalues of one {n} × {n} recurrent weight matrix W per initialiser at gain "
        "g = {gain:g}, with the unit circle (solid), the circular-law disk (shaded: radius g "
        "for Gaussian and Glorot-uniform entries of variance g²/n, g/√3 for PyTorch's "
        "uniform default) and the largest singular value σ_max(W) (dotted). Orthogonal "
        "eigenvalues lie on the circle |λ| = g and identity ones all at g; random matrices "
        "fill their disk, while σ_max is about twice its radius: for them the spectral radius "
        "and Pascanu et al.'s singular-value condition disagree."
    ),
    quick={"n": 48},
)
def eigenvalues(*, n: int = 256, gain: float = 1.0, inits=None, rng=0):
    """Eigenvalues of W under each initialiser, one panel each.

    Parameters
    ----------
    n : int, default 256
        Matrix size.
    gain : float, default 1.0
        Gain g passed to every initialiser.
    inits : list of str, optional
        Initialiser names (default: all of :func:`gradflow.init.available`).
    rng : int or Generator, default 0
        Seed; one independent stream per initialiser.

    Returns
    -------
    fig : matplotlib.figure.Figure
    data : pandas.DataFrame
        One row per eigenvalue: ``init, gain, n, real, imag, disk_radius`` (the circular-law
        radius drawn, NaN where none applies) and ``sigma_max``.
    """
    n = as_int(n, "n", minimum=1)
    gain = as_float(gain, "gain", positive=True)
    names = _inits(inits)
    frames = []
    for name, gen in zip(names, spawn_generators(rng, len(names))):
        W = init.get(name)(n, gain=gain, rng=gen)
        lam = np.asarray(spectral.eigenvalues(W))
        disk = (
            theory.circular_law_radius(gain * _DISK_SCALE[name]) if name in _DISK_SCALE else np.nan
        )
        frames.append(
            pd.DataFrame(
                {
                    "init": name,
                    "gain": gain,
                    "n": n,
                    "real": lam.real,
                    "imag": lam.imag,
                    "disk_radius": disk,
                    "sigma_max": float(np.asarray(spectral.singular_values(W))[0]),
                }
            )
        )
    data = pd.concat(frames, ignore_index=True)

    colours = init_colours()
    fig = Figure(figsize=(2.25 * len(names) + 0.6, 3.3), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(names), sharex=True, sharey=True))
    for ax, name in zip(axes, names):
        part = data[data["init"] == name]
        disk = part["disk_radius"].iloc[0]
        gplot.eigenvalues(
            part,
            ax=ax,
            hue="init",
            palette=colours,
            radius=None if np.isnan(disk) else disk,
            sigma_max=part["sigma_max"].iloc[0],
            legend=False,
        )
        ax.set_title(init_label(name))
        if np.unique(part[["real", "imag"]].to_numpy(), axis=0).shape[0] == 1:
            ax.annotate(
                f"all {len(part)} at {part['real'].iloc[0]:g}",
                xy=(part["real"].iloc[0], 0.0),
                xytext=(0.0, -0.45),
                textcoords="data",
                ha="center",
                fontsize=7.5,
                arrowprops={"arrowstyle": "->", "color": "0.3", "linewidth": 0.7},
            )
    for ax in axes[1:]:
        ax.set_ylabel("")
    figure_legend(fig, axes, ncols=3)
    fig.suptitle(f"Eigenvalues of the recurrent matrix W (n = {n}, g = {gain:g})")
    return fig, data


def _growth_frame(names, gains, activations, n, steps, rng) -> pd.DataFrame:
    """Log gradient norms of one network per (init, gain) for each activation, tidy."""
    cases = [(name, gain) for name in names for gain in gains]
    weights, states, cotangents = [], [], []
    for (name, gain), gen in zip(cases, spawn_generators(rng, len(cases))):
        weights.append(init.get(name)(n, gain=gain, rng=gen))
        states.append(gen.standard_normal(n))
        v = gen.standard_normal(n)
        cotangents.append(v / np.linalg.norm(v))
    W, h0, v = np.stack(weights), np.stack(states), np.stack(cotangents)
    lags = np.arange(steps + 1)
    frames = []
    for activation in activations:
        cell = Elman(W, activation=activation)
        # A linear cell's Jacobian is W whatever the state: start at 0 so no state overflows.
        start = np.zeros_like(h0) if activation == "linear" else h0
        log_norms = log_gradient_norms(cell, cell.run(steps, h0=start), v)  # (T+1, B)
        for b, (name, gain) in enumerate(cases):
            frames.append(
                pd.DataFrame(
                    {
                        "activation": activation,
                        "init": name,
                        "gain": gain,
                        "seed": 0,
                        "lag": lags,
                        "log_norm": log_norms[::-1, b],
                        "log_norm_theory": theory.orthogonal_growth(gain, lags) + 0.0,  # no -0
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


@register(
    "growth",
    caption=(
        "Norm of the backpropagated gradient ‖∂⟨v, h_T⟩/∂h_(T−lag)‖ against the lag for "
        "linear (top) and tanh (bottom) Elman networks of n = {n} units over T = {steps} "
        "steps, one random draw per initialiser at gains 0.9, 1 and 1.1 (v a random unit "
        "vector; tanh runs start from a random state). Dashed: g^lag, exact for scaled "
        "orthogonal and identity linear networks. A random linear network follows "
        "ρ(W)^lag, its own spectral radius: near g for Gaussian and Glorot draws (a single "
        "draw can exceed 1 even at g = 0.9), near g/√3 for PyTorch's uniform default, which "
        "vanishes fastest. tanh (|tanh′| ≤ 1) keeps the curves at or below their linear "
        "counterparts and flattens the exploding ones."
    ),
    quick={"n": 32, "steps": 40},
)
def growth(
    *,
    n: int = 128,
    steps: int = 200,
    gains=(0.9, 1.0, 1.1),
    inits=None,
    activations=("linear", "tanh"),
    rng=1,
):
    """Gradient norm against lag, one panel per (activation, gain), one line per initialiser.

    Parameters
    ----------
    n : int, default 128
        Hidden units.
    steps : int, default 200
        Sequence length T.
    gains : sequence of float, default (0.9, 1.0, 1.1)
        Gains g (columns of panels).
    inits : list of str, optional
        Initialiser names (default: all).
    activations : sequence of str, default ("linear", "tanh")
        Activations (rows of panels).
    rng : int or Generator, default 1
        Seed; one stream per (init, gain), shared by the activations (same W for both rows).

    Returns
    -------
    fig : matplotlib.figure.Figure
    data : pandas.DataFrame
        One row per (activation, init, gain, lag): ``activation, init, gain, seed, lag,
        log_norm`` (natural log of the norm) and ``log_norm_theory`` = lag·ln g.
    """
    n = as_int(n, "n", minimum=1)
    steps = as_int(steps, "steps", minimum=1)
    gains = [as_float(g, "gains", positive=True) for g in np.atleast_1d(gains).tolist()]
    activations = [as_choice(a, "activations", ACTIVATIONS) for a in activations]
    names = _inits(inits)
    data = _growth_frame(names, gains, activations, n, steps, rng)

    colours = init_colours()
    fig = Figure(
        figsize=(2.9 * len(gains) + 0.6, 2.5 * len(activations) + 0.9), layout="constrained"
    )
    axes = np.atleast_2d(
        fig.subplots(len(activations), len(gains), sharex=True, sharey=True, squeeze=False)
    )
    for i, activation in enumerate(activations):
        for j, gain in enumerate(gains):
            ax = axes[i, j]
            part = data[(data["activation"] == activation) & (data["gain"] == gain)]
            reference = part[part["init"] == names[0]][["lag", "log_norm_theory"]]
            gplot.growth(
                part,
                ax=ax,
                hue="init",
                hue_order=names,
                palette=colours,
                theory=reference,
                theory_y="log_norm_theory",
                theory_label=r"$g^{\mathrm{lag}}$",
                legend=False,
            )
            ax.set_title(f"{activation}, $g$ = {gain:g}")
            ax.set_ylabel(_NORM_LABEL if j == 0 else "")
            if i < len(activations) - 1:
                ax.set_xlabel("")
    init_legend(fig, axes.flat[0], names, colours)
    fig.suptitle(f"Gradient norm against lag (n = {n}, T = {steps}, one draw each)")
    return fig, data
