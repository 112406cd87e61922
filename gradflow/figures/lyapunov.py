"""Figures of spectra over time: Lyapunov spectra and the edge of chaos.

Each function computes its tidy data through the numerical layers (``init``, ``cells``,
``lyapunov``, ``spectral``, ``theory``), draws it with :mod:`gradflow.plot.lyapunov` and returns
``(Figure, DataFrame)``. Seeds are fixed per figure; small dense loops run on one BLAS thread.
The product spectra are in :mod:`gradflow.figures.products` (:func:`product_spectra` is
importable from here too).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .. import init, spectral, theory
from .. import lyapunov as lyap
from .._rng import spawn_generators
from .._validation import as_choices, as_float, as_floats, as_int
from ..cells import ACTIVATIONS, Elman
from ..plot import lyapunov as lplot
from ..plot import palette as _palette
from ._catalogue import register
from ._common import figure_legend

__all__ = ["lyapunov_spectra", "phase_diagram", "product_spectra"]

#: Names of the curves in the data frames (and legend labels where they are drawn).
SIMULATED = "simulated"
NEWMAN = "Newman: i.i.d. Gaussian, variance g²/N"
MEAN_FIELD = "mean-field (tanh)"
LOG_GAIN = "ln g"
LOG_RADIUS = "ln ρ(W) of each draw"


# -- 1. Lyapunov spectra ------------------------------------------------------------------------
def _spectra_numbers(data: pd.DataFrame) -> dict:
    """The caption's numbers for the chaotic gains (g > 1), from the spectra of the data."""
    sim = data[data["curve"] == "simulated"]
    ref = data[data["curve"] != "simulated"]
    gains = sorted(g for g in sim["gain"].unique() if g > 1)

    def pick(frame, how):
        return [how(frame[frame["gain"] == g].sort_values("index")["exponent"]) for g in gains]

    def join(values, fmt):
        return ", ".join(format(v, fmt) for v in values)

    return {
        "chaotic_gains": join(gains, "g"),
        "positives": join(pick(sim, lambda e: int((e > 0).sum())), "d"),
        "tops": join(pick(sim, lambda e: e.iloc[0]), ".2f"),
        "newman_tops": join(pick(ref, lambda e: e.iloc[0]), ".2f"),
        "lasts": join(pick(sim, lambda e: e.iloc[-1]), ".1f"),
        "newman_lasts": join(pick(ref, lambda e: e.iloc[-1]), ".1f"),
    }


