"""Layer 4: renderers. Text, Markdown, reST, HTML, CSV and the JSON contract.

Renderers only read a :class:`~cnninspect.engine.records.Summary`; they never compute.
``tabulate`` is imported here, lazily, so ``import cnninspect`` stays cheap.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cnninspect.engine.records import SCHEMA, Layer, Summary
from cnninspect.errors import OptionError
from cnninspect.units import (
    fmt_axes,
    fmt_shape,
    human,
    human_bytes,
    jsonable,
    thousands,
)


def _rf_field(attr: str) -> Callable[[Layer], str]:
    def get(layer: Layer) -> str:
        rf = layer.receptive_field
        if rf is None:
            return ""
        if getattr(rf, "is_global", False):
            return "global"
        if getattr(rf, "unknown", False):
            return "?"
        return fmt_axes(getattr(rf, attr, None))

    return get


@dataclass(frozen=True)
class Column:
    """A table column: its header, how a row's value is read, and whether it is a number.

    ``of_summary`` columns read the whole summary too (``get(layer, summary)``), as a
    parameter's share of the total does; ``traced`` ones hold what only a traced forward
    knows, shown as "unknown" in a module-tree summary made without an input."""

    header: str
    get: Callable[..., Any]
    numeric: bool = False
    of_summary: bool = False
    traced: bool = False


def _params_percent(layer: Layer, summary: Summary) -> str:
    """The row's parameters as a share of the model's (a shared parameter counts in its first row)."""
    if not summary.total_params:
        return ""
    return f"{layer.num_params / summary.total_params:.2%}"


def _geom(attr: str) -> Callable[[Layer], str]:
    def get(layer: Layer) -> str:
        value = getattr(layer, attr)
        if value is None:
            return ""
        if isinstance(value, tuple):
            return fmt_axes(value)
        return str(value)

    return get


COLUMNS: dict[str, Column] = {
    "name": Column("Layer", lambda row: row.name),
    "kind": Column("Kind", lambda row: row.kind),
    "input_shape": Column("Input shape", lambda row: fmt_shape(row.input_shapes), traced=True),
    "output_shape": Column("Output shape", lambda row: fmt_shape(row.output_shape), traced=True),
    "num_params": Column("Params", lambda row: row.num_params, numeric=True),
    "params_percent": Column("Params %", _params_percent, numeric=True, of_summary=True),
    "trainable": Column("Trainable", lambda row: {None: "", True: "yes", False: "no"}[row.trainable]),
    "macs": Column("MACs", lambda row: row.macs, numeric=True, traced=True),
    "flops": Column("FLOPs", lambda row: row.flops, numeric=True, traced=True),
    "kernel_size": Column("Kernel", _geom("kernel_size")),
    "stride": Column("Stride", _geom("stride")),
    "padding": Column("Padding", _geom("padding")),
    "dilation": Column("Dilation", _geom("dilation")),
    "groups": Column("Groups", _geom("groups")),
    "rf": Column("RF", _rf_field("size"), traced=True),
    "jump": Column("Jump", _rf_field("jump"), traced=True),
    "start": Column("Start", _rf_field("start"), traced=True),
    "naive_rf": Column("Naive RF", _rf_field("naive"), traced=True),
    "parent": Column("Parent", lambda row: row.parent),
    "depth": Column("Depth", lambda row: row.depth, numeric=True),
    "inputs": Column("Inputs", lambda row: ", ".join(row.inputs), traced=True),
    "fc_params": Column("FC params", lambda row: "" if row.fc_params is None else row.fc_params, numeric=True),  # set by cnninspect.analyses.fc.annotate
    # set by cnninspect.analyses.memory.with_memory
    "output_bytes": Column("Output bytes", lambda row: "" if row.output_bytes is None else row.output_bytes, numeric=True, traced=True),
    "saved_bytes": Column("Saved for backward", lambda row: "" if row.saved_bytes is None else row.saved_bytes, numeric=True, traced=True),
}
_RF_COLUMNS = ["rf", "jump"]


UNKNOWN = "unknown"


def default_columns(summary: Summary) -> list[str]:
    if not summary.traced:
        return ["name", "kind", "num_params", "params_percent"]
    cols = ["name", "kind", "output_shape", "num_params", "macs"]
    if any(layer.receptive_field is not None for layer in summary.layers):
        cols += _RF_COLUMNS
    return cols


def resolve_columns(summary: Summary, columns: list[str] | str | None) -> list[str]:
    if columns is None:
        return default_columns(summary)
    if isinstance(columns, str):
        columns = [c.strip() for c in columns.split(",") if c.strip()]
    if not isinstance(columns, (list, tuple)) or not all(isinstance(c, str) for c in columns):
        raise OptionError(
            f"columns must be a list of column names or one comma-separated string, got {columns!r}"
        )
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        raise OptionError(
            f"unknown column(s) {', '.join(unknown)}; choose from {', '.join(COLUMNS)}"
        )
    if not columns:
        raise OptionError(f"no column named; choose from {', '.join(COLUMNS)}")
    return list(columns)


def fold(layers: list[Layer], depth: int | None) -> list[Layer]:
    """Merge rows below ``depth`` into their ancestor at ``depth`` (params and cost summed)."""
    if depth is None:
        return layers
    if depth < 1:
        raise OptionError(f"depth must be a positive int, got {depth}")
    out: list[Layer] = []
    groups: dict[str, Layer] = {}
    for layer in layers:
        if layer.depth <= depth:
            out.append(layer)
            continue
        key = ".".join(layer.path.split(".")[:depth])
        group = groups.get(key)
        if group is None or out[-1] is not group:
            # a new run of rows under this ancestor (a module called again starts a new row)
            index = 1 if group is None else group.call_index + 1
            group = Layer(
                name=key if index == 1 else f"{key}@{index}",
                kind="",
                output_shape=None,
                parent=key.rsplit(".", 1)[0] if "." in key else "",
                depth=depth,
                op="group",
                module_path=key,
                call_index=index,
                input_shapes=list(layer.input_shapes),  # what the group's first row received
            )
            groups[key] = group
            out.append(group)
        group.num_params += layer.num_params
        group.trainable_params += layer.trainable_params
        group.macs += layer.macs
        group.flops += layer.flops
        group.output_shape = layer.output_shape
        group.receptive_field = layer.receptive_field
        _fold_memory(group, layer)
    return out


def _fold_memory(group: Layer, layer: Layer) -> None:
    """A folded row keeps what its rows saved for backward (each storage is counted at the row that
    saved it first, so the sum is exact) and the output bytes of its last row, like its shape."""
    if layer.saved_bytes is not None:
        group.saved_bytes = (group.saved_bytes or 0) + layer.saved_bytes
    group.output_bytes = layer.output_bytes


def _kind_of_groups(summary: Summary, rows: list[Layer], kinds: dict[str, str]) -> None:
    for row in rows:
        if row.op == "group" and not row.kind:
            row.kind = kinds.get(row.module_path or row.name, "")


def rows_for(
    summary: Summary, columns: list[str] | str | None, depth: int | None
) -> tuple[list[str], list[list[Any]]]:
    cols = resolve_columns(summary, columns)
    rows = fold(summary.layers, depth)
    _kind_of_groups(summary, rows, summary.module_kinds)
    traced = summary.traced
    table = [[_cell(COLUMNS[c], layer, summary, traced) for c in cols] for layer in rows]
    return cols, table


def _cell(column: Column, layer: Layer, summary: Summary, traced: bool) -> Any:
    if column.traced and not traced:
        return UNKNOWN  # nothing was traced: never a 0 or a blank that reads as a value
    return column.get(layer, summary) if column.of_summary else column.get(layer)


def _display(cols: list[str], table: list[list[Any]]) -> list[list[Any]]:
    return [
        [
            thousands(v) if COLUMNS[c].numeric and isinstance(v, int) else v
            for c, v in zip(cols, row)
        ]
        for row in table
    ]


def _incomplete(summary: Summary) -> str:
    """A lower bound is never shown as the whole: the totals line says so, and why."""
    reasons = summary.macs_incomplete_reasons
    return f" -- INCOMPLETE, at least: {'; '.join(reasons)}" if reasons else ""


def _tree_totals(s: Summary) -> list[tuple[str, str]]:
    """A module-tree summary's totals: what the tree knows, and what needs an input, said so."""
    unknown = f"{UNKNOWN} (no input given)"
    return [
        ("Total params", f"{thousands(s.total_params)} ({human(s.total_params)})"),
        ("Trainable params", thousands(s.trainable_params)),
        ("Non-trainable params", thousands(s.non_trainable_params)),
        ("Param size", human_bytes(s.param_bytes)),
        ("Buffers", f"{thousands(s.total_buffers)} ({human_bytes(s.buffer_bytes)})"),
        ("Total MACs", unknown),
        ("Total FLOPs", unknown),
        ("Input shape", unknown),
        ("Output shape", unknown),
        ("Method", s.method),
    ]


