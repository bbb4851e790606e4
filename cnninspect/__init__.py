"""cnninspect: look inside PyTorch models the way a careful engineer would on paper.

The public API is imported lazily so that ``import cnninspect`` costs little more
than ``import torch``; heavy modules (tabulate, matplotlib, torchvision, sphinx)
load only when used.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "summarize": "cnninspect.summarize",
    "Summary": "cnninspect.records",
    "Layer": "cnninspect.records",
    "CnnInspectError": "cnninspect.errors",
    "InputShapeError": "cnninspect.errors",
    "ModelError": "cnninspect.errors",
    "ModelSpecError": "cnninspect.errors",
    "OptionError": "cnninspect.errors",
    "load_model": "cnninspect.spec",
    "receptive_field": "cnninspect.receptive",
    "verify": "cnninspect.verify",
    "VerifyReport": "cnninspect.verify",
    "compare_fc": "cnninspect.fc",
    "chapter_comparisons": "cnninspect.fc",
    "position_sensitivity": "cnninspect.fc",
    "record_forward": "cnninspect.hooks",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'cnninspect' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


class _Package(types.ModuleType):
    """Keeps ``cnninspect.summarize`` the function whatever imports ``cnninspect.summarize`` the module.

    Python sets a package attribute to each submodule it imports, which would shadow the
    same-named lazy export depending on import order (the plugin imports the module first).
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType) and value.__name__ == _EXPORTS[name]:
            value = getattr(value, name, value)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
