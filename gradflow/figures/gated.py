"""Figures of gated cells: gradient growth of Elman, LSTM and GRU networks, full-state against
h-only Lyapunov spectra, and the memory time scale set by the forget gate.

Each function computes its tidy data through ``simulate``, ``cells`` and ``lyapunov``, draws it
with :mod:`gradflow.plot` and returns ``(Figure, DataFrame)``; the numbers its caption states
are computed from that frame (``numbers=``), so they are the figure's own.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .. import cells, simulate
from .. import init as _init
from .. import lyapunov as lyap
from .._rng import spawn_generators
from .._validation import as_float, as_floats, as_int
from ..plot import growth as growth_plot
from ..plot import lyapunov as lplot
from ..plot import palette as _palette
from ._catalogue import register
from ._common import figure_legend, median_band

__all__ = ["CELL_LABELS", "gated_growth", "gated_lyapunov", "memory_timescale"]

#: Display names of the cells.
CELL_LABELS = {"elman": "Elman (tanh)", "lstm": "LSTM", "gru": "GRU"}
#: Display names of the two analyses of an LSTM (a GRU's state is h: both are one).
ANALYSES = {"full": "full state [h, c]", "h_only": "h only (c held fixed)"}
_DRIVE = {"kind": "gaussian", "scale": 0.5, "size": 4}


def _driven_networks(kind, n, gain, forget_bias, seeds, steps, gen, *, chrono=None):
    """A stack of ``seeds`` gated networks (orthogonal gate blocks at ``gain``) and a driven run.

    Input weights N(0, 0.5²/D) on every gate row and Gaussian inputs, D = 4, as in the sweeps'
    Gaussian drive; the state starts at zero.
    """
    size = _DRIVE["size"]
    if chrono is None:
        params = cells.initial_params(
            kind, n, gain=gain, forget_bias=forget_bias, rng=gen, batch=seeds
        )
    else:
        params = _init.lstm(n, gain=gain, chrono=chrono, rng=gen, batch=seeds)
        params.pop("W_xh", None)
    rows = params["W_hh"].shape[-2]
    params["W_xh"] = gen.standard_normal((seeds, rows, size)) * (_DRIVE["scale"] / math.sqrt(size))
    cell = cells.build(kind, params)
    return cell, cell.run(gen.standard_normal((steps, seeds, size)))


# -- 1. gradient growth -------------------------------------------------------------------------
def _growth_numbers(data: pd.DataFrame) -> dict:
    """Per-step growth rate of the median log norm over the second half of the lags."""
    last, high = int(data["lag"].max()), data["forget_bias"].max()
    out = {"g_max": data["gain"].max()}
    names = {0.0: "0", high: "high"}
    for (kind, bias), part in data[data["gain"] == out["g_max"]].groupby(["cell", "forget_bias"]):
        curve = part.set_index("lag")["log_norm"]
        rate = (curve[last] - curve[last // 2]) / (last - last // 2)
        out[kind if kind == "elman" else f"{kind}_{names[bias]}"] = rate
    return out


@register(
    "gated_growth",
    caption=(
        "Gradient norm ‖∂⟨v, h_T⟩/∂h_(T−lag)‖ against lag for Elman (tanh), LSTM and GRU networks "
        "of N = {hidden_size} units, every recurrent block orthogonal at gain g, driven by "
        "Gaussian inputs (input weights N(0, 0.5²/4)); median and 10–90 % band over {seeds} draws, "
        "T = {steps}. Solid: forget-gate bias 0; dashed: bias {bias_high:g} (LSTM forget gate, "
        "GRU update gate). The gradient of a gated cell flows through the full state ([h, c] "
        "for the LSTM), whose gates set its growth: over the second half of the lags, at "
        "g = {g_max:g}, the log norm changes by {elman:+.3f} nats per step for Elman, by "
        "{lstm_0:+.3f} (bias 0) and {lstm_high:+.3f} (bias {bias_high:g}) for the LSTM and by "
        "{gru_0:+.3f} and {gru_high:+.3f} for the GRU."
    ),
    quick={"hidden_size": 16, "steps": 40, "seeds": 3},
    numbers=_growth_numbers,
)
def gated_growth(
    *, hidden_size=64, steps=200, seeds=16, gains=(0.5, 1.0, 2.0, 4.0), bias_high=3.0, rng=2
) -> tuple[Figure, pd.DataFrame]:
    """Gradient norm against lag for Elman, LSTM and GRU at several gains and forget biases.

    Returns
    -------
    fig : matplotlib.figure.Figure
    data : pandas.DataFrame
        One row per (cell, forget_bias, gain, lag): ``log_norm`` (median over the draws of the
        natural log of the norm), ``log_norm_low``, ``log_norm_high`` (10 % and 90 %),
        ``seeds``.
    """
    gain_list = as_floats(gains, "gains", what="gain", positive=True, distinct=True)
    bias_high = as_float(bias_high, "bias_high")
    opts = dict(hidden_size=hidden_size, steps=steps, seeds=seeds, rng=rng, inputs=_DRIVE,
                progress=False, spectral=False)  # fmt: skip
    frames = []
    for kind in cells.KINDS:
        for bias in (0.0,) if kind == "elman" else (0.0, bias_high):
            frame = simulate.gradient_growth(
                ["orthogonal"], gain_list, cell=kind, forget_bias=bias, **opts
            )
            frames.append(frame.assign(forget_bias=bias))
    data = median_band(pd.concat(frames, ignore_index=True),
                       ["cell", "forget_bias", "gain", "lag"], "log_norm")  # fmt: skip
    fig = Figure(figsize=(12.5, 4.4), layout="constrained")
    axes = fig.subplots(1, 3, sharex=True, sharey=True)
    colours = _palette(gain_list)
    for ax, kind in zip(axes, cells.KINDS):
        part = data[data["cell"] == kind]
        part = part.assign(
            g=[f"g = {g:g}" for g in part["gain"]],
            bias=[f"bias {b:g}" for b in part["forget_bias"]],
        )
        growth_plot(
            part, ax=ax, hue="g", style="bias" if kind != "elman" else None,
            palette={f"g = {g:g}": c for g, c in colours.items()},
            band=("log_norm_low", "log_norm_high"), legend=kind == "lstm",
        )  # fmt: skip
        ax.set_title(CELL_LABELS[kind])
        ax.set_xlabel("lag (steps back from T)")
    axes[0].set_ylabel("gradient norm (median, 10–90 % band)")
    if axes[1].get_legend() is not None:
        axes[1].get_legend().remove()
    figure_legend(fig, axes, ncols=len(gain_list) + 3)
    return fig, data


# -- 2. full-state against h-only spectra -------------------------------------------------------
def _spectra_numbers(data: pd.DataFrame) -> dict:
    top = data[data["index"] == 1].groupby(["cell", "analysis", "gain"])["exponent"].mean()
    gains = sorted(data["gain"].unique())
    g = min(gains, key=lambda x: abs(x - 1.0))
    return {
        "g_one": g,
        "full_one": top[("lstm", "full", g)],
        "h_one": top[("lstm", "h_only", g)],
        "tau_full": -1.0 / top[("lstm", "full", g)],
        "tau_h": -1.0 / top[("lstm", "h_only", g)],
        "gru_one": top[("gru", "full", g)],
        "g_last": gains[-1],
        "full_last": top[("lstm", "full", gains[-1])],
        "h_last": top[("lstm", "h_only", gains[-1])],
    }


@register(
    "gated_lyapunov",
    caption=(
        "Lyapunov spectra of driven LSTM and GRU networks (N = {hidden_size}, orthogonal gate "
        "blocks at gain g, forget bias {forget_bias:g}, Gaussian inputs; {seeds} networks per "
        "gain, {steps} steps after a burn-in of {burn_in}): left, the top exponent λ₁ against g "
        "(mean and ±1 s.d. over networks); middle and right, the spectra at g = {g_one:g} and "
        "g = {g_last:g}. The LSTM's full-state analysis takes the Jacobian of [h, c] (2N "
        "exponents); the h-only analysis of published LSTM codes takes ∂h_t/∂h_(t−1) with c "
        "held fixed (N exponents) and misses the cell-state path, whose decay the forget gate "
        "sets: at g = {g_one:g} the full state has λ₁ = {full_one:.3f} (memory −1/λ₁ = "
        "{tau_full:.1f} steps), the h-only analysis {h_one:.3f} ({tau_h:.1f} steps). At g = "
        "{g_last:g}: {full_last:.3f} against {h_last:.3f}. The GRU's state is h alone (λ₁ = "
        "{gru_one:.3f} at g = {g_one:g})."
    ),
    quick={"hidden_size": 8, "steps": 300, "burn_in": 100, "seeds": 2, "gains": (0.5, 1.0, 4.0)},
    numbers=_spectra_numbers,
)
def gated_lyapunov(
    *, hidden_size=32, steps=2000, burn_in=500, seeds=4, gains=(0.25, 0.5, 1.0, 2.0, 4.0, 8.0),
    forget_bias=1.0, rng=3,
) -> tuple[Figure, pd.DataFrame]:  # fmt: skip
    """Full-state and h-only Lyapunov spectra of LSTM and GRU networks against the gain.

    Returns
    -------
    fig : matplotlib.figure.Figure
    data : pandas.DataFrame
        One row per (cell, analysis, gain, network, index): ``exponent``, ``stderr`` (nats per
        step), ``state_size``.
    """
    gain_list = as_floats(gains, "gains", what="gain", positive=True, distinct=True)
    steps = as_int(steps, "steps", minimum=2)
    burn_in = as_int(burn_in, "burn_in", minimum=0)
    rows = []
    gens = spawn_generators(rng, 2 * len(gain_list))
    for c, kind in enumerate(("lstm", "gru")):
        for g, gain in enumerate(gain_list):
            gen = gens[c * len(gain_list) + g]
            cell, traj = _driven_networks(kind, hidden_size, gain, forget_bias, seeds,
                                          burn_in + steps, gen)  # fmt: skip
            views = {"full": cell, "h_only": cell.h_only()} if kind == "lstm" else {"full": cell}
            for analysis, view in views.items():
                result = lyap.along(view, traj, burn_in=burn_in, rng=0)
                frame = result.to_frame().assign(
                    cell=kind, analysis=analysis, gain=gain, state_size=view.state_size
                )
                rows.append(frame)
    data = pd.concat(rows, ignore_index=True)
    data = data[["cell", "analysis", "gain", "network", "index", "exponent", "stderr",
                 "state_size"]]  # fmt: skip
    data["curve"] = [
        f"{CELL_LABELS[k]}, {ANALYSES[a]}" if k == "lstm" else f"{CELL_LABELS[k]} (h)"
        for k, a in zip(data["cell"], data["analysis"])
    ]
    curves = list(dict.fromkeys(data["curve"]))
    colours = _palette(curves)
    fig = Figure(figsize=(13, 4.4), layout="constrained")
    axes = fig.subplots(1, 3)
    top = data[data["index"] == 1]
    lplot.phase_diagram(top, ax=axes[0], hue="curve", palette=colours, edge=None, legend=False)
    axes[0].set_ylabel(r"top exponent $\lambda_1$ (nats per step)")
    axes[0].set_title(r"$\lambda_1$ against the gain")
    numbers = _spectra_numbers(data)
    for ax, gain in zip(axes[1:], (numbers["g_one"], numbers["g_last"])):
        part = data[data["gain"] == gain].groupby(["curve", "index"], sort=False)
        mean = part[["exponent", "stderr"]].mean().reset_index()
        lplot.lyapunov_spectrum(mean, ax=ax, hue="curve", palette=colours, size=None,
                                labels=lambda level: level, legend=False)  # fmt: skip
        ax.set_xlabel("index i")
        ax.set_title(f"spectra at g = {gain:g} (mean over networks)")
    figure_legend(fig, axes, ncols=len(curves))
    return fig, data


# -- 3. memory time scale -----------------------------------------------------------------------
def _memory_numbers(data: pd.DataFrame) -> dict:
    sweep = data[data["init"] == "forget bias"].groupby("forget_bias")
    lam, err = sweep["exponent"].mean(), sweep["stderr"].mean()
    decaying = lam[lam + 2 * err < 0]
    neutral = lam.index[lam + 2 * err >= 0]
    chrono = data[data["init"] == "chrono"].groupby("t_max")["exponent"].mean()
    return {
        "b_low": lam.index[0], "lam_low": lam.iloc[0], "b_high": lam.index[-1],
        "lam_high": lam.iloc[-1], "tau_low": -1.0 / decaying.iloc[0],
        "b_long": decaying.index[-1], "tau_long": -1.0 / decaying.iloc[-1],
        "neutral": (f"from b = {neutral[0]:g} on, λ₁ is within two standard errors of 0 or "
                    "above: the state no longer forgets") if len(neutral) else
                   "λ₁ stays negative at every bias drawn",
        "chrono": ", ".join(f"{-1.0 / lam_c:.0f} steps at T_max = {t:g}"
                            for t, lam_c in chrono.items()),
    }  # fmt: skip


@register(
    "memory_timescale",
    caption=(
        "Memory time scale of driven LSTM networks (N = {hidden_size}, orthogonal gate blocks at "
        "gain {gain:g}, Gaussian inputs; {seeds} networks per point, {steps} steps after a burn-in "
        "of {burn_in}): left, the top full-state Lyapunov exponent λ₁ against the forget-gate "
        "bias b (mean and ±1 s.d. over networks), beside ln σ(b), the exact exponent of an LSTM "
        "whose weights are zero, and ln f̄ (the mean forget gate along the run); right, the "
        "time scale −1/λ₁ in steps where λ₁ < 0, beside −1/ln σ(b) ≈ e^b. λ₁ rises from "
        "{lam_low:.3f} at b = {b_low:g} to {lam_high:.4f} at b = {b_high:g}; the time scale "
        "from {tau_low:.1f} steps to {tau_long:.0f} at b = {b_long:g}, and {neutral}. Chrono "
        "initialisation (Tallec & Ollivier 2018: b_f = ln U(1, T_max − 1), b_i = −b_f; "
        "diamonds, at their mean bias) spreads the biases so that the slowest units remember "
        "about T_max steps: {chrono}."
    ),
    quick={
        "hidden_size": 8,
        "steps": 300,
        "burn_in": 100,
        "seeds": 2,
        "forget_biases": (-1.0, 1.0, 3.0),
        "t_max": (10,),
    },
    numbers=_memory_numbers,
)
def memory_timescale(
    *, hidden_size=32, steps=4000, burn_in=500, seeds=4, gain=1.0,
    forget_biases=(-2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0), t_max=(10, 100), rng=4,
) -> tuple[Figure, pd.DataFrame]:  # fmt: skip
    """Top exponent and memory time scale of LSTMs against the forget bias, chrono marked.

    Returns
    -------
    fig : matplotlib.figure.Figure
    data : pandas.DataFrame
        One row per network: ``init`` ("forget bias" or "chrono"), ``forget_bias`` (the mean
        forget-gate bias), ``t_max`` (chrono; NaN otherwise), ``network``, ``exponent`` (λ₁,
        nats per step) and its ``stderr``, ``log_mean_f`` (ln of the mean forget gate),
        ``zero_weight`` (ln σ(b)).
    """
    biases = as_floats(forget_biases, "forget_biases", what="bias", distinct=True)
    horizons = as_floats(t_max, "t_max", what="T_max", positive=True, distinct=True)
    gens = spawn_generators(rng, len(biases) + len(horizons))
    rows = []
    settings = [("forget bias", b, None) for b in biases] + [("chrono", 0.0, t) for t in horizons]
    for (kind, bias, horizon), gen in zip(settings, gens):
        cell, traj = _driven_networks("lstm", hidden_size, gain, bias, seeds, burn_in + steps, gen,
                                      chrono=horizon)  # fmt: skip
        result = lyap.along(cell, traj, k=1, burn_in=burn_in, rng=0)
        mean_f = cell.step_summary(traj)["mean_f"][burn_in:].mean(axis=0)
        b_f = cell.b[:, hidden_size : 2 * hidden_size].mean(axis=1)  # rows i, f, g, o
        rows.append(pd.DataFrame({
            "init": kind, "forget_bias": b_f, "t_max": np.nan if horizon is None else horizon,
            "network": np.arange(seeds), "exponent": result.exponents[:, 0],
            "stderr": result.stderr[:, 0], "log_mean_f": np.log(mean_f),
            "zero_weight": -np.logaddexp(0.0, -b_f),
        }))  # fmt: skip
    data = pd.concat(rows, ignore_index=True)
    fig = Figure(figsize=(10.5, 4.4), layout="constrained")
    axes = fig.subplots(1, 2, sharex=True)
    sweep = data[data["init"] == "forget bias"]
    zero, mean_f = r"$\ln\sigma(b)$, zero weights", r"$\ln\bar f$ along the run"
    theory = pd.concat([sweep.assign(curve=zero, value=sweep["zero_weight"]),
                        sweep.assign(curve=mean_f, value=sweep["log_mean_f"])])  # fmt: skip
    full = "LSTM, full state"
    colours = _palette([full, *(f"chrono {t:g}" for t in horizons)])
    lplot.phase_diagram(
        sweep.assign(curve=full), ax=axes[0], x="forget_bias", hue="curve", palette=colours,
        theory=theory, theory_y="value", edge=None, log_gain=False, legend=False,
        curve_styles={mean_f: {"linestyle": ":"}},
    )  # fmt: skip
    axes[0].set_ylabel(r"top exponent $\lambda_1$ (nats per step)")
    lam = sweep.groupby("forget_bias")["exponent"].mean()
    decaying = lam[lam < 0]
    axes[1].plot(decaying.index, -1.0 / decaying.to_numpy(), marker="o", color=colours[full],
                 label=r"LSTM, full state: $-1/\lambda_1$")  # fmt: skip
    grid = np.linspace(min(biases), max(biases), 100)
    axes[1].plot(grid, 1.0 / np.logaddexp(0.0, -grid), color="0.2", linestyle="--",
                 label=r"$-1/\ln\sigma(b)$ (zero weights)")  # fmt: skip
    for horizon, part in data[data["init"] == "chrono"].groupby("t_max"):
        colour, label = colours[f"chrono {horizon:g}"], f"chrono, $T_{{max}}$ = {horizon:g}"
        x, exponent = part["forget_bias"].mean(), part["exponent"].mean()
        axes[0].plot(x, exponent, marker="D", linestyle="", markersize=8, color=colour,
                     label=label)  # fmt: skip
        if exponent < 0:
            axes[1].plot(x, -1.0 / exponent, marker="D", linestyle="", markersize=8,
                         color=colour)  # fmt: skip
    axes[1].set_yscale("log")
    axes[1].set_ylabel(r"memory time scale $-1/\lambda_1$ (steps)")
    for ax in axes:
        ax.set_xlabel("forget-gate bias b (mean over units)")
    figure_legend(fig, axes, ncols=3)
    return fig, data
