"""The figure registry and the writer of the catalogue.

A figure is a function that computes its tidy data through the layers below and draws it
with :mod:`gradflow.plot`, returning ``(matplotlib.figure.Figure, pandas.DataFrame)``: the
figure and exactly the data it plots. :func:`register` adds it to the catalogue with a name,
a caption and the keyword arguments of its ``quick`` mode (smaller sizes for smoke runs);
:func:`write_catalogue` writes every figure as ``<name>.<format>`` beside ``<name>.csv`` and
regenerates ``README.md``. Files are byte-for-byte reproducible: fixed seeds per figure, no
timestamps in the metadata, fixed SVG ids.
"""

from __future__ import annotations

import inspect
import io
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .. import __version__
from .._blas import one_thread
from ..plot import style_context

__all__ = [
    "FORMATS",
    "CheckResult",
    "FigureSpec",
    "available",
    "check_catalogue",
    "get",
    "register",
    "render_readme",
    "save_figure",
    "write_catalogue",
]

#: Image formats the writer accepts.
FORMATS = ("png", "svg", "pdf")

# Metadata that would otherwise hold the date or the software version: fixed, so files repeat.
_METADATA = {
    "png": {"Software": None},
    "svg": {"Date": None},
    "pdf": {"CreationDate": None, "ModDate": None},
}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_REGISTRY: dict[str, FigureSpec] = {}


class _Unknown:
    """A caption field whose number needs the figure's data: formats as "…"."""

    def __format__(self, spec: str) -> str:
        return "…"


@dataclass(frozen=True)
class FigureSpec:
    """One figure of the catalogue.

    Attributes
    ----------
    name : str
        File stem and command-line name (lower case, digits, underscores).
    caption : str
        What the figure shows, for the catalogue. May hold ``{param}`` fields, filled with
        the keyword arguments the figure is drawn with (so quick runs describe themselves).
    func : callable
        ``func(**kwargs) -> (Figure, DataFrame)``, keyword-only parameters with defaults.
    quick : mapping
        Keyword arguments of the quick mode (smaller n, T, seeds), for CI smoke runs.
    numbers : callable, optional
        ``numbers(data) -> mapping``: the caption's data-dependent fields, computed from the
        figure's own data (the frame it returns, or its CSV read back), so that every number
        a caption states is the figure's.
    """

    name: str
    caption: str
    func: Callable[..., tuple[Figure, pd.DataFrame]]
    quick: Mapping[str, object] = field(default_factory=dict)
    numbers: Callable[[pd.DataFrame], Mapping[str, object]] | None = None

    def parameters(self, *, quick: bool = False, **overrides) -> dict:
        """The keyword arguments a call with these options draws with (defaults filled in)."""
        params = {
            name: p.default
            for name, p in inspect.signature(self.func).parameters.items()
            if p.default is not inspect.Parameter.empty
        }
        params.update(self.quick if quick else {})
        params.update(overrides)
        return params

    def describe(self, *, quick: bool = False, data: pd.DataFrame | None = None, **overrides):
        """The caption with its ``{param}`` fields filled in, and its data fields from ``data``.

        ``data`` is the frame the figure returned or its CSV read back; without it the fields
        that state numbers of the data show as "…" (as ``gradflow figures --list`` prints them).
        """
        fields = self.parameters(quick=quick, **overrides)
        if self.numbers is not None:
            if data is None:
                names = {f for _, f, _, _ in string.Formatter().parse(self.caption) if f}
                fields.update({name: _Unknown() for name in names - set(fields)})
            else:
                fields.update(self.numbers(data))
        return self.caption.format(**fields)

    def __call__(self, *, quick: bool = False, **overrides) -> tuple[Figure, pd.DataFrame]:
        """Draw the figure in gradflow's style; returns ``(Figure, DataFrame)``.

        The Figure is not registered with pyplot: return it from a notebook cell to show it,
        or save it with :func:`save_figure`.
        """
        # Figures loop over many small matrices: one BLAS thread (extra threads only contend).
        with style_context(), one_thread():
            fig, data = self.func(**{**(self.quick if quick else {}), **overrides})
        if not isinstance(fig, Figure) or not isinstance(data, pd.DataFrame):
            raise TypeError(
                f"figure {self.name!r}: expected the function to return (Figure, DataFrame), "
                f"got ({type(fig).__name__}, {type(data).__name__})"
            )
        return fig, data

    @property
    def source(self) -> str:
        """Dotted path of the function that draws the figure."""
        return f"{self.func.__module__}.{self.func.__qualname__}"


