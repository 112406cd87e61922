r"""Training recurrent networks by BPTT with gradient clipping (layer 4).

A :class:`Model` is a recurrent cell with a linear readout, trained on a :class:`Task`:

- regression (``objective="mse"``): mean squared error of the readout, at the last step when the
  targets are ``(B, K)`` (the adding task) or at every step when they are ``(T, B, K)``;
- classification (``objective="xent"``): softmax cross-entropy, at the last step for integer
  targets ``(B,)`` or at every step for ``(T, B)`` (the copy task).

Gradients are exact: the readout's directly, the cell's by backpropagation through time
(:func:`gradflow.jacobians.backprop` with a cotangent for each step, then the cell's
``param_grads``). Parameters travel as one dict name -> array, the unit that
:mod:`gradflow.clip` clippers and :mod:`gradflow.optim` optimisers act on. :func:`fit` clips the
gradient, then hands it to the optimiser (the usual order) and records every step in a tidy
frame.

A :class:`Population` stacks P independent models (the cells run stacked weights, each network
on its own batch), and :func:`fit_population` trains them at once, each exactly as
:func:`fit` would. :func:`compare` is the experiment built on it: a grid of initialiser ×
clipping rule × sequence length × seed from identical starts, one row per run with a solved
flag; :func:`compare_clipping` is its one-initialiser case.

How T is passed: a :class:`Task` carries its sequence length; :func:`fit` and
:func:`compare_clipping` also accept a task name (``"adding"``, ``"copy"``) or a callable
``(T, batch, rng) -> (xs, ys)`` together with ``T=``.

The package splits into ``_task`` (:class:`Task`, :func:`make_task`), ``_model``
(:class:`Model`, :func:`init_model`), ``_fit`` (:func:`fit`, :class:`History`,
:func:`pca_path`, :func:`project_paths`), ``_population``
(:class:`Population`), ``_fit_population`` (:func:`fit_population`) and ``_compare``
(:func:`compare`, :func:`compare_clipping`); the optimisers live in :mod:`gradflow.optim`.
"""

from ._compare import RUN_COLUMNS, compare, compare_clipping, rule_spec, rule_specs
from ._fit import COLUMNS, History, fit, pca_path, project_paths
from ._fit_population import PopulationHistory, fit_population
from ._model import OBJECTIVES, Model, init_model
from ._population import Population
from ._task import TASKS, Task, make_task

__all__ = [
    "COLUMNS",
    "OBJECTIVES",
    "RUN_COLUMNS",
    "TASKS",
    "History",
    "Model",
    "Population",
    "PopulationHistory",
    "Task",
    "compare",
    "compare_clipping",
    "fit",
    "fit_population",
    "init_model",
    "make_task",
    "pca_path",
    "project_paths",
    "rule_spec",
    "rule_specs",
]
