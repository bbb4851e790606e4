"""Baseline files: the findings a project already knows, so only new ones fail.

A baseline is JSON: ``{"schema": "cnninspect.lint-baseline/1", "findings": [{"model": ...,
"code": ..., "path": ...}]}``. A finding is known when its model, code and path are listed;
messages are not compared, so a figure that changes does not make a finding new.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from cnninspect.analyses.lint.findings import Finding
from cnninspect.errors import OptionError

SCHEMA = "cnninspect.lint-baseline/1"
Key = tuple[str, str, str]


def read_baseline(path: Path | str) -> set[Key]:
    """The known (model, code, path) triples; a missing file is an empty baseline."""
    path = Path(path)
    if not path.exists():
        return set()
    try:
        data = json.loads(path.read_text())
        if data.get("schema") != SCHEMA:
            raise ValueError(f"schema is {data.get('schema')!r}, expected {SCHEMA!r}")
        return {(e["model"], e["code"], e["path"]) for e in data["findings"]}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise OptionError(
            f"baseline {path} is not a cnninspect lint baseline ({exc}); "
            "write one with `cnninspect lint MODEL --write-baseline PATH`"
        ) from None


def write_baseline(path: Path | str, entries: Iterable[tuple[str, Finding]]) -> int:
    """Write one entry per (model, finding), replacing those models' old entries and keeping
    other models' (a project baselines its models one by one); returns the entry count."""
    new = {(model, f.code, f.path) for model, f in entries}
    models = {m for m, _, _ in new}
    known = {k for k in read_baseline(path) if k[0] not in models} | new
    rows = [{"model": m, "code": c, "path": p} for m, c, p in sorted(known)]
    Path(path).write_text(json.dumps({"schema": SCHEMA, "findings": rows}, indent=2) + "\n")
    return len(rows)


def is_known(known: set[Key], model: str, finding: Finding) -> bool:
    return (model, finding.code, finding.path) in known