@register(
    "lyapunov_spectra",
    caption=(
        "Lyapunov spectra λ_i (nats per step) against the normalised index i/N of random tanh "
        "networks h_t = tanh(W h_(t−1)) with N = {hidden_size} and Gaussian W, entries N(0, g²/N), "
        "one network per gain, along an input-free trajectory from h_0 ~ N(0, I): {steps} steps "
        "averaged after a burn-in of {burn_in} (bands: ±2 batch-means standard errors, mostly "
        "thinner than the lines); right, the top quarter enlarged. Dashed: Newman's exact "
        "spectrum for products of independent Gaussian matrices with the same entry variance "
        "g²/N, the reference of a linear network without saturation and with a fresh W every "
        "step. At g = 0.5 the state decays to 0, every Jacobian becomes W, and the exponents "
        "are the log moduli of W's eigenvalues, close to Newman's curve "
        "ln g + ½ ln(1 − i/N) (the circular law); the top one lies above ln g because a finite "
        "W's spectral radius exceeds g. At g = 1 the decay is slow and the spectrum lies "
        "slightly below the reference. For g > 1 the network is chaotic ({positives} "
        "positive exponents at g = {chaotic_gains}), but saturation (tanh' < 1) pulls its "
        "spectrum far below the linear reference: the top exponent is {tops} against "
        "Newman's {newman_tops}, and the last ones fall to {lasts} (Newman: {newman_lasts})."
    ),
    quick={"hidden_size": 48, "steps": 300, "burn_in": 100},
    numbers=_spectra_numbers,
)
def lyapunov_spectra(
    *,
    hidden_size: int = 256,
    gains=(0.5, 1.0, 1.5, 2.0, 3.0),
    steps: int = 1000,
    burn_in: int = 200,
    k: int | None = None,
    rng=3,
):
    """Lyapunov spectra of random tanh networks at several gains, with Newman's spectrum.

    Parameters
    ----------
    hidden_size : int, default 256
        Hidden units N.
    gains : sequence of float, default (0.5, 1, 1.5, 2, 3)
        Gains g; one Gaussian W with entries N(0, g²/N) each.
    steps : int, default 1000
        Steps averaged over, after ``burn_in``.
    burn_in : int, default 200
        Transient steps that align the frame and let the state reach its attractor.
    k : int, optional
        Number of exponents (default N, the full spectrum).
    rng : int or Generator, default 3
        Seed: one stream per gain for W, one for the initial states.

    Returns
    -------
    fig : matplotlib.figure.Figure
    data : pandas.DataFrame
        ``curve, gain, n, index, exponent, stderr``: ``curve`` is ``"simulated"`` (the tanh
        network) or Newman's reference (stderr NaN); ``index`` is 1-based.
    """
    n = as_int(hidden_size, "hidden_size", minimum=2)
    gains = as_floats(gains, "gains", what="gain", positive=True)
    steps = as_int(steps, "steps", minimum=2)
    burn_in = as_int(burn_in, "burn_in", minimum=0)
    k = n if k is None else as_int(k, "k", minimum=1, maximum=n)
    *streams, start = spawn_generators(rng, len(gains) + 1)
    W = np.stack([init.gaussian(n, gain=g, rng=gen) for g, gen in zip(gains, streams)])
    cell = Elman(W, activation="tanh")
    traj = cell.run(burn_in + steps, h0=start.standard_normal((len(gains), n)))
    result = lyap.along(cell, traj, k, burn_in=burn_in, rng=0)
    sims = result.to_frame()
    sims.insert(0, "gain", np.asarray(gains)[sims.pop("network").to_numpy()])
    sims.insert(0, "curve", SIMULATED)
    newman = [
        pd.DataFrame(
            {
                "curve": NEWMAN,
                "gain": g,
                "index": np.arange(1, k + 1),
                "exponent": theory.gaussian_product_lyapunov(n, g * g / n)[:k],
                "stderr": np.nan,
            }
        )
        for g in gains
    ]
    data = pd.concat([sims, *newman], ignore_index=True)
    data.insert(2, "hidden_size", n)
    data = data[["curve", "gain", "hidden_size", "index", "exponent", "stderr"]]

    # Colour-blind palette, reordered so that orange and vermilion are not neighbouring gains.
    cycle = list(_palette(range(10)).values())
    colours = {g: cycle[[0, 2, 1, 4, 3, 5, 6, 8, 9, 7][i % 10]] for i, g in enumerate(gains)}
    fig = Figure(figsize=(7.2, 3.9), layout="constrained")
    full, top = fig.subplots(1, 2, width_ratios=(1.0, 1.0))
    is_sim = data["curve"] == SIMULATED
    for ax in (full, top):
        lplot.lyapunov_spectrum(
            data[is_sim],
            ax=ax,
            palette=colours,
            reference=data[~is_sim],
            reference_label="Newman: i.i.d. Gaussian products, variance $g^2/N$ (dashed, per gain)",
            legend=False,
        )
    top.set_xlim(0.0, 0.25)
    window = data[is_sim & (data["index"] <= 0.25 * n)]["exponent"]
    pad = 0.08 * (window.max() - window.min())
    top.set_ylim(min(window.min(), -0.9) - pad, max(window.max(), np.log(max(gains))) + pad)
    top.set_ylabel("")
    full.set_title("full spectrum")
    top.set_title("top quarter ($i/N$ ≤ 0.25)")
    figure_legend(fig, [full], ncols=min(len(gains) + 1, 4))
    fig.suptitle(
        f"Lyapunov spectra of random tanh networks (N = {n}, Gaussian W, "
        f"{steps} steps after {burn_in})"
    )
    return fig, data


