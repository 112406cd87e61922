r"""Diagnose trained recurrent weights (layer 4): what they imply for gradients over time.

:func:`report` takes one recurrent layer (a :class:`gradflow.io.RecurrentLayer` read from a
weight file, or a bare cell) and returns a :class:`Report`: the spectrum of every recurrent
block against the circular law and Pascanu et al.'s conditions, the gradient growth measured
along driven trajectories (log gradient norm against lag, finite-time and asymptotic top
Lyapunov exponents of the full state, gate means and memory time scales), a verdict
(``"exploding"``, ``"vanishing"`` or ``"near-critical"``) with the numbers that decide it,
notes that qualify it, and advice (a clipping threshold, a re-initialisation). A report prints
as aligned tables and converts to JSON (:meth:`Report.to_dict`) and tidy frames
(:meth:`Report.to_frame`, :meth:`Report.curves`). ``gradflow diagnose PATH...`` runs it on
weight files; the ``diagnosis`` figure (:mod:`gradflow.figures.diagnosis`) draws it.

The pieces are public for tests and reuse: :func:`block_spectrum` (one matrix),
:func:`measure` (one kind of drive), :func:`decide` and :func:`threshold` (the rule).

Examples
--------
>>> import numpy as np
>>> from gradflow import init
>>> from gradflow.cells import Elman
>>> from gradflow.diagnose import report
>>> r = report(Elman(3.0 * init.orthogonal(16, rng=0), activation="linear"), steps=20, rng=0)
>>> r.verdict, bool(np.isclose(r.decision.exponent, np.log(3.0)))  # λ₁ = ln 3 exactly
('exploding', True)
>>> r.to_dict()["blocks"][0]["spectral_radius"]
3.0
"""

from ._api import report
from ._format import jsonable, table
from ._growth import INPUTS, Growth, measure, memory_time, window_rate
from ._report import Report
from ._spectra import SPECTRA, BlockSpectrum, block_nonlinearities, block_spectrum
from ._verdict import (
    CLIP_FACTOR,
    NEAR_CRITICAL_FACTOR,
    NEAR_CRITICAL_RATE,
    VERDICTS,
    Decision,
    clip_threshold,
    decide,
    threshold,
)

__all__ = [
    "CLIP_FACTOR",
    "INPUTS",
    "NEAR_CRITICAL_FACTOR",
    "NEAR_CRITICAL_RATE",
    "SPECTRA",
    "VERDICTS",
    "BlockSpectrum",
    "Decision",
    "Growth",
    "Report",
    "block_nonlinearities",
    "block_spectrum",
    "clip_threshold",
    "decide",
    "jsonable",
    "measure",
    "memory_time",
    "report",
    "table",
    "threshold",
    "window_rate",
]
