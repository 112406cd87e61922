"""The shared style and colours of gradflow's plots.

One style file, ``gradflow/data/gradflow.mplstyle``, sets the look of every figure of the
catalogue; :func:`style_context` applies it for the duration of a ``with`` block. Colours come
from seaborn's colour-blind-safe ``"colorblind"`` palette, and :func:`palette` maps the levels
of a variable to them in a fixed order, so one initialiser keeps one colour across panels and
figures.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from importlib import resources

import matplotlib.style
import seaborn as sns

__all__ = ["PALETTE", "palette", "style_context", "style_path"]

#: Name of the seaborn palette used for categorical colours.
PALETTE = "colorblind"


@contextlib.contextmanager
def style_path() -> Iterator[str]:
    """Yield the file system path of the shared ``gradflow.mplstyle`` (package data)."""
    source = resources.files("gradflow").joinpath("data", "gradflow.mplstyle")
    with resources.as_file(source) as path:
        yield str(path)


@contextlib.contextmanager
def style_context() -> Iterator[None]:
    """Apply gradflow's shared matplotlib style inside a ``with`` block.

    Examples
    --------
    >>> import matplotlib
    >>> with style_context():
    ...     matplotlib.rcParams["svg.hashsalt"]
    'gradflow'
    """
    with style_path() as path, matplotlib.style.context(path):
        yield


def palette(levels: Iterable, name=None) -> dict:
    """Map each level to a colour of the colour-blind-safe palette, in the order given.

    Parameters
    ----------
    levels : iterable
        Distinct values of a categorical variable (duplicates keep their first colour).
    name : str or sequence of colours, optional
        A seaborn palette (name or colour list) instead of the package's :data:`PALETTE`.

    Returns
    -------
    dict
        ``level -> (r, g, b)``; the palette cycles after ten levels.

    Examples
    --------
    >>> colours = palette(["orthogonal", "gaussian"])
    >>> list(colours) == ["orthogonal", "gaussian"]
    True
    >>> colours["orthogonal"] == sns.color_palette(PALETTE)[0]
    True
    """
    unique = list(dict.fromkeys(levels))
    colours = sns.color_palette(name or PALETTE, max(len(unique), 1))
    return dict(zip(unique, colours))
