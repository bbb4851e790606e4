"""Small networks from the chapter, for the guide's live tables (docs only).

Each is a class or a factory, so the directives name them as
``chapter_models:<name>`` exactly as the command line would.
"""

from __future__ import annotations

import torch
from torch import nn


def single_conv(in_channels: int = 1, out_channels: int = 1, kernel_size: int = 3, stride: int = 1,
                padding: int = 0, dilation: int = 1) -> nn.Module:  # fmt: skip
    """One Conv2d, to read off output sizes and parameter counts."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation))


def single_pool(kernel_size: int = 2, stride: int = 2, ceil_mode: bool = False) -> nn.Module:
    return nn.Sequential(nn.MaxPool2d(kernel_size, stride, ceil_mode=ceil_mode))


class ParameterLadder(nn.Module):
    """3 -> 32 -> 64 -> 128 -> 256 channels, 3x3 kernels: the chapter's parameter table."""

    default_input_shape = (1, 3, 32, 32)

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.conv3 = nn.Conv2d(64, 128, 3, padding=1)
        self.conv4 = nn.Conv2d(128, 256, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv4(self.conv3(self.conv2(self.conv1(x))))


class ThreeConvs(nn.Module):
    """Three 3x3 convolutions, 3 -> 64 -> 64 -> 64: the chapter's 75,648 parameters."""

    default_input_shape = (1, 3, 224, 224)

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, padding=1)
        self.conv2 = nn.Conv2d(64, 64, 3, padding=1)
        self.conv3 = nn.Conv2d(64, 64, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(torch.relu(self.conv2(torch.relu(self.conv1(x)))))


def dense_224() -> nn.Module:
    """A 224x224x3 image flattened into 1,000 units, built on the meta device (no 600 MB of weights)."""
    with torch.device("meta"):
        return nn.Sequential(nn.Flatten(), nn.Linear(224 * 224 * 3, 1000))


class VGGLike(nn.Module):
    """The chapter's receptive-field example: conv3, conv3, pool 2/2, conv3, conv3, pool 2/2.

    The stride-1 formula R += K - 1 gives 11; the true receptive field is 16.
    """

    default_input_shape = (1, 3, 32, 32)

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 16, 3, padding=1)
        self.pool1 = nn.MaxPool2d(2, 2)
        self.conv3 = nn.Conv2d(16, 32, 3, padding=1)
        self.conv4 = nn.Conv2d(32, 32, 3, padding=1)
        self.pool2 = nn.MaxPool2d(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(torch.relu(self.conv2(torch.relu(self.conv1(x)))))
        return self.pool2(torch.relu(self.conv4(torch.relu(self.conv3(x)))))


class FourConvs(nn.Module):
    """The chapter's exercise 3: four 3x3 convolutions, stride 1 (receptive field 9)."""

    default_input_shape = (1, 1, 28, 28)

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(*[nn.Conv2d(1 if i == 0 else 8, 8, 3, padding=1) for i in range(4)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
