"""The figure catalogue (layer 6): one function per figure, one command to draw them all.

Every figure computes its tidy data through the numerical layers, draws it with
:mod:`gradflow.plot` in the shared style, and returns ``(Figure, DataFrame)`` — the figure and
exactly the data it plots. :func:`write_catalogue` (the ``gradflow figures`` command) writes
each as ``<name>.png`` (and/or ``.svg``, ``.pdf``) beside ``<name>.csv`` and regenerates the
folder's ``README.md``; files are reproducible byte for byte.

Adding a figure: write a function with keyword-only parameters (full-size defaults and a fixed
``rng`` seed) returning ``(Figure, DataFrame)`` in a module of this package, decorate it with
``@register(name, caption=..., quick={...})``, and import the module below.

Examples
--------
>>> from gradflow import figures
>>> figures.available()[:2]
('eigenvalues', 'growth')
>>> fig, data = figures.get("eigenvalues")(quick=True)
>>> sorted(data["init"].unique())[:2]
['gaussian', 'glorot_uniform']
"""

from ._catalogue import (
    FORMATS,
    CheckResult,
    FigureSpec,
    available,
    check_catalogue,
    get,
    register,
    render_readme,
    save_figure,
    write_catalogue,
)
from ._diagnose_panel import diagnose_panel

# Figure modules register their figures on import, in catalogue order.
from . import foundation  # noqa: F401  isort: skip
from . import sweeps  # noqa: F401  isort: skip
from . import cliff  # noqa: F401  isort: skip
from . import clipping  # noqa: F401  isort: skip
from . import learnability  # noqa: F401  isort: skip
from . import lyapunov  # noqa: F401  isort: skip
from . import products  # noqa: F401  isort: skip
from . import gated  # noqa: F401  isort: skip
from . import steps  # noqa: F401  isort: skip
from . import diagnosis  # noqa: F401  isort: skip

__all__ = [
    "FORMATS",
    "CheckResult",
    "FigureSpec",
    "available",
    "check_catalogue",
    "diagnose_panel",
    "get",
    "register",
    "render_readme",
    "save_figure",
    "write_catalogue",
]
