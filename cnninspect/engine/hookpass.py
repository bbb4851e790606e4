"""The fallback when fx cannot trace the top-level forward: forward hooks on every leaf.

Torch functions a container's own ``forward`` calls (``F.conv2d``, ``torch.matmul``) become
rows too, recorded as they run (:mod:`cnninspect.engine.inner_calls`), so their cost is not
dropped. A leaf the op catalogue prices is one row; a leaf it does not (GPT-2's ``Conv1D``,
which calls ``torch.addmm``) is one row priced from the torch calls recorded inside it.

It first runs on the meta device (free, no data); when the model's forward needs
real values (data-dependent control flow), it runs once for real on the model's
device, under ``no_grad``, with buffers and RNG state restored afterwards.
"""

from __future__ import annotations

import weakref
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from cnninspect.engine.compat import torch_function_off, tree_flatten, tree_map
from cnninspect.engine.guard import ModelGuard
from cnninspect.engine.hooks import stand_ins
from cnninspect.engine.inner_calls import InnerCalls
from cnninspect.engine.inputs import Inputs
from cnninspect.engine.ops.catalogue import COSTS, describes
from cnninspect.engine.ops.registry import Call
from cnninspect.engine.propagate import MetaState, NodeRecord, has_tensor, meta_like
from cnninspect.errors import InputShapeError, ModelError


def _leaves(model: nn.Module) -> list[tuple[str, nn.Module]]:
    out: list[tuple[str, nn.Module]] = []
    for name, m in model.named_modules():
        children = list(m.children())
        if not children or (
            (type(m).__module__.startswith(("torch.nn", "torch.ao.nn")) or describes(m))
            and not isinstance(m, (nn.Sequential, nn.ModuleList, nn.ModuleDict))
        ):
            if any(name.startswith(o + ".") for o, _ in out):
                continue
            out.append((name, m))
    return out


def hook_records(
    model: nn.Module, inputs: Inputs, device: Any, warnings: list[str]
) -> tuple[list[NodeRecord], Any, str]:
    """One record per leaf-module call, from a meta run if possible, else a real one."""
    guard = ModelGuard(model)
    try:
        records, out = _run(model, inputs, real=False, device=device, warnings=warnings)
        return records, out, "hooks (meta)"
    except _Failed as failed:
        guard.restore_attributes()  # drop what the meta run cached before the real one
        if not needs_real_values(failed.error):
            raise failed.as_user_error() from failed.error
        on_meta = _model_on_meta(model)
        if on_meta and _state_bytes(model) > STAND_IN_LIMIT:
            # Too big to stand in for: keep what the meta run saw and say where it stopped.
            warnings.append(
                f"stopped at {failed.where!r} ({failed.kind}): it needs real values "
                f"({_first_line(failed.error)}), which a model on the meta device has not, and its "
                f"{_state_bytes(model) / 2**30:.1f} GiB of weights are over the "
                f"{STAND_IN_LIMIT / 2**30:.0f} GiB cnninspect will allocate to stand in for them; rows "
                "after it are missing (totals still count every parameter); summarise the model "
                "with real weights to see them"
            )
            return failed.records, None, "hooks (meta, partial)"
        warnings.append(
            f"the forward needs real values ({failed.where}: {_first_line(failed.error)}); "
            + (
                "the model is on the meta device, so it ran once for real on the CPU with random "
                "stand-in weights and random input"
                if on_meta
                else "ran it once for real on random input"
            )
        )
        if on_meta:
            device = "cpu"
    try:
        records, out = _run(model, inputs, real=True, device=device, warnings=warnings)
    except _Failed as failed:
        error = failed.as_user_error()
        if on_meta:  # the stand-ins, not the input, may be what the forward could not take
            error = type(error)(f"{error}{_stand_in_hint(model)}")
        raise error from failed.error
    return records, out, "hooks (real forward)"


