"""Figures of the initialisation sweeps: growth rates and spectra of W against the gain.

Each function computes its tidy data through the numerical layers (``simulate``, ``init``,
``spectral``, ``theory``), draws it with :mod:`gradflow.plot.sweeps` and returns
``(Figure, DataFrame)``. Seeds are fixed per figure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .. import init, simulate, spectral, theory
from .._rng import spawn_generators
from .._validation import as_choices, as_floats, as_int
from ..cells import ACTIVATIONS
from ..plot.sweeps import growth_rates as plot_growth_rates
from ..plot.sweeps import spectral_gap as plot_spectral_gap
from ._catalogue import register
from ._common import figure_legend, init_colours, init_label
from .foundation import _DISK_SCALE, _inits

__all__ = ["CURVE_LABELS", "growth_rates", "spectral_gap"]

#: Legend labels of the theory curves of :func:`growth_rates`.
CURVE_LABELS = {
    "log_gain": r"$\ln g$",
    "log_radius": r"mean $\ln\rho(W)$ of the draws",
    "mean_field": r"mean-field $\lambda(g)$ (= $\ln g$ for $g \leq 1$)",
    "mean_field_scaled": r"mean-field $\lambda(g/\sqrt{3})$ (uniform)",
}
_CURVE_STYLES = {
    CURVE_LABELS["log_gain"]: "--",
    CURVE_LABELS["log_radius"]: ":",
    CURVE_LABELS["mean_field"]: "-.",
    CURVE_LABELS["mean_field_scaled"]: (0, (6, 1.5, 1, 1.5, 1, 1.5)),
}
_GAINS = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0)
_GAP_GAINS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0)
_RATE_COLUMNS = [
    "activation", "init", "gain", "layer", "curve",
    "rate", "ci_low", "ci_high", "n_seeds", "lag_low", "lag_high",
]  # fmt: skip


def _theory_curves(activation: str, names, rates: pd.DataFrame, grid) -> list[pd.DataFrame]:
    """The theory rows of one activation's panel (``rates``: simulate.growth_rates)."""
    curves = [pd.DataFrame({"init": None, "gain": grid, "curve": "log_gain", "rate": np.log(grid)})]
    if activation == "linear":
        radius = rates[rates["theory_name"] == "log_spectral_radius"]
        curves.append(radius[["init", "gain", "theory"]].rename(columns={"theory": "rate"}))
        curves[-1]["curve"] = "log_radius"
    elif activation == "tanh":
        iid = [name for name in names if name in _DISK_SCALE]
        if any(_DISK_SCALE[name] == 1.0 for name in iid):
            above = grid[grid >= 1.0]
            curves.append(
                pd.DataFrame(
                    {
                        "init": None,
                        "gain": above,
                        "curve": "mean_field",
                        "rate": np.atleast_1d(theory.mean_field_lyapunov(above)),
                    }
                )
            )
        if "uniform" in iid:
            scaled = np.atleast_1d(theory.mean_field_lyapunov(grid * _DISK_SCALE["uniform"]))
            curves.append(
                pd.DataFrame(
                    {"init": "uniform", "gain": grid, "curve": "mean_field_scaled", "rate": scaled}
                )
            )
    return curves


def _clip_outliers(axes, activations, data, labels) -> None:
    """Keep the y range of the linear panel; annotate the conditions that fall below it.

    With tanh, identity W at g > 1 vanishes far faster than anything else (every unit
    settles at a saturated fixed point): it would squeeze the other curves together.
    """
    if "linear" not in activations:
        return
    sim = data[data["layer"] == "simulation"]
    linear = data[data["activation"] == "linear"]
    bottom = float(np.nanmin(linear["rate"])) - 0.3
    if not (sim["rate"] < bottom).any():
        return
    for ax, activation in zip(axes, activations):
        low = sim[(sim["activation"] == activation) & (sim["rate"] < bottom)]
        for k, (name, part) in enumerate(low.groupby("init", sort=False)):
            worst = part.loc[part["rate"].idxmin()]
            rate = f"{worst['rate']:.2f}".replace("-", "−")
            ax.annotate(
                f"{labels.get(name, name)} falls below the panel:\n"
                f"{rate} per step at $g$ = {worst['gain']:g}",
                xy=(0.98, 0.30 + 0.12 * k),
                xycoords="axes fraction",
                ha="right",
                va="bottom",
                fontsize=7.5,
                color="0.25",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.9, "pad": 1.5},
                zorder=6,
            )
    axes[0].set_ylim(bottom=bottom)


