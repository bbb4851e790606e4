"""The chapter replayed: every figure it prints, recomputed by cnninspect from the chapter's own inputs.

Each :class:`Figure` puts the printed value beside cnninspect's. A figure is
``equal``, a known ``erratum`` (printed value wrong, its why in
:data:`cnninspect.chapter.facts.ERRATA`), or a ``mismatch`` -- cnninspect
disagrees where the chapter is right, or agrees where the chapter is known to
be wrong -- which is a bug in cnninspect and makes ``cnninspect chapter`` exit 1.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from cnninspect.chapter import facts


@dataclass(frozen=True)
class Figure:
    """One printed figure beside cnninspect's value."""

    section: str
    key: str  # stable id, e.g. "conv.output"; ERRATA is keyed by it
    label: str
    printed: Any
    computed: Any

    @property
    def why(self) -> str:
        return facts.ERRATA.get(self.key, "")

    @property
    def status(self) -> str:
        same = _plain(self.printed) == _plain(self.computed)
        if same:
            return "mismatch" if self.why else "equal"
        return "erratum" if self.why else "mismatch"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "printed": _plain(self.printed), "computed": _plain(self.computed),
                "status": self.status, "why": self.why}  # fmt: skip


@dataclass
class ChapterReplay:
    """All figures of the chapter, section by section."""

    figures: list[Figure] = field(default_factory=list)

    def by_status(self, status: str) -> list[Figure]:
        return [f for f in self.figures if f.status == status]

    @property
    def ok(self) -> bool:
        """True when every figure is equal or a known, explained erratum."""
        return not self.by_status("mismatch")

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "figures": [f.to_dict() for f in self.figures]}

    def to_text(self) -> str:
        counts = {s: len(self.by_status(s)) for s in ("equal", "erratum", "mismatch")}
        lines = [
            f"The chapter replayed by cnninspect: {len(self.figures)} figures, {counts['equal']} equal, "
            f"{counts['erratum']} errata (known), {counts['mismatch']} mismatches",
            "",
        ]
        for f in self.figures:
            if f.status == "equal":
                lines.append(f"{f.section:<4} equal    {f.label}: {_show(f.printed)}")
                continue
            lines.append(f"{f.section:<4} {f.status.upper():<8} {f.label}")
            lines.append(f"{'':14}printed:    {_show(f.printed)}")
            lines.append(f"{'':14}{'true:' if f.status == 'erratum' else 'cnninspect:':<12}{_show(f.computed)}")
            if f.why:
                lines.append(f"{'':14}why:        {f.why}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


def _plain(value: Any) -> Any:
    """Tuples, lists and arrays compare and print as nested lists of Python numbers."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, np.generic):
        return _plain(value.item())
    return value


def _show(value: Any) -> str:
    value = _plain(value)
    if isinstance(value, int) and abs(value) >= 10_000:
        return f"{value:,}"
    return str(value)


def replay() -> ChapterReplay:
    """Recompute every figure of the chapter (a second or two on a CPU; no training)."""
    from cnninspect.chapter import sections

    figures: list[Figure] = []
    for build in sections.SECTIONS:
        figures.extend(build())
    return ChapterReplay(figures)


__all__ = ["Figure", "ChapterReplay", "replay"]
