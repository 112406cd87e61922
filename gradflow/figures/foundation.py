"""The first figures of the catalogue: spectra of the initialisers and gradient growth.

Each function computes its tidy data through the numerical layers (``init``, ``spectral``,
``theory``, ``simulate``), draws it with :mod:`gradflow.plot` and returns
``(Figure, DataFrame)``. Seeds are fixed per figure. :func:`growth_data` and
:func:`growth_panels` also draw ``gradflow simulate --plot``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .. import init, simulate, spectral, theory
from .. import plot as gplot
from .._rng import spawn_generators
from .._validation import as_choices, as_float, as_int
from ..cells import ACTIVATIONS
from ._catalogue import register
from ._common import figure_legend, init_colours, init_label, median_band

__all__ = [
    "THEORY_LABELS",
    "eigenvalues",
    "growth",
    "growth_data",
    "growth_panels",
]

# Circular-law radius of each random initialiser in units of the gain (owner: gradflow.init).
_DISK_SCALE = init.IID_SCALE

#: Lowest norm the growth figure shows: PyTorch's uniform default (ρ ≈ g/√3) leaves the panels.
_GROWTH_FLOOR = 1e-20
_GROWTH_VALUES = ["log_norm", "log_norm_low", "log_norm_high", "log_norm_theory"]
_NORM_LABEL = r"$\Vert\partial\langle v, h_T\rangle / \partial h_{T-\mathrm{lag}}\Vert$"


def _inits(inits) -> list[str]:
    """The initialiser names to draw (default: all)."""
    names = init.available()
    return (
        list(names) if inits is None else as_choices(inits, "inits", names, what="initialiser name")
    )


def _eigenvalue_numbers(data: pd.DataFrame) -> dict:
    """The caption's ratios: each random initialiser's ρ and σ_max over its circular-law radius."""
    random = data[data["disk_radius"].notna()]
    modulus = np.hypot(random["real"], random["imag"]).rename("modulus")
    per_init = random.assign(modulus=modulus).groupby("init", sort=False)
    rho = per_init["modulus"].max() / per_init["disk_radius"].first()
    sigma = per_init["sigma_max"].first() / per_init["disk_radius"].first()
    return {
        "rho_ratios": ", ".join(f"{init_label(k)} {v:.2f}" for k, v in rho.items()),
        "sigma_ratios": ", ".join(f"{init_label(k)} {v:.2f}" for k, v in sigma.items()),
    }


@register(
    "eigenvalues",
    caption=(
        "Eigenvalues of one {hidden_size} × {hidden_size} recurrent weight matrix W per "
        "initialiser at gain g = {gain:g}, with the unit circle (solid), the circular-law disk "
        "(shaded: radius g for Gaussian and Glorot-uniform entries of variance g²/n, g/√3 for "
        "PyTorch's uniform default) and the largest singular value σ_max(W) (dotted). Orthogonal "
        "eigenvalues lie on the circle |λ| = g and identity ones all at g; random matrices "
        "fill their disk (ρ over the disk's radius: {rho_ratios}), while σ_max is about twice "
        "its radius ({sigma_ratios} times): for them the spectral radius and Pascanu et al.'s "
        "singular-value condition disagree."
    ),
    quick={"hidden_size": 48},
    numbers=_eigenvalue_numbers,
)
def eigenvalues(*, hidden_size: int = 256, gain: float = 1.0, inits=None, rng=0):
    """Eigenvalues of W under each initialiser, one panel each.

    Parameters
    ----------
    hidden_size : int, default 256
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
    n = as_int(hidden_size, "hidden_size", minimum=1)
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
                    "hidden_size": n,
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
    fig.suptitle(f"Eigenvalues of the recurrent matrix W (N = {n}, g = {gain:g})")
    return fig, data


# -- gradient growth over seeds -----------------------------------------------------------------
#: What the dashed line of each condition is (``theory_name`` of
#: :func:`gradflow.simulate.growth_rates`).
THEORY_LABELS = {
    "orthogonal_growth": r"$\ln g$",
    "log_spectral_radius": r"mean $\ln\rho(W)$",
    "mean_field_lyapunov": r"mean-field $\lambda$",
}


