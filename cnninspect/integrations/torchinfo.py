"""A drop-in for ``torchinfo.summary``: ``from cnninspect import torchinfo_summary as summary``.

Same signature and defaults as torchinfo 1.8, a result with its attributes and its
table; the figures are cnninspect's (meta tensors, no real forward unless a fallback
needs one, exact MACs, every parameter counted once). What differs from torchinfo,
and why, is in ``docs/coming-from-torchinfo.rst``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.nn.parameter import is_lazy

from cnninspect.engine.compat import tree_flatten
from cnninspect.engine.inputs import InputSpec, api_dtypes, check_device, split_data
from cnninspect.engine.modes import check_mode, in_mode
from cnninspect.engine.module_tree import tree_totals
from cnninspect.errors import InputSpecError, ModelError, OptionError
from cnninspect.integrations.torchinfo_rows import all_shapes, rows_from_summary, rows_from_tree
from cnninspect.integrations.torchinfo_stats import (
    COLUMNS,
    ROW_SETTINGS,
    Formatting,
    ModelStatistics,
)

if TYPE_CHECKING:
    from cnninspect.analyses.memory import MemoryReport

_NEEDS_INPUT = {"input_size", "output_size", "mult_adds"}


def torchinfo_summary(
    model: nn.Module,
    input_size: Any = None,
    input_data: Any = None,
    batch_dim: int | None = None,
    cache_forward_pass: bool | None = None,
    col_names: Iterable[str] | None = None,
    col_width: int = 25,
    depth: int = 3,
    device: torch.device | str | None = None,
    dtypes: list[Any] | None = None,
    mode: str | None = None,
    row_settings: Iterable[str] | None = None,
    verbose: int | None = None,
    **kwargs: Any,
) -> ModelStatistics:
    """Summarise ``model`` with ``torchinfo.summary``'s arguments; print the table unless ``verbose=0``.

    ``input_size`` (shapes including the batch, or without it when ``batch_dim`` says
    where to insert a batch of 1), ``input_data`` (a tensor, a list of positional values
    or a dict of keyword values, tensors or not), ``dtypes`` (one per input; torch dtypes
    or tensor types such as ``torch.LongTensor``) and ``**kwargs`` (more keyword
    arguments of ``forward``) say what the model is fed; with none of them the
    summary is the module tree with parameters per module. ``mode`` is ``"eval"``
    (default), ``"train"`` or ``"same"`` (leave the modes as they are); every module's
    mode is restored afterwards. ``cache_forward_pass`` is accepted and needs nothing:
    cnninspect already reuses a model's trace while its modules are unchanged.
    """
    if not isinstance(model, nn.Module):
        raise ModelError(f"torchinfo_summary() needs a torch.nn.Module, got {type(model).__name__}")
    has_input = input_size is not None or input_data is not None
    fmt = _formatting(col_names, col_width, depth, row_settings, verbose, has_input)
    target, mode = check_device(device), _mode(mode)
    if input_size is not None and input_data is not None:
        raise OptionError("pass input_size or input_data, not both")
    if not has_input:
        if kwargs:
            raise OptionError(
                f"forward arguments {sorted(kwargs)} need an input_size or input_data as well"
            )
        result = _tree_summary(model, fmt)
    else:
        spec, shown, nbytes = _inputs(input_size, input_data, batch_dim, dtypes, kwargs)
        result = _traced_summary(model, spec, shown, nbytes, fmt, mode, target)
    if fmt.verbose:
        print(result)
    return result


def _formatting(col_names, col_width, depth, row_settings, verbose, has_input) -> Formatting:
    if verbose is None:
        verbose = 0 if getattr(sys, "ps1", None) else 1  # quiet in a notebook, as torchinfo
    if verbose not in (0, 1, 2):
        raise OptionError(
            f"verbose must be 0 (quiet), 1 (the table) or 2 (and every tensor), got {verbose!r}"
        )
    if not isinstance(col_width, int) or col_width <= 0:
        raise OptionError(f"col_width must be a positive int, got {col_width!r}")
    if not isinstance(depth, int) or depth < 0:
        raise OptionError(f"depth must be an int >= 0, got {depth!r}")
    default = ("output_size", "num_params") if has_input else ("num_params",)
    columns = default if col_names is None else tuple(_value(c) for c in col_names)
    unknown = [c for c in columns if c not in (*COLUMNS, "groups")]
    if unknown:
        raise OptionError(f"unknown column(s) {unknown}; choose from {', '.join(COLUMNS)}")
    if not has_input and _NEEDS_INPUT & set(columns):
        needing = sorted(_NEEDS_INPUT & set(columns))
        raise OptionError(f"columns {needing} need an input: pass input_size or input_data")
    rows = {"depth"} if row_settings is None else {_value(r) for r in row_settings}
    if rows - set(ROW_SETTINGS):
        raise OptionError(
            f"unknown row setting(s) {sorted(rows - set(ROW_SETTINGS))}; choose from {ROW_SETTINGS}"
        )
    return Formatting(depth, verbose, columns, col_width, rows)


def _value(option: Any) -> str:
    """torchinfo's str enums (ColumnSettings.OUTPUT_SIZE) and plain strings alike."""
    return str(getattr(option, "value", option))


