"""gradflow: eigenvalue and gradient dynamics of recurrent neural networks.

Backpropagation through time multiplies a gradient by the recurrent Jacobian
J_t = diag(φ'(a_t)) W at every step. gradflow computes those products, their spectra and
Lyapunov exponents in the log domain, simulates gradient growth under different
initialisations, and compares gradient-clipping rules on real training runs.

Submodules are imported on first use (``gradflow.init``, ``gradflow.spectral``, ...), so
``import gradflow`` stays cheap and never pulls in matplotlib.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = (
    "cells",
    "clip",
    "diagnose",
    "errors",
    "figures",
    "init",
    "io",
    "jacobians",
    "landscape",
    "lyapunov",
    "optim",
    "plot",
    "simulate",
    "spectral",
    "tasks",
    "theory",
    "train",
)

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
