"""Architecture budgets: limits a model must stay within, and the message when it does not.

The pytest plugin (fixture, marker, command line, ini, ``pyproject.toml``) only gathers
limits; parsing them, checking a :class:`~cnninspect.engine.records.Summary` against them and
wording the failure live here so every entry point says the same thing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cnninspect.engine.records import Layer, Summary
from cnninspect.errors import OptionError
from cnninspect.units import fmt_shape, human, thousands

if TYPE_CHECKING:  # torch loads only when a budget is checked
    from cnninspect.engine.inputs import InputSpec

# Every limit a budget may set, in the order a failure message lists them.
LIMITS: tuple[str, ...] = (
    "max_params",
    "max_trainable_params",
    "max_macs",
    "max_param_bytes",
    "min_receptive_field",
    "max_receptive_field",
    "output_shape",
    "max_layers",
    "max_activation_memory",
    "max_train_memory",
)
COUNT_LIMITS = ("max_params", "max_trainable_params", "max_macs")
BYTE_LIMITS = ("max_param_bytes",)
# bytes with the setup they are measured at: "24GiB @ batch=64, optimizer=adamw, amp=bf16"
MEMORY_LIMITS = ("max_activation_memory", "max_train_memory")
INT_LIMITS = ("min_receptive_field", "max_receptive_field", "max_layers")
# What a budget may hold besides its limits.
FIELDS: tuple[str, ...] = ("input_shape", *LIMITS)

_SCALES = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_BINARY = {"KI": 1 << 10, "MI": 1 << 20, "GI": 1 << 30, "TI": 1 << 40}
_SIZE = re.compile(r"^\s*([0-9][0-9_,]*(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*$")


def parse_size(value: Any, name: str = "size", origin: str = "call", *, unit: str = "count") -> int:
    """``25_000_000``, ``"25M"``, ``"4.1G"``, ``"100MB"`` or ``"1.5GiB"`` -> an int.

    K/M/G/T are powers of 1000; ``KiB``/``MiB``/``GiB`` are powers of 1024 and, like
    a ``B`` suffix, only make sense for ``unit="bytes"``: a parameter count of
    "100MB" is a mistake worth naming rather than guessing.
    """
    where = f"{name}={value!r} (from the {origin})"
    if isinstance(value, bool):
        raise OptionError(f"{where} is a bool; write a number such as 25000000 or '25M'")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise OptionError(f"{where} is not a finite number; write e.g. '25M'")
        number = round(value)
    elif isinstance(value, str):
        match = _SIZE.match(value)
        if not match:
            raise OptionError(
                f"{where} is not a size; write an int or a number with a K, M, G or T suffix, "
                f"e.g. '25M', '4.1G'{', or bytes such as 100MB or 1.5GiB' if unit == 'bytes' else ''}"
            )
        digits, suffix = match.group(1).replace("_", "").replace(",", ""), match.group(2).upper()
        is_bytes = suffix.endswith("B")
        if is_bytes:
            suffix = suffix[:-1]
        if is_bytes and unit != "bytes":
            raise OptionError(
                f"{where} is a byte size, but {name} counts {'MACs' if 'macs' in name else 'parameters'}; "
                "drop the B, e.g. '25M'"
            )
        if suffix in _SCALES:
            scale = _SCALES[suffix]
        elif suffix in _BINARY and unit == "bytes":
            scale = _BINARY[suffix]
        else:
            allowed = "K, M, G, T" + (" (with B, or KiB, MiB, GiB, TiB)" if unit == "bytes" else "")
            raise OptionError(f"{where} has an unknown suffix {match.group(2)!r}; use {allowed}")
        number = (
            round(float(digits) * scale)
            if ("." in digits or "e" in digits.lower())
            else int(digits) * scale
        )
    else:
        raise OptionError(
            f"{where} is a {type(value).__name__}; write an int or a string such as '25M'"
        )
    if number < 0:
        raise OptionError(f"{where} is negative; a limit must be 0 or more")
    return number


def parse_int(value: Any, name: str, origin: str) -> int:
    """A plain positive int (receptive field in pixels, a layer count); strings of digits too."""
    where = f"{name}={value!r} (from the {origin})"
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise OptionError(f"{where} must be a whole number, e.g. {name}=224")
    if value < 0:
        raise OptionError(f"{where} is negative; it must be 0 or more")
    return value


def parse_limit(name: str, value: Any, origin: str) -> Any:
    """Validate one budget field; the error names the field, the value and where it came from."""
    from cnninspect.engine.inputs import InputSpec, parse_shape
    from cnninspect.errors import InputShapeError

    if name in COUNT_LIMITS:
        return parse_size(value, name, origin)
    if name in BYTE_LIMITS:
        return parse_size(value, name, origin, unit="bytes")
    if name in INT_LIMITS:
        return parse_int(value, name, origin)
    if name in MEMORY_LIMITS:
        from cnninspect.analyses.memory.budget import parse_memory_limit

        return parse_memory_limit(name, value, origin)
    if name in ("output_shape", "input_shape"):
        try:
            if name == "input_shape":  # text ("1,3,224,224;1,10"), a shape or a list of shapes
                spec = InputSpec.parse(value, where=name) if isinstance(value, str) else None
                return spec or InputSpec.of(value, where=name)
            return parse_shape(value, name)
        except InputShapeError as exc:
            raise OptionError(f"{exc} (from the {origin})") from None
    raise OptionError(unknown_message(name, origin))


def unknown_message(name: str, origin: str) -> str:
    return f"unknown budget keyword {name!r} (from the {origin}); the keywords are: {', '.join(FIELDS)}"


@dataclass(frozen=True)
class Budget:
    """Resolved limits: each field's value and the origin it came from (for error messages)."""

    values: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)

    @property
    def input_shape(self) -> InputSpec | None:
        return self.values.get("input_shape")

    @property
    def limits(self) -> dict[str, Any]:
        return {k: v for k, v in self.values.items() if k in LIMITS and v is not None}