def totals_lines(summary: Summary) -> list[tuple[str, str]]:
    s = summary
    if not s.traced:
        return _tree_totals(s)
    lines = [
        ("Total params", f"{thousands(s.total_params)} ({human(s.total_params)})"),
        ("Trainable params", thousands(s.trainable_params)),
        ("Non-trainable params", thousands(s.non_trainable_params)),
        ("Param size", human_bytes(s.param_bytes)),
        ("Buffers", f"{thousands(s.total_buffers)} ({human_bytes(s.buffer_bytes)})"),
        ("Total MACs", f"{thousands(s.total_macs)} ({human(s.total_macs)}){_incomplete(s)}"),
        ("Total FLOPs", f"{thousands(s.total_flops)} ({human(s.total_flops)})"),
        ("Input shape", fmt_shape(s.input_shapes)),
        ("Output shape", fmt_shape(s.output_shapes)),
        ("Method", s.method),
    ]
    rf = getattr(s.receptive_field, "output", None)
    if rf is not None:
        where = f" ({rf.name})" if getattr(rf, "name", None) else ""
        if rf.is_global:
            lines.insert(-1, ("Receptive field", f"global{where}"))
        elif not rf.unknown:
            lines.insert(-1, ("Receptive field", f"{fmt_axes(rf.size)}, jump {fmt_axes(rf.jump)}{where}"))
    return lines


