"""The receptive-field rules, as the analysis reads them.

The rules themselves live with every other piece of op knowledge in
:mod:`cnninspect.engine.ops.receptive`, and reach ops through the op catalogue
(:mod:`cnninspect.engine.ops.catalogue`); this module keeps their old import path.
"""

from __future__ import annotations

from collections.abc import Callable

from cnninspect.engine.ops.catalogue import RF_RULES
from cnninspect.engine.ops.receptive import (
    AxisWindow,
    Effect,
    Global,
    Keep,
    Unknown,
    Window,
    conv_window,
    floor_window,
    resample,
)
from cnninspect.engine.ops.registry import Call, op_key


def rule_for(call: Call) -> Callable | None:
    """The rule of one call, or None."""
    return RF_RULES.lookup(op_key(call.op, call.target, call.module))


__all__ = [
    "RF_RULES", "AxisWindow", "Window", "Keep", "Global", "Unknown", "Effect",
    "conv_window", "floor_window", "resample", "rule_for",
]  # fmt: skip
