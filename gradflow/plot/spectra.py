"""Spectra in the complex plane: eigenvalues of recurrent weight matrices.

Axes-level, in seaborn's manner: a tidy frame (one row per eigenvalue) in, the Axes out.
Reference circles say what the theory predicts: the unit circle (where a linear recurrence
neither grows nor decays), the circular-law disk of a random matrix, and optionally the
circle of radius σ_max(W), the bound in Pascanu et al.'s conditions.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.patches import Circle

from .._validation import as_float
from ._style import PALETTE

__all__ = ["eigenvalues"]

#: ``gid`` of each reference circle, so callers and tests can find them among the patches.
GIDS = {"unit": "unit-circle", "disk": "circular-law", "sigma_max": "sigma-max"}


def _as_frame(data, x: str, y: str) -> pd.DataFrame:
    """A DataFrame with columns ``x`` and ``y``; complex array_like becomes real/imag columns."""
    if isinstance(data, pd.DataFrame):
        missing = [c for c in (x, y) if c not in data.columns]
        if missing:
            raise ValueError(
                f"data: expected columns {x!r} and {y!r}, missing {missing} "
                f"(columns: {list(data.columns)})"
            )
        return data
    if isinstance(data, (str, bytes)) or data is None:
        raise TypeError(
            f"data: expected a DataFrame or an array of eigenvalues, got {type(data).__name__}"
        )
    values = np.asarray(data)
    if values.dtype.kind not in "biufc":
        raise TypeError(f"data: expected numbers, got dtype {values.dtype}")
    values = values.ravel()
    return pd.DataFrame({x: values.real.astype(float), y: values.imag.astype(float)})


def eigenvalues(
    data,
    *,
    ax=None,
    x: str = "real",
    y: str = "imag",
    hue: str | None = "init",
    hue_order=None,
    palette=None,
    gain: float | None = None,
    radius: float | None = None,
    sigma_max: float | None = None,
    unit_circle: bool = True,
    legend="auto",
    **kwargs,
):
    r"""Scatter eigenvalues in the complex plane with the unit circle and the circular law.

    Parameters
    ----------
    data : pandas.DataFrame or array_like of complex
        Tidy frame, one row per eigenvalue, with columns ``x`` (real part) and ``y``
        (imaginary part); or the eigenvalues themselves, any shape (flattened).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: the current Axes).
    x, y : str
        Columns of the real and imaginary parts.
    hue : str or None, default "init"
        Column that sets the colour; ignored when absent from ``data``.
    hue_order : list, optional
        Order of the hue levels.
    palette : str, list or dict, optional
        Colours of the hue levels (default: seaborn's colour-blind-safe ``"colorblind"``).
    gain : float, optional
        Gain g of a matrix with i.i.d. entries of variance g²/n: draws the circular-law disk
        of radius g.
    radius : float, optional
        Radius of the circular-law disk when it is not g (PyTorch's uniform default, whose
        entries have variance g²/(3n), has radius g/√3); overrides ``gain``.
    sigma_max : float, optional
        Largest singular value of the matrix, drawn as a dotted circle.
    unit_circle : bool, default True
        Draw the unit circle ``|λ| = 1``.
    legend : "auto", "brief", "full" or False
        Passed to :func:`seaborn.scatterplot`; the reference circles carry labels too.
    **kwargs
        Passed to :func:`seaborn.scatterplot` (``s``, ``alpha``, ``marker``, ...).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes, with equal aspect so circles look round.

    Notes
    -----
    Circular law (Girko 1985; Bai 1997): the eigenvalues of an n × n matrix with i.i.d.
    entries of mean 0 and variance σ²/n fill the disk ``|λ| ≤ σ`` uniformly as n → ∞. A linear
    recurrence h_t = W h_{t-1} grows along eigenvector directions with ``|λ| > 1`` and decays
    along those inside the unit circle.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ax = eigenvalues(np.linalg.eigvals(rng.standard_normal((64, 64)) / 8), gain=1.0)
    >>> ax.get_xlabel()
    'Re $\\lambda$'
    """
    frame = _as_frame(data, x, y)
    if ax is None:
        ax = plt.gca()
    if radius is None and gain is not None:
        radius = as_float(gain, "gain", positive=True)
    if radius is not None:
        radius = as_float(radius, "radius", positive=True)
        disk = Circle(
            (0.0, 0.0),
            radius,
            facecolor="0.5",
            alpha=0.22,
            edgecolor="none",
            zorder=0,
            label="circular law",
        )
        disk.set_gid(GIDS["disk"])
        ax.add_patch(disk)
    if unit_circle:
        circle = Circle(
            (0.0, 0.0), 1.0, fill=False, edgecolor="0.15", linewidth=0.9, label="unit circle"
        )
        circle.set_gid(GIDS["unit"])
        ax.add_patch(circle)
    if sigma_max is not None:
        sigma_max = as_float(sigma_max, "sigma_max", nonnegative=True)
        outer = Circle(
            (0.0, 0.0),
            sigma_max,
            fill=False,
            edgecolor="0.35",
            linewidth=0.9,
            linestyle=":",
            label=r"$\sigma_{\max}(W)$",
        )
        outer.set_gid(GIDS["sigma_max"])
        ax.add_patch(outer)

    if hue is not None and hue not in frame.columns:
        hue = None
    if palette is None and hue is not None:
        palette = PALETTE
    kwargs.setdefault("s", 10)
    kwargs.setdefault("alpha", 0.8)
    kwargs.setdefault("linewidth", 0)
    kwargs.setdefault("zorder", 3)
    if hue is None:
        kwargs.setdefault("color", sns.color_palette(PALETTE)[0])
    sns.scatterplot(
        data=frame,
        x=x,
        y=y,
        hue=hue,
        hue_order=hue_order,
        palette=palette,
        legend=legend,
        ax=ax,
        **kwargs,
    )
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(r"Re $\lambda$")
    ax.set_ylabel(r"Im $\lambda$")
    if legend and not (hue is not None and ax.get_legend() is not None):
        handles, _ = ax.get_legend_handles_labels()
        if handles:
            ax.legend(loc="upper right")
    return ax