def _layer_table(
    summary: Summary, columns: list[str] | str | None, depth: int | None, tablefmt: str
) -> str:
    """The per-layer table in tabulate's ``tablefmt``: the body every text-like format shares."""
    from tabulate import tabulate

    cols, table = rows_for(summary, columns, depth)
    return tabulate(
        _display(cols, table),
        headers=[COLUMNS[c].header for c in cols],
        tablefmt=tablefmt,
        colalign=["right" if COLUMNS[c].numeric else "left" for c in cols],
        disable_numparse=True,
    )


_MODE_NOTES = {
    "train": " -- traced in train mode (Dropout, BatchNorm, self.training branches as in training)",
    "mixed": " -- traced in mixed mode (some modules in train mode, some in eval)",
}


def render_text(
    summary: Summary, columns: list[str] | str | None = None, depth: int | None = None
) -> str:
    body = _layer_table(summary, columns, depth, "simple")
    width = max((len(line) for line in body.splitlines()), default=40)
    rule = "=" * width
    # eval is what a summary usually means; a training trace says so on the title line
    out = [rule, f"{summary.model_name}{_MODE_NOTES.get(summary.mode or '', '')}", rule, body, rule]
    label_width = max(len(k) for k, _ in totals_lines(summary))
    out += [f"{k + ':':<{label_width + 1}} {v}" for k, v in totals_lines(summary)]
    if summary.warnings:
        out.append(rule)
        out += [f"warning: {w}" for w in summary.warnings]
    out.append(rule)
    return "\n".join(out)


_FORMATS = {"github": "github", "markdown": "github", "rst": "rst", "html": "html"}


