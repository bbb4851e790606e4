"""How many spatial axes a layer works over, read from what it is, never from its name.

A convolution says it with its kernel (one size per axis). A pool whose ``kernel_size``
may be a plain int says it with the torch class it derives from: ``MaxPool2dSame``
is a ``MaxPool2d``, whatever it is called.
"""

from __future__ import annotations

from typing import Any

from torch import nn

_BY_BASE: dict[type, int] = {
    nn.MaxPool1d: 1, nn.MaxPool2d: 2, nn.MaxPool3d: 3,
    nn.AvgPool1d: 1, nn.AvgPool2d: 2, nn.AvgPool3d: 3,
    nn.LPPool1d: 1, nn.LPPool2d: 2, nn.LPPool3d: 3,
    nn.AdaptiveAvgPool1d: 1, nn.AdaptiveAvgPool2d: 2, nn.AdaptiveAvgPool3d: 3,
    nn.AdaptiveMaxPool1d: 1, nn.AdaptiveMaxPool2d: 2, nn.AdaptiveMaxPool3d: 3,
    nn.BatchNorm1d: 1, nn.BatchNorm2d: 2, nn.BatchNorm3d: 3,
}  # fmt: skip
_CACHE: dict[type, int | None] = {}


def class_rank(cls: type) -> int:
    """The rank of the first torch class of known rank in ``cls``'s MRO."""
    try:
        rank = _CACHE[cls]
    except KeyError:
        rank = _CACHE[cls] = next((_BY_BASE[b] for b in cls.__mro__ if b in _BY_BASE), None)
    if rank is None:
        raise TypeError(f"{cls.__name__} derives from no torch layer of known spatial rank")
    return rank


def kernel_rank(module: Any) -> int:
    """Convolutions: one kernel size per spatial axis."""
    return len(module.kernel_size)


def _rank(module: Any, sizes: object) -> int:
    if isinstance(sizes, (tuple, list)) and len(sizes) > 1:
        return len(sizes)
    return class_rank(type(module))


def pool_rank(module: Any) -> int:
    """Pools: a kernel tuple says it; a plain int leaves it to the torch base class."""
    return _rank(module, module.kernel_size)


def adaptive_rank(module: Any) -> int:
    """Adaptive pools: an output-size tuple says it, else the torch base class."""
    return _rank(module, module.output_size)
