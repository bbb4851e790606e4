"""Sphinx configuration for cnninspect's documentation.

Built in CI with ``sphinx-build -W -b html docs docs/_build/html``: every table and
chart in the guide and the report pages is computed from the models at build time
by our own extension, so the docs cannot drift from the code.
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # chapter_models.py: the guide's small example networks
sys.path.insert(0, os.path.join(HERE, "_ext"))  # cli_reference: the CLI reference from the real parser
os.environ.setdefault("MPLBACKEND", "Agg")

import cnninspect  # noqa: E402

project = "cnninspect"
author = "the cnninspect developers"
copyright = "2026, the cnninspect developers"
version = release = cnninspect.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "cnninspect.integrations.sphinx",
    "cli_reference",
    "chapter_replay",  # docs/_ext: `cnninspect chapter`'s output, computed at build time
]

exclude_patterns = ["_build", "_cnninspect", "Thumbs.db", ".DS_Store"]
html_theme = "alabaster"
html_theme_options = {"page_width": "1180px", "sidebar_width": "230px", "body_max_width": "none"}
html_title = f"cnninspect {release}"

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = False

# the extension's own settings: charts as SVG for HTML (crisp) with PNG beside them for other builders
cnninspect_image_formats = ["svg", "png"]
cnninspect_on_error = "warn"  # with -W a model that fails to load still fails the build, with its line
nitpicky = False
