"""BLAS threading for small dense problems (layer 0).

A step of Benettin's method or of a product-spectrum sweep factorises an N×N (or N×k) block
with N of a few hundred: too small to share between threads, and on a busy machine a
descheduled BLAS thread stalls every call (observed: 30-200x slower). Where ``threadpoolctl`` is
installed (an optional dependency), :func:`one_thread_if_small` runs such loops on one BLAS
thread; results are identical either way, only the time changes.
"""

from __future__ import annotations

import contextlib
from functools import lru_cache

__all__ = ["SMALL_WORK_FLOPS", "one_thread", "one_thread_if_small"]

#: Work per call (flops) below which one BLAS thread is faster than several.
SMALL_WORK_FLOPS = 2**24


@lru_cache(maxsize=1)
def _controller():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # optional: without it BLAS keeps its own threading
        return None
    return ThreadpoolController()


def one_thread_if_small(work_flops: float):
    """A context manager limiting BLAS to one thread when ``work_flops`` is small.

    Examples
    --------
    >>> with one_thread_if_small(128**3):
    ...     pass
    """
    controller = _controller()
    if controller is None or work_flops > SMALL_WORK_FLOPS:
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")


def one_thread():
    """A context manager running BLAS on one thread (a no-op without threadpoolctl).

    For loops over many small matrices (sweeps over seeds, the figure catalogue), where extra
    BLAS threads only compete for the cores.
    """
    return one_thread_if_small(0)