def _legends(fig, axes, init_labels) -> None:
    """The theory curves of each panel in its corner; the initialisers below the panels."""
    entries: dict[str, object] = {}
    for ax in axes:
        handles, texts = ax.get_legend_handles_labels()
        curves = [(h, t) for h, t in zip(handles, texts) if t not in init_labels]
        if curves:
            ax.legend(*zip(*curves), loc="upper left", handlelength=3.2)
        for handle, text in zip(handles, texts):
            if text in init_labels:
                entries.setdefault(text, handle)
    order = [text for text in init_labels if text in entries]
    fig.legend([entries[t] for t in order], order, loc="outside lower center", ncols=len(order))


def _rate_numbers(data: pd.DataFrame) -> dict:
    """The caption's numbers: ρ/g of the i.i.d. draws and the tanh rates at the largest gain."""
    sim = data[data["curve"] == "simulation"].set_index(["activation", "init", "gain"])["rate"]
    theory = data[data["layer"] == "theory"]
    radius = theory[(theory["curve"] == "log_radius")
                    & theory["init"].isin(["gaussian", "glorot_uniform"])]  # fmt: skip
    out = {}
    if len(radius):
        out["rho_ratio"] = f"{np.exp(radius['rate'] - np.log(radius['gain'])).mean():.3g}"
    tanh = sim.get("tanh")
    if tanh is not None and len(tanh):
        top = float(tanh.index.get_level_values("gain").max())
        at_top = tanh.xs(top, level="gain")
        common = at_top.reindex(["gaussian", "glorot_uniform", "orthogonal"]).dropna()
        out["g_top"], out["ln_top"] = f"{top:g}", f"{np.log(top):.2f}"
        out["tanh_top"] = f"{common.mean():.2f}" if len(common) else "–"
        field = theory[(theory["curve"] == "mean_field") & np.isclose(theory["gain"], top)]
        out["field_top"] = f"{field['rate'].iloc[0]:.2f}" if len(field) else "–"
        out["identity_top"] = f"{at_top.get('identity', np.nan):.2f}"
    return out