def _mode(mode: Any) -> str:
    """torchinfo's default is eval; the engine checks the value (torchinfo's ``Mode`` members too)."""
    return check_mode("eval" if mode is None else mode)


def _tree_summary(model: nn.Module, fmt: Formatting) -> ModelStatistics:
    totals = tree_totals(model)
    notes = (
        [f"uninitialised (lazy) parameters not counted: {', '.join(totals.lazy_params)}"]
        if totals.lazy_params
        else []
    )
    return ModelStatistics(
        summary_list=rows_from_tree(model),
        input_size=[],
        total_input=0,
        formatting=fmt,
        total_params=totals.total_params,
        trainable_params=totals.trainable_params,
        total_param_bytes=totals.param_bytes,
        total_buffer_bytes=totals.buffer_bytes,
        total_mult_adds=0,
        warnings=notes,
    )


def _traced_summary(model, spec, shown, nbytes, fmt, mode, device) -> ModelStatistics:
    from cnninspect.engine.summary import summarize, unwrap

    notes: list[str] = []
    if any(is_lazy(p) for p in model.parameters()):
        with in_mode(model, mode):  # the copy is made in the summary's mode, and keeps it
            model = _initialised(model, spec, device, notes)
    summary = summarize(model, spec, device=device, mode=mode, receptive_field=False)
    element = _activation_size(model, spec)
    activations = element * sum(
        math.prod(s) for layer in summary.layers for s in all_shapes(layer.output_shape)
    )
    return ModelStatistics(
        summary_list=rows_from_summary(unwrap(model, []), summary, element),
        input_size=shown,
        total_input=nbytes,
        formatting=fmt,
        total_params=summary.total_params,
        trainable_params=summary.trainable_params,
        total_param_bytes=summary.param_bytes,
        total_buffer_bytes=summary.buffer_bytes,
        output_bytes_estimate=activations,
        memory_of=lambda: _memory(model, spec, mode),
        saved_of=lambda: _saved(model, spec),
        total_mult_adds=summary.total_macs,
        total_flops=summary.total_flops,
        summary=summary,
        warnings=notes + list(summary.warnings),
    )


def _memory(model: nn.Module, spec: InputSpec, mode: str) -> MemoryReport:
    """The memory analysis of one training step, in the mode the summary used."""
    from cnninspect.analyses.memory import memory

    with in_mode(model, mode):
        return memory(model, spec)


def _saved(model: nn.Module, spec: InputSpec) -> int:
    """What the table prints as the forward/backward pass size: the report's saved bytes,
    from the training forward's replay alone (which puts the model in train mode itself)."""
    from cnninspect.analyses.memory import saved_bytes

    return saved_bytes(model, spec)


def _initialised(model: nn.Module, spec: InputSpec, device: Any, notes: list[str]) -> nn.Module:
    """A copy whose lazy parameters one real forward has materialised (the engine's, which also
    copies LazyBatchNorm's uninitialised buffers); the model stays as it is."""
    from cnninspect.engine.lazy import initialised_copy

    twin = initialised_copy(model, spec, device)  # one ModelError that says so if it fails
    notes.append(
        "lazy parameters were initialised by one real forward on a copy; the model is unchanged"
    )
    return twin


