"""Receptive fields: the stride-1 formula says 11, the stride-aware one (and the gradient) say 16.

Section "Receptive field": conv3, conv3, pool2/2, conv3, conv3, pool2/2. Adding
k - 1 per layer gives 11; every layer after a stride-2 pool grows the field by
(k - 1) times the accumulated stride, which gives 16. cnninspect.engine.receptive
computes both.

    python examples/receptive_field.py
"""

from __future__ import annotations

from torch import nn

from cnninspect.chapter.models import SimpleCNN
from cnninspect.engine.receptive import receptive_field


def vgg_like() -> nn.Sequential:
    def conv(cin: int, cout: int) -> nn.Conv2d:
        return nn.Conv2d(cin, cout, 3, padding=1)

    return nn.Sequential(
        conv(3, 16), nn.ReLU(), conv(16, 16), nn.ReLU(), nn.MaxPool2d(2, 2),
        conv(16, 32), nn.ReLU(), conv(32, 32), nn.ReLU(), nn.MaxPool2d(2, 2),
    )  # fmt: skip


def main() -> None:
    for name, model, shape in (("VGG-like stack", vgg_like(), (1, 3, 32, 32)), ("SimpleCNN", SimpleCNN(), (1, 1, 28, 28))):
        report = receptive_field(model, shape)
        print(f"{name}:")
        for rf in report:
            if rf.is_global or rf.unknown:
                continue
            print(f"  {rf.name:<8} size {rf.size[0]:>3}  jump {rf.jump[0]:>2}  naive {rf.naive[0]:>3}")
        last = report.output
        print(f"  last feature map: receptive field {last.size[0]} (naive formula: {last.naive[0]})")


if __name__ == "__main__":
    main()
