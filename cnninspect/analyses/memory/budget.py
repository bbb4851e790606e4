"""Memory limits for architecture budgets: ``max_activation_memory`` and ``max_train_memory``.

A limit carries the setup it is measured at, so one line says it all, in a marker, on
the command line or in ``pyproject.toml``::

    max_train_memory = "24GiB @ batch=64, optimizer=adamw, amp=bf16"

(defaults: the input's batch, adamw, the model's dtype, no amp). Reports are made once
per summary and setup; a failure blames the rows that save the most for backward.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from cnninspect.analyses.memory.report import MemoryReport
from cnninspect.errors import OptionError
from cnninspect.units import human_bytes

LIMITS = ("max_activation_memory", "max_train_memory")
BLAME = "saved_memory"
_KEYS = {"batch": "batch_size", "batch_size": "batch_size", "optimizer": "optimizer"}
_KEYS.update({"dtype": "dtype", "amp": "amp"})
_REPORTS: dict[int, dict[tuple, MemoryReport]] = {}


@dataclass(frozen=True)
class MemoryLimit:
    """A byte limit and the training setup it applies to."""

    nbytes: int
    batch_size: int | None = None
    optimizer: str = "adamw"
    dtype: str | None = None
    amp: str | None = None

    @property
    def setup(self) -> tuple:
        return (self.batch_size, self.optimizer, self.dtype, self.amp)

    def __str__(self) -> str:
        return human_bytes(self.nbytes)


def parse_memory_limit(name: str, value: Any, origin: str) -> MemoryLimit:
    """``"24GiB"``, ``"24GiB @ batch=64, optimizer=adamw, amp=bf16"``, bytes as an int,
    or a dict with ``bytes`` and the setup keys."""
    from cnninspect.analyses.budgets import parse_size

    where = f"{name}={value!r} (from the {origin})"
    if isinstance(value, MemoryLimit):
        return value
    if isinstance(value, dict):
        size, setup = value.get("bytes"), {k: v for k, v in value.items() if k != "bytes"}
    else:
        size, _, rest = str(value).partition("@") if isinstance(value, str) else (value, "", "")
        setup = dict(_pair(item, where) for item in rest.split(",") if item.strip())
    options = {}
    for key, raw in setup.items():
        if key not in _KEYS:
            raise OptionError(
                f"{where}: unknown setting {key!r}; use batch, optimizer, dtype or amp"
            )
        options[_KEYS[key]] = raw
    return _checked(parse_size(size, name, origin, unit="bytes"), options, where)


def _pair(item: str, where: str) -> tuple[str, str]:
    key, sep, raw = item.partition("=")
    if not sep:
        raise OptionError(
            f"{where}: write settings as key=value, e.g. '24GiB @ batch=64, optimizer=adamw'"
        )
    return key.strip().lower(), raw.strip()


def _checked(nbytes: int, options: dict[str, Any], where: str) -> MemoryLimit:
    from cnninspect.analyses.memory import _dtype, check_amp, check_optimizer

    try:
        batch = options.get("batch_size")
        if batch is not None:
            if isinstance(batch, str) and batch.isdigit():
                batch = int(batch)
            if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
                raise OptionError(f"batch={batch!r} must be a positive whole number")
        optimizer = check_optimizer(str(options.get("optimizer", "adamw")))
        dtype, amp = options.get("dtype"), options.get("amp")
        _dtype(dtype)
        check_amp(amp, dtype)
    except OptionError as exc:
        raise OptionError(f"{where}: {exc}") from None
    return MemoryLimit(nbytes, batch, optimizer, dtype, amp)


def report_for(summary: Any, limit: MemoryLimit) -> MemoryReport:
    """The summary's memory report at the limit's setup, made once per summary and setup."""
    reports = _REPORTS.get(id(summary))
    if reports is None:
        reports = _REPORTS[id(summary)] = {}
        weakref.finalize(summary, _REPORTS.pop, id(summary), None)
    if limit.setup not in reports:
        reports[limit.setup] = summary.memory(
            batch_size=limit.batch_size, optimizer=limit.optimizer, dtype=limit.dtype, amp=limit.amp
        )
    return reports[limit.setup]


def violations(summary: Any, limits: dict[str, Any]) -> list[tuple[str, str]]:
    """(limit, headline text) for each memory limit the summary's model breaks."""
    out = []
    for name in LIMITS:
        limit = limits.get(name)
        if limit is None:
            continue
        report = report_for(summary, limit)
        label, value = (
            ("activations saved for backward", report.activation_bytes)
            if name == "max_activation_memory"
            else ("training-step peak", report.train_peak)
        )
        if value > limit.nbytes:
            setup = f"batch {report.batch_size}, {report.optimizer}"
            setup += f", amp {report.amp}" if report.amp else ""
            out.append((name, f"{label} {human_bytes(value)} > max {limit} ({setup})"))
    return out


def blame(summary: Any, top: int) -> list[tuple[Any, int, float]]:
    """The rows saving the most for backward: (layer, bytes, share of all saved bytes),
    from a report the budget check made (or, without one, at the default setup)."""
    reports = _REPORTS.get(id(summary)) or {}
    report = next(iter(reports.values()), None) or report_for(summary, MemoryLimit(0))
    by_name = {layer.name: layer for layer in summary.layers}
    rows = [r for r in report.rows if r.saved_bytes and r.name in by_name]
    rows.sort(key=lambda r: -r.saved_bytes)
    total = report.activation_bytes or 1
    return [(by_name[r.name], r.saved_bytes, r.saved_bytes / total) for r in rows[:top]]