def register(
    name: str,
    *,
    caption: str,
    quick: Mapping[str, object] | None = None,
    numbers: Callable[[pd.DataFrame], Mapping[str, object]] | None = None,
):
    """Decorator adding a figure function to the catalogue (in the order of registration).

    Parameters
    ----------
    name : str
        Unique figure name: lower case letters, digits and underscores.
    caption : str
        A sentence or two a lecturer can paste under the figure; ``{param}`` fields are filled
        with the figure's keyword arguments.
    quick : dict, optional
        Keyword arguments for the quick mode.
    numbers : callable, optional
        ``numbers(data) -> dict`` of the caption fields that come from the figure's data.

    Returns
    -------
    callable
        The decorator; it returns the :class:`FigureSpec`, which is callable like the
        function (``spec(quick=True)``).

    Examples
    --------
    >>> "eigenvalues" in available()
    True
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"name: expected lower case letters, digits and underscores, got {name!r}")
    if not isinstance(caption, str) or not caption.strip():
        raise ValueError(f"caption: expected a non-empty string, got {caption!r}")
    quick = MappingProxyType(dict(quick or {}))

    def decorator(func):
        if name in _REGISTRY:
            raise ValueError(f"name: a figure called {name!r} is already registered")
        signature = inspect.signature(func).parameters
        unknown = sorted(set(quick) - set(signature))
        if unknown:
            raise ValueError(f"quick: {func.__name__} has no parameter(s) {unknown}")
        spec = FigureSpec(name, " ".join(caption.split()), func, quick, numbers)
        _REGISTRY[name] = spec
        return spec

    return decorator


def available() -> tuple[str, ...]:
    """Names of the registered figures, in catalogue order."""
    return tuple(_REGISTRY)


def get(name: str) -> FigureSpec:
    """The :class:`FigureSpec` called ``name``."""
    return _lookup(name, "name")


def _lookup(name, argument: str) -> FigureSpec:
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"{argument}: unknown figure {name!r}; available: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def _names(only) -> list[str]:
    if only is None:
        return list(_REGISTRY)
    items = [only] if isinstance(only, str) else list(only)
    names = [part.strip() for item in items for part in str(item).split(",") if part.strip()]
    if not names:
        raise ValueError("only: expected at least one figure name, got none")
    for name in names:
        _lookup(name, "only")
    return list(dict.fromkeys(names))


def _formats(formats) -> list[str]:
    items = [formats] if isinstance(formats, str) else list(formats)
    parts = [part.strip().lower() for item in items for part in str(item).split(",")]
    parts = [part for part in parts if part]
    if not parts:
        raise ValueError(f"formats: expected one or more of {', '.join(FORMATS)}, got none")
    for part in parts:
        if part not in FORMATS:
            raise ValueError(f"formats: expected one or more of {', '.join(FORMATS)}, got {part!r}")
    return list(dict.fromkeys(parts))


def save_figure(fig: Figure, path, *, dpi: float | None = None) -> Path:
    """Save ``fig`` to ``path`` (format from the suffix) reproducibly, in gradflow's style.

    ``dpi`` overrides the style's ``savefig.dpi`` (150) for raster formats, e.g. for the
    small images of the image-comparison tests.
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise ValueError(f"path: expected a suffix in {', '.join(FORMATS)}, got {path.name!r}")
    with style_context():
        extra = {} if dpi is None else {"dpi": dpi}
        fig.savefig(path, format=fmt, metadata=_METADATA[fmt], **extra)
    return path


