"""The directives: ``cnninspect-summary``, ``cnninspect-rf``, ``cnninspect-fc`` and ``cnninspect-compare``.

Each one loads a model from the same spec the command line takes, builds real
docutils nodes and, on any failure of the model, reports a Sphinx warning at
the directive's line (so ``-W`` fails) plus a visible note in the page -- or,
with ``cnninspect_on_error = "raise"``, stops the build with the reason.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.errors import SphinxError
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from cnninspect.errors import CnnInspectError, OptionError
from cnninspect.integrations.sphinx import analysis, plots
from cnninspect.integrations.sphinx import memory as sphinx_memory
from cnninspect.integrations.sphinx.tables import build_table, summary_table, totals_table
from cnninspect.units import fmt_axes, fmt_shape, human, human_bytes, thousands

logger = logging.getLogger(__name__)


class ModelReportError(SphinxError):
    """Raised instead of a warning when ``cnninspect_on_error = "raise"``."""

    category = "cnninspect error"


def _plot_choice(*choices: str):
    def check(text: str) -> str:
        return directives.choice(text.strip(), choices)

    return check


class _ModelDirective(SphinxDirective):
    """Shared: option parsing, loading + summarising, errors, dependencies, charts."""

    has_content = False
    required_arguments = 1
    optional_arguments = 0
    final_argument_whitespace = False
    common_options: dict[str, Any] = {
        "input-shape": directives.unchanged,
        "kwargs": directives.unchanged,
        "caption": directives.unchanged,
        "name": directives.unchanged,
        "class": directives.class_option,
    }

    # -- entry point -----------------------------------------------------------------------
    def run(self) -> list[nodes.Node]:
        try:
            return self.build()
        except SphinxError:
            raise
        except Exception as exc:  # a user's model may raise anything; the build must not crash
            return self.failed(exc)

    def build(self) -> list[nodes.Node]:  # pragma: no cover - overridden
        raise NotImplementedError

    # -- errors ----------------------------------------------------------------------------
    def failed(self, exc: BaseException) -> list[nodes.Node]:
        reason = str(exc) if isinstance(exc, CnnInspectError) else f"{type(exc).__name__}: {exc}"
        what = " ".join(self.arguments) or "(no model)"
        message = f"{self.name} {what}: {reason}"
        if self.config.cnninspect_on_error == "raise":
            docname, line = self._where()
            raise ModelReportError(f"{self.env.doc2path(docname)}:{line}: {message}") from exc
        self._note_spec_source()
        logger.warning(message, location=self._where(), type="cnninspect", subtype="model")
        note = nodes.warning()
        note += nodes.paragraph(text=f"cnninspect could not build this report for {what}: {reason}")
        note["classes"].append("cnninspect-error")
        return [note]

    def _note_spec_source(self) -> None:
        """Best effort: the failing model's file is a dependency too, so fixing it rebuilds the page."""
        import importlib.util

        spec = self.arguments[0] if self.arguments else ""
        module = spec.partition(":")[0] if ":" in spec else ""
        try:
            found = importlib.util.find_spec(module) if module else None
        except Exception:  # a parent package that does not import: nothing to watch
            return
        origin = getattr(found, "origin", None)
        if origin and Path(origin).is_file():
            self.env.note_dependency(origin)

    def _where(self) -> tuple[str, int]:
        current = getattr(self.env, "current_document", None)
        docname = current.docname if current is not None else self.env.docname
        return docname, self.lineno

    # -- loading ---------------------------------------------------------------------------
    def analyse(self, spec: str | None = None, shape_text: str | None = None) -> analysis.Analysed:
        spec = spec or self.arguments[0]
        shapes = analysis.parse_shapes(
            shape_text if shape_text is not None else self.options.get("input-shape"), ":input-shape:"
        )
        defaults = analysis.parse_shapes(self.config.cnninspect_input_shape, "cnninspect_input_shape")
        kwargs = analysis.parse_kwargs(self.options.get("kwargs"))
        result = analysis.analyse(spec, shapes, defaults, kwargs, self.config.cnninspect_device)
        if result.source_file and Path(result.source_file).is_file():
            # editing the model's source makes Sphinx read this page again
            self.env.note_dependency(result.source_file)
        return result

    # -- output helpers --------------------------------------------------------------------
    def wrap(self, children: list[nodes.Node], kind: str) -> nodes.container:
        box = nodes.container(classes=["cnninspect", f"cnninspect-{kind}", *self.options.get("class", [])])
        box.extend(children)
        return box

    def name_target(self, node: nodes.Element) -> None:
        if "name" in self.options:
            self.add_name(node)

    def chart(self, make_figure, key_parts: list[Any], alt: str, caption: str | None = None,
              write_png=None) -> nodes.Node:  # fmt: skip
        """An image node for a chart written into ``<srcdir>/<cnninspect_image_dir>/``.

        ``write_png(path)`` instead of ``make_figure()`` is for plot functions of other
        modules that write a PNG themselves (cnninspect.renderers.receptive_plot).
        """
        formats = [f.lstrip(".") for f in self.config.cnninspect_image_formats] or ["png"]
        folder = self.config.cnninspect_image_dir.strip("/")
        stem = "cnninspect-" + plots.content_key(*key_parts, "png-writer" if write_png else "figure")
        if write_png is not None:
            formats = ["png"]
            plots.write_once(write_png, Path(self.env.srcdir) / folder, stem)
        else:
            plots.save_once(make_figure, Path(self.env.srcdir) / folder, stem, formats)
        uri = f"/{folder}/{stem}." + ("*" if len(formats) > 1 else formats[0])
        image = nodes.image(uri=uri, alt=alt, classes=["cnninspect-plot"])
        figure = nodes.figure(classes=["cnninspect-figure"])
        figure += image
        if caption:
            figure += nodes.caption(caption, caption)
        return figure

    def notes(self, summary: Any) -> list[nodes.Node]:
        if not summary.warnings:
            return []
        note = nodes.note(classes=["cnninspect-notes"])
        items = nodes.bullet_list()
        for text in summary.warnings:
            items += nodes.list_item("", nodes.paragraph(text=text))
        note += nodes.paragraph(text="cnninspect notes on this model:")
        note += items
        return [note]

    def key_options(self) -> dict[str, Any]:
        return {k: v for k, v in self.options.items() if k not in ("name", "class", "caption")}


