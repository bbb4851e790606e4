"""The chapter's models, kept exactly as the chapter builds them.

They are fixtures for tests, docs and the command line, so their layer names and
parameter counts are part of the contract (SimpleCNN: 421,642 -- the chapter prints 421,066,
an erratum; CustomCNN: 60,362; OverviewCNN: 225,034).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


class SimpleCNN(nn.Module):
    """The chapter's MNIST classifier: two 3x3 convs, two max-pools, two linears.

    1x28x28 -> 32x28x28 -> pool 32x14x14 -> 64x14x14 -> pool 64x7x7 -> 3136 -> 128 -> 10.
    """

    default_input_shape = (1, 1, 28, 28)

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.dropout = nn.Dropout(0.25)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(-1, 64 * 7 * 7)
        x = F.relu(self.fc1(x))
        x = self.dropout(x)
        return self.fc2(x)


class ConvBlock(nn.Module):
    """Conv2d 3x3 with padding 1 followed by ReLU: keeps the spatial size."""

    default_input_shape = (1, 3, 32, 32)

    def __init__(self, in_channels: int = 3, out_channels: int = 32) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv(x))


class CustomCNN(nn.Module):
    """The chapter's exercise 4: a CIFAR-sized net of two conv blocks and one linear.

    3x32x32 -> 32x16x16 -> 64x8x8 -> 10; 60,362 parameters.
    """

    default_input_shape = (1, 3, 32, 32)

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.block1 = ConvBlock(3, 32)
        self.pool1 = nn.MaxPool2d(2, 2)
        self.block2 = ConvBlock(32, 64)
        self.pool2 = nn.MaxPool2d(2, 2)
        self.fc = nn.Linear(64 * 8 * 8, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.block1(x))
        x = self.pool2(self.block2(x))
        x = torch.flatten(x, 1)
        return self.fc(x)


class OverviewCNN(nn.Module):
    """The chapter's overview diagram: valid (unpadded) 3x3 convs, so every conv trims a border.

    1x28x28 -> 32x26x26 -> pool 32x13x13 -> 64x11x11 -> pool 64x5x5 -> 1600 -> 128 -> 10;
    225,034 parameters. Pooling 11 rows by 2 drops the last row, which the diagram shows as 5.
    """

    default_input_shape = (1, 1, 28, 28)

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3)
        self.pool1 = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.pool2 = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(64 * 5 * 5, 128)
        self.fc2 = nn.Linear(128, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(F.relu(self.conv1(x)))
        x = self.pool2(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))


def rf_stack(channels: int = 8) -> nn.Sequential:
    """The chapter's VGG-like receptive-field stack: conv, conv, pool, conv, conv, pool (3x3 p1, 2x2 s2)."""

    def conv(cin: int) -> nn.Conv2d:
        return nn.Conv2d(cin, channels, 3, padding=1)

    return nn.Sequential(conv(3), conv(channels), nn.MaxPool2d(2, 2), conv(channels), conv(channels), nn.MaxPool2d(2, 2))


@dataclass(frozen=True)
class Fixture:
    """A named model the CLI, the docs and the pytest plugin can ask for."""

    name: str
    factory: Callable[[], nn.Module]
    input_shape: tuple[int, ...]
    description: str


FIXTURES: dict[str, Fixture] = {
    "simple-cnn": Fixture(
        "simple-cnn", SimpleCNN, SimpleCNN.default_input_shape, "the chapter's MNIST SimpleCNN"
    ),
    "custom-cnn": Fixture(
        "custom-cnn", CustomCNN, CustomCNN.default_input_shape, "the chapter's exercise-4 CustomCNN"
    ),
    "overview-cnn": Fixture(
        "overview-cnn", OverviewCNN, OverviewCNN.default_input_shape,
        "the chapter's overview-diagram CNN (valid padding)",
    ),
    "conv-block": Fixture(
        "conv-block", ConvBlock, ConvBlock.default_input_shape, "one Conv2d 3x3 p1 + ReLU"
    ),
}

__all__ = ["SimpleCNN", "CustomCNN", "OverviewCNN", "rf_stack", "ConvBlock", "Fixture", "FIXTURES"]
