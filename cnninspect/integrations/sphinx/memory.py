"""Memory in the summary directive: the ``:memory:`` option, its columns, totals and chart.

``:memory:`` (optionally ``optimizer=..., dtype=..., amp=...``) adds the ``output_bytes`` and
``saved_bytes`` columns to the default ones and the memory totals; naming those columns in
``:columns:`` or asking for ``:plot: memory`` computes the same figures. The figures come from
:func:`cnninspect.analyses.memory.with_memory` on the directive's own input shape, so they
match the shapes in the table; no docutils here.
"""

from __future__ import annotations

from typing import Any

from cnninspect.errors import OptionError
from cnninspect.units import human_bytes, thousands

MEMORY_COLUMNS = ("output_bytes", "saved_bytes")
SETTINGS = ("optimizer", "dtype", "amp")
_EXAMPLE = "e.g. ':memory: optimizer=sgd, amp=bf16'"


def parse_memory(text: str | None) -> dict[str, str] | None:
    """``:memory:`` text as settings: None when the option is absent, ``{}`` when it is bare."""
    if text is None:
        return None
    settings: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, eq, value = (s.strip() for s in part.partition("="))
        key = key.replace("-", "_")
        if not eq or not value:
            raise OptionError(f":memory: {part!r} is not a setting=value pair; {_EXAMPLE}")
        if key not in SETTINGS:
            raise OptionError(f":memory: unknown setting {key!r}; use {', '.join(SETTINGS)} ({_EXAMPLE})")
        settings[key] = value
    return settings


def wanted(settings: dict[str, str] | None, columns: str | None, plot: str | None) -> bool:
    """Whether the directive shows any memory figure (and so needs the memory analysis)."""
    named = {c.strip() for c in (columns or "").split(",")}
    return settings is not None or plot == "memory" or bool(named & set(MEMORY_COLUMNS))


def table_columns(summary: Any, columns: str | None, settings: dict[str, str] | None) -> Any:
    """The table's columns: ``:columns:`` exactly when given (naming a memory column is enough
    to compute it), else the defaults plus the two memory columns when ``:memory:`` is set."""
    if settings is None or columns is not None:
        return columns
    from cnninspect.renderers.text import default_columns

    return default_columns(summary) + list(MEMORY_COLUMNS)


def annotate(analysed: Any, settings: dict[str, str] | None) -> tuple[Any, Any]:
    """The summary with its rows' bytes and the memory report, cached per setup on ``analysed``."""
    from cnninspect.analyses.memory import with_memory

    options = dict(settings or {})
    key = tuple(sorted(options.items()))
    if key not in analysed.memory:
        try:
            analysed.memory[key] = with_memory(analysed.summary, **options)
        except OptionError as exc:
            raise OptionError(f":memory: {exc}") from None
    return analysed.memory[key]


def setup_text(report: Any) -> str:
    """``batch 2, float32, adamw`` (and ``, amp bf16``): what the memory figures are for."""
    setup = f"batch {report.batch_size}, {report.dtype}, {report.optimizer}"
    return setup + (f", amp {report.amp}" if report.amp else "")


def totals_lines(report: Any) -> list[tuple[str, str]]:
    """Memory lines for the totals table (parameters and buffers are already there)."""
    lines = [("Memory setup", setup_text(report))]
    for label, value in report.totals().items():
        if label not in ("parameters", "buffers"):
            lines.append((label[0].upper() + label[1:], f"{human_bytes(value)} ({thousands(value)} bytes)"))
    return lines
