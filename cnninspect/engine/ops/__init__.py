"""Layer 2: what cnninspect knows about each op, one small pure function per op and quantity.

``shapes`` infers output tensors without running arithmetic, ``macs`` counts
multiply-accumulates and FLOPs, ``receptive`` describes geometry, ``formulas`` gives
the reference figures and ``ranks`` the spatial rank. ``families`` gathers them per op
family into the op catalogue (``catalogue``), whose views ``SHAPES``, ``COSTS`` and
``RF_RULES`` the passes look rules up in. Adding an op is one entry, or one call of
:func:`cnninspect.register_op`.
"""

from cnninspect.engine.ops.registry import Call, Registry, op_key

__all__ = ["Call", "Registry", "op_key"]
