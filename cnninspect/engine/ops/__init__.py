"""Layer 2: per-op rules, one registry per quantity, one small pure function per op.

``shapes`` infers output tensors without running arithmetic, ``macs`` counts
multiply-accumulates and FLOPs, and further analyses (receptive fields) add
registries of their own. Adding an op is adding one function.
"""

from cnninspect.engine.ops.registry import Call, Registry, op_key

__all__ = ["Call", "Registry", "op_key"]
