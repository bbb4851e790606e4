"""One replay of a model on meta tensors: the setup in, a :class:`MemoryLog` out."""

from __future__ import annotations

import functools
import operator
from typing import Any

import torch
from torch import nn

from cnninspect.analyses.memory.amp import meta_autocast
from cnninspect.analyses.memory.cache import remembered, setup_key, structure
from cnninspect.analyses.memory.kernels import cpu_kernels
from cnninspect.analyses.memory.replay import (
    BACKWARD,
    BUFFER,
    INPUT,
    PARAM,
    MemoryLog,
    MetaState,
    Recorder,
    recording,
    run_trace,
    storage_key,
)
from cnninspect.engine import trace as engine_trace
from cnninspect.engine.compat import tree_flatten
from cnninspect.engine.guard import ModelGuard
from cnninspect.engine.inputs import InputSpec, concrete_defaults
from cnninspect.engine.inventory import Inventory, inventory
from cnninspect.engine.lazy import materialised
from cnninspect.engine.trace import Trace, UntraceableError, structure_key, trace
from cnninspect.errors import InputShapeError, ModelError


class Ready:
    """A model as its replays take it: lazy parameters shaped (on a meta copy), and its key's
    :func:`~cnninspect.analyses.memory.cache.structure`, read once for all the replays of one
    report; its inventory is taken only when a replay runs (a remembered result needs none)."""

    def __init__(self, model: nn.Module, spec: InputSpec) -> None:
        base = structure(model)
        if base is None:  # lazy: shape them on a meta copy, which the replays then run
            model = materialised(model, spec, [])
            base = structure(model)
            assert base is not None, "materialised() leaves no lazy tensor"
        self.model, self.base = model, base

    @functools.cached_property
    def tree(self) -> Inventory:
        return inventory(self.model)


def ready(model: nn.Module, spec: InputSpec) -> Ready:
    return Ready(model, spec)


def replay(
    model: nn.Module | Ready,
    spec: InputSpec,
    *,
    train: bool,
    dtype: torch.dtype | None = None,
    amp: torch.dtype | None = None,
    backward: bool = True,
    rows: bool = True,
) -> tuple[MemoryLog, MetaState]:
    """Run ``model`` on meta inputs of ``spec`` (train: forward and backward of ``sum(output)``;
    ``backward=False`` stops after the training forward, which is all the saved bytes need;
    ``rows=False`` runs the model's own forward instead of its trace: one row, the same totals).

    The model is put in train or eval mode for the run and left exactly as found. The
    result is remembered (see :mod:`~cnninspect.analyses.memory.cache`): treat it as read-only.
    """
    got = model if isinstance(model, Ready) else ready(model, spec)
    key = setup_key(got.base, "replay", spec, train, dtype, amp, backward, rows)
    run = (train, backward, rows)
    return remembered(got.model, key, lambda: _replay(got.model, got.tree, spec, run, dtype, amp))


def own_forward_log(
    model: nn.Module | Ready,
    spec: InputSpec,
    *,
    train: bool,
    dtype: torch.dtype | None = None,
    amp: torch.dtype | None = None,
    backward: bool = True,
) -> MemoryLog:
    """The log of a replay through the model's own forward, for figures that need no rows
    (the saved total, the inference peak): no trace to make, no per-node bookkeeping. Where
    that forward cannot run on meta (a plain CPU tensor attribute, which the trace turns into
    meta), the log of the traced replay: the same totals and peaks."""
    try:
        return replay(
            model, spec, train=train, dtype=dtype, amp=amp, backward=backward, rows=False
        )[0]
    except ModelError:
        return replay(model, spec, train=train, dtype=dtype, amp=amp, backward=backward)[0]


