"""Initialisation sweeps: gradient growth across initialisers, gains and seeds (layer 4).

:func:`gradient_growth` draws ``seeds`` recurrent matrices for every (initialiser, gain) pair,
runs each pair's networks as one batched Elman cell (weights ``(B, N, N)``) and records
log ‖∂⟨v, h_T⟩/∂h_{T−lag}‖ for every lag in a tidy DataFrame; :func:`growth_rates` fits the
per-step growth rate and puts the theory's prediction beside it. The unit of parallel work is
one (init, gain) pair (or a chunk of its seeds), handed to any ``concurrent.futures.Executor``;
every seed draws from its own ``SeedSequence`` child, so the frame does not depend on the
executor, the number of workers or the chunking.

The code lives in private modules by concern: ``_drive`` (:class:`Drive`, :func:`parse_list`),
``_sweep`` (:func:`gradient_growth` and its picklable task function) and ``_rates``
(:func:`growth_rates`).
"""

# ``name as name``: private helpers re-exported for the tests and benchmarks/bench_simulate.py.
from ._drive import Drive, parse_list
from ._rates import _IID_SCALE as _IID_SCALE
from ._rates import growth_rates
from ._sweep import _BLOCK_BYTES as _BLOCK_BYTES
from ._sweep import COLUMNS, gradient_growth
from ._sweep import _draw_network as _draw_network
from ._sweep import _Task as _Task

__all__ = ["COLUMNS", "Drive", "gradient_growth", "growth_rates", "parse_list"]
