"""Build-time pages of the gradflow documentation, generated from the package itself.

Everything here is written into ``docs/_generated/`` (gitignored) when the build starts, so a
new public module, figure, notebook or subcommand appears on the site without editing docs/:

- ``api/``: one page per public module (every ``gradflow.<m>`` with an ``__all__``, found by
  walking the package), with an autosummary table of every name in its ``__all__``; the
  autosummary stubs go to ``api/generated/``. Every public submodule with an ``__all__``
  (``gradflow.figures.foundation``, ``gradflow.cells.lstm``, ...) gets a page of its own.
- ``gallery.md``: one entry per registered figure (:func:`gradflow.figures.available`), with
  the committed image and CSV, the caption as ``figures/README.md`` states it (rendered by
  :func:`gradflow.figures.render_readme` with the image), the command and the Python call.
- ``notebooks/``: a copy of every ``notebooks/*.ipynb`` (links to the README pointed at the
  landing page) and an index page.
- ``cli/``: the ``--help`` text of ``gradflow`` and of each subcommand, from the parser.

The module imports nothing but the standard library at the top, so the tests can use its
functions without Sphinx.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import json
import os
import pkgutil
import re
import shutil
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1]
ROOT = DOCS.parent
GENERATED = DOCS / "_generated"
PACKAGE = "gradflow"


# -- API reference -----------------------------------------------------------------------------
def _public(name: str) -> bool:
    return not any(part.startswith("_") for part in name.split(".")[1:])


def public_modules() -> list[str]:
    """Every public module ``gradflow.<m>`` that has an ``__all__``, in alphabetical order."""
    package = importlib.import_module(PACKAGE)
    found = []
    for info in pkgutil.iter_modules(package.__path__, f"{PACKAGE}."):
        if _public(info.name) and hasattr(importlib.import_module(info.name), "__all__"):
            found.append(info.name)
    return sorted(found)


def extra_names(name: str) -> list[str]:
    """The names of submodule ``name``'s ``__all__`` that its package does not re-export."""
    parent = importlib.import_module(name.rsplit(".", 1)[0])
    return [n for n in importlib.import_module(name).__all__ if n not in parent.__all__]


def public_submodules(name: str) -> list[str]:
    """Public submodules of package ``name`` (any depth) that have an ``__all__``."""
    module = importlib.import_module(name)
    if not hasattr(module, "__path__"):
        return []
    found = []
    for info in pkgutil.walk_packages(module.__path__, f"{name}."):
        if not _public(info.name):
            continue
        sub = importlib.import_module(info.name)
        if hasattr(sub, "__all__"):
            found.append(info.name)
    return sorted(found)


def _title(text: str, char: str = "=") -> list[str]:
    return [text, char * len(text), ""]


def _is_figure(module, name: str) -> bool:
    from gradflow.figures import FigureSpec

    return isinstance(getattr(module, name), FigureSpec)


def _autosummary(names, template: str | None = None) -> list[str]:
    head = [".. autosummary::", "   :toctree: generated", "   :nosignatures:"]
    if template:
        head.append(f"   :template: {template}")
    return head + [""] + [f"   {n}" for n in names] + [""]


def _tables(module, names) -> list[str]:
    """Autosummary tables of ``names``; the registered figures get a function's page."""
    figures = [n for n in names if _is_figure(module, n)]
    others = [n for n in names if n not in figures]
    lines = _autosummary(others) if others else []
    if figures:
        lines += _title("Figures", "-") + _autosummary(figures, template="autosummary/figure.rst")
    return lines


def module_page(name: str) -> str:
    """reST of the API page of module ``name``: its docstring and a table of its ``__all__``."""
    module = importlib.import_module(name)
    lines = _title(f"``{name}``")
    lines += [f".. automodule:: {name}", "", f".. currentmodule:: {name}", ""]
    lines += _tables(module, module.__all__)
    subs = public_submodules(name)
    if subs:
        lines += [".. toctree::", "   :hidden:", ""] + [f"   {s}" for s in subs] + [""]
        lines += _title("Submodules", "-")
        for sub in subs:
            extras = extra_names(sub)
            names = ", ".join(f":obj:`~{sub}.{n}`" for n in extras)
            lines += [f"- :mod:`{sub}`" + (f", which also defines {names}" if extras else "")]
        lines += [""]
    return "\n".join(lines)


def submodule_page(name: str) -> str:
    """reST of the page of a submodule: its docstring and a table of its ``__all__``.

    The names its package re-exports are documented under both dotted names, so that the
    submodule's own docstrings resolve their short references.
    """
    module = importlib.import_module(name)
    parent, stem = name.rsplit(".", 1)
    lines = _title(f"``{name}``")
    lines += [f".. automodule:: {name}"]
    if getattr(importlib.import_module(parent), stem) is not module:
        # The package re-exports a function of the same name (gradflow.plot.growth): that
        # function owns the dotted name.
        lines += ["   :no-index:"]
    lines += ["", f".. currentmodule:: {name}", ""]
    lines += _tables(module, module.__all__)
    return "\n".join(lines)


