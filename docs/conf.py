"""Sphinx configuration of the gradflow documentation.

Build (warnings are errors; no network: no intersphinx)::

    sphinx-build -W --keep-going -n -b html docs docs/_build/html

The API pages, the figure gallery, the notebook copies and the command-line help are generated
at build time by ``_ext/gradflow_docs.py`` into ``docs/_generated/`` (gitignored).
"""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# Document the package of this checkout (a worktree), not whichever copy is installed.
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "_ext"))

import gradflow  # noqa: E402

project = "gradflow"
author = "the gradflow developers"
copyright = "the gradflow developers"
release = gradflow.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",
    "gradflow_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
templates_path = ["_templates"]
root_doc = "index"
default_role = "py:obj"

# -- autodoc / autosummary / numpydoc ----------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"member-order": "bysource"}
# Types are written in the numpydoc Parameters/Returns sections; the annotations would repeat
# them (and name private modules, where the classes are defined).
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- notebooks: rendered from what is committed, never executed --------------------------------
nb_execution_mode = "off"
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# -- nitpicky: only external types may stay unresolved -----------------------------------------
nitpicky = True
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(numpy|np|pandas|pd|matplotlib|mpl|seaborn|sns|scipy|concurrent\.futures|typing)(\..*)?",
    ),
    (r"py:.*", r"(ndarray|DataFrame|Series|Figure|Axes|Generator|Executor|Future)"),
]

# -- HTML -------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"gradflow {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path = []
