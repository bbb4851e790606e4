"""Memory: what inference and a training step need, per row and in total, on meta tensors.

``memory(model, input_shape, batch_size=64, optimizer="adamw", amp="bf16")`` replays
the model's calls on the meta device twice -- a training forward and backward, and
an inference forward -- and reads the report off what autograd saved and when each
storage was made and last used. :func:`largest_batch` finds the largest batch that
fits a budget.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from cnninspect.analyses.memory.report import AMP_DTYPES, OPTIMIZERS, MemoryReport, RowMemory
from cnninspect.analyses.memory.search import largest_batch, parse_bytes
from cnninspect.errors import ModelError, OptionError

__all__ = [
    "memory",
    "saved_bytes",
    "with_memory",
    "memory_of_summary",
    "largest_batch",
    "parse_bytes",
    "MemoryReport",
    "RowMemory",
    "OPTIMIZERS",
]

_AMP = {
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
    "fp16": torch.float16,
    "float16": torch.float16,
}


def memory(
    model: nn.Module,
    input_shape: Any = None,
    *,
    batch_size: int | None = None,
    optimizer: str = "adamw",
    dtype: torch.dtype | str | None = None,
    amp: str | None = None,
    input_data: Any = None,
    _inference: bool = True,
) -> MemoryReport:
    """The memory report of ``model`` for one training step and one inference forward.

    ``batch_size`` replaces dimension 0 of every input shape; ``dtype`` is the dtype of
    the parameters and activations (default: the model's own); ``amp`` ("bf16" or
    "fp16") is an autocast forward over fp32 master weights.
    """
    from cnninspect.analyses.memory.build import build_report

    optimizer = check_optimizer(optimizer)
    amp_dtype = check_amp(amp, dtype)
    spec = _spec(model, input_shape, input_data, batch_size)
    return build_report(model, spec, optimizer, _dtype(dtype), amp_dtype, inference=_inference)


def _spec(model: nn.Module, input_shape: Any, input_data: Any, batch_size: int | None) -> Any:
    from cnninspect.engine.inputs import InputSpec, choose_input

    spec = choose_input(model, InputSpec.of(input_shape, input_data, None))
    if batch_size is not None:
        if batch_size < 1:
            raise OptionError(f"batch_size must be a positive integer, got {batch_size}")
        spec = spec.with_batch(batch_size)
    return spec


def saved_bytes(
    model: nn.Module,
    input_shape: Any = None,
    *,
    batch_size: int | None = None,
    dtype: torch.dtype | str | None = None,
    amp: str | None = None,
    input_data: Any = None,
) -> int:
    """The report's ``activation_bytes`` alone: what autograd saves for backward in one
    training forward, from that forward's replay only (no backward, no inference replay,
    no trace), for callers such as the torchinfo table that print this one figure."""
    from cnninspect.analyses.memory.build import saved_total

    amp_dtype = check_amp(amp, dtype)
    spec = _spec(model, input_shape, input_data, batch_size)
    return saved_total(model, spec, _dtype(dtype), amp_dtype)


def with_memory(summary: Any, **options: Any) -> tuple[Any, MemoryReport]:
    """A copy of ``summary`` with per-row ``output_bytes`` and ``saved_bytes``, and the report."""
    from cnninspect.analyses.memory.annotate import with_memory as annotate

    return annotate(summary, **options)


def memory_of_summary(summary: Any, **options: Any) -> MemoryReport:
    """``summary.memory(...)``: the report for the model and input the summary was made from."""
    if summary.source is None:
        raise ModelError(
            "this summary has no model attached (it was not made by summarize() in this process); "
            "call cnninspect.memory(model, input_shape, ...) instead"
        )
    model, spec = summary.source
    return memory(model, spec, **options)


def check_optimizer(name: str) -> str:
    key = name.lower().replace("_", "-")
    key = {"sgd-m": "sgd-momentum", "momentum": "sgd-momentum"}.get(key, key)
    if key not in OPTIMIZERS:
        raise OptionError(f"unknown optimizer {name!r}; use one of: {', '.join(OPTIMIZERS)}")
    return key


def check_amp(amp: str | None, dtype: Any) -> torch.dtype | None:
    if amp is None or amp in ("", "none", "off"):
        return None
    if amp not in _AMP:
        raise OptionError(f"unknown amp {amp!r}; use one of: {', '.join(AMP_DTYPES)}")
    if dtype not in (None, torch.float32, "float32", "fp32"):
        raise OptionError("amp keeps fp32 master weights: leave dtype unset (or float32) with amp")
    return _AMP[amp]


def _dtype(dtype: torch.dtype | str | None) -> torch.dtype | None:
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    names = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16", "fp64": "float64"}
    value = getattr(torch, names.get(dtype, dtype), None)
    if not isinstance(value, torch.dtype) or not value.is_floating_point:
        raise OptionError(f"unknown dtype {dtype!r}; use float32, float16, bfloat16 or float64")
    return value
