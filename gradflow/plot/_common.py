"""Private helpers shared by the plot families: input checks, hue levels, colours, labels.

Two conventions live here. :mod:`~gradflow.plot.lyapunov` and :mod:`~gradflow.plot.products`
take hue levels in sorted or given order with a palette that must cover them
(:func:`hue_levels`, :func:`level_colours`, :func:`level_label`, :func:`level_rows`);
:mod:`~gradflow.plot.landscape` and :mod:`~gradflow.plot.clipping` take them in order of
appearance (:func:`hue_palette`, :func:`display_name`, :func:`axis_label`).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import seaborn as sns

from ._style import PALETTE
from ._style import palette as _palette

__all__ = [
    "axis_label",
    "check_frame",
    "display_name",
    "hue_levels",
    "hue_palette",
    "level_colours",
    "level_label",
    "level_rows",
]


def check_frame(frame, columns, name: str) -> pd.DataFrame:
    """``frame`` itself, after checking it is a DataFrame with ``columns`` (None skipped)."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name}: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c is not None and c not in frame.columns]
    if missing:
        raise ValueError(f"{name}: missing column(s) {missing}; columns are {list(frame.columns)}")
    return frame


def hue_levels(data, hue, hue_order, *, sort: bool = False) -> list:
    """Levels of ``hue`` present in ``data``: in ``hue_order``, sorted, or as they appear."""
    if hue is None:
        return [None]
    present = list(dict.fromkeys(data[hue]))
    if hue_order is not None:
        return [level for level in hue_order if level in present]
    return sorted(present) if sort else present


def level_colours(levels, palette) -> dict:
    """``level -> colour``, the one rule of every plot function's ``palette=``: a dict must name
    every level; a name or list of colours (default :data:`PALETTE`) is dealt out in order."""
    if isinstance(palette, Mapping):
        missing = [level for level in levels if level is not None and level not in palette]
        if missing:
            raise ValueError(f"palette: no colour for hue level(s) {missing}")
        return dict(palette)
    return _palette(levels, palette)


def level_label(labels, hue, level) -> str:
    """Display name of a hue level: from ``labels`` (dict or callable), else a default."""
    if callable(labels):
        return str(labels(level))
    if labels and level in labels:
        return str(labels[level])
    if hue == "gain":
        return f"$g$ = {level:g}"
    if hue == "depth":
        return f"$L$ = {level}"
    return str(level)


def level_rows(data, hue, level):
    """The rows of one hue level (all rows for the level None)."""
    return data if level is None else data[data[hue] == level]


def axis_label(name: str) -> str:
    """A column name as an axis label: one letter in math italics, else underscores as spaces."""
    return f"${name}$" if len(name) == 1 else name.replace("_", " ")


def hue_palette(data, hue, hue_order, palette):
    """(hue or None, levels, level -> colour)."""
    if hue is not None and hue not in data.columns:
        hue = None
    if hue is None:
        return None, [None], {None: sns.color_palette(PALETTE)[0]}
    levels = list(hue_order) if hue_order is not None else list(dict.fromkeys(data[hue]))
    return hue, levels, level_colours(levels, palette)


def display_name(labels, level) -> str:
    """Display name of a hue level without a hue-specific default (:func:`level_label`)."""
    return level_label(labels, None, level)
