r"""The verdict, the notes that qualify it and the advice (part of :mod:`gradflow.diagnose`).

Pure functions of the numbers a report has measured: nothing here runs a network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "CLIP_FACTOR",
    "NEAR_CRITICAL_FACTOR",
    "NEAR_CRITICAL_RATE",
    "VERDICTS",
    "Decision",
    "advice",
    "clip_threshold",
    "decide",
    "notes",
    "threshold",
]

VERDICTS = ("exploding", "vanishing", "near-critical")
#: Largest |growth rate| (nats per step) that counts as near-critical: a factor e per 100 steps.
NEAR_CRITICAL_RATE = 0.01
#: Largest change of the gradient across the whole lag window that counts as near-critical.
NEAR_CRITICAL_FACTOR = 10.0
#: The clipping threshold is this many times the median window gradient norm.
CLIP_FACTOR = 3.0
#: Relative distance from 1 within which a spectral radius counts as 1 in the notes: an
#: orthogonal block's computed ρ is 1 only to rounding (1 ± a few ulp), and is neither above nor
#: below the unit circle (the tolerance of :func:`gradflow.theory.pascanu_regime`'s boundary).
_UNIT_RTOL = 1e-12


def _above_one(rho: float) -> bool:
    return rho > 1.0 + _UNIT_RTOL


def _below_one(rho: float) -> bool:
    return rho < 1.0 - _UNIT_RTOL


def threshold(steps: int) -> float:
    r"""The near-critical band :math:`\varepsilon(T) = \min(0.01, \ln 10 / T)` nats per step.

    Examples
    --------
    >>> threshold(100), round(threshold(1000), 6)
    (0.01, 0.002303)
    """
    return min(NEAR_CRITICAL_RATE, math.log(NEAR_CRITICAL_FACTOR) / steps)


@dataclass(frozen=True)
class Decision:
    """The verdict and the numbers that decide it (see :func:`decide`)."""

    verdict: str
    statistic: float
    rate: float
    exponent: float
    threshold: float
    inputs: str


def decide(rate: float, exponent: float, steps: int, inputs: str = "zero") -> Decision:
    r"""Exploding, vanishing or near-critical, from the measured rate and the top exponent.

    Parameters
    ----------
    rate : float
        Measured growth rate of the gradient over the lag window (nats per step).
    exponent : float
        Asymptotic top Lyapunov exponent of the full state (nats per step).
    steps : int
        The lag window T.
    inputs : str
        Which drive the numbers come from (recorded only).

    Returns
    -------
    Decision

    Notes
    -----
    With :math:`m = \max(\text{rate}, \lambda_1)` and :math:`\varepsilon = \varepsilon(T)`
    (:func:`threshold`): **exploding** if :math:`m > \varepsilon`, **vanishing** if
    :math:`m < -\varepsilon`, **near-critical** otherwise. The maximum makes the rule
    conservative both ways: a gradient that grows over the window, or a most-amplified
    direction that grows in the long run, is exploding; vanishing needs both to decay.

    Examples
    --------
    >>> decide(math.log(0.5), math.log(0.5), 100).verdict
    'vanishing'
    >>> decide(-0.004, 0.0, 100).verdict, decide(-0.2, 0.05, 100).verdict
    ('near-critical', 'exploding')
    """
    eps = threshold(steps)
    statistic = max(rate, exponent)
    if statistic > eps:
        verdict = "exploding"
    elif statistic < -eps:
        verdict = "vanishing"
    else:
        verdict = "near-critical"
    return Decision(verdict, float(statistic), float(rate), float(exponent), eps, inputs)


def clip_threshold(window_gradient_norm: float) -> float:
    r""":data:`CLIP_FACTOR` (3) times the median window gradient norm G.

    Examples
    --------
    >>> clip_threshold(10.0)
    30.0
    """
    return CLIP_FACTOR * window_gradient_norm


def _num(x: float) -> str:
    if x is None:
        return "n/a"
    if not math.isfinite(x):
        return "inf" if x > 0 else ("-inf" if x < 0 else "nan")
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return f"{x:.3g}"
    return f"{x:.4g}"


def notes(report_parts) -> list[str]:
    """Sentences that qualify the verdict (``report_parts``: see ``_report._parts``)."""
    p = report_parts
    d, blocks, growth, gated = p["decision"], p["blocks"], p["primary"], p["gated"]
    out = []
    if gated:
        hot = [b for b in blocks if _above_one(b.spectral_radius)]
        if hot and d.verdict != "exploding":
            names = ", ".join(f"{b.block} (ρ = {_num(b.spectral_radius)})" for b in hot)
            out.append(
                f"Gate blocks with ρ > 1: {names}; yet the measured full-state growth is "
                f"{d.verdict}. Saturating gates tame such blocks, and trained LSTMs routinely "
                "carry them: for gated cells the verdict rests on the measured growth, not on "
                "the spectrum of a gate block."
            )
        if not hot and d.verdict == "exploding":
            out.append(
                "Every gate block has ρ <= 1, yet the measured growth is exploding: the gate "
                "paths add up, and the forget gate's path grows with |c|."
            )
        if growth.memory_time is not None:
            gate = "forget" if p["kind"] == "lstm" else "update"
            rel = "longer" if growth.memory_time > growth.steps else "shorter"
            out.append(
                f"The mean {gate} gate sets a memory time scale of {_num(growth.memory_time)} "
                f"steps, {rel} than the {growth.steps}-step window."
            )
    else:
        b = blocks[0]
        if b.vanishing_sufficient:
            out.append(
                f"σ_max = {_num(b.sigma_max)} < 1/γ = {_num(b.bound)}: Pascanu et al.'s "
                "sufficient condition for vanishing gradients is met."
            )
        if p["activation"] == "linear":
            side = "<" if _below_one(b.spectral_radius) else ">="
            out.append(
                f"For a linear cell ρ decides exactly: ρ = {_num(b.spectral_radius)} {side} 1; "
                "its Jacobian is W_hh whatever the state, so its runs are input-free."
            )
        elif _above_one(b.spectral_radius) and d.verdict != "exploding":
            phi = growth.step_means.get("mean_phi_prime")
            out.append(
                f"ρ(W_hh) = {_num(b.spectral_radius)} > 1, yet the measured growth is "
                f"{d.verdict}: saturation of {p['activation']} (mean φ' = {_num(phi)}) shrinks "
                "the Jacobians."
            )
        elif _below_one(b.spectral_radius) and d.verdict == "exploding":
            out.append(
                f"ρ(W_hh) = {_num(b.spectral_radius)} < 1, yet gradients grow over the window: "
                f"a transient of a non-normal W_hh (σ_max = {_num(b.sigma_max)})."
            )
    if d.rate < -d.threshold and d.exponent > d.threshold:
        out.append(
            f"The window rate is {_num(d.rate)}/step but the top exponent is "
            f"{_num(d.exponent)}/step: gradients that align with the most amplified direction "
            "grow beyond the window."
        )
    decisive, error = (
        (growth.rate, growth.rate_stderr)
        if d.statistic == d.rate
        else (growth.exponent, growth.exponent_stderr)
    )
    if math.isfinite(decisive) and min(abs(decisive - d.threshold),
                                       abs(decisive + d.threshold)) < 2.0 * error:  # fmt: skip
        which = "rate" if d.statistic == d.rate else "λ₁"
        out.append(
            f"A marginal verdict: the deciding {which} = {_num(decisive)} ± {_num(error)}/step "
            f"lies within two standard errors of the band edge ±{_num(d.threshold)}."
        )
    for other in p["others"]:
        if other.verdict != d.verdict:
            out.append(
                f"With {other.inputs} input the same rule gives {other.verdict} (rate "
                f"{_num(other.rate)}/step, λ₁ {_num(other.exponent)}/step)."
            )
    if not p["has_inputs"]:
        out.append("The layer has no input weights: zero input only.")
    if any(g.shortened for g in p["growth"]):
        out.append("The activity overflowed on the long run, which was cut to fewer windows.")
    if p["spectra"] == "fast":
        out.append("spectra='fast': no eigenvalues and no non-normality were computed.")
    return out


def advice(report_parts) -> list[str]:
    """What to do about it: a clipping threshold and, where the spectrum calls for it, a new
    initialisation (``report_parts``: see ``_report._parts``)."""
    p = report_parts
    d, blocks, growth, kind = p["decision"], p["blocks"], p["primary"], p["kind"]
    steps = growth.steps
    thr, g_norm = p["clip_threshold"], growth.window_gradient_norm
    clip_line = (
        f"Clip the global gradient norm (gradflow.clip.by_global_norm) at about "
        f"{_num(thr)} × the norm of the loss gradient on one step's hidden state "
        f"({_num(CLIP_FACTOR)} × the median window gradient norm {_num(g_norm)}): a starting "
        "point; settle it from the norms seen in the first updates (Pascanu et al. 2013 clip "
        "at about their average)."
    )
    # clipping bounds growing gradients; it cannot restore vanishing ones
    out = [] if d.verdict == "vanishing" else [clip_line]
    top = max(blocks, key=lambda b: b.spectral_radius)
    if d.verdict == "exploding":
        if kind == "elman":
            out.append(
                f"Re-initialise W_hh orthogonally (gradflow.init.orthogonal, gain 1), or scale "
                f"it by 1/ρ = {_num(1.0 / top.spectral_radius)}; clipping is required until then."
            )
        else:
            out.append(
                f"Re-initialise the recurrent gate blocks orthogonally (gradflow.init.{kind}, "
                f"recurrent='orthogonal', gain 1; largest ρ in {top.block}, "
                f"{_num(top.spectral_radius)}); clipping is required until then."
            )
    elif d.verdict == "vanishing":
        if kind == "elman":
            out.append(
                f"Re-initialise W_hh orthogonally (gradflow.init.orthogonal, gain 1): "
                f"ρ = {_num(top.spectral_radius)}, σ_max = {_num(top.sigma_max)}; an orthogonal "
                "W_hh keeps every singular value at 1."
            )
        elif growth.memory_time is not None and growth.memory_time < steps:
            if kind == "lstm":
                out.append(
                    f"Chrono initialisation with T_max ≈ {steps} (Tallec & Ollivier 2018): "
                    "b_f = log U(1, T_max - 1), b_i = -b_f (gradflow.init.lstm(chrono=...)); "
                    "at least a forget bias of 1 (Jozefowicz et al. 2015)."
                )
            else:
                out.append(
                    f"Raise the update-gate bias (z keeps the state in PyTorch's GRU): "
                    f"b_z = log U(1, T_max - 1) with T_max ≈ {steps}, the chrono rule of "
                    "Tallec & Ollivier (2018) applied to z."
                )
        else:
            out.append(
                "Re-initialise the recurrent gate blocks orthogonally (gain 1) and check the "
                "gate biases."
            )
    else:
        out.append("No re-initialisation needed: gradients keep their scale across the window.")
    return out
