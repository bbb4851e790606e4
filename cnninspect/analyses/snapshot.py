"""Architecture snapshots: a summary written as a small, diff-friendly JSON file, and its diff.

A snapshot holds what makes an architecture (per layer: name, kind, output shape,
parameters, MACs, receptive field; totals) and nothing that changes from machine
to machine (no paths, times, versions or warnings), so it can be committed and
reviewed like code. Each layer sits on one line so ``git diff`` shows the layer
that changed.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from cnninspect.engine.records import Summary
from cnninspect.errors import OptionError
from cnninspect.units import fmt_shape, thousands

SCHEMA = "cnninspect.arch-snapshot/1"
LAYER_FIELDS = ("name", "kind", "output_shape", "params", "macs", "receptive_field")
_LABELS = {
    "kind": "kind",
    "output_shape": "output shape",
    "params": "params",
    "macs": "MACs",
    "receptive_field": "receptive field",
}


def _plain(value: Any) -> Any:
    """JSON values that compare equal after a round trip: tuples -> lists, exact rationals as 'n/d'."""
    if isinstance(value, Fraction):
        return (
            value.numerator if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
        )
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _rf(layer: Any) -> Any:
    rf = layer.receptive_field
    if rf is None:
        return None
    to_dict = getattr(rf, "to_dict", None)
    if not callable(to_dict):
        return _plain(str(rf))
    full = to_dict()
    # the geometry only: derived figures (naive, effective padding) would just repeat it
    kept = {k: full[k] for k in ("size", "jump", "start", "global") if k in full}
    kept.update({k: True for k in ("unknown", "misaligned") if full.get(k)})
    return _plain(kept)


def snapshot_data(summary: Summary) -> dict[str, Any]:
    """The snapshot of ``summary`` as plain JSON values."""
    return {
        "schema": SCHEMA,
        "model": summary.model_name,
        "input_shapes": _plain(summary.input_shapes),
        "output_shapes": _plain(summary.output_shapes),
        "totals": {
            "params": summary.total_params,
            "trainable_params": summary.trainable_params,
            "macs": summary.total_macs,
        },
        "layers": [
            {
                "name": layer.name,
                "kind": layer.kind,
                "output_shape": _plain(layer.output_shape),
                "params": layer.num_params,
                "macs": layer.macs,
                "receptive_field": _rf(layer),
            }
            for layer in summary.layers
        ],
    }


def dumps(data: dict[str, Any]) -> str:
    """JSON with the schema on the first line inside the object and one layer per line."""
    compact = lambda v: json.dumps(v, separators=(", ", ": "))  # noqa: E731
    head = [f'  "{key}": {compact(data[key])}' for key in data if key != "layers"]
    layers = [f"    {compact(layer)}" for layer in data["layers"]]
    return "{\n" + ",\n".join(head) + ',\n  "layers": [\n' + ",\n".join(layers) + "\n  ]\n}\n"


def write(path: Path, data: dict[str, Any]) -> None:
    """Write atomically: a reader sees the old file or the new one, never half of one."""
    from cnninspect.files import atomic_write  # mode from the umask, not mkstemp's 0600

    atomic_write(path, lambda fh: fh.write(dumps(data)), text=True)


def read(path: Path, shown: str | None = None) -> dict[str, Any]:
    """Load a snapshot; a corrupt or foreign file is an :class:`OptionError` naming it and the fix."""
    shown = shown or str(path)
    fix = "rerun pytest with --arch-snapshot-update to rewrite it"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise OptionError(
            f"snapshot {shown} is not valid JSON ({exc.msg}, line {exc.lineno}); {fix}"
        ) from None
    if (
        not isinstance(data, dict)
        or data.get("schema") != SCHEMA
        or not isinstance(data.get("layers"), list)
    ):
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise OptionError(f"snapshot {shown} is not a {SCHEMA} file (schema: {found!r}); {fix}")
    return data


@dataclass(frozen=True)
class Change:
    """One line of a snapshot diff."""

    sign: str  # "-" vanished, "+" appeared, "~" changed, " " context
    text: str

    def __str__(self) -> str:
        return f"{self.sign} {self.text}"


def _fmt(field: str, value: Any) -> str:
    if value is None:
        return "none"
    if field in ("params", "macs", "trainable_params") and isinstance(value, int):
        return thousands(value)
    if field in ("output_shape", "input_shapes", "output_shapes"):
        return fmt_shape(value)
    if field == "receptive_field" and isinstance(value, dict):
        if value.get("global"):
            return "global"
        if value.get("unknown"):
            return "unknown"
        size = value.get("size")
        if isinstance(size, list) and size and all(v == size[0] for v in size):
            return str(size[0])
        return fmt_shape(size) if isinstance(size, list) else str(size)
    return str(value)


def _describe(layer: dict[str, Any]) -> str:
    parts = [f"out {_fmt('output_shape', layer.get('output_shape'))}"]
    parts.append(f"params {_fmt('params', layer.get('params'))}")
    parts.append(f"MACs {_fmt('macs', layer.get('macs'))}")
    if layer.get("receptive_field") is not None:
        parts.append(f"RF {_fmt('receptive_field', layer.get('receptive_field'))}")
    return ", ".join(parts)


def diff(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Per-layer differences, ``-`` for the snapshot and ``+`` for now; empty when equal.

    Layers are matched by name and listed in model order (a vanished layer where it
    used to be), so the diff reads like the architecture change that caused it.
    """
    changes: list[Change] = []
    for key in ("model", "input_shapes", "output_shapes"):
        if old.get(key) != new.get(key):
            changes.append(
                Change(
                    "~",
                    f"{key.replace('_', ' ')}: - {_fmt(key, old.get(key))}  + {_fmt(key, new.get(key))}",
                )
            )
    old_layers = {layer.get("name"): layer for layer in old.get("layers", [])}
    new_layers = {layer.get("name"): layer for layer in new.get("layers", [])}
    old_names, new_names = list(old_layers), list(new_layers)
    matcher = difflib.SequenceMatcher(a=old_names, b=new_names, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for name in old_names[i1:i2]:
                change = _changed(name, old_layers[name], new_layers[name], moved=False)
                if change:
                    changes.append(change)
            continue
        for name in old_names[i1:i2]:
            if name not in new_layers:
                before = old_layers[name]
                changes.append(
                    Change("-", f"{name} ({before.get('kind')}) vanished: {_describe(before)}")
                )
        for name in new_names[j1:j2]:
            after = new_layers[name]
            if name in old_layers:
                if change := _changed(name, old_layers[name], after, moved=True):  # always: it moved
                    changes.append(change)
            else:
                changes.append(
                    Change("+", f"{name} ({after.get('kind')}) appeared: {_describe(after)}")
                )
    old_totals, new_totals = old.get("totals", {}), new.get("totals", {})
    if old_totals != new_totals:
        detail = "; ".join(
            f"{k.replace('_', ' ')}: - {_fmt(k, old_totals.get(k))}  + {_fmt(k, new_totals.get(k))}"
            for k in sorted(set(old_totals) | set(new_totals))
            if old_totals.get(k) != new_totals.get(k)
        )
        changes.append(Change("~", f"totals {detail}"))
    return changes


def _changed(
    name: str, before: dict[str, Any], after: dict[str, Any], *, moved: bool
) -> Change | None:
    fields = [f for f in LAYER_FIELDS[1:] if before.get(f) != after.get(f)]
    parts = ["moved to another place in the order"] if moved else []
    parts += [
        f"{_LABELS[f]}: - {_fmt(f, before.get(f))}  + {_fmt(f, after.get(f))}" for f in fields
    ]
    if not parts:
        return None
    return Change("~", f"{name} ({after.get('kind')}) " + "; ".join(parts))


__all__ = ["SCHEMA", "snapshot_data", "dumps", "write", "read", "diff", "Change"]