def write_catalogue(
    out_dir="figures",
    *,
    only=None,
    quick: bool = False,
    formats=("png",),
    progress: Callable[[str, list[Path]], None] | None = None,
) -> list[Path]:
    """Draw figures into ``out_dir`` with their data and regenerate the catalogue README.

    Parameters
    ----------
    out_dir : str or path, default "figures"
        Output folder (created if missing).
    only : str or iterable of str, optional
        Figure names (a string may be comma-separated); default: every registered figure.
    quick : bool, default False
        Use each figure's quick mode (smaller sizes; for smoke tests).
    formats : str or iterable of str, default ("png",)
        Image formats among ``FORMATS``.
    progress : callable, optional
        Called as ``progress(name, paths)`` after each figure is written.

    Returns
    -------
    list of pathlib.Path
        Every file written: per figure its images and ``<name>.csv``, then ``README.md``.

    Notes
    -----
    The README lists every registered figure that has an image in ``out_dir`` (written now
    or before), in catalogue order, so ``only=`` refreshes some figures without dropping the
    others from the catalogue.
    """
    names = _names(only)
    fmts = _formats(formats)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name in names:
        spec = _REGISTRY[name]
        fig, data = spec(quick=quick)
        paths = [save_figure(fig, out / f"{name}.{fmt}") for fmt in fmts]
        csv = out / f"{name}.csv"
        _write_csv(data, csv)
        paths.append(csv)
        written.extend(paths)
        if progress is not None:
            progress(name, paths)
    readme = out / "README.md"
    readme.write_text(render_readme(out, quick=quick, current=names), encoding="utf-8")
    written.append(readme)
    return written


def _write_csv(data: pd.DataFrame, target) -> None:
    """Write ``data`` as the catalogue's CSV to a path or a text buffer."""
    data.to_csv(target, index=False, float_format="%.10g", lineterminator="\n")


def _read_csv(source) -> pd.DataFrame:
    try:
        return pd.read_csv(source)
    except pd.errors.EmptyDataError:  # a frame without columns writes an empty file
        return pd.DataFrame()


@dataclass(frozen=True)
class CheckResult:
    """How one figure's committed CSV compares with its data computed afresh.

    Attributes
    ----------
    name : str
        The figure.
    status : {"same", "different", "missing"}
        ``"same"`` when every value agrees within the tolerances, ``"missing"`` when there is
        no ``<name>.csv`` to compare with.
    detail : str
        One line: empty when the same; otherwise the path that is missing, or what differs
        (columns, row count, the columns whose values differ and the largest relative
        difference).
    """

    name: str
    status: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.name}: {self.status}" + (f": {self.detail}" if self.detail else "")


def _compare(committed: pd.DataFrame, fresh: pd.DataFrame, rtol: float, atol: float) -> str:
    """What differs between two frames read back from CSV, in one line ("" when nothing)."""
    if list(committed.columns) != list(fresh.columns):
        return f"columns {list(committed.columns)} committed, {list(fresh.columns)} computed"
    if len(committed) != len(fresh):
        return f"{len(committed)} rows committed, {len(fresh)} computed"
    parts, largest = [], 0.0
    for column in committed.columns:
        old, new = committed[column], fresh[column]
        numeric = [
            pd.api.types.is_numeric_dtype(c) and not pd.api.types.is_bool_dtype(c)
            for c in (old, new)
        ]
        if numeric[0] != numeric[1]:
            kinds = ["numbers" if flag else "text" for flag in numeric]
            parts.append(f"{column} ({kinds[0]} committed, {kinds[1]} computed)")
        elif numeric[0]:
            a, b = old.to_numpy(dtype=float), new.to_numpy(dtype=float)
            close = np.isclose(b, a, rtol=rtol, atol=atol, equal_nan=True)
            if not close.all():
                with np.errstate(divide="ignore", invalid="ignore"):
                    scale = np.maximum(np.abs(a), np.abs(b))
                    rel = np.where(scale > 0, np.abs(a - b) / scale, 0.0)
                rel = np.where(np.isnan(rel), np.inf, rel)[~close]
                largest = max(largest, float(rel.max()))
                parts.append(f"{column} ({int((~close).sum())} rows)")
        else:
            equal = (old == new) | (old.isna() & new.isna())
            if not equal.all():
                parts.append(f"{column} ({int((~equal).sum())} rows)")
    if not parts:
        return ""
    return f"columns {', '.join(parts)}; largest relative difference {largest:.3g}"