# -- 2. the phase diagram -----------------------------------------------------------------------
def _gain_grid(gain_min, gain_max, n_gains) -> np.ndarray:
    """Geometric grid from gain_min to gain_max, rounded so that powers of two are exact."""
    gain_min = as_float(gain_min, "gain_min", positive=True)
    gain_max = as_float(gain_max, "gain_max", positive=True)
    if gain_max <= gain_min:
        raise ValueError(f"gain_max: expected a number > gain_min = {gain_min:g}, got {gain_max:g}")
    n_gains = as_int(n_gains, "n_gains", minimum=2)
    grid = gain_min * (gain_max / gain_min) ** (np.arange(n_gains) / (n_gains - 1))
    return np.round(grid, 12)


def _phase_numbers(data: pd.DataFrame) -> dict:
    """The caption's numbers, from the simulated exponents and the curves of the data."""
    sim = data[data["curve"] == "simulated"]
    mean = sim.groupby(["activation", "gain"])["exponent"].mean()
    rho = data[data["curve"].str.startswith("ln ρ")].groupby("gain")["exponent"].mean()
    field = data[data["curve"].str.startswith("mean-field")].set_index("gain")["exponent"]
    out = {}
    if "linear" in mean.index.get_level_values(0) and len(rho):
        linear = mean["linear"]
        out["linear_rho"] = f"{(linear - rho.reindex(linear.index)).abs().max():.2g}"
        out["rho_above"] = f"{(rho - np.log(rho.index.to_numpy())).mean():.2g}"
    if {"linear", "tanh"} <= set(mean.index.get_level_values(0)):
        tanh, linear = mean["tanh"], mean["linear"]
        low = tanh.index[tanh.index < 1]
        out["below_match"] = f"{(tanh[low] - linear[low]).abs().max():.1g}" if len(low) else "–"
        top = tanh.index.max()
        out["g_top"], out["tanh_top"] = f"{top:g}", f"{tanh[top]:.2f}"
        out["ln_top"] = f"{np.log(top):.2f}"
        high = tanh.index[tanh.index >= 2]
        near = field.reindex(high, method="nearest")
        out["field_gap"] = f"{np.abs(near.to_numpy() - tanh[high].to_numpy()).max():.2g}"
    return out


