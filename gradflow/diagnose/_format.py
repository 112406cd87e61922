"""Text and JSON forms of a report: number formatting, aligned tables, JSON-ready values."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["fmt", "jsonable", "render", "table"]


def jsonable(value):
    """``value`` with every number a plain int/float/bool, non-finite floats as strings.

    ``inf``, ``-inf`` and ``nan`` become ``"inf"``, ``"-inf"`` and ``"nan"``; None stays None
    (a quantity that was not computed); arrays and tuples become lists, mappings dicts.

    Examples
    --------
    >>> jsonable({"a": np.float64(np.inf), "b": (1, np.int64(2)), "c": np.array([0.5, np.nan])})
    {'a': 'inf', 'b': [1, 2], 'c': [0.5, 'nan']}
    """
    if value is None or isinstance(value, (bool, np.bool_, str)):
        return bool(value) if isinstance(value, np.bool_) else value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        x = float(value)
        if math.isfinite(x):
            return x
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    raise TypeError(f"value: cannot make {type(value).__name__} JSON-ready")


def fmt(x, digits: int = 4) -> str:
    """A number for a table: 4 significant digits, ``—`` for None, ``inf``/``nan`` spelled out.

    Examples
    --------
    >>> fmt(0.0123456), fmt(-2.5e-5), fmt(None), fmt(float("-inf")), fmt(True)
    ('0.01235', '-2.5e-05', '—', '-inf', 'yes')
    """
    if x is None:
        return "—"
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    if not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if x != 0 and (abs(x) >= 10**digits or abs(x) < 1e-3):
        return f"{x:.{digits - 1}g}"
    return f"{x:.{digits}g}"


def _plus_minus(value, stderr) -> str:
    """``value ± stderr``, or the value alone where it is not finite (a stderr means nothing
    beside -inf: a dead layer).

    >>> _plus_minus(-0.25, 0.0123), _plus_minus(float("-inf"), 0.0)
    ('-0.25 ± 0.012', '-inf')
    """
    if value is None or not math.isfinite(float(value)):
        return fmt(value)
    return f"{fmt(value)} ± {fmt(stderr, 2)}"


def table(headers, rows, *, right=None) -> str:
    """An aligned text table; columns in ``right`` (indices) are right-aligned.

    Examples
    --------
    >>> print(table(["a", "bb"], [["x", "1"], ["yyy", "22"]], right={1}))
    a    bb
    x     1
    yyy  22
    """
    right = set(right or ())
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        parts = [
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def _condition(block) -> tuple[str, str]:
    return ("met" if block.vanishing_sufficient else "not met",
            "met" if block.exploding_necessary else "not met")  # fmt: skip


def render(report) -> str:
    """The report as text: a header, the verdict, two aligned tables, notes and advice."""
    r, d = report, report.decision
    dims = f"N = {r.hidden_size}"
    if r.state_size != r.hidden_size:
        dims += f" (state [h, c]: {r.state_size})"
    dims += f", D = {r.input_size}"
    if r.activation:
        dims += f", {r.activation}"
    lines = [f"Layer {r.layer!r}: {r.kind}, {dims}"]
    if r.source:
        lines.append("  from " + ", ".join(r.source))
    lines.append(
        f"Verdict: {d.verdict}: max(rate, λ₁) = {fmt(d.statistic)}/step against ±{fmt(d.threshold)}"
        f" (rate {fmt(d.rate)}, λ₁ {fmt(d.exponent)}; {d.inputs} input, T = {r.steps})"
    )
    lines += ["", "Recurrent weights (Pascanu et al. 2013: σ_max < 1/γ suffices to vanish, "
              "σ_max > 1/γ is needed to explode)"]  # fmt: skip
    headers = ["block", "φ", "γ", "ρ", "σ_max", "σ_min", "κ", "defect", "non-normal",
               "s√N", "σ_max<1/γ", "σ_max>1/γ"]  # fmt: skip
    rows = []
    for b in r.blocks:
        rows.append([b.block, b.nonlinearity, fmt(b.gamma), fmt(b.spectral_radius),
                     fmt(b.sigma_max), fmt(b.sigma_min), fmt(b.condition_number),
                     fmt(b.orthogonality_defect), fmt(b.non_normality),
                     fmt(b.circular_law_radius), *_condition(b)])  # fmt: skip
    lines.append(table(headers, rows, right=set(range(2, 10))))
    g0 = r.growth[0]
    lines += ["", f"Gradient growth ({g0.samples} samples, burn-in {g0.burn_in}, "
              f"{g0.windows} windows of {r.steps} steps; λ₁ of the full state)"]  # fmt: skip
    headers = ["inputs", "rate/step", "factor", "λ₁ window", "λ₁ range", "λ₁ long run",
               "G", "memory", "gate means"]  # fmt: skip
    rows = []
    for g in r.growth:
        means = ", ".join(f"{k.removeprefix('mean_')} {fmt(v, 3)}" for k, v in g.step_means.items())
        rows.append([
            g.inputs, _plus_minus(g.rate, g.rate_stderr), fmt(g.factor),
            fmt(g.finite_time_exponent),
            f"{fmt(g.finite_time_low)} … {fmt(g.finite_time_high)}",
            _plus_minus(g.exponent, g.exponent_stderr), fmt(g.window_gradient_norm),
            fmt(g.memory_time), means,
        ])  # fmt: skip
    lines.append(table(headers, rows, right={1, 2, 3, 6, 7}))
    for title, items in (("Notes", r.notes), ("Advice", r.advice)):
        if items:
            lines += ["", title] + [f"- {item}" for item in items]
    return "\n".join(lines)