def _stand_in_hint(model: nn.Module) -> str:
    """Why a meta model's stand-in run may fail where the real model would not: integer and
    boolean buffers (EnCodec keeps each conv's stride in one) have no value on meta and stand in as 0."""
    counts = [n for n, b in model.named_buffers() if b.device.type == "meta" and not b.dtype.is_floating_point]
    held = f" (its integer buffers, such as {', '.join(counts[:3])}, stood in as 0)" if counts else ""
    return (
        "; the model is on the meta device, so this ran on stand-in values" + held + ": build the "
        "model on the CPU (or load its weights) so that its forward reads the values it was made with"
    )


def needs_real_values(error: BaseException) -> bool:
    """Errors that mean "meta tensors cannot answer this", not "the input is wrong"."""
    text = str(error).lower()
    return (
        isinstance(error, NotImplementedError)
        or "meta" in text
        or "data-dependent" in text
        or "nonzero" in text
    )


class _Failed(Exception):
    def __init__(
        self, where: str, kind: str, error: BaseException, is_leaf: bool, records: list[NodeRecord]
    ) -> None:
        super().__init__(where)
        self.where, self.kind, self.error, self.is_leaf = where, kind, error, is_leaf
        self.records = records

    def as_user_error(self) -> Exception:
        msg = _first_line(self.error)
        if self.is_leaf and not isinstance(self.error, NotImplementedError):
            return InputShapeError(
                f"layer {self.where!r} ({self.kind}) cannot take its input: {msg}"
            )
        return ModelError(
            f"the model's forward raised {type(self.error).__name__} in {self.where!r} ({self.kind}): {msg}"
        )