def resolve(*layers: tuple[str, dict[str, Any]]) -> Budget:
    """Merge ``(origin, {field: raw value})`` layers, first wins per field, and validate each.

    The plugin passes call keywords, then the marker, then the command line, then the
    config file, so a field set nearer the test overrides the same field set further away.
    """
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for origin, raw in layers:
        for name, value in raw.items():
            if name not in FIELDS:
                raise OptionError(unknown_message(name, origin))
            if value is None or name in values:
                continue
            values[name] = parse_limit(name, value, origin)
            origins[name] = origin
    return Budget(values, origins)


@dataclass(frozen=True)
class Violation:
    """One exceeded limit: what it says in the headline and which layers to blame."""

    limit: str
    text: str
    blame: str | None = None  # the per-layer quantity to rank by: "params", "macs", "rf"


@dataclass(frozen=True)
class ReceptiveField:
    """The receptive field a budget checks: per-axis sizes, or the whole input."""

    sizes: tuple[Any, ...] | None
    is_global: bool = False

    def __str__(self) -> str:
        if self.is_global or self.sizes is None:
            return "global"
        values = [_num(v) for v in self.sizes]
        return values[0] if len(set(values)) == 1 else "x".join(values)


def _num(value: Any) -> str:
    if hasattr(value, "denominator") and getattr(value, "denominator", 1) != 1:
        return f"{float(value):g}"
    return str(int(value)) if float(value).is_integer() else f"{float(value):g}"