def _activation_size(model: nn.Module, spec: InputSpec) -> int:
    """Bytes per activation element: the model's floating parameters, else its inputs, else torch's default."""
    for p in model.parameters():
        if p.is_floating_point() and not is_lazy(p):
            return p.element_size()
    for dtype in spec.dtypes or ():
        if dtype.is_floating_point:
            return torch.empty((), dtype=dtype, device="meta").element_size()
    return torch.empty((), device="meta").element_size()


def _inputs(input_size, input_data, batch_dim, dtypes, kwargs) -> tuple[InputSpec, Any, int]:
    """(the spec cnninspect summarises, torchinfo's ``input_size`` attribute, input bytes).

    ``batch_dim`` and ``**kwargs`` are the engine's (``InputSpec.with_batch_dim``,
    ``with_forward_kwargs``); the shim reads torchinfo's forms of ``input_size`` and
    ``dtypes`` (``()`` for a 0-d input, tensor types) and input_data without a tensor."""
    if input_size is not None:
        shown = _shape_list(input_size)
        spec = InputSpec(tuple(tuple(s) for s in shown), api_dtypes(dtypes, len(shown), "dtypes"))
        if batch_dim is not None:
            spec = spec.with_batch_dim(batch_dim)
        spec = spec.with_forward_kwargs(kwargs) if kwargs else spec
        return spec, shown, _bytes_of(list(spec.shapes), spec.dtypes) + _nbytes(kwargs)
    if dtypes is not None:
        raise OptionError("dtypes sets the dtype of input_size; input_data has dtypes of its own")
    args, named = split_data(input_data)
    spec = _data_spec(args, named)
    spec = spec.with_forward_kwargs(kwargs) if kwargs else spec
    return spec, _sizes(input_data), _nbytes((args, spec.kwargs))


def _data_spec(args: tuple, kwargs: dict) -> InputSpec:
    """input_data as torchinfo takes it: values that may hold no tensor at all (from_data refuses those)."""
    shapes = tuple(
        tuple(t.shape) for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)
    )
    return InputSpec(shapes, None, args, kwargs)


def _shape_list(input_size: Any) -> list[Any]:
    """torchinfo's readings of ``input_size``: (1, 28), [1, 28], [(1, 28)], ((1, 28),), [(1, 28), [12]]."""
    if isinstance(input_size, torch.Size) or (
        isinstance(input_size, (list, tuple)) and all(isinstance(d, int) for d in input_size)
    ):
        parts = [input_size]
    elif isinstance(input_size, (list, tuple)) and all(
        isinstance(s, (list, tuple, torch.Size)) for s in input_size
    ):
        parts = list(input_size)
    else:
        raise InputSpecError(
            f"input_size {input_size!r} is not a shape or a list of shapes; write e.g. (1, 3, 224, 224) "
            "or [(1, 3, 224, 224), (1, 10)]"
        )
    for part in parts:
        if any(isinstance(d, bool) or not isinstance(d, int) or d <= 0 for d in part):
            raise InputSpecError(f"input_size {tuple(part)!r}: every size must be a positive int")
    return [tuple(p) if isinstance(p, list) and p is input_size else p for p in parts]


def _sizes(data: Any) -> Any:
    """torchinfo's ``input_size`` for input_data: the same structure with sizes for tensors."""
    if isinstance(data, torch.Tensor):
        return data.size()
    if hasattr(data, "__array__") and hasattr(data, "shape"):
        return torch.Size(data.shape)
    if isinstance(data, Mapping):
        return {k: _sizes(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(_sizes(v) for v in data))
    if isinstance(data, (list, tuple)):
        return type(data)(_sizes(v) for v in data)
    return data


def _nbytes(value: Any) -> int:
    """Bytes of every tensor (and NumPy array) in ``value``: what the inputs occupy."""
    total = 0
    for leaf in tree_flatten(value)[0]:
        if isinstance(leaf, torch.Tensor):
            total += leaf.numel() * leaf.element_size()
        elif hasattr(leaf, "nbytes") and hasattr(leaf, "__array__"):
            total += int(leaf.nbytes)
    return total


def _bytes_of(shapes: list[tuple[int, ...]], dtypes: tuple[torch.dtype, ...] | None) -> int:
    kinds = dtypes or (torch.get_default_dtype(),) * len(shapes)
    return sum(
        math.prod(s) * torch.empty((), dtype=d, device="meta").element_size()
        for s, d in zip(shapes, kinds)
    )
