r"""Spectra of the one-step Jacobians against the time step, and what sets them.

Axes-level, in seaborn's manner: a tidy frame in (such as
:func:`gradflow.jacobians.step_spectra` returns), the Axes out; nothing is computed here.

- :func:`step_spectra`: :math:`\rho(J_t)` (solid) and :math:`\sigma_{\max}(J_t)` (dashed)
  against t, one colour per hue level, with horizontal reference lines such as
  :math:`\rho(W)` or the spectral radii of the gate blocks;
- :func:`step_gates`: per-step means over units of what shapes :math:`J_t` (φ'(a_t), the
  forget or update gates) against t, on the fixed range [0, 1].

Reference artists carry a ``gid`` (see :data:`GIDS`), so callers and tests can find them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import matplotlib.pyplot as plt
import numpy as np

from ._common import check_frame, hue_levels, level_colours, level_label, level_rows

__all__ = ["GATE_LABELS", "GIDS", "step_gates", "step_spectra"]

#: ``gid`` of the artists: the reference lines, and the two curves of :func:`step_spectra`.
GIDS = {"reference": "reference", "rho": "rho", "sigma_max": "sigma-max"}

#: Display names of the per-step summary columns (legend labels of :func:`step_gates`).
GATE_LABELS = {
    "mean_phi_prime": r"mean $\varphi'(a_t)$",
    "mean_i": "mean input gate $i_t$",
    "mean_f": "mean forget gate $f_t$",
    "mean_g": "mean candidate $g_t$",
    "mean_o": "mean output gate $o_t$",
    "mean_r": "mean reset gate $r_t$",
    "mean_z": "mean update gate $z_t$",
    "mean_n": "mean candidate $n_t$",
}

_REFERENCE_STYLES = (":", (0, (5, 2)), "-.", (0, (1, 3)), (0, (6, 1.5, 1, 1.5)))


def _lines(ax, data, x, y, units, colour, **style):
    """One line of ``y`` against ``x`` per level of ``units`` (one line if None)."""
    groups = [data] if units is None else [part for _, part in data.groupby(units, sort=False)]
    drawn = []
    for i, part in enumerate(groups):
        part = part.sort_values(x)
        label = style.pop("label", None) if i == 0 else None
        (line,) = ax.plot(part[x].to_numpy(), part[y].to_numpy(),
                          **{"color": colour, "label": label, **style})  # fmt: skip
        drawn.append(line)
    return drawn


def _units(data, units, hue):
    """``units`` if given, else ``"network"`` when present and not the hue."""
    if units is None and "network" in data.columns and hue != "network":
        return "network"
    return units


def step_spectra(
    data,
    *,
    ax=None,
    x: str = "t",
    y: str = "rho",
    sigma: str | None = "sigma_max",
    hue: str | None = None,
    hue_order=None,
    palette=None,
    labels: Mapping | Callable | None = None,
    units: str | None = None,
    references: Mapping | None = None,
    reference_label: str | None = None,
    legend: bool = True,
    **kwargs,
):
    r"""Plot :math:`\rho(J_t)` and :math:`\sigma_{\max}(J_t)` against the step t.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per (network, t), such as :func:`gradflow.jacobians.step_spectra` returns:
        columns ``x``, ``y``, optionally ``sigma``, ``hue`` and ``units``.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: the current Axes).
    x, y : str, default "t", "rho"
        Columns of the step and of the spectral radius (solid lines).
    sigma : str or None, default "sigma_max"
        Column drawn dashed in the same colour (None or absent: not drawn).
    hue : str or None
        Column that sets the colour (ignored when absent from ``data``); levels are sorted
        unless ``hue_order`` is given.
    hue_order : list, optional
        Order of the hue levels.
    palette : str, list or dict, optional
        Colours (a dict maps hue levels to colours; default: the colour-blind palette).
    labels : dict or callable, optional
        Display names of the hue levels (legend labels of the solid lines).
    units : str, optional
        Column whose levels are drawn as separate lines of the same colour (default
        ``"network"`` when present and not the hue).
    references : mapping, optional
        ``label -> value``: one horizontal line at each value (``gid`` ``"reference"``),
        e.g. ``{r"$\rho(W)$": 1.5}``; each label is a legend entry unless
        ``reference_label`` is given.
    reference_label : str, optional
        One legend entry for all the reference lines (drawn in one style), e.g.
        ``"ρ of the gate blocks"``.
    legend : bool, default True
        Draw a legend on the Axes.

    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.plot` for each ρ(J_t) line (e.g. ``linewidth=3``);
        they override the defaults.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes: solid lines with ``gid`` ``"rho"``, dashed ones ``"sigma-max"``.

    Notes
    -----
    :math:`\rho(J_t) \le \sigma_{\max}(J_t)`, with equality for a normal :math:`J_t`. For an
    Elman cell :math:`J_t = \operatorname{diag}\varphi'(a_t)\,W`: near the origin
    :math:`\rho(J_t) \approx \rho(W)`, and saturation (:math:`\varphi' \to 0`) pulls both below
    it (Pascanu et al. 2013).

    References
    ----------
    Pascanu, R., Mikolov, T. & Bengio, Y. (2013). On the difficulty of training recurrent
    neural networks. ICML.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"t": [1, 2, 3], "rho": [1.5, 1.0, 0.8],
    ...                       "sigma_max": [2.9, 2.1, 1.9]})
    >>> from matplotlib.figure import Figure
    >>> ax = step_spectra(frame, ax=Figure().add_subplot(), references={"ρ(W)": 1.5})
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['$\\rho(J_t)$', '$\\sigma_{\\max}(J_t)$', 'ρ(W)']
    """
    check_frame(data, [x, y], "data")
    if hue is not None and hue not in data.columns:
        hue = None
    sigma = sigma if sigma is not None and sigma in data.columns else None
    units = _units(data, units, hue)
    if ax is None:
        ax = plt.gca()
    levels = hue_levels(data, hue, hue_order, sort=True)
    colours = level_colours(levels, palette)
    default = (0.0, 0.447, 0.698)
    for level in levels:
        part = level_rows(data, hue, level)
        colour = colours.get(level, default)
        name = level_label(labels, hue, level) if level is not None else r"$\rho(J_t)$"
        _lines(ax, part, x, y, units, colour,
               **{"linewidth": 1.3, "zorder": 3, "gid": GIDS["rho"], "label": name,
                  **kwargs})  # fmt: skip
        if sigma is not None:
            label = r"$\sigma_{\max}(J_t)$" if level is None else None
            _lines(ax, part, x, sigma, units, colour, linewidth=0.9, linestyle="--", alpha=0.75,
                   zorder=2, gid=GIDS["sigma_max"], label=label)  # fmt: skip
    for i, (label, value) in enumerate((references or {}).items()):
        style = ":" if reference_label is not None else _REFERENCE_STYLES[i % 5]
        shown = label if reference_label is None else (reference_label if i == 0 else None)
        ax.axhline(float(value), color="0.3", linestyle=style, linewidth=1.0, zorder=1,
                   gid=GIDS["reference"], label=shown)  # fmt: skip
    ax.set_xlabel("time step $t$")
    ax.set_ylabel(r"$\rho(J_t)$ (solid), $\sigma_{\max}(J_t)$ (dashed)")
    ax.set_ylim(bottom=0.0)
    if legend:
        ax.legend()
    return ax


def step_gates(
    data,
    *,
    ax=None,
    x: str = "t",
    y="mean_f",
    hue: str | None = None,
    hue_order=None,
    palette=None,
    labels: Mapping | Callable | None = None,
    units: str | None = None,
    legend: bool = True,
    **kwargs,
):
    r"""Plot per-step means over units (gates, φ') against the step t, on [0, 1].

    Parameters
    ----------
    data : pandas.DataFrame
        One row per (network, t): columns ``x`` and ``y``, optionally ``hue``, ``units``.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: the current Axes).
    x : str, default "t"
        Column of the step.
    y : str or list of str, default "mean_f"
        Column(s) to draw, such as those of :meth:`gradflow.cells.Cell.step_summary` (a list: one
        colour each, labelled from :data:`~gradflow.plot.steps.GATE_LABELS`; then ``hue`` is
        ignored).
    hue, hue_order, palette, labels, units
        As in :func:`step_spectra` (for a single ``y``).
    legend : bool, default True
        Draw a legend on the Axes.

    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.plot` for each gate-mean line (e.g. ``linewidth=3``);
        they override the defaults.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes, with y limits (0, 1) (-1 to 1 if a value is negative, e.g. a candidate).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"t": [1, 2, 3], "mean_f": [0.9, 0.2, 0.9],
    ...                       "mean_o": [0.5, 0.5, 0.6]})
    >>> from matplotlib.figure import Figure
    >>> ax = step_gates(frame, ax=Figure().add_subplot(), y=["mean_f", "mean_o"])
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['mean forget gate $f_t$', 'mean output gate $o_t$']
    """
    columns = [y] if isinstance(y, str) else list(y)
    check_frame(data, [x, *columns], "data")
    if len(columns) > 1 or (hue is not None and hue not in data.columns):
        hue = None
    units = _units(data, units, hue)
    if ax is None:
        ax = plt.gca()
    if len(columns) > 1:
        colours = level_colours(columns, palette)
        for column in columns:
            _lines(ax, data, x, column, units, colours[column],
                   **{"linewidth": 1.2, "label": GATE_LABELS.get(column, column),
                      **kwargs})  # fmt: skip
    else:
        levels = hue_levels(data, hue, hue_order, sort=True)
        colours = level_colours(levels, palette)
        for level in levels:
            name = (
                level_label(labels, hue, level)
                if level is not None
                else GATE_LABELS.get(columns[0], columns[0])
            )
            _lines(ax, level_rows(data, hue, level), x, columns[0], units,
                   colours.get(level, (0.0, 0.447, 0.698)),
                   **{"linewidth": 1.2, "label": name, **kwargs})  # fmt: skip
    values = data[columns].to_numpy(dtype=float)
    low = -1.0 if np.nanmin(values, initial=0.0) < 0 else 0.0
    ax.set_ylim(low - 0.03, 1.03)
    ax.set_xlabel("time step $t$")
    ax.set_ylabel("mean over units")
    if legend:
        ax.legend()
    return ax