# ------------------------------------------------------------------------------------------ summary


class SummaryDirective(_ModelDirective):
    """``.. cnninspect-summary:: package.module:attr`` -- the per-layer table, totals and a chart.

    ``:memory:`` adds each row's output bytes and bytes saved for backward, and the memory
    totals; ``:plot: memory`` draws the saved bytes per row (:mod:`cnninspect.renderers.memory_plot`).
    """

    option_spec = {
        **_ModelDirective.common_options,
        "depth": directives.positive_int,
        "columns": directives.unchanged,
        "plot": _plot_choice("params", "macs", "rf", "memory"),
        "memory": directives.unchanged,
        "no-totals": directives.flag,
    }

    def build(self) -> list[nodes.Node]:
        a = self.analyse()
        s, report = self._memory(a)
        depth = self.options.get("depth")
        columns = sphinx_memory.table_columns(s, self.options.get("columns"), self._settings())
        title = self.options.get("caption") or f"{s.model_name} on {fmt_shape(a.input_shapes)}"
        table = summary_table(s, columns, depth, title=title)
        self.name_target(table)
        side: list[nodes.Node] = [table]
        plot = self.options.get("plot")
        if plot:
            side.append(self._plot(a, s, plot, depth))
        children: list[nodes.Node] = [nodes.container("", *side, classes=["cnninspect-side"])]
        if "no-totals" not in self.options:
            extra = sphinx_memory.totals_lines(report) if report is not None else []
            children.append(totals_table(s, extra))
        children += self.notes(s)
        return [self.wrap(children, "summary")]

    def _settings(self) -> dict[str, str] | None:
        return sphinx_memory.parse_memory(self.options.get("memory"))

    def _memory(self, a: analysis.Analysed) -> tuple[Any, Any]:
        """The summary to show (with its rows' bytes when any memory figure is asked for) and
        the memory report, or None."""
        settings = self._settings()
        if not sphinx_memory.wanted(settings, self.options.get("columns"), self.options.get("plot")):
            return a.summary, None
        return sphinx_memory.annotate(a, settings)

    def _plot(self, a: analysis.Analysed, s: Any, what: str, depth: int | None) -> nodes.Node:
        from cnninspect.renderers.text import fold

        if what == "rf":
            return _rf_growth_chart(self, a)
        if what == "memory":
            return _memory_chart(self, a, s, depth, sphinx_memory.annotate(a, self._settings())[1])
        rows = [layer for layer in fold(s.layers, depth) if getattr(layer, "num_params" if what == "params" else "macs")]
        labels = [layer.name for layer in rows]
        values = [getattr(layer, "num_params" if what == "params" else "macs") for layer in rows]
        label = "parameters" if what == "params" else "multiply-accumulates (MACs)"
        title = f"{s.model_name}: {label} per layer"
        return self.chart(
            lambda: plots.bar_chart(labels, values, title, label),
            [a.spec, a.input_shapes, what, labels, values],
            alt=f"{label} per layer of {s.model_name}",
        )


