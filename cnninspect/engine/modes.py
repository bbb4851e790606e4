"""Train or eval for one summary: fx bakes ``self.training`` into the graph, so the mode is part
of what is summarised (Dropout and BatchNorm in train mode, an auxiliary head that only
training runs). The caller's modes, module by module, are given back afterwards."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from torch import nn

from cnninspect.errors import OptionError

MODES = ("same", "eval", "train")


def check_mode(mode: object) -> str:
    """``mode`` as one of :data:`MODES` (torchinfo's ``Mode`` enum members work too)."""
    value = str(getattr(mode, "value", mode))
    if value not in MODES:
        raise OptionError(
            f"mode must be 'same' (the modes the model is in), 'eval' or 'train', got {mode!r}"
        )
    return value


@contextlib.contextmanager
def in_mode(model: nn.Module, mode: str) -> Iterator[None]:
    """``model`` in ``mode`` inside the block; every module's own flag restored after it."""
    if check_mode(mode) == "same":
        yield
        return
    saved = [(m, m.training) for m in model.modules()]
    model.train(mode == "train")
    try:
        yield
    finally:
        for module, training in saved:
            if module.training is not training:
                module.training = training
