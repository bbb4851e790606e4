"""Small models for the lint tests: each rule's trigger and its near-identical clean twin."""

from __future__ import annotations

import torch
from torch import nn


def stack(*layers: nn.Module) -> nn.Sequential:
    return nn.Sequential(*layers)


class Clean(nn.Module):
    """No rule fires on it at 1x3x32x32: bias-free convs before BN, ReLUs, odd kernels, global pooling."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 32, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        )  # fmt: skip
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


class Biased(Clean):
    """Clean, but the first conv keeps its bias before the BatchNorm."""

    def __init__(self) -> None:
        super().__init__()
        self.features[0] = nn.Conv2d(3, 16, 3, padding=1, bias=True)


class Residual(nn.Module):
    """A residual block whose shortcut is a strided conv of kernel ``k`` (1: skips pixels)."""

    def __init__(self, k: int = 1, even: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.shortcut = nn.Conv2d(8, 8, k, stride=2, padding=(k - 1) // 2)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv(x) + self.shortcut(x))


class SameMerge(nn.Module):
    """Adds a 'same'-padded conv of kernel ``k`` to its input: even k shifts the grid by half a pixel."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, k, padding="same", bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x)


class Unused(nn.Module):
    """A head that is built but called only when ``use`` is set; a loose parameter likewise."""

    def __init__(self, use: bool) -> None:
        super().__init__()
        self.use = use
        self.body = nn.Linear(8, 8)
        self.extra = nn.Linear(8, 8)
        self.scale = nn.Parameter(torch.ones(8))
        self.register_buffer("mask", torch.ones(8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.body(x))
        if self.use:
            y = self.extra(y) * self.scale * self.mask
        return y