@register(
    "growth_rates",
    caption=(
        "Growth rate of the gradient norm per step against the gain g for linear (left) and "
        "tanh (right) Elman networks of N = {hidden_size} units run for T = {steps} steps without "
        "inputs. Each draw's rate is the least-squares slope of ln‖∂⟨v, h_T⟩/∂h_(T−lag)‖ "
        "over the lags T/2 to T; points are the mean over {seeds} random draws of W and v "
        "with a 95 % confidence interval, one colour and marker per initialiser. Lines: "
        "ln g (dashed), the mean ln ρ(W) of the draws (dotted, linear networks) and the "
        "mean-field exponent λ of random tanh networks (dash-dot: at gain g for Gaussian and "
        "Glorot weights, at g/√3 for PyTorch's uniform default). Linear networks grow at "
        "ln ρ(W): exactly ln g for orthogonal and identity W, slightly faster for Gaussian "
        "and Glorot W at this size (mean ρ = {rho_ratio} g), and at ln(g/√3) for PyTorch's "
        "uniform default, whose gradients vanish up to g ≈ √3. tanh leaves the vanishing side "
        "(g < 1) unchanged but bends the exploding side: at g = {g_top} Gaussian, Glorot and "
        "orthogonal W grow by {tanh_top} per step on average instead of ln {g_top} ≈ "
        "{ln_top}, close to the mean-field λ = {field_top}. Identity W with tanh vanishes at "
        "every g > 1 ({identity_top} per step at g = {g_top}): each unit settles at a "
        "saturated fixed point x* = tanh(g x*), where g(1 − x*²) < 1."
    ),
    quick={"hidden_size": 24, "steps": 40, "seeds": 4, "gains": (0.5, 1.0, 2.0)},
    numbers=_rate_numbers,
)
def growth_rates(
    *,
    hidden_size: int = 128,
    steps: int = 200,
    seeds: int = 16,
    gains=_GAINS,
    inits=None,
    activations=("linear", "tanh"),
    rng=2,
):
    """Growth rate of the gradient norm per step against the gain, with the theory curves.

    Parameters
    ----------
    hidden_size : int, default 128
        Hidden units.
    steps : int, default 200
        Sequence length T; each draw's rate is the slope of its log gradient norm over the
        lags T/2..T.
    seeds : int, default 16
        Random networks per (initialiser, gain, activation).
    gains : sequence of float, default 0.5, 0.75, ..., 3
        Gains g.
    inits : list of str, optional
        Initialiser names (default: all).
    activations : sequence of str, default ("linear", "tanh")
        One panel each.
    rng : int or Generator, default 2
        Seed of :func:`gradflow.simulate.gradient_growth`, the same for every activation.

    Returns
    -------
    fig : matplotlib.figure.Figure
    data : pandas.DataFrame
        ``activation, init, gain, layer, curve, rate, ci_low, ci_high, n_seeds, lag_low,
        lag_high``. ``layer="simulation"`` rows are :func:`gradflow.simulate.growth_rates`
        (mean rate over the seeds, 95 % confidence interval); ``layer="theory"`` rows are the
        curves drawn (``curve`` a key of :data:`CURVE_LABELS`; ``init`` empty for the ones
        drawn in black).
    """
    n = as_int(hidden_size, "hidden_size", minimum=1)
    steps = as_int(steps, "steps", minimum=2)
    gain_list = as_floats(gains, "gains", what="gain", positive=True)
    activations = as_choices(activations, "activations", ACTIVATIONS, what="activation")
    names = _inits(inits)
    grid = np.linspace(min(gain_list), max(gain_list), 121)
    frames = []
    for activation in activations:
        df = simulate.gradient_growth(
            names, gain_list, n=n, steps=steps, seeds=seeds, activation=activation,
            rng=rng, progress=False, spectral=activation == "linear",
        )  # fmt: skip
        rates = simulate.growth_rates(df)
        frames.append(rates.assign(layer="simulation", curve="simulation"))
        for curve in _theory_curves(activation, names, rates, grid):
            frames.append(curve.assign(activation=activation, layer="theory"))
    data = pd.concat(frames, ignore_index=True).reindex(columns=_RATE_COLUMNS)
    data["init"] = data["init"].astype(object).where(data["init"].notna(), "")

    colours = init_colours()
    labels = {name: init_label(name) for name in names}
    fig = Figure(figsize=(4.6 * len(activations) + 0.6, 4.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(activations), sharex=True, sharey=True))
    for ax, activation in zip(axes, activations):
        part = data[data["activation"] == activation]
        curves = part[part["layer"] == "theory"].assign(
            curve=lambda frame: frame["curve"].map(CURVE_LABELS),
            init=lambda frame: frame["init"].replace("", None),
        )
        plot_growth_rates(
            part[part["layer"] == "simulation"],
            ax=ax,
            hue_order=names,
            palette=colours,
            labels=labels,
            dodge=0.01,
            theory=curves,
            theory_y="rate",
            curve_styles=_CURVE_STYLES,
            legend=False,
        )
        ax.axvline(1.0, color="0.75", linewidth=0.8, zorder=0)
        ax.set_title(activation)
    for ax in axes[1:]:
        ax.set_ylabel("")
    _clip_outliers(axes, activations, data, labels)
    _legends(fig, axes, list(labels.values()))
    fig.suptitle(
        f"Growth rate of the gradient norm per step: mean and 95 % CI over {seeds} draws "
        f"(N = {n}, fit over lags {steps // 2}–{steps})"
    )
    return fig, data


def _gap_numbers(data: pd.DataFrame) -> dict:
    """The caption's numbers: medians of ρ/g and σ_max/g, and the gains where each crosses 1."""
    ratios = data.assign(rho=data["spectral_radius"] / data["gain"],
                         sigma=data["sigma_max"] / data["gain"])  # fmt: skip
    iid = ratios[ratios["init"].isin(["gaussian", "glorot_uniform"])]
    out = {}
    if len(iid):
        out["iid_rho"] = f"{iid['rho'].median():.3g}"
        out["iid_sigma"] = f"{iid['sigma'].median():.3g}"
        medians = iid.groupby("gain")[["spectral_radius", "sigma_max"]].median()
        below = medians.index[medians["sigma_max"] < 1]
        vanish = medians.index[medians["spectral_radius"] < 1]
        out["sigma_below"] = f"{below.max():g}" if len(below) else "none of the gains"
        out["rho_below"] = f"{vanish.max():g}" if len(vanish) else "none of the gains"
        out["loose"] = f"{iid['sigma'].median() / iid['rho'].median():.2g}"
    uniform = ratios[ratios["init"] == "uniform"]
    if len(uniform):
        out["uniform_rho"] = f"{uniform['rho'].median():.2f}"
        out["uniform_sigma"] = f"{uniform['sigma'].median():.2f}"
    return out


