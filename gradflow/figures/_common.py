"""What the figures share: display names and fixed colours of the initialisers, legends.

Later figure modules import from here, so one initialiser has one name and one colour in the
whole catalogue.
"""

from __future__ import annotations

import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .. import init
from ..plot import PALETTE

__all__ = ["INIT_LABELS", "figure_legend", "init_colours", "init_label", "init_legend"]

#: Display names of the initialisers.
INIT_LABELS = {
    "orthogonal": "orthogonal",
    "gaussian": "Gaussian",
    "identity": "identity",
    "glorot_uniform": "Glorot uniform",
    "uniform": "uniform (PyTorch default)",
}

# Index into the colour-blind palette for each initialiser. Pairs whose curves lie close
# together (orthogonal/identity, Gaussian/Glorot) get the most distinct hues.
_COLOUR_INDEX = {"orthogonal": 0, "gaussian": 1, "identity": 2, "glorot_uniform": 4, "uniform": 3}


def init_label(name: str) -> str:
    """Display name of an initialiser (the name itself when it has none)."""
    return INIT_LABELS.get(name, name)


def init_colours() -> dict:
    """``name -> colour`` for every initialiser of :func:`gradflow.init.available`."""
    colours = sns.color_palette(PALETTE)
    names = init.available()
    spare = [i for i in range(len(colours)) if i not in _COLOUR_INDEX.values()]
    out = {}
    for name in names:
        index = _COLOUR_INDEX.get(name)
        out[name] = colours[index if index is not None else spare.pop(0) % len(colours)]
    return out


def figure_legend(fig: Figure, axes, *, ncols: int) -> None:
    """One legend below the panels, from the labelled artists of all axes (first label wins)."""
    entries: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    if entries:
        fig.legend(list(entries.values()), list(entries), loc="outside lower center", ncols=ncols)


def init_legend(fig: Figure, ax, names, colours) -> None:
    """Legend below the panels: one line per initialiser, then the labelled artists of ``ax``."""
    handles = [Line2D([], [], color=colours[name]) for name in names]
    labels = [init_label(name) for name in names]
    for handle, label in zip(*ax.get_legend_handles_labels()):
        if label not in labels:
            handles.append(handle)
            labels.append(label)
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels))