def growth_data(frame: pd.DataFrame, *, band: float = 80.0) -> pd.DataFrame:
    """Median and percentile band over seeds of the log gradient norms of a
    :func:`gradflow.simulate.gradient_growth` frame, with the theory line of each condition.

    Parameters
    ----------
    frame : pandas.DataFrame
        A frame of :func:`gradflow.simulate.gradient_growth` (one or several activations).
    band : float, default 80
        Width of the central percentile band in percent (80: the 10 % and 90 % quantiles).

    Returns
    -------
    pandas.DataFrame
        One row per (activation, init, gain, lag): ``activation, init, gain, lag, seeds``
        (their number), ``log_norm`` (the median over the seeds of the natural log of the
        norm), ``log_norm_low`` and ``log_norm_high`` (the band's quantiles),
        ``log_norm_theory`` = lag × the rate :func:`gradflow.simulate.growth_rates` predicts
        for the condition, and ``theory_name`` (its name; NaN and ``"none"`` where no theory
        applies).

    Examples
    --------
    >>> df = simulate.gradient_growth(["orthogonal"], [0.5], n=4, steps=2, seeds=3,
    ...                               activation="linear", rng=0, progress=False)
    >>> growth_data(df)[["lag", "seeds", "log_norm", "log_norm_theory"]].round(4)
       lag  seeds  log_norm  log_norm_theory
    0    0      3    0.0000           0.0000
    1    1      3   -0.6931          -0.6931
    2    2      3   -1.3863          -1.3863
    """
    keys = ["activation", "init", "gain"]
    half = as_float(band, "band", positive=True) / 200.0
    if half >= 0.5:
        raise ValueError(f"band: expected a width in percent below 100, got {band:g}")
    data = median_band(frame, [*keys, "lag"], "log_norm", band=200.0 * half)
    rates = pd.concat(
        [simulate.growth_rates(part) for _, part in frame.groupby("activation", sort=False)],
        ignore_index=True,
    )
    data = data.merge(
        rates[[*keys, "theory", "theory_name"]], on=keys, how="left", validate="many_to_one"
    )
    data["log_norm_theory"] = data["lag"] * data.pop("theory") + 0.0  # no -0
    return data[[*keys, "lag", "seeds", *_GROWTH_VALUES, "theory_name"]]


def growth_panels(
    data: pd.DataFrame, *, inits=None, title: str | None = None, floor: float | None = None
) -> Figure:
    """Rows of activations × columns of gains: median and 10–90 % band of the gradient norm
    over seeds against the lag, one colour per initialiser, theory dashed.

    Parameters
    ----------
    data : pandas.DataFrame
        A frame of :func:`growth_data` (one row per activation, init, gain and lag).
    inits : list of str, optional
        Order of the initialisers (default: as they appear in ``data``).
    title : str, optional
        The figure's title.
    floor : float, optional
        Lowest norm shown (e.g. 1e-20): curves that fall further leave the panel, so one
        fast-vanishing initialiser does not squeeze the others into a few decades.

    Returns
    -------
    matplotlib.figure.Figure
    """
    names = list(inits) if inits is not None else list(dict.fromkeys(data["init"]))
    activations = list(dict.fromkeys(data["activation"]))
    gains = sorted(dict.fromkeys(data["gain"]))
    seeds = int(data["seeds"].max())
    colours = init_colours()
    fig = Figure(
        figsize=(2.9 * len(gains) + 0.6, 2.5 * len(activations) + 1.1), layout="constrained"
    )
    axes = fig.subplots(len(activations), len(gains), sharex=True, sharey="row", squeeze=False)
    for i, activation in enumerate(activations):
        for j, gain in enumerate(gains):
            ax = axes[i, j]
            part = data[(data["activation"] == activation) & (data["gain"] == gain)]
            reference = part[part["log_norm_theory"].notna()]
            gplot.growth(
                part,
                ax=ax,
                hue="init",
                hue_order=[name for name in names if name in set(part["init"])],
                palette=colours,
                band=("log_norm_low", "log_norm_high") if seeds > 1 else None,
                theory=reference[["init", "lag", "log_norm_theory"]],
                theory_y="log_norm_theory",
                legend=False,
            )
            ax.set_title(f"{activation}, $g$ = {gain:g}")
            ax.set_ylabel(_NORM_LABEL if j == 0 else "")
            if i < len(activations) - 1:
                ax.set_xlabel("")
        if floor is not None:
            low, high = axes[i, 0].get_ylim()
            axes[i, 0].set_ylim(max(low, math.log10(floor)), high)
    handles = [Line2D([], [], color=colours[name]) for name in names]
    labels = [init_label(name) for name in names]
    if seeds > 1:
        handles.append(Patch(facecolor="0.6", alpha=0.35, linewidth=0))
        labels.append(f"10–90 % of {seeds} draws")
    handles.append(Line2D([], [], color="0.1", linestyle="--", linewidth=1.0))
    labels.append("theory (dashed, per colour)")
    ncols = len(labels) if len(labels) <= 5 else math.ceil(len(labels) / 2)
    fig.legend(handles, labels, loc="outside lower center", ncols=ncols)
    if title:
        fig.suptitle(title)
    return fig


def _decade(log_norm: float) -> str:
    """A natural-log norm as a power of ten, e.g. 10^4."""
    return f"10^{log_norm / np.log(10.0):.0f}"


