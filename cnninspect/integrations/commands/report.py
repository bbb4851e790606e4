"""``cnninspect report``: a standalone Sphinx project with one page per model, built on request.

The pages hold directives, not numbers: the project rebuilds its tables from the
models every time it is built, and a user with docs of their own can copy them.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from cnninspect.errors import ModelError, OptionError
from cnninspect.integrations.commands.common import CLI_HINT, add_model_arguments

if TYPE_CHECKING:
    from cnninspect.engine.inputs import InputSpec

HELP = "write a Sphinx report (layers, memory, receptive fields, FC vs conv, a comparison) for models; --build makes HTML"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser, many=True, forward_kwargs=False)  # pages' directives take shapes only
    parser.add_argument("--output", "-o", required=True, metavar="DIR", help="folder for the Sphinx project")
    parser.add_argument("--build", action="store_true", help="build the project to HTML and print the index page")
    parser.add_argument("--title", default="cnninspect report", help="the report's title")
    parser.add_argument(
        "--columns",
        default=None,
        help="comma-separated columns of each page's layer table, e.g. "
        "name,kind,input_shape,output_shape,num_params,params_percent,kernel_size (default: the summary's)",
    )


def run(args: argparse.Namespace) -> int:
    from cnninspect.integrations.sphinx import analysis

    if args.dtype:
        raise OptionError("cnninspect report summarises float32 inputs; drop --dtype (it is for cnninspect summary)")
    columns = _columns(args.columns)
    inputs = _inputs_per_model(args.model, args.input_shape, args.batch_dim)
    kwargs = analysis.parse_kwargs(args.kwargs)
    models = []
    for spec, given in zip(args.model, inputs):
        # load and summarise first, so a bad model is one clear error before anything is written
        hint = f"{CLI_HINT} (once for all models or once per model)"
        models.append(analysis.analyse(spec, given, None, kwargs, args.device, shape_hint=hint))
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    slugs = _slugs([m.spec for m in models])
    _write(out / "conf.py", _conf(args.title, args.device))
    _write(out / "index.rst", _index(args.title, models, slugs, args.kwargs))
    for m, slug in zip(models, slugs):
        _write(out / "models" / f"{slug}.rst", _page(m, args.kwargs, columns))
    if not args.build:
        print(out / "index.rst")
        return 0
    from sphinx.cmd.build import build_main

    html = out / "_build" / "html"
    status = build_main(["-q", "-b", "html", str(out), str(html)])
    if status != 0:
        raise ModelError(f"building the report in {out} failed (sphinx exit status {status}); see the messages above")
    print(html / "index.html")
    return 0


def _columns(text: str | None) -> str | None:
    """``--columns`` checked before any model is built: one error naming the bad ones and the valid."""
    if text is None:
        return None
    from cnninspect.renderers.text import COLUMNS

    names = [c.strip() for c in text.split(",") if c.strip()]
    unknown = [c for c in names if c not in COLUMNS]
    if unknown or not names:
        shown = f"unknown column(s) {', '.join(unknown)}" if unknown else f"--columns {text!r} names no column"
        raise OptionError(f"{shown}; choose from {', '.join(COLUMNS)}")
    return ",".join(names)


def _inputs_per_model(
    specs: list[str], given: list[str] | None, batch_dim: int | None = None
) -> list[InputSpec | None]:
    """One --input-shape for every model, or one per model in order (``1,3,8,8;1,10`` for a
    model with two inputs), each with --batch-dim's batch inserted; none: each model's own.
    The pages' directives get the whole shape, batch included."""
    from cnninspect.engine.inputs import InputSpec
    from cnninspect.integrations.commands.common import insert_batch

    if not given:
        insert_batch(None, batch_dim)  # --batch-dim without a shape: its one error
        return [None] * len(specs)
    parsed = [insert_batch(InputSpec.parse(text, where="--input-shape"), batch_dim) for text in given]
    if len(parsed) == 1:
        return parsed * len(specs)
    if len(parsed) == len(specs):
        return parsed
    raise OptionError(
        f"got {len(parsed)} --input-shape values for {len(specs)} models; give one for all models or one per model"
    )


def _slugs(specs: list[str]) -> list[str]:
    out: list[str] = []
    for spec in specs:
        slug = re.sub(r"[^A-Za-z0-9]+", "-", spec).strip("-").lower() or "model"
        base, n = slug, 2
        while slug in out:
            slug, n = f"{base}-{n}", n + 1
        out.append(slug)
    return out


def _write(path: Path, text: str) -> None:
    """Atomically: a half-written conf.py or page is never left behind."""
    from cnninspect.files import atomic_write  # mode from the umask, not mkstemp's 0600

    atomic_write(path, lambda fh: fh.write(text), text=True)