def check_catalogue(
    out_dir="figures",
    *,
    only=None,
    quick: bool = False,
    rtol: float = 1e-8,
    atol: float = 0.0,
    progress: Callable[[CheckResult], None] | None = None,
) -> list[CheckResult]:
    """Recompute figures' data and compare it with the CSVs in ``out_dir``; writes nothing.

    Parameters
    ----------
    out_dir : str or path, default "figures"
        The folder holding the ``<name>.csv`` files to check.
    only : str or iterable of str, optional
        Figure names (a string may be comma-separated); default: every registered figure.
    quick : bool, default False
        Compute each figure in its quick mode (to check a catalogue written with it).
    rtol, atol : float, default 1e-8 and 0
        Tolerances of :func:`numpy.isclose` for numeric columns.
    progress : callable, optional
        Called as ``progress(result)`` after each figure is checked.

    Returns
    -------
    list of CheckResult
        One per figure, in catalogue order.

    Notes
    -----
    The fresh frame goes through the same CSV writer as :func:`write_catalogue` (into
    memory) and both are read back with pandas, so formatting is compared like for like.
    Numeric columns compare within the tolerances, NaN equal to NaN and infinities of the
    same sign equal; other columns compare exactly.
    """
    names = _names(only)
    out = Path(out_dir)
    results = []
    for name in names:
        csv = out / f"{name}.csv"
        if not csv.exists():
            result = CheckResult(name, "missing", f"no {csv}")
        else:
            _, data = _REGISTRY[name](quick=quick)
            buffer = io.StringIO()
            _write_csv(data, buffer)
            buffer.seek(0)
            detail = _compare(_read_csv(csv), _read_csv(buffer), rtol, atol)
            result = CheckResult(name, "different" if detail else "same", detail)
        results.append(result)
        if progress is not None:
            progress(result)
    return results


def render_readme(out_dir, *, quick: bool = False, current=()) -> str:
    """Markdown of the catalogue for the figures present in ``out_dir``.

    Figures named in ``current`` are described with the parameters of this run (``quick``);
    the others with their defaults.
    """
    out = Path(out_dir)
    lines = [
        "# gradflow figure catalogue",
        "",
        f"Generated by `gradflow figures` (gradflow {__version__}). Each figure is saved beside a",
        "CSV of exactly the data it plots; seeds are fixed, so every run reproduces these files.",
        "Regenerate them all with `gradflow figures --out <this folder>`.",
        "",
    ]
    for name, spec in _REGISTRY.items():
        images = [fmt for fmt in FORMATS if (out / f"{name}.{fmt}").exists()]
        if not images:
            continue
        is_quick = quick and name in current
        csv = out / f"{name}.csv"
        table = pd.read_csv(csv) if spec.numbers is not None and csv.exists() else None
        caption = spec.describe(quick=is_quick, data=table)
        others = ", ".join(f"[{fmt.upper()}]({name}.{fmt})" for fmt in images[1:])
        data = f"[{name}.csv]({name}.csv)" if (out / f"{name}.csv").exists() else "none"
        lines += [
            f"## {name}",
            "",
            f"![{name}]({name}.{images[0]})",
            "",
            caption,
            "",
            f"- Data: {data}" + (f"; also as {others}" if others else ""),
            f"- Regenerate: `gradflow figures --only {name}`"
            + (" (this copy was drawn with `--quick`)" if is_quick else ""),
            f'- In Python: `fig, data = gradflow.figures.get("{name}")()`'
            f" (source: `{spec.source}`)",
            "",
        ]
    return "\n".join(lines)