class _LeafRecorder:
    """The hooks' shared state: a record per leaf-module call, and the calls still running."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        leaves = _leaves(model)
        self.leaf_ids = {id(m) for _, m in leaves}
        self.params_by_module = {
            id(m): list(m.named_parameters(prefix=n, remove_duplicate=False)) for n, m in leaves
        }
        self.calls: dict[str, int] = {}
        self.records: list[NodeRecord] = []
        self.stack: list[tuple[str, nn.Module]] = []
        self.handles: list[Any] = []
        self.inner = InnerCalls(sink=self.functional)
        # leaves no rule prices, still running: each collects the torch calls made inside it
        self.open_leaves: list[tuple[nn.Module, list[tuple[str, Call]]]] = []
        # the model's own tensors and their meta stand-ins: what those inner calls may read
        # besides the leaf's input and each other's outputs (for receptive fields)
        self.constants: set[int] = set()
        self.copies = _MetaCopies(self.constants)
        self.aliases: dict[int, nn.Parameter] = {}  # a parameter's meta stand-in -> the parameter

    def attach(self) -> None:
        for name, m in self.model.named_modules():
            try:
                self.handles.append(m.register_forward_pre_hook(lambda mod, a, _n=name: self.pre(mod, _n)))
                self.handles.append(
                    m.register_forward_hook(
                        lambda mod, a, kw, o, _n=name: self.post(mod, a, kw, o, _n), with_kwargs=True
                    )
                )
            except RuntimeError:
                pass  # ScriptModules take no hooks

    def detach(self) -> None:
        for h in self.handles:
            h.remove()

    def pre(self, mod: nn.Module, name: str) -> None:
        self.stack.append((name, mod))
        inside_leaf = bool(self.inner.frames) and self.inner.frames[-1].costed
        leaf = id(mod) in self.leaf_ids
        if leaf and not self.open_leaves and COSTS.lookup(type(mod)) is None:
            self.open_leaves.append((mod, []))  # priced from what runs inside it
            leaf = False
        self.inner.enter(name, mod, costed=inside_leaf or (leaf and not self.open_leaves))

    def post(self, mod: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any, name: str) -> None:
        if self.stack and self.stack[-1][1] is mod:
            self.stack.pop()
            self.inner.leave()
        inner: list[tuple[str, Call]] = []
        opened = bool(self.open_leaves) and self.open_leaves[-1][0] is mod
        if opened:
            inner = self.open_leaves.pop()[1]
        if id(mod) not in self.leaf_ids or not has_tensor(out):
            return
        index = self.calls[name] = self.calls.get(name, 0) + 1
        call = Call(
            "call_module", mod, type(mod).__name__, *self.copies.args(args, kwargs), mod, self.copies(out)
        )
        self.records.append(
            NodeRecord(
                name=name if index == 1 else f"{name}@{index}",
                op="hook",  # the row's origin, for the JSON contract; the call itself is call_module
                kind=type(mod).__name__,
                call=call,
                scope=name.rsplit(".", 1)[0] if "." in name else "",
                module_path=name,
                inputs=[],
                params=self.params_by_module[id(mod)],
                children=[(n.removeprefix(name + "."), c) for n, c in inner],
                priced_inside=opened,
                constants=self.constants if opened else frozenset(),
                call_index=index,
            )
        )

    def functional(self, name: str, call: Call) -> None:
        """A torch call a container's forward made itself: a row (one no rule costs says so, and
        makes the total a lower bound); inside a leaf no rule prices, a part of that leaf's cost."""
        if self.open_leaves:
            args, kwargs, out = self.copies((call.args, call.kwargs, call.out))
            self.open_leaves[-1][1].append(
                (name, Call(call.op, call.target, call.kind, tuple(args), dict(kwargs), None, out, call.extra))
            )
            return
        index = self.calls[name] = self.calls.get(name, 0) + 1
        scope = self.inner.frames[-1].name if self.inner.frames else ""
        args, kwargs, out = self.copies((call.args, call.kwargs, call.out))
        self.records.append(
            NodeRecord(
                name=name if index == 1 else f"{name}@{index}",
                op=call.op,
                kind=call.kind,
                call=Call(call.op, call.target, call.kind, tuple(args), dict(kwargs), None, out, call.extra),
                scope=scope,
                module_path=None,
                inputs=[],
                params=[],
                call_index=index,
            )
        )

    def failure(self, exc: BaseException) -> _Failed:
        """Where the forward stopped, with the rows recorded up to there."""
        where, mod = self.stack[-1] if self.stack else ("", self.model)
        _attribute_direct_params(self.model, self.records, self.aliases)
        return _Failed(
            where or "<root>", type(mod).__name__, exc, id(mod) in self.leaf_ids, self.records
        )


def _run(
    model: nn.Module, inputs: Inputs, real: bool, device: Any, warnings: list[str]
) -> tuple[list[NodeRecord], Any]:
    recorder = _LeafRecorder(model)
    try:
        recorder.attach()
        try:
            if real:
                out = _real_forward(model, inputs, device, recorder)
            else:
                state = MetaState()
                state.for_module(model)  # made before recording: copying weights is no call of the model's
                recorder.constants.update(state.tensor_ids(model))
                recorder.aliases = state.aliases(model)
                with torch.device("meta"), recorder.inner:
                    out = state.call(model, inputs.args, inputs.kwargs)
        except Exception as exc:
            raise recorder.failure(exc) from exc
    finally:
        recorder.detach()
    _attribute_direct_params(model, recorder.records, recorder.aliases)
    return recorder.records, out


def _attribute_direct_params(
    model: nn.Module, records: list[NodeRecord], aliases: dict[int, nn.Parameter] | None = None
) -> None:
    """Parameters a non-leaf module owns itself (a ViT's class token) belong to no leaf: each
    goes to the first row whose call read it (the ``cat`` of the class token, the ``mul`` of a
    layer scale), else to the first row recorded inside that module. ``aliases`` maps the ids
    of stand-ins the forward ran on to the parameters they stand for."""
    read = _first_reader(records, aliases or {})
    for path, module in model.named_modules():
        own = list(module.named_parameters(prefix=path, recurse=False))
        if not own or not list(module.children()):
            continue
        inside = [r for r in records if _is_inside(r, path)]
        for name, p in own:
            rec = read.get(id(p)) or (inside[0] if inside else None)
            if rec is not None and not any(p is q for _, q in rec.params):
                rec.params = rec.params + [(name, p)]