def api_index(modules) -> str:
    lines = _title("API reference")
    lines += [
        "One page per public module (every ``gradflow.<module>`` with an ``__all__``), each",
        "listing every name of its ``__all__``. The layers of :doc:`/index` import only from",
        "the layers below them.",
        "",
        ".. toctree::",
        "   :maxdepth: 1",
        "",
    ]
    lines += [f"   {m}" for m in modules] + [""]
    return "\n".join(lines)


def write_api(out: Path) -> list[str]:
    modules = public_modules()
    out.mkdir(parents=True, exist_ok=True)
    pages = {"index": api_index(modules)}
    for name in modules:
        pages[name] = module_page(name)
        for sub in public_submodules(name):
            pages[sub] = submodule_page(sub)
    for stem, text in pages.items():
        _write(out / f"{stem}.rst", text)
    return modules


# -- figure gallery ----------------------------------------------------------------------------
def readme_captions(readme: Path = ROOT / "figures" / "README.md") -> dict[str, str]:
    """The caption of each figure in the catalogue's README, as ``gradflow figures`` wrote it.

    The README is rendered by :func:`gradflow.figures.render_readme` from each
    :class:`~gradflow.figures.FigureSpec` and the figure's CSV, in the same run that drew the
    committed image, so its caption is the one that describes that image.
    """
    if not readme.exists():
        return {}
    captions = {}
    for section in readme.read_text(encoding="utf-8").split("\n## ")[1:]:
        name, _, body = section.partition("\n")
        paragraphs = [p.strip() for p in body.strip().split("\n\n")]
        if len(paragraphs) >= 2 and paragraphs[0].startswith("!["):
            captions[name.strip()] = paragraphs[1]
    return captions


def figure_entries(figures_dir: Path = ROOT / "figures"):
    """``(name, caption, source)`` per registered figure, in catalogue order.

    The caption is the README's (see :func:`readme_captions`); a figure the README does not
    have yet is described by its spec, filled from its committed CSV when it has one.
    """
    import pandas as pd

    from gradflow import figures

    committed = readme_captions(figures_dir / "README.md")
    entries = []
    for name in figures.available():
        spec = figures.get(name)
        caption = committed.get(name)
        if caption is None:
            csv = figures_dir / f"{name}.csv"
            data = pd.read_csv(csv) if spec.numbers is not None and csv.exists() else None
            caption = spec.describe(data=data)
        entries.append((name, caption, spec.source))
    return entries


def gallery_source(entries, image_dir: str = "gallery") -> str:
    """MyST Markdown of the gallery: image, caption, command and Python call per figure."""
    lines = [
        "# Figure gallery",
        "",
        "Every figure of the catalogue (`gradflow.figures.available()`), as committed in",
        "`figures/` with its caption from the figure's own data. Each one is one function of",
        "{mod}`gradflow.figures` and one line of the command line; each writes the CSV of exactly",
        "what it plots beside the image. See {doc}`/cli` for `gradflow figures`.",
        "",
    ]
    for name, caption, source in entries:
        lines += [
            f"(figure-{name})=",
            f"## {name}",
            "",
            f"```{{image}} {image_dir}/{name}.png",
            f":alt: {name}",
            "```",
            "",
            caption,
            "",
            f"- Data: {{download}}`{name}.csv <{image_dir}/{name}.csv>` (exactly what it plots)",
            f"- Regenerate: `gradflow figures --only {name}`",
            f'- In Python: `fig, data = gradflow.figures.get("{name}")()`',
            f"- Source: {{func}}`{source}`",
            "",
        ]
    return "\n".join(lines)


def write_gallery(out: Path) -> list[str]:
    entries = figure_entries()
    images = out / "gallery"
    images.mkdir(parents=True, exist_ok=True)
    for name, _, _ in entries:
        for suffix in (".png", ".csv"):
            path = ROOT / "figures" / f"{name}{suffix}"
            if not path.exists():
                raise FileNotFoundError(f"figure {name!r} has no committed {path}")
            shutil.copy2(path, images / path.name)
    _write(out / "gallery.md", gallery_source(entries))
    return [name for name, _, _ in entries]


# -- notebooks ---------------------------------------------------------------------------------
def notebook_title(path: Path) -> str:
    """The first Markdown heading of a notebook (its file stem when it has none)."""
    for cell in json.loads(path.read_text(encoding="utf-8")).get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", "")).splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return path.stem


#: Repository files the notebooks link to (relative to notebooks/) -> the site's page for them.
REPOSITORY_LINKS = {"../README.md": "../../index.rst", "../figures/README.md": "../gallery.md"}
_LINK = re.compile(r"\]\((\.\./[^)#\s]+)(#[^)\s]*)?\)")


