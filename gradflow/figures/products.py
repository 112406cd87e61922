"""Figures of Jacobian products: singular-value spectra of ∂h_L/∂h_0 by depth.

The function computes its tidy data through the numerical layers (``init``, ``cells``,
``jacobians``), draws it with :mod:`gradflow.plot.products` and returns ``(Figure, DataFrame)``;
its seed is fixed. It is registered after the Lyapunov figures, and :func:`product_spectra` is
importable from :mod:`gradflow.figures.lyapunov` too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .. import init, jacobians
from .._rng import spawn_generators
from .._validation import as_choices, as_float, as_int
from ..cells import ACTIVATIONS, Elman
from ..plot import palette as _palette
from ..plot.products import singular_value_spectra
from ..stats import band_edges
from ._catalogue import register
from ._common import init_label

__all__ = ["product_spectra"]


def _width(values) -> float:
    low, high = np.quantile(values, band_edges(80.0))
    return float(high - low)


def _spectra_numbers(data: pd.DataFrame) -> dict:
    """The caption's numbers: spreads (decades of log10 σ) per panel and depth, from the data."""

    def part(activation, init_name):
        return data[(data["activation"] == activation) & (data["init"] == init_name)]

    out = {}
    iso = part("linear", "orthogonal")
    if len(iso):
        out["isometry"] = f"{np.abs(iso['log_sv']).max():.0e}"
    gauss = part("linear", "gaussian")
    if len(gauss):
        widths = gauss.groupby("depth")["log10_sv"].agg(_width)
        out["gauss_widths"] = ", ".join(f"{w:.2g}" for w in widths)
        out["gauss_depths"] = ", ".join(str(d) for d in widths.index)
        deepest = gauss[gauss["depth"] == widths.index.max()]["log10_sv"]
        out["gauss_low"] = f"10^{deepest.min():.0f}"
        out["gauss_above"] = int((deepest > 0).sum())
    tanh = part("tanh", "orthogonal")
    if len(tanh):
        top = tanh["log10_sv"].max()
        out["tanh_bound"] = "all σ ≤ 1" if top <= 1e-12 else f"σ at most {10.0**top:.3g}"
        out["tanh_span"] = f"{-tanh['log10_sv'].min():.2g}"
        out["tanh_width"] = f"{tanh.groupby('depth')['log10_sv'].agg(_width).max():.2g}"
    return out


@register(
    "product_spectra",
    caption=(
        "Singular values σ of the Jacobian ∂h_L/∂h_0 = J_L ⋯ J_1 of L steps for the depths "
        "L in {depths}: histograms of log10 σ, one ridge per depth, each scaled to its peak and "
        "labelled with the width of its central 80 %. Elman networks with N = {hidden_size} at "
        "gain g = {gain:g}, the edge of chaos, with orthogonal (left) or Gaussian (right) W, "
        "linear (top) or tanh (bottom), from h_0 ~ N(0, I); the {hidden_size} singular values of "
        "each of {seeds} draws of W are pooled; dotted: σ = 1; each column has its own x-range. "
        "Orthogonal linear products keep every singular value at 1 (|ln σ| at most {isometry}: "
        "dynamical isometry). Gaussian products spread roughly in proportion to the depth "
        "(central 80 %: {gauss_widths} decades at L = {gauss_depths}), down to σ = {gauss_low} "
        "at the largest depth with {gauss_above} values above 1. With tanh, orthogonal W keeps "
        "{tanh_bound} and the spectrum within {tanh_span} decades (central 80 %: at "
        "most {tanh_width} decades), while Gaussian W spreads as widely as in the linear case "
        "(Pennington, Schoenholz & Ganguli 2017)."
    ),
    quick={"hidden_size": 48, "seeds": 2},
    numbers=_spectra_numbers,
)
def product_spectra(
    *,
    hidden_size: int = 256,
    seeds: int = 4,
    depths=(1, 4, 16, 64),
    gain: float = 1.0,
    inits=("orthogonal", "gaussian"),
    activations=("linear", "tanh"),
    rng=5,
):
    """Singular-value spectra of Jacobian products by depth: init × activation panels.

    Parameters
    ----------
    hidden_size : int, default 256
        Hidden units N.
    seeds : int, default 4
        Draws of W per initialiser (one batched cell); their spectra are pooled.
    depths : sequence of int, default (1, 4, 16, 64)
        Depths L of the products ∂h_L/∂h_0.
    gain : float, default 1.0
        Gain g of every W.
    inits : sequence of str, default ("orthogonal", "gaussian")
        Initialisers (columns of panels).
    activations : sequence of str, default ("linear", "tanh")
        Activations (rows of panels); each runs the same W from the same h_0.
    rng : int or Generator, default 5
        Seed: one stream per initialiser, one for the initial states.

    Returns
    -------
    fig : matplotlib.figure.Figure
    data : pandas.DataFrame
        One row per singular value: ``activation, init, depth, seed, index, log_sv``
        (natural log) and ``log10_sv`` (what is plotted); ``index`` 0-based, descending σ.
    """
    n = as_int(hidden_size, "hidden_size", minimum=2)
    seeds = as_int(seeds, "seeds", minimum=1)
    depth_list = sorted({as_int(d, "depths", minimum=1) for d in np.atleast_1d(depths).tolist()})
    gain = as_float(gain, "gain", positive=True)
    init_names = as_choices(inits, "inits", init.available(), what="initialiser name")
    names = as_choices(activations, "activations", ACTIVATIONS, what="activation")
    *streams, start = spawn_generators(rng, len(init_names) + 1)
    h0 = start.standard_normal((seeds, n))
    frames = []
    for init_name, gen in zip(init_names, streams):
        W = init.get(init_name)(n, gain=gain, rng=gen, batch=seeds)
        for name in names:
            cell = Elman(W, activation=name)
            traj = cell.run(max(depth_list), h0=h0)
            for depth in depth_list:
                spectrum = jacobians.product_singular_values(cell, traj, [depth], end=depth)
                frame = spectrum.to_frame().drop(columns="sv")
                frames.append(frame.assign(activation=name, init=init_name))
    data = pd.concat(frames, ignore_index=True).rename(columns={"network": "seed"})
    data["log10_sv"] = data["log_sv"] / np.log(10.0)
    data = data[["activation", "init", "depth", "seed", "index", "log_sv", "log10_sv"]]

    colours = _palette(depth_list)
    fig = Figure(
        figsize=(3.3 * len(init_names) + 0.4, 2.3 * len(names) + 0.9), layout="constrained"
    )
    # Each initialiser its own x-range: orthogonal products stay within a few decades of 1,
    # Gaussian ones spread over tens of decades; a shared range would flatten the former.
    axes = fig.subplots(len(names), len(init_names), sharex="col", sharey=True, squeeze=False)
    for i, name in enumerate(names):
        for j, init_name in enumerate(init_names):
            ax = axes[i, j]
            part = data[(data["activation"] == name) & (data["init"] == init_name)]
            singular_value_spectra(part, ax=ax, hue_order=depth_list, palette=colours)
            ax.set_title(f"{name}, {init_label(init_name)} $W$")
            if i < len(names) - 1:
                ax.set_xlabel("")
    for ax in axes[0]:  # room on the left of each column for the width labels
        low, high = ax.get_xlim()
        ax.set_xlim(low - 0.3 * (high - low), high)
    fig.suptitle(
        f"Singular values of $\\partial h_L/\\partial h_0$ by depth $L$ (N = {n}, g = {gain:g}, "
        f"{seeds} draws pooled)"
    )
    return fig, data
