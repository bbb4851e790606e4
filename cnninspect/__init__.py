"""cnninspect: look inside PyTorch models the way a careful engineer would on paper.

The public API is imported lazily so that ``import cnninspect`` costs little more
than ``import torch``; heavy modules (tabulate, matplotlib, torchvision, sphinx)
load only when used.
"""

from __future__ import annotations

import importlib
from typing import Any

from cnninspect import _moved

__version__ = "0.1.0"

_EXPORTS = {
    "summarize": "cnninspect.engine.summary",
    "Summary": "cnninspect.engine.records",
    "Layer": "cnninspect.engine.records",
    "CnnInspectError": "cnninspect.errors",
    "InputShapeError": "cnninspect.errors",
    "ModelError": "cnninspect.errors",
    "ModelSpecError": "cnninspect.errors",
    "OptionError": "cnninspect.errors",
    "load_model": "cnninspect.integrations.spec",
    "receptive_field": "cnninspect.engine.receptive",
    "verify": "cnninspect.analyses.verification",
    "VerifyReport": "cnninspect.analyses.verification",
    "compare_fc": "cnninspect.analyses.fc",
    "chapter_comparisons": "cnninspect.analyses.fc",
    "position_sensitivity": "cnninspect.analyses.fc",
    "record_forward": "cnninspect.engine.hooks",
    "lint": "cnninspect.analyses.lint",
    "torchinfo_summary": "cnninspect.integrations.torchinfo",
    "module_tree": "cnninspect.engine.module_tree",
    "summarize_tree": "cnninspect.engine.tree_summary",
    "register_op": "cnninspect.engine.ops.catalogue",
    "memory": "cnninspect.analyses.memory",
}

__all__ = ["__version__", *_EXPORTS]

_moved.install()


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'cnninspect' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