def output_receptive_field(summary: Summary) -> ReceptiveField:
    """The receptive field of the model's last spatial output.

    A classifier's logits see the whole image (global), so the figure a budget means
    is that of the last row that still has a spatial layout; a model with no spatial
    row at all reports global. Raises :class:`OptionError` when no receptive field was
    computed, so a limit on it can never pass unchecked.
    """
    known = [layer for layer in summary.layers if layer.receptive_field is not None]
    if not known:
        raise OptionError(
            f"the receptive field of {summary.model_name} cannot be checked: the summary holds no "
            "receptive field (was it made with receptive_field=False?); summarise with receptive "
            "fields or drop min_receptive_field/max_receptive_field from the budget"
        )
    for layer in reversed(known):
        rf = layer.receptive_field
        if getattr(rf, "unknown", False):
            raise OptionError(
                f"the receptive field of {summary.model_name} cannot be checked: layer {layer.name!r} "
                f"({layer.kind}) has no receptive-field rule, so its value is unknown"
            )
        if getattr(rf, "is_global", False):
            continue
        size = getattr(rf, "size", None)
        if size is None:
            continue
        sizes = tuple(size) if isinstance(size, (tuple, list)) else (size,)
        return ReceptiveField(sizes)
    return ReceptiveField(None, is_global=True)


def _rf_sizes(layer: Layer) -> tuple[Any, ...] | None:
    rf = layer.receptive_field
    if rf is None or getattr(rf, "is_global", False) or getattr(rf, "unknown", False):
        return None
    size = getattr(rf, "size", None)
    if size is None:
        return None
    return tuple(size) if isinstance(size, (tuple, list)) else (size,)


def check(summary: Summary, budget: Budget) -> list[Violation]:
    """Every limit of ``budget`` that ``summary`` breaks, in :data:`LIMITS` order."""
    limits = budget.limits
    out: list[Violation] = []
    s = summary
    if "max_params" in limits and s.total_params > limits["max_params"]:
        out.append(
            Violation(
                "max_params",
                f"params {human(s.total_params)} > max {_fixed(limits['max_params'])}",
                "params",
            )
        )
    if "max_trainable_params" in limits and s.trainable_params > limits["max_trainable_params"]:
        out.append(
            Violation(
                "max_trainable_params",
                f"trainable params {human(s.trainable_params)} > max {_fixed(limits['max_trainable_params'])}",
                "trainable_params",
            )
        )
    if "max_macs" in limits and s.total_macs > limits["max_macs"]:
        out.append(
            Violation(
                "max_macs", f"MACs {human(s.total_macs)} > max {_fixed(limits['max_macs'])}", "macs"
            )
        )
    if "max_param_bytes" in limits and s.param_bytes > limits["max_param_bytes"]:
        out.append(
            Violation(
                "max_param_bytes",
                f"param bytes {human(s.param_bytes, 'B')} > max {_fixed(limits['max_param_bytes'], 'B')}",
                "params",
            )
        )
    if "min_receptive_field" in limits or "max_receptive_field" in limits:
        rf = output_receptive_field(s)
        low, high = limits.get("min_receptive_field"), limits.get("max_receptive_field")
        if low is not None and not rf.is_global and min(rf.sizes or (0,)) < low:
            out.append(Violation("min_receptive_field", f"receptive field {rf} < min {low}", "rf"))
        if high is not None and (rf.is_global or max(rf.sizes or (0,)) > high):
            out.append(Violation("max_receptive_field", f"receptive field {rf} > max {high}", "rf"))
    if "output_shape" in limits:
        expected = tuple(limits["output_shape"])
        if s.output_shape is None or tuple(s.output_shape) != expected or len(s.output_shapes) != 1:
            out.append(
                Violation(
                    "output_shape",
                    f"output shape {fmt_shape(s.output_shapes) or 'none'} != {fmt_shape(expected)}",
                )
            )
    if "max_layers" in limits and len(s.layers) > limits["max_layers"]:
        out.append(Violation("max_layers", f"layers {len(s.layers)} > max {limits['max_layers']}"))
    if "max_activation_memory" in limits or "max_train_memory" in limits:
        from cnninspect.analyses.memory import budget as memory_budget

        for name, text in memory_budget.violations(s, limits):
            out.append(Violation(name, text, memory_budget.BLAME))
    return out


