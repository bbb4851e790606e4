"""Training the chapter's models for real: one loop for CPU, one GPU or many (``torchrun``).

``fit`` is the loop; :mod:`.checkpoint` writes and reads resumable checkpoints;
:mod:`.distributed` joins a torchrun process group; :mod:`.metrics` holds the
per-epoch records; :class:`Trainer` is a small-budget front end for tests.
"""

from __future__ import annotations

from cnninspect.chapter.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from cnninspect.chapter.train.loop import fit, pick_device, seed_everything
from cnninspect.chapter.train.metrics import EpochMetrics, read_jsonl
from cnninspect.chapter.train.trainer import Trainer

__all__ = [
    "fit",
    "pick_device",
    "seed_everything",
    "EpochMetrics",
    "read_jsonl",
    "CheckpointError",
    "load_checkpoint",
    "save_checkpoint",
    "Trainer",
]