def render_table(
    summary: Summary, fmt: str, columns: list[str] | str | None = None, depth: int | None = None
) -> str:
    from tabulate import tabulate

    body = _layer_table(summary, columns, depth, _FORMATS[fmt])
    totals = totals_lines(summary)
    if fmt == "html":
        items = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in totals)
        warn = "".join(f"<li>{_escape(w)}</li>" for w in summary.warnings)
        return (
            f'<div class="cnninspect-summary"><h3>{_escape(summary.model_name)}</h3>\n{body}\n'
            f'<table class="cnninspect-totals">{items}</table>'
            + (f"<ul class='cnninspect-warnings'>{warn}</ul>" if warn else "")
            + "</div>"
        )
    tot = tabulate(
        [[k, v] for k, v in totals],
        headers=["Total", "Value"],
        tablefmt=_FORMATS[fmt],
        disable_numparse=True,
    )
    parts = [body, "", tot]
    if summary.warnings:
        bullet = "- " if fmt != "rst" else "* "
        parts += [""] + [bullet + w for w in summary.warnings]
    return "\n".join(parts) + "\n"


def render_csv(
    summary: Summary, columns: list[str] | str | None = None, depth: int | None = None
) -> str:
    cols, table = rows_for(summary, columns, depth)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(cols)
    writer.writerows(table)
    return buf.getvalue()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def layer_dict(layer: Layer, traced: bool = True) -> dict[str, Any]:
    """One row as JSON; in a module-tree summary (``traced`` False) what needs a forward is null."""
    rf = layer.receptive_field
    out = {
        "name": layer.name,
        "kind": layer.kind,
        "input_shapes": jsonable(layer.input_shapes),
        "output_shape": jsonable(layer.output_shape),
        "num_params": layer.num_params,
        "trainable": layer.trainable,
        "trainable_params": layer.trainable_params,
        "macs": layer.macs,
        "flops": layer.flops,
        "macs_complete": layer.macs_complete,
        "cost_unknown": list(layer.cost_unknown),
        "kernel_size": jsonable(layer.kernel_size),
        "stride": jsonable(layer.stride),
        "padding": jsonable(layer.padding),
        "dilation": jsonable(layer.dilation),
        "groups": layer.groups,
        "parent": layer.parent,
        "depth": layer.depth,
        "op": layer.op,
        "inputs": list(layer.inputs),
        "receptive_field": jsonable(rf.to_dict()) if rf is not None else None,
        "notes": list(layer.notes),
        "module_path": layer.module_path,
        "call_index": layer.call_index,
        # additive, only on a summary annotated by cnninspect.analyses.memory.with_memory
        **({"output_bytes": layer.output_bytes} if layer.output_bytes is not None else {}),
        **({"saved_bytes": layer.saved_bytes} if layer.saved_bytes is not None else {}),
    }
    if not traced:
        out.update(input_shapes=None, macs=None, flops=None, macs_complete=False)
    return out


def _output_field(summary: Summary) -> dict[str, Any] | None:
    """The model output's receptive field (the last spatial node), as in each layer's entry."""
    rf = getattr(summary.receptive_field, "output", None)
    if rf is None:
        return None
    return {"node": getattr(rf, "name", None), **jsonable(rf.to_dict())}


def summary_dict(summary: Summary) -> dict[str, Any]:
    s = summary
    traced = s.traced
    out = {
        "schema": SCHEMA,
        "model": s.model_name,
        "method": s.method,
        "traced": traced,
        "mode": s.mode if traced else None,
        "input_shapes": jsonable(s.input_shapes),
        "output_shapes": jsonable(s.output_shapes),
        "total_params": s.total_params,
        "trainable_params": s.trainable_params,
        "non_trainable_params": s.non_trainable_params,
        "param_bytes": s.param_bytes,
        "total_buffers": s.total_buffers,
        "buffer_bytes": s.buffer_bytes,
        "total_macs": s.total_macs,
        "total_flops": s.total_flops,
        "macs_complete": s.macs_complete,
        "macs_incomplete_reasons": s.macs_incomplete_reasons,
        "warnings": list(s.warnings),
        "opaque": dict(s.opaque),
        "receptive_field": _output_field(s),
        "rf_error": s.rf_error.to_dict() if s.rf_error is not None else None,
        "layers": [layer_dict(layer, traced) for layer in s.layers],
    }
    if not traced:  # no forward: the totals a forward gives are unknown, not 0
        out.update(input_shapes=None, output_shapes=None, total_macs=None, total_flops=None)
    return out
