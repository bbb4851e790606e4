"""Sphinx extension: model reports that build themselves. Add ``"cnninspect.integrations.sphinx"`` to ``extensions``.

Directives: ``cnninspect-summary`` (per-layer table, totals, a chart),
``cnninspect-rf`` (receptive fields: growth per layer or one unit over an image),
``cnninspect-fc`` (convolutions vs fully-connected equivalents) and
``cnninspect-compare`` (several models side by side).

Config values: ``cnninspect_input_shape`` (default shape when a directive and the
model give none), ``cnninspect_device`` (device for a real forward, if a model
needs one), ``cnninspect_image_formats`` (e.g. ``["svg", "png"]``; the builder
picks the best), ``cnninspect_image_dir`` (folder under the source dir for the
charts, default ``_cnninspect``) and ``cnninspect_on_error`` (``"warn"``: a
warning at the directive's line and a note in the page; ``"raise"``: stop).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

STATIC = Path(__file__).parent / "static"


def setup(app: Any) -> dict[str, Any]:
    from sphinx.config import ENUM

    from cnninspect import __version__
    from cnninspect.integrations.sphinx.directives import (
        CompareDirective,
        FCDirective,
        ReceptiveFieldDirective,
        SummaryDirective,
    )

    app.add_config_value("cnninspect_input_shape", None, "env", types=frozenset({tuple, list, str, type(None)}))
    app.add_config_value("cnninspect_device", None, "env", types=frozenset({str, type(None)}))
    app.add_config_value("cnninspect_image_formats", ["png"], "env", types=frozenset({list, tuple}))
    app.add_config_value("cnninspect_image_dir", "_cnninspect", "env", types=frozenset({str}))
    app.add_config_value("cnninspect_on_error", "warn", "env", types=ENUM("warn", "raise"))
    app.add_directive("cnninspect-summary", SummaryDirective)
    app.add_directive("cnninspect-rf", ReceptiveFieldDirective)
    app.add_directive("cnninspect-fc", FCDirective)
    app.add_directive("cnninspect-compare", CompareDirective)
    from cnninspect.integrations.sphinx.lint_directive import LintDirective  # issue 17

    app.add_directive("cnninspect-lint", LintDirective)
    from cnninspect.integrations.sphinx.analysis import clear_cache

    app.connect("builder-inited", _add_css)
    app.connect("builder-inited", clear_cache)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}


def _add_css(app: Any) -> None:
    if app.builder.format != "html":
        return
    static = str(STATIC)
    if static not in app.config.html_static_path:
        app.config.html_static_path.append(static)
    app.add_css_file("cnninspect.css")
