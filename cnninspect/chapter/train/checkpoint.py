"""Checkpoints that survive a crash mid-write and refuse to be misread.

A checkpoint is written to a temporary file in the same folder, synced, then
renamed over the old one (``os.replace`` is atomic on POSIX and Windows), so a
kill at any moment leaves either the previous epoch's file or the new one.
It is read with ``torch.load(weights_only=True)``: only tensors and plain
containers, no arbitrary pickled code. A file that is truncated, not a torch
file, or a torch file someone else wrote is a :class:`CheckpointError` naming
the file and what to do, never a silent fresh start.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

from cnninspect.errors import CnnInspectError

FORMAT = "cnninspect.chapter.train.checkpoint"
VERSION = 1
FILENAME = "last.pt"


class CheckpointError(CnnInspectError, RuntimeError):
    """A checkpoint is missing, corrupt, foreign or does not fit the model."""


def checkpoint_path(checkpoint_dir: str | os.PathLike[str]) -> Path:
    """Where the latest checkpoint of a run lives."""
    return Path(checkpoint_dir) / FILENAME


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Write ``state`` (plus the format marker) atomically to ``path``."""
    import torch

    from cnninspect.files import atomic_write

    payload = {"format": FORMAT, "version": VERSION, **state}
    return atomic_write(path, lambda fh: torch.save(payload, fh), sync=True)


def load_checkpoint(path: str | os.PathLike[str], map_location: Any = "cpu") -> dict[str, Any]:
    """Read and validate a checkpoint written by :func:`save_checkpoint`."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"no checkpoint at {path}; there is nothing to resume (drop resume/--resume to start fresh, "
            "or point checkpoint_dir/--checkpoint-dir at an earlier run)"
        )
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for bad bytes; all mean "cannot use this file"
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        foreign = [ln.strip() for ln in text.splitlines() if "Unsupported global" in ln]
        if isinstance(exc, pickle.UnpicklingError) and foreign:
            raise CheckpointError(
                f"checkpoint {path} holds objects that weights_only loading refuses ({foreign[0][:200]}); it was "
                "not written by cnninspect.chapter.train; delete it or choose another --checkpoint-dir"
            ) from exc
        raise CheckpointError(
            f"checkpoint {path} is corrupt or truncated ({type(exc).__name__}: {first[:200]}); "
            "delete it to start fresh or restore it from a backup"
        ) from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        kind = type(data).__name__ if not isinstance(data, dict) else "dict without our format marker"
        raise CheckpointError(
            f"checkpoint {path} was not written by cnninspect.chapter.train (it holds a {kind}); "
            "delete it or choose another --checkpoint-dir"
        )
    if data.get("version") != VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format version {data.get('version')!r}; this cnninspect reads version "
            f"{VERSION}; finish that run with the cnninspect that started it"
        )
    for key in ("model", "optimizer", "epoch"):
        if key not in data:
            raise CheckpointError(f"checkpoint {path} lacks {key!r}; it is damaged, delete it to start fresh")
    return data


def restore_model(model: Any, state: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Load weights into ``model``, turning a shape/key mismatch into one clear error."""
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise CheckpointError(
            f"checkpoint {path} does not fit this model ({' '.join(first[:2])[:300]}); it was saved from "
            "a different architecture; use the same model or another --checkpoint-dir"
        ) from exc


def restore_optimizer(optimizer: Any, state: dict[str, Any], path: str | os.PathLike[str]) -> None:
    try:
        optimizer.load_state_dict(state)
    except (ValueError, KeyError, RuntimeError) as exc:
        raise CheckpointError(
            f"checkpoint {path}: the optimizer state does not fit ({exc}); resume with the same "
            "optimizer and model it was saved with"
        ) from exc
