r""":func:`report` and the :class:`Report` it returns (part of :mod:`gradflow.diagnose`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._format import jsonable, render
from ._growth import Growth
from ._spectra import BlockSpectrum
from ._verdict import Decision

__all__ = ["Report"]


@dataclass(frozen=True, eq=False)
class Report:
    r"""What a layer's recurrent weights imply for gradients over time (see :func:`report`).

    Attributes
    ----------
    layer, kind : str
        The layer's name and ``"elman"``, ``"lstm"`` or ``"gru"``.
    hidden_size, state_size, input_size : int
    activation : str or None
        An Elman cell's nonlinearity (None for gated cells).
    source : tuple of str
        The keys the weights came from; ``direction``, ``index`` as in
        :class:`gradflow.io.RecurrentLayer`.
    steps, inputs, samples, burn_in, windows, spectra
        The settings: lag window T, the drive the verdict rests on, networks run at once,
        burn-in steps, windows of the long run, ``"full"`` or ``"fast"`` spectra.
    blocks : tuple of BlockSpectrum
        One per recurrent matrix (``cell.recurrent_blocks`` order).
    growth : tuple of Growth
        One per input kind measured, in the order zero, gaussian, given.
    decision : Decision
        The verdict and the numbers behind it.
    clip_threshold : float
        Suggested global-norm clipping bound (see :func:`report`).
    notes, advice : tuple of str
    """

    layer: str
    kind: str
    hidden_size: int
    state_size: int
    input_size: int
    activation: str | None
    source: tuple
    direction: str | None
    index: int | None
    steps: int
    inputs: str
    samples: int
    burn_in: int
    windows: int
    spectra: str
    blocks: tuple
    growth: tuple
    decision: Decision
    clip_threshold: float
    notes: tuple
    advice: tuple

    @property
    def verdict(self) -> str:
        """``"exploding"``, ``"vanishing"`` or ``"near-critical"``."""
        return self.decision.verdict

    def block(self, name: str) -> BlockSpectrum:
        """The spectrum of the block called ``name`` (``"W_hh"``, ``"W_hf"``, ...)."""
        for b in self.blocks:
            if b.block == name:
                return b
        raise KeyError(f"block: expected one of {', '.join(b.block for b in self.blocks)}")

    def growth_for(self, inputs: str) -> Growth:
        """The growth measured with ``inputs`` (``"zero"``, ``"gaussian"`` or ``"given"``)."""
        for g in self.growth:
            if g.inputs == inputs:
                return g
        raise KeyError(f"inputs: measured {', '.join(g.inputs for g in self.growth)}")

    def __str__(self) -> str:
        return render(self)

    def __repr__(self) -> str:
        return f"Report(layer={self.layer!r}, kind={self.kind!r}, verdict={self.verdict!r})"

    # -- machine-readable forms -------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Every number of the report as plain JSON-ready values.

        Non-finite numbers are the strings ``"inf"``, ``"-inf"`` and ``"nan"``; None (JSON
        null) marks a quantity that was not computed (``non_normality`` and ``eigenvalues``
        with ``spectra="fast"``, ``memory_time`` of an Elman cell, ``input_drive_rms`` without
        input). Eigenvalues are given as their ``real`` and ``imag`` parts; the curves as
        ``lag``, ``log_norm`` (mean over samples), ``log_norm_low``/``_high`` (range) and
        ``log_norms`` (one list per sample). ``json.dumps`` works on it as it is, and
        ``json.loads(json.dumps(d)) == d``.
        """
        blocks = []
        for b in self.blocks:
            eig = None if b.eigenvalues is None else {"real": b.eigenvalues.real,
                                                      "imag": b.eigenvalues.imag}  # fmt: skip
            blocks.append({"block": b.block, "nonlinearity": b.nonlinearity, "pascanu": b.pascanu,
                           **b.numbers(), "eigenvalues": eig,
                           "singular_values": b.singular_values})  # fmt: skip
        growth = []
        for g in self.growth:
            growth.append({
                "inputs": g.inputs, "rate": g.rate, "rate_stderr": g.rate_stderr,
                "factor": g.factor,
                "window_gradient_norm": g.window_gradient_norm,
                "finite_time_exponent": g.finite_time_exponent,
                "finite_time_low": g.finite_time_low, "finite_time_high": g.finite_time_high,
                "exponent": g.exponent, "exponent_stderr": g.exponent_stderr,
                "step_means": dict(g.step_means), "memory_time": g.memory_time,
                "recurrent_drive_rms": g.recurrent_drive_rms,
                "input_drive_rms": g.input_drive_rms, "windows": g.windows,
                "shortened": g.shortened,
                "curve": {"lag": g.lags, "log_norm": g.log_norm,
                          "log_norm_low": g.log_norms.min(axis=1),
                          "log_norm_high": g.log_norms.max(axis=1),
                          "log_norms": g.log_norms.T},
            })  # fmt: skip
        d = self.decision
        return jsonable({
            "layer": self.layer, "kind": self.kind, "hidden_size": self.hidden_size,
            "state_size": self.state_size, "input_size": self.input_size,
            "activation": self.activation, "source": list(self.source),
            "direction": self.direction, "index": self.index,
            "settings": {"steps": self.steps, "inputs": self.inputs, "samples": self.samples,
                         "burn_in": self.burn_in, "windows": self.windows,
                         "spectra": self.spectra},
            "verdict": d.verdict,
            "decision": {"statistic": d.statistic, "rate": d.rate, "exponent": d.exponent,
                         "threshold": d.threshold, "inputs": d.inputs},
            "clip_threshold": self.clip_threshold,
            "blocks": blocks, "growth": growth,
            "notes": list(self.notes), "advice": list(self.advice),
        })  # fmt: skip

    def to_frame(self) -> pd.DataFrame:
        """Tidy: one row per scalar quantity.

        Columns ``layer``, ``kind``, ``verdict``, ``block`` (a block's name, "" for the layer),
        ``inputs`` (the drive, "" for the spectra), ``quantity`` and ``value`` (float; the
        conditions as 1.0/0.0, non-finite values as they are, None as NaN).
        """
        rows = []
        for b in self.blocks:
            rows += [(b.block, "", k, v) for k, v in b.numbers().items()]
        for g in self.growth:
            values = {"rate": g.rate, "rate_stderr": g.rate_stderr, "factor": g.factor,
                      "window_gradient_norm": g.window_gradient_norm,
                      "finite_time_exponent": g.finite_time_exponent,
                      "finite_time_low": g.finite_time_low,
                      "finite_time_high": g.finite_time_high, "exponent": g.exponent,
                      "exponent_stderr": g.exponent_stderr, **g.step_means,
                      "memory_time": g.memory_time,
                      "recurrent_drive_rms": g.recurrent_drive_rms,
                      "input_drive_rms": g.input_drive_rms}  # fmt: skip
            rows += [("", g.inputs, k, v) for k, v in values.items()]
        d = self.decision
        for k, v in (("statistic", d.statistic), ("threshold", d.threshold),
                     ("clip_threshold", self.clip_threshold)):  # fmt: skip
            rows.append(("", d.inputs if k == "statistic" else "", k, v))
        frame = pd.DataFrame(rows, columns=["block", "inputs", "quantity", "value"])
        frame["value"] = [np.nan if v is None else float(v) for v in frame["value"]]
        frame.insert(0, "verdict", self.verdict)
        frame.insert(0, "kind", self.kind)
        frame.insert(0, "layer", self.layer)
        return frame

    def curves(self) -> pd.DataFrame:
        """The gradient-norm curves, tidy: ``layer``, ``inputs``, ``lag``, ``log_norm`` (mean
        over samples of the natural log), ``log_norm_low``, ``log_norm_high`` (their range)."""
        parts = [pd.DataFrame({"layer": self.layer, "inputs": g.inputs, "lag": g.lags,
                               "log_norm": g.log_norm, "log_norm_low": g.log_norms.min(axis=1),
                               "log_norm_high": g.log_norms.max(axis=1)})
                 for g in self.growth]  # fmt: skip
        return pd.concat(parts, ignore_index=True)

    def eigenvalue_frame(self) -> pd.DataFrame:
        """``layer``, ``block``, ``index``, ``real``, ``imag``, ``modulus``: one row per eigenvalue
        (empty with ``spectra="fast"``)."""
        parts = [pd.DataFrame({"layer": self.layer, "block": b.block,
                               "index": np.arange(b.n), "real": b.eigenvalues.real,
                               "imag": b.eigenvalues.imag, "modulus": np.abs(b.eigenvalues)})
                 for b in self.blocks if b.eigenvalues is not None]  # fmt: skip
        if not parts:
            return pd.DataFrame(columns=["layer", "block", "index", "real", "imag", "modulus"])
        return pd.concat(parts, ignore_index=True)

    def singular_value_frame(self) -> pd.DataFrame:
        """``layer``, ``block``, ``index`` (0 = largest), ``sigma``, ``bound`` (1/γ)."""
        parts = [pd.DataFrame({"layer": self.layer, "block": b.block, "index": np.arange(b.n),
                               "sigma": b.singular_values, "bound": b.bound})
                 for b in self.blocks]  # fmt: skip
        return pd.concat(parts, ignore_index=True)
