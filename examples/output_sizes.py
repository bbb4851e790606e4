"""Output sizes: floor((n + 2p - d(k-1) - 1)/s) + 1, by formula and by running the layer.

Section "Padding and stride": the formula from cnninspect.analyses.reference beside the
shape torch actually produces, for the chapter's cases.

    python examples/output_sizes.py
"""

from __future__ import annotations

import torch
from torch import nn

from cnninspect.analyses.reference import conv_output_size, pool_output_size

CASES = [  # (label, input size, kernel, stride, padding)
    ("3x3, no padding", 28, 3, 1, 0),
    ("3x3, padding 1 ('same')", 28, 3, 1, 1),
    ("5x5, no padding", 32, 5, 1, 0),
    ("3x3, stride 2, padding 1", 28, 3, 2, 1),
    ("7x7, stride 2, padding 3 (ResNet stem)", 224, 7, 2, 3),
    ("11x11, stride 4, padding 2 (AlexNet)", 224, 11, 4, 2),
]


def main() -> None:
    print(f"{'layer':<40} {'in':>4} {'formula':>8} {'torch':>6}")
    for label, n, k, s, p in CASES:
        formula = int(conv_output_size(n, kernel=k, stride=s, padding=p))
        actual = nn.Conv2d(1, 1, k, stride=s, padding=p)(torch.zeros(1, 1, n, n)).shape[-1]
        print(f"{label:<40} {n:>4} {formula:>8} {actual:>6}")
    pooled = int(pool_output_size(28, kernel=2, stride=2))
    actual = nn.MaxPool2d(2, 2)(torch.zeros(1, 1, 28, 28)).shape[-1]
    print(f"{'max-pool 2x2, stride 2':<40} {28:>4} {pooled:>8} {actual:>6}")


if __name__ == "__main__":
    main()
