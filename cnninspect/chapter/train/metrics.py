"""Per-epoch metrics: one record per epoch, appended to a JSON-lines file.

JSON lines because a run that dies half-way still leaves every finished epoch
readable, and two runs can be compared or plotted with three lines of pandas.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class EpochMetrics:
    """What one epoch did. Losses are means per sample; accuracies are percentages."""

    epoch: int
    train_loss: float
    train_acc: float
    test_loss: float | None
    test_acc: float | None
    images_per_s: float
    seconds: float
    train_images: int
    lr: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EpochMetrics:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def line(self, epochs: int) -> str:
        """The chapter's epoch line plus throughput."""
        text = f"Epoch {self.epoch}/{epochs}: Train Loss: {self.train_loss:.4f}, Train Acc: {self.train_acc:.2f}%"
        if self.test_loss is not None and self.test_acc is not None:
            text += f", Test Loss: {self.test_loss:.4f}, Test Acc: {self.test_acc:.2f}%"
        return text + f" | {self.images_per_s:,.0f} img/s, {self.seconds:.1f} s"


def append_jsonl(path: str | os.PathLike[str], record: dict[str, Any]) -> None:
    """Append one JSON object as one line (a single write, flushed and synced)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, sort_keys=True) + "\n"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every complete line of a metrics file (a torn last line is ignored)."""
    out = []
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        if not raw.strip():
            continue
        try:
            out.append(json.loads(raw))
        except json.JSONDecodeError:
            continue
    return out