def _memory_chart(directive: _ModelDirective, a: analysis.Analysed, s: Any, depth: int | None,
                  report: Any) -> nodes.Node:  # fmt: skip
    """A bar per row of the table: the bytes it makes autograd keep for backward."""
    from cnninspect.renderers import memory_plot

    title = f"{s.model_name}: saved for backward per layer ({sphinx_memory.setup_text(report)})"
    bars = memory_plot.memory_bars(s, depth, title=title)
    return directive.chart(
        lambda: memory_plot.memory_chart(bars),
        [a.spec, a.input_shapes, "memory", title, bars.labels, bars.saved, bars.output],
        alt=f"bytes saved for backward per layer of {s.model_name}",
    )


# ------------------------------------------------------------------------------------------ receptive field


def _rf_growth_chart(directive: _ModelDirective, a: analysis.Analysed) -> nodes.Node:
    rows = [r for r in analysis.rf_rows(a.summary)]
    if not rows:
        raise CnnInspectError(
            "no receptive fields in this summary: the model has no spatial layer"
        )
    labels = [r.name for r in rows]
    ndim = max((len(r.size) for r in rows if r.size), default=1)
    series: dict[str, list[float | None]] = {}
    axes = "HWD" if ndim > 1 else "L"
    differ = any(r.size and len(set(r.size)) > 1 for r in rows)
    for k in range(ndim if differ else 1):
        name = f"receptive field ({axes[k]})" if differ else "receptive field"
        series[name] = [float(r.size[k]) if r.size else None for r in rows]
    dashed = []
    if any(r.naive for r in rows):
        series["stride-1 formula R + (K - 1)"] = [float(r.naive[0]) if r.naive else None for r in rows]
        dashed.append("stride-1 formula R + (K - 1)")
    title = f"{a.summary.model_name}: receptive field after each layer"
    report, rf_plot = _rf_plotting(a)
    return directive.chart(
        lambda: plots.growth_chart(labels, series, title, dashed),
        [a.spec, a.input_shapes, "rf-growth", labels, series],
        alt=f"receptive-field growth of {a.summary.model_name}",
        write_png=(lambda path: rf_plot.plot_sizes(report, path, naive=True)) if rf_plot else None,
    )


def _rf_plotting(a: analysis.Analysed) -> tuple[Any, Any]:
    """The summary's receptive-field report and cnninspect.renderers.receptive_plot, when both are there."""
    from cnninspect.renderers import receptive_plot as rf_plot

    report = a.summary.receptive_field
    return (report, rf_plot) if report is not None else (None, None)


