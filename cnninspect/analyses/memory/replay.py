"""Run a model's recorded calls on meta tensors and log every allocation autograd would make.

Shape rules are not enough for memory: what autograd keeps for backward is decided by
each op's derivative formula, below the rules. So the calls of the trace are run for
real on the meta device (no storage, so batch and image size cost nothing) under two
observers: a ``TorchDispatchMode`` that sees every aten op with the storages it reads
and makes, and ``saved_tensors_hooks`` that see every tensor autograd saves. The log
names each op's row, so the figures attribute back to the summary's rows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import torch
from torch import nn

import cnninspect.engine.ops.catalogue  # noqa: F401 -- before trace, which it imports back
from cnninspect.analyses.memory.opcache import call, outputs, scan
from cnninspect.engine.compat import TorchDispatchMode, tree_flatten
from cnninspect.engine.inventory import Inventory
from cnninspect.engine.trace import Node, Trace

INPUT, PARAM, BUFFER, FORWARD, BACKWARD = "input", "param", "buffer", "forward", "backward"


@dataclass
class Storage:
    """One allocation: its size, who made it and, if autograd keeps it, which row saved it."""

    nbytes: int
    origin: str  # INPUT, PARAM, BUFFER, FORWARD or BACKWARD
    row: int  # the row that made it (-1 before the first row)
    saved_by: int | None = None  # the first row whose op saved it for backward
    first_op: int = -1  # index in the op log where it appeared
    last_op: int = -1  # index of the last op that read or wrote it


@dataclass
class MemoryLog:
    """What a replay observed: the storages, and per row the bytes of its outputs."""

    rows: list[str]  # row names, as the summary names them
    storages: dict[int, Storage] = field(default_factory=dict)
    output_bytes: list[int] = field(default_factory=list)
    ops: int = 0  # number of aten ops logged
    backward_from: int = -1  # index of the first backward op
    pinned: set[int] = field(default_factory=set)  # held to the end: outputs, gradients
    keep: list = field(default_factory=list)  # storages kept alive so keys are never reused


def storage_key(t: torch.Tensor) -> int:
    return t.untyped_storage()._cdata


class Recorder(TorchDispatchMode):
    """Logs the storages every aten op reads and makes, attributing new ones to ``row``."""

    def __init__(self, log: MemoryLog) -> None:
        super().__init__()
        self.log = log
        self.row = -1
        self.phase = FORWARD

    def register(self, t: torch.Tensor, origin: str) -> int:
        st = t.untyped_storage()
        key = st._cdata
        if key not in self.log.storages:
            self.log.storages[key] = Storage(st.nbytes(), origin, self.row, first_op=self.log.ops)
            self.log.keep.append(st)
        return key

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        """No dynamo guard around ``__torch_dispatch__``: nothing compiles inside a replay,
        and the guard costs a sixth of each op's time."""
        return False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        read: list[torch.Tensor] = []
        kwargs = kwargs or {}
        out = call(func, args, kwargs, scan(func, args, kwargs, read))
        log, index = self.log, self.log.ops
        storages = log.storages
        for t in read:
            st = storages.get(t.untyped_storage()._cdata)
            if st is not None:
                st.last_op = index
        for t in outputs(out):
            storages[self.register(t, self.phase)].last_op = index
        log.ops += 1
        return out

    def pack(self, t: torch.Tensor) -> torch.Tensor:
        """saved_tensors_hooks' pack: the first row to save a storage owns it."""
        st = self.log.storages[self.register(t, self.phase)]
        if st.saved_by is None:
            st.saved_by = max(self.row, 0)
        return t