def _replay(
    model: nn.Module,
    tree: Inventory,
    spec: InputSpec,
    run: tuple[bool, bool, bool],  # (train, backward, rows)
    dtype: torch.dtype | None,
    amp: torch.dtype | None,
) -> tuple[MemoryLog, MetaState]:
    train, backward, rows = run
    guard = ModelGuard(model, tree)
    try:
        model.train(train)
        inputs = spec.build()
        args = tuple(_cast(a, dtype) for a in inputs.args)
        kwargs = {k: _cast(v, dtype) for k, v in inputs.kwargs.items()}
        state = MetaState(tree, dtype)
        log = MemoryLog(rows=[])
        rec = Recorder(log)
        for t in state.by_id.values():
            rec.register(t, PARAM if isinstance(t, nn.Parameter) else BUFFER)
        for t in tree_flatten((args, kwargs))[0]:
            if isinstance(t, torch.Tensor):
                rec.register(t, INPUT)
        with state.swapped(model), recording(rec, train), cpu_kernels(), meta_autocast(amp):
            output = _forward(model, tree if rows else None, state, args, kwargs, rec)
            if train:
                leaves = _trainable_outputs(output)
                if backward:
                    _backward(leaves, log, rec)
        _pin(log, output, state)
        return log, state
    except (ModelError, InputShapeError):
        raise
    except Exception as exc:
        raise ModelError(
            f"{type(model).__name__} could not run on meta tensors for the memory report "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
            "memory needs a forward that does not read tensor values"
        ) from exc
    finally:
        guard.restore()


def _forward(model, tree, state, args, kwargs, rec) -> Any:
    """The forward through the model's trace, a row per call; without a ``tree``, or where
    the model cannot be traced, through its own forward as one row (the totals are the same)."""
    log = rec.log
    concrete = concrete_defaults(model, len(args), kwargs) or None
    try:
        if tree is None:
            raise UntraceableError("rows not asked for")
        tr = _trace(model, tree, concrete)
    except UntraceableError:  # one row for the whole model: totals stay exact
        rec.row = 0
        out = state.call(model, args, kwargs)
        log.rows, log.output_bytes = [type(model).__name__], [_nbytes(out)]
        return out
    out, log.rows, log.output_bytes = run_trace(tr, state, args, kwargs, rec)
    return out


def _trace(model: nn.Module, tree: Inventory, concrete: dict | None) -> Trace:
    """The model's trace in its current modes, remembered per mode: a training replay
    and an inference replay alternate, and the engine's cache holds one trace per model.
    The engine's trace is taken when it is of this structure, and left in its cache."""
    key = structure_key(tree, concrete)

    def fresh() -> tuple:
        cached = engine_trace._CACHE.get(model)
        tr = trace(model, concrete_args=concrete, key=key if cached and cached[0] == key else None)
        return tr.nodes, tr.opaque, tr.constants

    return Trace(model, *remembered(model, ("trace", key), fresh))


def _trainable_outputs(output: Any) -> list[torch.Tensor]:
    leaves = [t for t in tree_flatten(output)[0] if isinstance(t, torch.Tensor) and t.requires_grad]
    if not leaves:
        raise ModelError("the model's output does not require grad: there is nothing to train")
    return leaves


def _backward(leaves: list[torch.Tensor], log: MemoryLog, rec: Recorder) -> None:
    """Backward from ``sum(output)``: the loss a training step reduces to, at no memory cost."""
    rec.phase, rec.row = BACKWARD, len(log.rows)
    log.backward_from = log.ops
    loss = functools.reduce(operator.add, (t.float().sum() for t in leaves))
    loss.backward()


def _pin(log: MemoryLog, output: Any, state: MetaState) -> None:
    """Outputs and parameter gradients outlive the step."""
    for t in tree_flatten(output)[0]:
        if isinstance(t, torch.Tensor):
            log.pinned.add(storage_key(t))
    for p in state.params():
        if p.grad is not None:
            log.pinned.add(storage_key(p.grad))


def _cast(value: Any, dtype: torch.dtype | None) -> Any:
    if dtype is not None and isinstance(value, torch.Tensor) and value.is_floating_point():
        return value.to(dtype)
    return value


def _nbytes(value: Any) -> int:
    return sum(t.nbytes for t in tree_flatten(value)[0] if isinstance(t, torch.Tensor))
