"""Axes-level plotting functions (layer 5): results in, Axes out, no computing.

Each function follows seaborn's contract, ``f(result, *, ax=None, **kwargs) -> Axes``: it takes
a tidy pandas DataFrame (one row per observation) or a small array, draws on the given Axes
(default: the current one) and returns it. Statistics are computed by the layers below; this
layer only draws. This is the only layer, with :mod:`gradflow.figures`, that imports matplotlib
and seaborn. One module per plot family:

- :mod:`~gradflow.plot.spectra`: :func:`eigenvalues` in the complex plane with the unit circle
  and the circular law.
- :mod:`~gradflow.plot.growth`: :func:`growth`, log gradient norm against lag with theory.
- :mod:`~gradflow.plot.sweeps`: :func:`growth_rates` against gain with theory curves,
  :func:`spectral_gap` (spectral radius and σ_max against gain, Pascanu's threshold).
- :mod:`~gradflow.plot.lyapunov`: :func:`lyapunov_spectrum`, :func:`phase_diagram`.
- :mod:`~gradflow.plot.products`: :func:`singular_value_spectra` of Jacobian products.
- :mod:`~gradflow.plot.landscape`: :func:`landscape` (the single-unit loss surface and its
  wall), :func:`trajectories` on it.
- :mod:`~gradflow.plot.clipping`: :func:`training_curves`, :func:`threshold_sensitivity`,
  :func:`parameter_paths`.
- :mod:`~gradflow.plot.steps`: :func:`step_spectra` (ρ and σ_max of each J_t against the step,
  with reference lines), :func:`step_gates` (the gate means that set them).
- :mod:`~gradflow.plot.diagnose`: :func:`singular_values` of recurrent blocks against
  Pascanu's bounds, :func:`gradient_forecast` (measured gradient norm against lag over the
  near-critical cone of a diagnosis).
- :func:`style_context`, :func:`palette`: the shared style file and colour-blind-safe colours.
"""

from ._style import PALETTE, palette, style_context, style_path
from .clipping import parameter_paths, threshold_sensitivity, training_curves
from .diagnose import gradient_forecast, singular_values
from .growth import growth
from .landscape import landscape, trajectories
from .learning import loss_bands, solved_against_length
from .lyapunov import lyapunov_spectrum, phase_diagram
from .products import singular_value_spectra
from .spectra import eigenvalues
from .steps import step_gates, step_spectra
from .sweeps import growth_rates, spectral_gap

__all__ = [
    "PALETTE",
    "eigenvalues",
    "gradient_forecast",
    "growth",
    "growth_rates",
    "landscape",
    "loss_bands",
    "lyapunov_spectrum",
    "palette",
    "parameter_paths",
    "phase_diagram",
    "singular_value_spectra",
    "singular_values",
    "solved_against_length",
    "spectral_gap",
    "step_gates",
    "step_spectra",
    "style_context",
    "style_path",
    "threshold_sensitivity",
    "training_curves",
    "trajectories",
]