@register(
    "spectral_gap",
    caption=(
        "Spectral radius ρ(W) (solid, circles) and largest singular value σ_max(W) (dashed, "
        "squares) of {hidden_size} × {hidden_size} recurrent matrices against the gain g: median "
        "and 10–90 % band over {seeds} draws per initialiser and gain, with the grey reference "
        "lines g (dotted) and 2g (dash-dot). The horizontal line is Pascanu et al.'s threshold "
        "σ_max = 1/γ = 1 for tanh: below it (shaded) vanishing gradients are guaranteed. "
        "Orthogonal and identity W are normal matrices, ρ = σ_max = g exactly. For "
        "Gaussian and Glorot-uniform W the spectral radius follows the circular law, ρ ≈ g "
        "(median {iid_rho} g at N = {hidden_size}), but σ_max ≈ 2g (median {iid_sigma} g): "
        "among the gains drawn, the median σ_max is below 1 only up to g = {sigma_below}, "
        "while the median ρ (a linear network's gradients vanish when ρ < 1) is below 1 up to "
        "g = {rho_below} — Pascanu's singular-value condition is loose by a factor of about "
        "{loose}. PyTorch's uniform default has ρ ≈ g/√3 and σ_max ≈ 2g/√3 (medians "
        "{uniform_rho} g and {uniform_sigma} g)."
    ),
    quick={"hidden_size": 32, "seeds": 4, "gains": (0.5, 1.0, 2.0)},
    numbers=_gap_numbers,
)
def spectral_gap(*, hidden_size: int = 128, seeds: int = 16, gains=_GAP_GAINS, inits=None, rng=3):
    """Spectral radius and largest singular value of W against the gain, one panel per
    initialiser.

    Parameters
    ----------
    hidden_size : int, default 128
        Matrix size.
    seeds : int, default 16
        Random matrices per (initialiser, gain).
    gains : sequence of float, default 0.25, 0.5, ..., 3
        Gains g.
    inits : list of str, optional
        Initialiser names (default: all).
    rng : int or Generator, default 3
        Seed; one independent stream per (initialiser, gain).

    Returns
    -------
    fig : matplotlib.figure.Figure
    data : pandas.DataFrame
        One row per matrix: ``init, gain, n, seed, spectral_radius, sigma_max``.
    """
    n = as_int(hidden_size, "hidden_size", minimum=1)
    seeds = as_int(seeds, "seeds", minimum=1)
    gain_list = as_floats(gains, "gains", what="gain", positive=True)
    names = _inits(inits)
    cases = [(name, gain) for name in names for gain in gain_list]
    frames = []
    for (name, gain), gen in zip(cases, spawn_generators(rng, len(cases))):
        W = np.stack([init.get(name)(n, gain=gain, rng=gen) for _ in range(seeds)])
        frames.append(
            pd.DataFrame(
                {
                    "init": name,
                    "gain": gain,
                    "hidden_size": n,
                    "seed": np.arange(seeds),
                    "spectral_radius": np.atleast_1d(spectral.spectral_radius(W)),
                    "sigma_max": np.atleast_1d(spectral.spectral_norm(W)),
                }
            )
        )
    data = pd.concat(frames, ignore_index=True)

    colours = init_colours()
    fig = Figure(figsize=(2.3 * len(names) + 0.6, 3.7), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(names), sharex=True, sharey=True))
    for ax, name in zip(axes, names):
        part = data[data["init"] == name]
        plot_spectral_gap(part, ax=ax, palette=colours, legend=False)
        if np.allclose(part["spectral_radius"], part["sigma_max"], rtol=1e-9):
            ax.text(
                0.04,
                0.96,
                r"$\rho(W) = \sigma_{\max}(W)$" + "\nfor every draw",
                transform=ax.transAxes,
                ha="left",
                va="top",
                fontsize=7.5,
                color="0.25",
            )
        ax.set_title(init_label(name))
    for ax in axes[1:]:
        ax.set_ylabel("")
    figure_legend(fig, axes, ncols=4)
    fig.suptitle(
        f"Spectral radius and largest singular value of W: median and 10–90 % band over "
        f"{seeds} draws (N = {n})"
    )
    return fig, data