@register(
    "phase_diagram",
    caption=(
        "Top Lyapunov exponent λ_1 (nats per step) against the gain g for Elman networks "
        "h_t = φ(W h_(t−1)) with Gaussian W, entries N(0, g²/N), N = {hidden_size}: markers and "
        "bands are the mean ± one standard deviation over {seeds} draws of W at each of {n_gains} "
        "gains from {gain_min:g} to {gain_max:g} ({steps} steps after a burn-in of {burn_in}; "
        "tanh from h_0 ~ N(0, I), linear from h_0 = 0, where the Jacobian is W itself). "
        "Lines: the mean-field exponent of the infinitely wide tanh network (Poole et al. "
        "2016; ln g below g = 1), ln g, and ln ρ(W) of each drawn matrix (short bars, "
        "averaged over draws); the vertical line marks the edge of chaos g = 1. Linear "
        "networks follow ln ρ(W) (to {linear_rho}), which lies about {rho_above} above ln g: a "
        "finite Gaussian matrix's spectral radius exceeds g by a few per cent. Below g = 1 "
        "the tanh network decays to its fixed point 0 and its exponent equals the linear one "
        "(to {below_match}). Above g = 1 it is chaotic, λ_1 > 0, but far below ln g "
        "({tanh_top} against {ln_top} at g = {g_top}), approaching the mean-field curve "
        "(within {field_gap} for g ≥ 2)."
    ),
    quick={"hidden_size": 48, "seeds": 3, "n_gains": 9, "steps": 300, "burn_in": 100},
    numbers=_phase_numbers,
)
def phase_diagram(
    *,
    hidden_size: int = 256,
    seeds: int = 8,
    gain_min: float = 0.25,
    gain_max: float = 4.0,
    n_gains: int = 25,
    steps: int = 1000,
    burn_in: int = 200,
    activations=("linear", "tanh"),
    rng=4,
):
    """Top Lyapunov exponent against the gain, linear and tanh, with theory curves.

    Parameters
    ----------
    hidden_size : int, default 256
        Hidden units N.
    seeds : int, default 8
        Random matrices W per gain (run together as one batched cell).
    gain_min, gain_max : float, default 0.25, 4
        Range of the geometric grid of gains.
    n_gains : int, default 25
        Gains on the grid (25 from 0.25 to 4: steps of 2^(1/6), 1 included).
    steps : int, default 1000
        Steps averaged over, after ``burn_in``.
    burn_in : int, default 200
        Transient steps discarded.
    activations : sequence of str, default ("linear", "tanh")
        Activations; every activation runs the same matrices W.
    rng : int or Generator, default 4
        Seed: one stream per gain (its W and tanh initial states).

    Returns
    -------
    fig : matplotlib.figure.Figure
    data : pandas.DataFrame
        ``curve, activation, gain, seed, exponent, stderr``: ``curve`` ``"simulated"`` (one
        row per network, Benettin's exponent and its standard error), ``"ln ρ(W) of each
        draw"`` (one row per W, drawn in the linear colour), and the theory curves
        ``"mean-field (tanh)"`` and ``"ln g"`` on a fine grid (seed and stderr NaN).
    """
    n = as_int(hidden_size, "hidden_size", minimum=2)
    seeds = as_int(seeds, "seeds", minimum=1)
    steps = as_int(steps, "steps", minimum=2)
    burn_in = as_int(burn_in, "burn_in", minimum=0)
    names = as_choices(activations, "activations", ACTIVATIONS, what="activation")
    grid = _gain_grid(gain_min, gain_max, n_gains)
    rows = []
    for gain, gen in zip(grid, spawn_generators(rng, len(grid))):
        W = init.gaussian(n, gain=float(gain), rng=gen, batch=seeds)
        h0 = gen.standard_normal((seeds, n))
        for name in names:
            cell = Elman(W, activation=name)
            start = np.zeros((seeds, n)) if name == "linear" else h0
            result = lyap.along(
                cell, cell.run(burn_in + steps, h0=start), 1, burn_in=burn_in, rng=0
            )
            rows.append(
                pd.DataFrame(
                    {
                        "curve": SIMULATED,
                        "activation": name,
                        "gain": gain,
                        "seed": np.arange(seeds, dtype=float),
                        "exponent": result.exponents[:, 0],
                        "stderr": result.stderr[:, 0],
                    }
                )
            )
        radius = np.atleast_1d(spectral.spectral_radius(W))
        rows.append(
            pd.DataFrame(
                {
                    "curve": LOG_RADIUS,
                    "activation": "linear",
                    "gain": gain,
                    "seed": np.arange(seeds, dtype=float),
                    "exponent": np.log(radius),
                    "stderr": np.nan,
                }
            )
        )
    fine = np.round(grid[0] * (grid[-1] / grid[0]) ** np.linspace(0.0, 1.0, 241), 12)
    curves = {
        MEAN_FIELD: ("tanh", theory.mean_field_lyapunov(fine)),
        LOG_GAIN: (None, np.log(fine)),
    }
    for curve, (activation, values) in curves.items():
        if activation is not None and activation not in names:
            continue
        rows.append(
            pd.DataFrame(
                {
                    "curve": curve,
                    "activation": activation,
                    "gain": fine,
                    "seed": np.nan,
                    "exponent": values,
                    "stderr": np.nan,
                }
            )
        )
    data = pd.concat(rows, ignore_index=True)

    colours = dict(zip(["linear", "tanh"], _palette(range(2)).values()))
    colours.update({a: c for a, c in _palette(names).items() if a not in colours})
    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    ax = fig.add_subplot()
    sims = data[data["curve"] == SIMULATED]
    lplot.phase_diagram(
        sims,
        ax=ax,
        hue_order=names,
        palette=colours,
        labels={a: f"{a}, simulated" for a in names},
        theory=data[data["curve"] != SIMULATED],
        curve_styles={
            MEAN_FIELD: {"linestyle": "--", "color": "0.1"},
            LOG_GAIN: {"linestyle": ":", "linewidth": 1.4, "color": "0.45"},
            LOG_RADIUS: {"linestyle": "none", "marker": "_", "markersize": 9},
        },
        legend=False,
    )
    figure_legend(fig, [ax], ncols=3)
    fig.suptitle(
        f"Top Lyapunov exponent against the gain (N = {n}, mean ± SD over {seeds} draws of W)"
    )
    return fig, data


# Imported last, so that the catalogue keeps its order: the two figures above, then this one.
from .products import product_spectra  # noqa: E402
