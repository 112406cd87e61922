"""Every public plot function passes ``**kwargs`` to matplotlib, to its main artist.

Each function is called as in its own docstring Example, with ``alpha=`` added: the value must
reach an artist of the returned Axes (a line, a collection, a patch or an errorbar container).
"""

import doctest
import importlib

import matplotlib
import pytest

from gradflow import plot

_NOT_PLOTS = ("PALETTE", "palette", "style_context", "style_path")
FUNCTIONS = [getattr(plot, name) for name in plot.__all__ if name not in _NOT_PLOTS]
ALPHA = 0.123


def _artists(ax):
    yield from ax.lines
    yield from ax.collections
    yield from ax.patches
    for container in ax.containers:
        yield from (a for a in container.get_children() if a is not None)


def test_every_public_plot_function_is_checked():
    assert len(FUNCTIONS) == 18


@pytest.mark.parametrize("func", FUNCTIONS, ids=lambda f: f.__name__)
def test_kwargs_reach_the_main_artist(func, monkeypatch):
    name = func.__name__
    module = importlib.import_module(func.__module__)
    examples = doctest.DocTestParser().get_examples(func.__doc__ or "")
    assert examples, f"{name}: no Example in its docstring"
    assert "**kwargs" in func.__doc__, f"{name}: **kwargs not documented"
    returned = []

    def wrapper(*args, **kwargs):
        ax = func(*args, **{"alpha": ALPHA, **kwargs})
        returned.append(ax)
        return ax

    monkeypatch.setattr(module, name, wrapper)
    if hasattr(plot, name):
        monkeypatch.setattr(plot, name, wrapper)
    namespace = {**vars(module), name: wrapper}
    with matplotlib.rc_context():
        for example in examples:
            exec(compile(example.source, f"<{name} example>", "exec"), namespace)
    assert returned, f"{name}: its Example does not call it"
    alphas = [a.get_alpha() for a in _artists(returned[-1])]
    assert ALPHA in alphas, f"{name}: alpha={ALPHA} reached no artist (alphas {alphas})"