class ReceptiveFieldDirective(_ModelDirective):
    """``.. cnninspect-rf:: spec`` -- the receptive-field table and its growth, or one unit over an image.

    ``:plot: growth`` (default) draws the size after each layer; ``:plot: unit``
    draws the region of ``:unit:`` (default: the centre unit) of ``:layer:``
    (default: the last spatial layer) over ``:image:`` or a neutral grid.
    """

    option_spec = {
        **_ModelDirective.common_options,
        "plot": _plot_choice("growth", "unit", "none"),
        "layer": directives.unchanged,
        "unit": directives.unchanged,
        "image": directives.path,
        "no-table": directives.flag,
    }

    def build(self) -> list[nodes.Node]:
        a = self.analyse()
        s = a.summary
        rows = analysis.rf_rows(s)
        if not rows:
            raise CnnInspectError(
                "no receptive fields in this summary: the model has no spatial layer"
            )
        children: list[nodes.Node] = []
        if "no-table" not in self.options:
            title = self.options.get("caption") or f"Receptive field of {s.model_name} on {fmt_shape(a.input_shapes)}"
            table = _rf_table(rows, title)
            self.name_target(table)
            children.append(table)
        plot = self.options.get("plot", "growth")
        if plot == "growth":
            children.append(_rf_growth_chart(self, a))
        elif plot == "unit":
            children.append(self._unit(a))
        return [self.wrap([nodes.container("", *children, classes=["cnninspect-side"])], "rf")]

    def _unit(self, a: analysis.Analysed) -> nodes.Node:
        s = a.summary
        candidates = analysis.spatial_layers(s)
        if "layer" in self.options:
            layer = analysis.check_layer(s, self.options["layer"].strip())
        elif candidates:
            layer = candidates[-1]
        else:
            raise OptionError("no layer with a finite receptive field and a spatial output to draw")
        out = layer.output_shape
        if not isinstance(out, tuple) or len(out) != 4:
            raise OptionError(f"layer {layer.name!r} has output {fmt_shape(out)}; ':plot: unit' draws 2-D feature maps")
        if "unit" in self.options:
            unit = tuple(int(v) for v in self.options["unit"].replace("x", ",").split(","))
        else:
            unit = tuple((n - 1) // 2 for n in out[2:])
        for i, n in zip(unit, out[2:]):
            if not 0 <= i < n:
                raise OptionError(f"unit {unit} lies outside {layer.name!r}'s {out[2]}x{out[3]} output")
        reg = analysis.region(a, layer, unit)
        height, width = a.input_shapes[0][2:]
        image_key: Any = None
        given = None
        if "image" in self.options:
            rel, path = self.env.relfn2path(self.options["image"], self._where()[0])
            self.env.note_dependency(rel)
            given = _load_image(path)
            image_key = [rel, Path(path).stat().st_mtime_ns]
        image = given if given is not None else _grid(height, width)
        (r0, r1), (c0, c1) = reg
        title = f"{s.model_name}: unit {unit} of {layer.name} sees rows {r0}..{r1}, columns {c0}..{c1}"
        report, rf_plot = _rf_plotting(a)
        return self.chart(
            lambda: plots.unit_chart(image, reg, title),
            [a.spec, a.input_shapes, "rf-unit", layer.name, unit, reg, image_key],
            alt=f"receptive field of unit {unit} of {layer.name}",
            caption=self.options.get("caption") if "no-table" in self.options else None,
            write_png=(lambda path: rf_plot.plot_region(report, path, unit=unit, node=layer.name, image=given))
            if rf_plot else None,
        )


def _rf_table(rows: list[analysis.RFRow], title: str) -> nodes.table:
    has_naive = any(r.naive for r in rows)
    headers = ["Layer", "Kind", "RF", "Jump", "Start"] + (["Stride-1 formula"] if has_naive else [])
    body = []
    for r in rows:
        if r.status:
            cells = [r.name, r.kind, r.status, "", ""] + ([""] if has_naive else [])
        else:
            cells = [r.name, r.kind, fmt_axes(r.size), fmt_axes(r.jump), fmt_axes(r.start)]
            cells += [fmt_axes(r.naive)] if has_naive else []
        body.append(cells)
    numeric = [False, False, True, True, True] + ([True] if has_naive else [])
    return build_table(headers, body, numeric=numeric, title=title, classes=["cnninspect-rf-table"])


def _grid(height: int, width: int) -> Any:
    import numpy as np

    yy, xx = np.mgrid[0:height, 0:width]
    return 0.82 + 0.1 * (((yy // 4) + (xx // 4)) % 2)  # a faint 4-pixel checkerboard


def _load_image(path: str) -> Any:
    import matplotlib.image as mpimg

    try:
        image = mpimg.imread(path)
    except (OSError, ValueError) as exc:
        raise OptionError(f":image: {path!r} cannot be read as an image ({exc}); give a PNG file") from None
    return image.mean(axis=2) if image.ndim == 3 else image


# ------------------------------------------------------------------------------------------ FC vs conv


class FCDirective(_ModelDirective):
    """``.. cnninspect-fc:: spec`` -- each conv layer's parameters beside a fully-connected equivalent."""

    option_spec = {**_ModelDirective.common_options, "plot": directives.flag}

    def build(self) -> list[nodes.Node]:
        a = self.analyse()
        cmp = analysis.fc_comparison(a)
        if not cmp.rows:
            raise OptionError(f"{a.summary.model_name} has no convolution layers to compare with fully-connected ones")
        headers = ["Layer", "Input", "Output", "Conv params", "FC params", "FC / conv", "Saving"]
        body = [
            [r.name, fmt_shape(r.input_shape), fmt_shape(r.output_shape), thousands(r.conv_params),
             thousands(r.fc_params), _ratio(r.ratio), _percent(r.saving)]
            for r in cmp.rows
        ]  # fmt: skip
        total_ratio = cmp.fc_params / cmp.conv_params if cmp.conv_params else math.inf
        body.append(["all convs", "", "", thousands(cmp.conv_params), thousands(cmp.fc_params),
                     _ratio(total_ratio), _percent(cmp.saving)])  # fmt: skip
        title = self.options.get("caption") or f"{a.summary.model_name}: convolutions vs fully-connected layers"
        table = build_table(headers, body, numeric=[False, False, False, True, True, True, True], title=title,
                            classes=["cnninspect-fc-table"])  # fmt: skip
        self.name_target(table)
        side: list[nodes.Node] = [table]
        if "plot" in self.options:
            labels = [r.name for r in cmp.rows]
            series = {"convolution": [r.conv_params for r in cmp.rows],
                      "fully connected": [r.fc_params for r in cmp.rows]}  # fmt: skip
            side.append(self.chart(
                lambda: plots.grouped_log_bars(labels, series, f"{a.summary.model_name}: parameters, conv vs FC",
                                               "parameters (log scale)"),
                [a.spec, a.input_shapes, "fc", labels, series],
                alt="parameters of each convolution and of its fully-connected equivalent",
            ))  # fmt: skip
        return [self.wrap([nodes.container("", *side, classes=["cnninspect-side"])], "fc")]


def _ratio(value: float) -> str:
    if math.isinf(value):
        return "inf"
    return f"{value:,.0f}x" if value >= 100 else f"{value:,.1f}x"


def _percent(share: float) -> str:
    """99.95 %, but never a rounded-up 100.00 % for a saving that is not total."""
    decimals = 2
    while share < 1 and round(100 * share, decimals) >= 100 and decimals < 12:
        decimals += 1
    return f"{100 * share:.{decimals}f} %"


# ------------------------------------------------------------------------------------------ comparison


class CompareDirective(_ModelDirective):
    """``.. cnninspect-compare::`` with one ``spec [input shape]`` per content line: models side by side."""

    has_content = True
    required_arguments = 0
    option_spec = {
        "kwargs": directives.unchanged,
        "caption": directives.unchanged,
        "name": directives.unchanged,
        "class": directives.class_option,
        "plot": directives.flag,
    }

    def build(self) -> list[nodes.Node]:
        entries = [line.split(None, 1) for line in self.content if line.strip() and not line.startswith("#")]
        if not entries:
            raise OptionError("cnninspect-compare needs one model spec per content line, e.g. 'simple-cnn 1,1,28,28'")
        models = []
        for entry in entries:
            self.arguments = [entry[0]]  # so an error names the model that failed
            models.append(self.analyse(entry[0], entry[1] if len(entry) > 1 else ""))
        self.arguments = [", ".join(e[0] for e in entries)]
        headers = ["", *[m.summary.model_name for m in models]]
        quantities = [
            ("Spec", lambda m: m.spec),
            ("Input", lambda m: fmt_shape(m.input_shapes)),
            ("Output", lambda m: fmt_shape(m.summary.output_shapes)),
            ("Rows (layers and ops)", lambda m: thousands(len(m.summary.layers))),
            ("Parameters", lambda m: thousands(m.summary.total_params)),
            ("Trainable", lambda m: thousands(m.summary.trainable_params)),
            ("Parameter size", lambda m: human_bytes(m.summary.param_bytes)),
            ("MACs", lambda m: f"{thousands(m.summary.total_macs)} ({human(m.summary.total_macs)})"),
            ("Largest finite RF", _largest_rf),
            ("Conv params", lambda m: _fc_part(m, "conv")),
            ("FC-equivalent params", lambda m: _fc_part(m, "fc")),
            ("Saved by convolutions", lambda m: _fc_part(m, "saving")),
        ]
        body = [[label, *[get(m) for m in models]] for label, get in quantities]
        title = self.options.get("caption") or "Models side by side"
        table = build_table(headers, body, numeric=[False] + [True] * len(models), title=title,
                            classes=["cnninspect-compare-table"])  # fmt: skip
        self.name_target(table)
        children: list[nodes.Node] = [table]
        if "plot" in self.options:
            labels = [m.summary.model_name for m in models]
            series = {"parameters": [m.summary.total_params for m in models],
                      "MACs": [m.summary.total_macs for m in models]}  # fmt: skip
            children.append(self.chart(
                lambda: plots.grouped_log_bars(labels, series, "Parameters and MACs", "count (log scale)"),
                [[m.spec for m in models], [m.input_shapes for m in models], "compare", series],
                alt="parameters and MACs of each model",
            ))  # fmt: skip
        return [self.wrap([nodes.container("", *children, classes=["cnninspect-side"])], "compare")]


def _largest_rf(m: analysis.Analysed) -> str:
    sized = [(r.name, r.size) for r in analysis.rf_rows(m.summary) if r.size]
    if not sized:
        return "n/a"
    name, size = max(sized, key=lambda pair: max(pair[1]))
    return f"{fmt_axes(size)} ({name})"


def _fc_part(m: analysis.Analysed, what: str) -> str:
    cmp = analysis.fc_comparison(m)
    if not cmp.rows:
        return "no convs"
    return {"conv": thousands(cmp.conv_params), "fc": thousands(cmp.fc_params), "saving": _percent(cmp.saving)}[what]