def _shape_text(m) -> str:
    return m.inputs.text().replace(";", "; ")


def _conf(title: str, device: str | None) -> str:
    return f'''# Written by `cnninspect report`; edit freely. Build with: sphinx-build -b html . _build/html
import os
import sys

# the folder the report was made from, so models given as package.module:attr import as they did then
sys.path.insert(0, {os.getcwd()!r})

project = {title!r}
extensions = ["cnninspect.integrations.sphinx"]
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_theme_options = {{"page_width": "1200px", "body_max_width": "none"}}
cnninspect_device = {device!r}
cnninspect_on_error = "raise"  # a model that no longer loads stops the build with the reason
'''


def _heading(text: str, char: str) -> str:
    return f"{text}\n{char * len(text)}\n"


def _options(m, kwargs: str | None, **extra: str | None) -> str:
    lines = [f"   :input-shape: {_shape_text(m)}"]
    if kwargs:
        lines.append(f"   :kwargs: {kwargs}")
    for key, value in extra.items():
        if key == "columns" and value is None:
            continue  # the directive's own default columns
        key = key.replace("_", "-")
        lines.append(f"   :{key}:" + (f" {value}" if value else ""))
    return "\n".join(lines)


def _index(title: str, models: list, slugs: list[str], kwargs: str | None) -> str:
    lines = [_heading(title, "="), "The models side by side; each has a page of its own below.\n"]
    lines.append(".. cnninspect-compare::\n   :plot:" + (f"\n   :kwargs: {kwargs}" if kwargs else "") + "\n")
    lines += [f"   {m.spec} {_shape_text(m).replace(' ', '')}" for m in models]
    lines += ["", ".. toctree::", "   :maxdepth: 1", ""]
    lines += [f"   models/{slug}" for slug in slugs]
    return "\n".join(lines) + "\n"


def _page(m, kwargs: str | None, columns: str | None = None) -> str:
    from cnninspect.integrations.sphinx import analysis

    s = m.summary
    name, spec = s.model_name, m.spec
    parts = [
        _heading(f"{name} ({spec})", "="),
        f"``{spec}`` on a {_shape_text(m).replace(',', 'x')} input. Every table and chart below is "
        "computed from the model each time this page is built.\n",
        _heading("Layers", "-"),
        f".. cnninspect-summary:: {spec}\n{_options(m, kwargs, plot='params', columns=columns)}\n",
        _heading("Cost per layer", "-"),
        f".. cnninspect-summary:: {spec}\n"
        f"{_options(m, kwargs, columns='name,kind,output_shape,macs,flops', plot='macs', no_totals=None)}\n",
        *_memory_section(m, kwargs),
    ]
    parts.append(_heading("Receptive field", "-"))
    if analysis.rf_rows(s):
        parts.append(f".. cnninspect-rf:: {spec}\n{_options(m, kwargs, plot='growth')}\n")
        if analysis.spatial_layers(s) and len(m.input_shapes[0]) == 4:
            parts.append(
                "The centre unit of the last spatial layer, drawn over the input:\n\n"
                f".. cnninspect-rf:: {spec}\n{_options(m, kwargs, plot='unit', no_table=None)}\n"
            )
    else:
        parts.append(_no_rf_reason(s) + "\n")
    parts.append(_heading("Convolutions vs fully-connected layers", "-"))
    if analysis.fc_comparison(m).rows:
        parts.append(
            "Each convolution beside a fully-connected layer that maps the same input volume to the same "
            "output volume (weights and biases):\n\n"
            f".. cnninspect-fc:: {spec}\n{_options(m, kwargs, plot=None)}\n"
        )
    else:
        parts.append("This model has no convolution layers.\n")
    return "\n".join(parts)


def _memory_section(m, kwargs: str | None) -> list[str]:
    """Bytes per layer and the memory totals with their chart, or why the page has none."""
    from cnninspect.integrations.sphinx import memory as sphinx_memory

    head = _heading("Memory", "-")
    try:
        sphinx_memory.annotate(m, {})  # the build stops on a failing directive: find out first
    except Exception as exc:  # a model the memory replay cannot run: the page says why instead
        return [head, f"No memory figures: the memory analysis failed ({exc}).\n"]
    columns = "name,kind,output_shape,output_bytes,saved_bytes"
    return [head, "Each layer's outputs and what autograd keeps for backward in one AdamW training step "
            "at this input, with the totals and peaks:\n\n"
            f".. cnninspect-summary:: {m.spec}\n{_options(m, kwargs, columns=columns, memory=None, plot='memory')}\n"]  # fmt: skip


def _no_rf_reason(summary) -> str:
    if summary.rf_error is not None:
        return f"No receptive fields: the analysis failed ({summary.rf_error})."
    return "No receptive fields: this model's input has no spatial axes (or no layer keeps them)."