def _growth_numbers(data: pd.DataFrame) -> dict:
    """The caption's numbers, from the medians and the theory lines of the data."""
    last = data[data["lag"] == data["lag"].max()].set_index(["activation", "init", "gain"])
    out = {"max_lag": int(data["lag"].max())}
    iid = [i for i in ("gaussian", "glorot_uniform") if ("linear", i, 1.0) in last.index]
    if iid:
        rows = last.loc[[("linear", i, 1.0) for i in iid]]
        out["rho_ratio"] = f"{np.exp(rows['log_norm_theory'] / out['max_lag']).mean():.3g}"
        out["iid_at_one"] = _decade(rows["log_norm"].mean())
    uniform = [k for k in last.index if k[0] == "linear" and k[1] == "uniform"]
    if uniform:
        top = last.loc[uniform, "log_norm"].max() / np.log(10.0)
        out["uniform_low"] = f"10^{np.ceil(top):.0f}"  # rounded up: the median is below it
    tanh = [k for k in last.index if k[0] == "tanh" and k[1] == "gaussian"]
    if tanh:
        key = max(tanh, key=lambda k: k[2])
        out["g_high"] = f"{key[2]:g}"
        out["field_rate"] = f"{last.loc[key, 'log_norm_theory'] / out['max_lag']:.2g}"
    return out


@register(
    "growth",
    caption=(
        "Norm of the backpropagated gradient ‖∂⟨v, h_T⟩/∂h_(T−lag)‖ against the lag for "
        "linear (top) and tanh (bottom) Elman networks of N = {hidden_size} units run for T = "
        "{steps} steps from a random state without inputs, at gains 0.9, 1 and 1.1: median (line) "
        "and 10–90 % band over {seeds} random draws of W and of the unit vector v per "
        "initialiser. Dashed, in the same colour: lag × the predicted rate — ln g for "
        "orthogonal and identity W (for tanh only at g ≤ 1), the mean ln ρ(W) of the draws "
        "for the other linear networks, and the mean-field exponent for tanh networks with "
        "i.i.d. weights (at gain g/√3 for PyTorch's uniform default). Norms below 10⁻²⁰ are "
        "cut off. Linear orthogonal and identity networks follow g^lag exactly; Gaussian "
        "and Glorot draws follow their own ρ(W)^lag, which at N = {hidden_size} is slightly "
        "above g^lag (mean ρ of the draws at g = 1: {rho_ratio} g), so at g = 1 most of them "
        "grow (median about {iid_at_one} after {steps} steps) and their spread covers several "
        "decades. PyTorch's uniform default (ρ ≈ g/√3) vanishes fastest: its median is below "
        "{uniform_low} after {steps} steps at every gain shown. tanh keeps each median at or "
        "below its linear counterpart: at g = {g_high} the Gaussian, Glorot and orthogonal "
        "norms stay near 1 (mean-field λ ≈ {field_rate} per step), while identity W vanishes "
        "because every unit settles at a saturated fixed point."
    ),
    quick={"hidden_size": 32, "steps": 40, "seeds": 4},
    numbers=_growth_numbers,
)
def growth(
    *,
    hidden_size: int = 128,
    steps: int = 200,
    seeds: int = 32,
    gains=(0.9, 1.0, 1.1),
    inits=None,
    activations=("linear", "tanh"),
    rng=1,
):
    """Gradient norm against lag over random draws: rows of activations, columns of gains.

    Parameters
    ----------
    hidden_size : int, default 128
        Hidden units.
    steps : int, default 200
        Sequence length T.
    seeds : int, default 32
        Random networks per (initialiser, gain).
    gains : sequence of float, default (0.9, 1.0, 1.1)
        Gains g (columns of panels).
    inits : list of str, optional
        Initialiser names (default: all).
    activations : sequence of str, default ("linear", "tanh")
        Activations (rows of panels).
    rng : int or Generator, default 1
        Seed of :func:`gradflow.simulate.gradient_growth`; the same for every activation,
        so both rows use the same W, v for each (initialiser, gain, seed).

    Returns
    -------
    fig : matplotlib.figure.Figure
    data : pandas.DataFrame
        One row per (activation, init, gain, lag): the median and 10–90 % band over the
        seeds and the theory line (the columns of :func:`growth_data`).
    """
    activations = as_choices(activations, "activations", ACTIVATIONS, what="activation")
    names = _inits(inits)
    opts = dict(hidden_size=hidden_size, steps=steps, seeds=seeds, rng=rng, progress=False)
    runs = [simulate.gradient_growth(names, gains, activation=a, **opts) for a in activations]
    frame = pd.concat(runs, ignore_index=True)
    data = growth_data(frame)
    fig = growth_panels(
        data,
        inits=names,
        title=f"Gradient norm against lag: median and 10–90 % band over {seeds} draws "
        f"(N = {hidden_size}, T = {steps})",
        floor=_GROWTH_FLOOR,
    )
    return fig, data