def _fixed(n: int, unit: str = "") -> str:
    """Like :func:`human` but always with a scale, so limits read '10.00 M' even when round."""
    return human(n, unit) if n >= 1000 else f"{n} {unit}".rstrip()


def headline(summary: Summary, violations: list[Violation]) -> str:
    """``Architecture budget exceeded for Net @ 1x3x224x224: params 11.69 M > max 10.00 M; ...``."""
    shape = fmt_shape(summary.input_shapes)
    return f"Architecture budget exceeded for {summary.model_name} @ {shape}: " + "; ".join(
        v.text for v in violations
    )


_BLAME_TITLES = {
    "params": "parameters",
    "trainable_params": "trainable parameters",
    "macs": "MACs",
    "rf": "receptive-field growth (pixels added by the layer)",
    "saved_memory": "memory saved for backward (bytes)",
}


def _quantity(layer: Layer, what: str) -> int:
    return {
        "params": layer.num_params,
        "trainable_params": layer.trainable_params,
        "macs": layer.macs,
    }[what]


def blame(summary: Summary, what: str, top: int = 10) -> list[tuple[Layer, Any, float]]:
    """The ``top`` layers spending most of ``what``: (layer, amount, share of the total)."""
    if what == "rf":
        return _rf_growth(summary, top)
    if what == "saved_memory":
        from cnninspect.analyses.memory import budget as memory_budget

        return memory_budget.blame(summary, top)
    total = sum(_quantity(layer, what) for layer in summary.layers)
    ranked = sorted(
        ((layer, _quantity(layer, what)) for layer in summary.layers if _quantity(layer, what) > 0),
        key=lambda pair: -pair[1],
    )
    return [(layer, amount, amount / total if total else 0.0) for layer, amount in ranked[:top]]


def _rf_growth(summary: Summary, top: int) -> list[tuple[Layer, Any, float]]:
    """Where the receptive field grows: each layer's largest size minus that of its inputs."""
    by_name = {layer.name: layer for layer in summary.layers}
    growth: list[tuple[Layer, Any]] = []
    for layer in summary.layers:
        sizes = _rf_sizes(layer)
        if sizes is None:
            continue
        before = [_rf_sizes(by_name[n]) for n in layer.inputs if n in by_name]
        base = max((max(b) for b in before if b), default=1)
        added = max(sizes) - base
        if added > 0:
            growth.append((layer, added))
    total = sum(float(g) for _, g in growth)
    growth.sort(key=lambda pair: -pair[1])
    return [(layer, g, float(g) / total if total else 0.0) for layer, g in growth[:top]]


def failure_message(summary: Summary, violations: list[Violation], top: int = 10) -> str:
    """The headline, then per over-spent quantity the layers that spend most of it."""
    lines = [headline(summary, violations)]
    shown: set[str] = set()
    for v in violations:
        if v.blame is None or v.blame in shown:
            continue
        shown.add(v.blame)
        rows = blame(summary, v.blame, top)
        if not rows:
            continue
        lines += ["", f"Top {len(rows)} layers by share of {_BLAME_TITLES[v.blame]}:"]
        name_width = max(len(layer.name) for layer, _, _ in rows)
        kind_width = max(len(layer.kind) for layer, _, _ in rows)
        for layer, amount, share in rows:
            figure = thousands(amount) if isinstance(amount, int) else _num(amount)
            lines.append(
                f"  {layer.name:<{name_width}}  {layer.kind:<{kind_width}}  {figure:>14}  {share:6.1%}"
            )
    return "\n".join(lines)


def evaluate(summary: Summary, budget: Budget) -> str | None:
    """The failure message when ``summary`` breaks ``budget``; None when it keeps within it."""
    violations = check(summary, budget)
    return failure_message(summary, violations) if violations else None


__all__ = [
    "LIMITS",
    "FIELDS",
    "Budget",
    "Violation",
    "ReceptiveField",
    "parse_size",
    "parse_limit",
    "resolve",
    "check",
    "evaluate",
    "failure_message",
    "output_receptive_field",
]
