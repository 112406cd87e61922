"""What the figures share: display names and fixed colours of the initialisers and of the
clipping rules, legends, and a layout frozen for byte-for-byte reproducible files.

Later figure modules import from here, so one initialiser (or clipping rule) has one name and
one colour in the whole catalogue.
"""

from __future__ import annotations

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .. import clip as _clip
from .. import init
from .. import stats as _stats
from ..plot import PALETTE
from ..plot import palette as _palette

__all__ = [
    "INIT_LABELS",
    "figure_legend",
    "init_colours",
    "init_label",
    "init_legend",
    "median_band",
    "rule_colours",
    "rule_label",
]

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


def median_band(frame: pd.DataFrame, keys, value: str, *, band: float = 80.0) -> pd.DataFrame:
    """Median and central ``band`` % interval of ``value`` over the rows sharing ``keys``.

    One row per group, in order of appearance: the keys, ``seeds`` (the group's size),
    ``value`` (the median), ``<value>_low`` and ``<value>_high`` (the quantiles
    0.5 ∓ band/200). What the figures draw as a line with a band over seeds; computed by
    :func:`gradflow.stats.band`, the one owner of these statistics.
    """
    return _stats.band(frame, keys, value, width=band, size="seeds")


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


# A fixed colour per rule family across the clipping figures: indices into the palette, in the
# order of gradflow.clip.RULES (the owner of the rule names; "none" is near-black).
_RULE_COLOUR_INDEX = (1, 2, 0, 4)
_FAMILY_COLOUR = dict(zip([r for r in _clip.RULES if r != "none"], _RULE_COLOUR_INDEX))
_NONE_COLOUR = (0.15, 0.15, 0.15)
_FAMILY_NAME = {
    "none": "no clipping",
    "value": "value",
    "norm": "per-tensor norm",
    "global": "global norm",
    "adaptive": "adaptive (AGC)",
}


def rule_label(rule: str) -> str:
    """Display name of a clipping spec (:func:`gradflow.clip.get`).

    Examples
    --------
    >>> rule_label("global:1"), rule_label("value:0.1"), rule_label("none")
    ('global norm, c = 1', 'value, c = 0.1', 'no clipping')
    """
    head, _, tail = str(rule).partition(":")
    name = _FAMILY_NAME.get(head, head)
    if not tail:
        return name
    symbol = "λ" if head == "adaptive" else "c"
    return f"{name}, {symbol} = {float(tail):g}"


def rule_colours(rules) -> dict:
    """``spec -> colour``: one fixed colour per rule family, the same in every figure.

    ``"none"`` is near-black; the families take colours of the colour-blind-safe palette
    (global norm blue, value orange, per-tensor norm green, adaptive pink).

    Examples
    --------
    >>> colours = rule_colours(["none", "value:0.1", "value:1"])
    >>> colours["value:0.1"] == colours["value:1"] != colours["none"]
    True
    """
    colours = list(_palette(range(10)).values())
    out = {}
    for rule in rules:
        head = str(rule).partition(":")[0]
        out[rule] = _NONE_COLOUR if head == "none" else colours[_FAMILY_COLOUR.get(head, 5)]
    return out


def _labels(rules) -> dict:
    return {rule: rule_label(rule) for rule in rules}


def _freeze_layout(fig: Figure) -> Figure:
    """Run the constrained layout once, then fix every Axes at its position rounded to 10⁻⁹.

    The layout solver can place an Axes differently in the last bits from one call to the
    next; the rounded, fixed positions keep the saved files byte-for-byte reproducible.
    """
    fig.draw_without_rendering()
    positions = [(ax, ax.get_position().bounds) for ax in fig.axes]
    fig.set_layout_engine("none")
    for ax, bounds in positions:
        ax.set_position([round(v, 9) for v in bounds])
    return fig
