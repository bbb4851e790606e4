"""Shared test set-up: where the real MNIST lies (never copied into the repo)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The data folder: $CNNINSPECT_DATA, else ../shared/data beside the checkout (read-only).
os.environ.setdefault("CNNINSPECT_DATA", str((REPO.parent / "shared" / "data").resolve()))
