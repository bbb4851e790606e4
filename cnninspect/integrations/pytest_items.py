"""The test item both ``--arch`` and ``--arch-lint`` add: one model spec declared in pyproject.toml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


class DeclaredModelItem(pytest.Item):
    """One model of a pyproject.toml table, run like a test; ``declared`` is what the table
    gives for it (a budget table, an input shape). Subclasses say ``what`` they check."""

    what = "architecture check of"

    def __init__(self, *, spec: str, declared: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.declared = declared

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.what} {self.spec}"