def _is_inside(rec: NodeRecord, path: str) -> bool:
    where = rec.module_path if rec.module_path is not None else rec.scope
    return not path or where == path or where.startswith(path + ".")


def _first_reader(records: list[NodeRecord], aliases: dict[int, nn.Parameter]) -> dict[int, NodeRecord]:
    """Parameter id -> the first functional row that took it as an argument."""
    first: dict[int, NodeRecord] = {}
    for rec in records:
        if rec.module_path is not None:
            continue
        for v in tree_flatten((rec.call.args, rec.call.kwargs))[0]:
            if isinstance(v, torch.Tensor):
                p = aliases.get(id(v), v)
                first.setdefault(id(p), rec)
    return first


def _real_forward(model: nn.Module, inputs: Inputs, device: Any, recorder: _LeafRecorder) -> Any:
    args, kwargs = inputs.make_real(device)
    inner = recorder.inner
    recorder.copies.weights.update(id(t) for t in list(model.parameters()) + list(model.buffers()))
    if _model_on_meta(model):
        state = stand_ins(model, torch.device(device))
        recorder.copies.weights.update(id(t) for t in state.values())
        with torch.no_grad(), torch.random.fork_rng(devices=[]), inner:
            return functional_call(model, state, args, kwargs, tie_weights=True, strict=False)
    saved = {name: b.detach().clone() for name, b in model.named_buffers()}
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[]), inner:
            return model(*args, **kwargs)
    finally:
        with torch.no_grad():
            for name, b in model.named_buffers():
                if name in saved and b.shape == saved[name].shape:
                    b.copy_(saved[name])


class _MetaCopies:
    """Meta copies of what a forward passed around, one per tensor, so that the calls recorded
    inside a leaf stay joined by identity (for receptive fields) and no real activation is
    kept. A meta tensor stays itself; the copy of a weight (``weights``: ids of the model's
    real tensors and stand-ins) is noted in ``constants``."""

    def __init__(self, constants: set[int]) -> None:
        self.constants = constants
        self.weights: set[int] = set()
        self._made: dict[int, tuple[weakref.ref, torch.Tensor]] = {}

    def __call__(self, value: Any) -> Any:
        with torch_function_off():
            try:
                return tree_map(self._meta_of, value)
            except ValueError:  # a PackedSequence refuses meta batch sizes: its tensors, as a tuple
                return tuple(self._meta_of(v) for v in tree_flatten(value)[0])

    def args(self, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        """A leaf's inputs: copied, unless a PackedSequence would lose its type (its rule reads it)."""
        with torch_function_off():
            try:
                return tree_map(self._meta_of, tuple(args)), tree_map(self._meta_of, dict(kwargs))
            except ValueError:
                return tuple(args), dict(kwargs)

    def _meta_of(self, v: Any) -> Any:
        if not isinstance(v, torch.Tensor) or v.device.type == "meta":
            return v
        held = self._made.get(id(v))
        if held is not None and held[0]() is v:
            return held[1]
        copy = meta_like(v)
        self._made[id(v)] = (weakref.ref(v), copy)
        if id(v) in self.weights:
            self.constants.add(id(copy))
        return copy


# The most a meta model's forward that needs real values may allocate for stand-in weights.
STAND_IN_LIMIT = 4 * 2**30


def _state_bytes(model: nn.Module) -> int:
    tensors = {id(t): t for t in list(model.parameters()) + list(model.buffers())}
    return sum(t.numel() * t.element_size() for t in tensors.values())


def _model_on_meta(model: nn.Module) -> bool:
    return any(t.device.type == "meta" for t in list(model.parameters()) + list(model.buffers()))


def _first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