class MetaState:
    """One meta stand-in per parameter and buffer (shared ones stay shared), in ``dtype``."""

    def __init__(self, tree: Inventory, dtype: torch.dtype | None) -> None:
        self.by_id: dict[int, torch.Tensor] = {}
        self.dtype = dtype
        self.stand_ins: set[int] = set()
        self.modules = [m for _, m in tree.modules]
        for _, t in (*tree.params, *tree.buffers):  # each once already
            self._meta(t)

    def _meta(self, t: torch.Tensor) -> torch.Tensor:
        if id(t) in self.stand_ins:  # read back through a swapped module: already ours
            return t
        m = self.by_id.get(id(t))
        if m is None:
            dtype = self.dtype if self.dtype is not None and t.is_floating_point() else t.dtype
            m = torch.empty(t.shape, dtype=dtype, device="meta")
            if isinstance(t, nn.Parameter):
                m = nn.Parameter(m, requires_grad=t.requires_grad)
            self.by_id[id(t)] = m
            self.stand_ins.add(id(m))
        return m

    def params(self) -> list[torch.Tensor]:
        return [m for m in self.by_id.values() if isinstance(m, nn.Parameter)]

    @contextlib.contextmanager
    def swapped(self, model: nn.Module) -> Iterator[None]:
        """Within: every module holds its meta stand-ins, so calls run as written.

        One swap for the whole replay rather than ``functional_call``'s swap per call
        (half a replay's time); the originals are back in place on the way out, raise or not.
        """
        undo: list[tuple[dict, str, torch.Tensor]] = []
        try:
            for module in self.modules:
                for slots in (cast(dict, module._parameters), cast(dict, module._buffers)):
                    for name, t in slots.items():
                        if t is not None and id(t) not in self.stand_ins:
                            undo.append((slots, name, t))
                            slots[name] = self._meta(t)
            yield
        finally:
            for slots, name, t in reversed(undo):
                slots[name] = t

    def call(self, module: nn.Module, args: tuple, kwargs: dict) -> Any:
        return module(*args, **kwargs)


def run_trace(
    tr: Trace, state: MetaState, args: tuple, kwargs: dict, rec: Recorder
) -> tuple[Any, list[str], list[int]]:
    """Execute the trace's calls in order; return the output, row names and output bytes."""
    env: dict[Node, Any] = {}
    names: list[str] = []
    out_bytes: list[int] = []
    calls_of: dict[str, int] = {}
    placeholders = iter(args)
    output: Any = None

    def load(a: Any) -> Any:
        kind = type(a)
        if kind is Node:
            return env[a]
        if kind is tuple or kind is list:
            return kind([load(v) for v in a])
        if isinstance(a, tuple):
            return kind(*[load(v) for v in a])
        if isinstance(a, list):
            return [load(v) for v in a]
        if isinstance(a, dict):
            return {k: load(v) for k, v in a.items()}
        if kind is slice:
            return slice(load(a.start), load(a.stop), load(a.step))
        return a

    for node in tr.nodes:
        if node.op == "placeholder":
            env[node] = _placeholder(node, placeholders, kwargs)
        elif node.op == "get_attr":
            env[node] = _attribute(tr, node, state)
        elif node.op == "output":
            output = load(node.args[0])
        else:
            rec.row = len(names)
            value = _execute(tr.root, node, load(node.args), load(node.kwargs), state)
            env[node] = value
            tensors = [t for t in tree_flatten(value)[0] if isinstance(t, torch.Tensor)]
            if not tensors:
                continue
            names.append(_row_name(node, calls_of))
            out_bytes.append(sum(t.nbytes for t in tensors))
    return output, names, out_bytes


def _placeholder(node: Node, placeholders: Iterator, kwargs: dict) -> Any:
    name = node.target
    if name.startswith("*"):
        return tuple(placeholders)
    if name in kwargs:
        return kwargs[name]
    try:
        return next(placeholders)
    except StopIteration:
        return node.args[0] if node.args else None


def _attribute(tr: Trace, node: Node, state: MetaState) -> Any:
    value = tr.constants.get(node.target)
    if value is None:
        value = tr.root
        for part in node.target.split("."):
            value = getattr(value, part)
    if isinstance(value, torch.Tensor):
        return state._meta(value)
    return value


def _execute(root: nn.Module, node: Node, args: tuple, kwargs: dict, state: MetaState) -> Any:
    if node.op == "call_module":
        return state.call(root.get_submodule(node.target), args, kwargs)
    if node.op == "call_method":
        obj, *rest = args
        return getattr(obj, node.target)(*rest, **kwargs)
    return node.target(*args, **kwargs)


def _row_name(node: Node, calls_of: dict[str, int]) -> str:
    """The summary's name for the row (``path``, ``path@2`` for a second call, fx's name)."""
    if node.op != "call_module":
        return node.name
    calls = calls_of[node.target] = calls_of.get(node.target, 0) + 1
    return node.target if calls == 1 else f"{node.target}@{calls}"


@contextlib.contextmanager
def recording(rec: Recorder, train: bool) -> Iterator[None]:
    """The recorder and, in training, the saved-tensor hooks, on the meta device."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(torch.device("meta"))
        stack.enter_context(torch.enable_grad() if train else torch.no_grad())
        if train:
            stack.enter_context(torch.autograd.graph.saved_tensors_hooks(rec.pack, lambda t: t))
        stack.enter_context(rec)
        yield
