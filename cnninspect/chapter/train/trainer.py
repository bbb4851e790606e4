"""A small, ready-made trainer for tests and notebooks: real MNIST, tiny budget.

``Trainer().fit(SimpleCNN())`` trains on the first 2,000 training images for one
epoch on the CPU and evaluates on the first 1,000 test images: seconds, not
minutes, yet enough for filters to move away from their initialisation. The
pytest fixture ``cnn_trainer`` hands one of these out.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

from cnninspect.chapter.train.loop import fit
from cnninspect.chapter.train.metrics import EpochMetrics


@dataclass
class Trainer:
    """Defaults sized for a 2-core CI machine; every field can be overridden per call."""

    epochs: int = 1
    limit: int | None = 2000
    test_limit: int | None = 1000
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"
    seed: int = 0
    device: str = "cpu"
    data_dir: str | os.PathLike[str] | None = None  # None: $CNNINSPECT_DATA
    log: Any = None  # e.g. print, to see the epoch lines
    extra: dict[str, Any] = field(default_factory=dict)  # any other fit() keyword

    def with_options(self, **changes: Any) -> Trainer:
        return replace(self, **changes)

    def data(self) -> tuple[Any, Any]:
        """(train, test) MNIST subsets this trainer uses."""
        from cnninspect.chapter.data import mnist

        return (
            mnist(self.data_dir, train=True, limit=self.limit),
            mnist(self.data_dir, train=False, limit=self.test_limit),
        )

    def fit(self, model: Any, **overrides: Any) -> list[EpochMetrics]:
        """Train ``model`` in place; returns the per-epoch metrics."""
        train, test = self.data()
        options: dict[str, Any] = {
            "epochs": self.epochs,
            "lr": self.lr,
            "batch_size": self.batch_size,
            "optimizer": self.optimizer,
            "seed": self.seed,
            "device": self.device,
            "log": self.log,
            "progress": False,
            **self.extra,
            **overrides,
        }
        return fit(model, train, test, **options)

    __call__ = fit  # ``cnn_trainer(model)`` reads as well as ``cnn_trainer.fit(model)``