def notebook_copy(path: Path) -> str:
    """The notebook's JSON with its links to repository files pointed at the site's pages.

    Links between notebooks resolve as they are; the README (the landing page here) and the
    figure catalogue (the gallery) are not files of the site.
    """
    notebook = json.loads(path.read_text(encoding="utf-8"))

    def link(match):
        target = REPOSITORY_LINKS.get(match.group(1))
        return match.group(0) if target is None else f"]({target})"

    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "markdown":
            source = cell.get("source", "")
            text = "".join(source) if isinstance(source, list) else source
            cell["source"] = _LINK.sub(link, text)
    return json.dumps(notebook, ensure_ascii=False, indent=1) + "\n"


def write_notebooks(out: Path) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.ipynb"):
        old.unlink()
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in notebooks:
        _write(out / path.name, notebook_copy(path))
    lines = _title("Notebooks")
    lines += [
        "Teaching notebooks, rendered as committed in ``notebooks/`` (they are not executed",
        "when the site is built). Each states a result with its formula, computes the number",
        "with gradflow and asserts it against the theory; ``pytest tests/test_notebooks.py``",
        "runs them all.",
        "",
    ]
    lines += [f"- :doc:`{p.stem}`: {notebook_title(p)}" for p in notebooks] + [""]
    lines += [".. toctree::", "   :hidden:", ""] + [f"   {p.stem}" for p in notebooks] + [""]
    _write(out / "index.rst", "\n".join(lines))
    return [p.stem for p in notebooks]


# -- command line ------------------------------------------------------------------------------
def help_text(*args: str, columns: int = 96) -> str:
    """``gradflow ARGS --help`` as printed, from the package's own parser."""
    from gradflow.cli import build_parser

    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(columns)
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer), contextlib.suppress(SystemExit):
            build_parser().parse_args([*args, "--help"])
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved
    return buffer.getvalue()


def subcommands() -> list[str]:
    """The subcommands in the order ``gradflow --help`` lists them."""
    from gradflow.cli import build_parser

    parser = build_parser()
    for action in parser._actions:  # argparse keeps the subparsers as an action
        if action.dest == "command":
            return list(action.choices)
    return []


def write_cli(out: Path) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    names = subcommands()
    _write(out / "gradflow.txt", help_text())
    lines = []
    for name in names:
        _write(out / f"{name}.txt", help_text(name))
        lines += _title(f"``gradflow {name}``", "-")
        lines += [f".. literalinclude:: /_generated/cli/{name}.txt", "   :language: text", ""]
    _write(out / "subcommands.rst.txt", "\n".join(lines))  # included by cli.rst
    return names


# -- Sphinx ------------------------------------------------------------------------------------
def _write(path: Path, text: str) -> None:
    """Write only when the text changed, so an incremental build stays incremental."""
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def generate(out: Path = GENERATED) -> dict[str, list[str]]:
    out.mkdir(parents=True, exist_ok=True)
    return {
        "modules": write_api(out / "api"),
        "figures": write_gallery(out),
        "notebooks": write_notebooks(out / "notebooks"),
        "subcommands": write_cli(out / "cli"),
    }


def _figure_docstring(app, what, name, obj, options, lines) -> None:
    """A registered figure (a FigureSpec) is documented by the function it draws with."""
    from gradflow.figures import FigureSpec

    if not isinstance(obj, FigureSpec):
        return
    from sphinx.util.docstrings import prepare_docstring

    params = inspect.signature(obj.func).parameters.values()
    shown = [str(p.replace(annotation=inspect.Parameter.empty)) for p in params]
    shown = [s for s in shown if not s.startswith("*")] + ["quick=False"]
    stem = name.rsplit(".", 1)[-1]
    lines[:] = [
        f"``{stem}(*, {', '.join(shown)})`` -> ``(Figure, DataFrame)``",
        "",
        f"Figure ``{obj.name}`` of the catalogue (:ref:`figure-{obj.name}` in the gallery): a",
        ":class:`~gradflow.figures.FigureSpec`, called like the function it wraps;",
        f"``{stem}(quick=True)`` draws the quick version.",
        "",
        *prepare_docstring(inspect.getdoc(obj.func) or ""),
    ]


def _no_type_docstring(app, what, name, obj, options, lines) -> None:
    """A constant without a ``#:`` comment shows nothing, rather than its type's docstring."""
    if what not in ("data", "attribute") or not lines or inspect.isclass(obj):
        return
    own = inspect.getdoc(type(obj))
    if own and lines[0].strip() == own.strip().splitlines()[0].strip():
        lines[:] = []


def _on_config_inited(app, config) -> None:
    generate(Path(app.srcdir) / "_generated")


def setup(app):
    # Before Sphinx lists the source files (and autosummary reads them for its stubs).
    app.connect("config-inited", _on_config_inited)
    # Before numpydoc (priority 500) parses the docstring.
    app.connect("autodoc-process-docstring", _figure_docstring, priority=400)
    app.connect("autodoc-process-docstring", _no_type_docstring, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
