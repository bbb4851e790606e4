"""Which receptive-field rule describes one call.

The rules live with every other piece of op knowledge in
:mod:`cnninspect.engine.ops.receptive` and reach ops through the op catalogue
(:mod:`cnninspect.engine.ops.catalogue`); this is the analysis's one look-up.
"""

from __future__ import annotations

from collections.abc import Callable

from cnninspect.engine.ops.catalogue import RF_RULES
from cnninspect.engine.ops.registry import Call, op_key


def rule_for(call: Call) -> Callable | None:
    """The rule of one call, or None."""
    return RF_RULES.lookup(op_key(call.op, call.target, call.module))
