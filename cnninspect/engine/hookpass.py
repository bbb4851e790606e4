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

from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from cnninspect.engine.compat import torch_function_off, tree_flatten, tree_map
from cnninspect.engine.guard import ModelGuard
from cnninspect.engine.hooks import stand_ins
from cnninspect.engine.inner_calls import InnerCalls
from cnninspect.engine.inputs import Inputs
from cnninspect.engine.ops.catalogue import COSTS, has_rule
from cnninspect.engine.ops.registry import Call, op_key
from cnninspect.engine.propagate import MetaState, NodeRecord, has_tensor, meta_like
from cnninspect.errors import InputShapeError, ModelError


def _leaves(model: nn.Module) -> list[tuple[str, nn.Module]]:
    out: list[tuple[str, nn.Module]] = []
    for name, m in model.named_modules():
        children = list(m.children())
        if not children or (
            (type(m).__module__.startswith(("torch.nn", "torch.ao.nn")) or has_rule(type(m)))
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
        raise failed.as_user_error() from failed.error
    return records, out, "hooks (real forward)"


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
        self.uncosted: set[str] = set()  # kinds of functional calls no rule costs
        # leaves no rule prices, still running: each collects the torch calls made inside it
        self.open_leaves: list[tuple[nn.Module, list[tuple[str, Call]]]] = []
        # the model's own tensors and their meta stand-ins: what those inner calls may read
        # besides the leaf's input and each other's outputs (for receptive fields)
        self.constants: frozenset[int] = frozenset()

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
            "call_module", mod, type(mod).__name__, tuple(args), dict(kwargs), mod, _detach(out)
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
        """A torch call a container's forward made itself: a row, or one warning when no rule costs
        it; inside a leaf no rule prices, a part of that leaf's cost."""
        if self.open_leaves:
            args, kwargs, out = _detach((call.args, call.kwargs, call.out))
            self.open_leaves[-1][1].append(
                (name, Call(call.op, call.target, call.kind, tuple(args), dict(kwargs), None, out))
            )
            return
        if COSTS.lookup(op_key(call.op, call.target)) is None:
            self.uncosted.add(call.kind)
            return
        index = self.calls[name] = self.calls.get(name, 0) + 1
        scope = self.inner.frames[-1].name if self.inner.frames else ""
        args, kwargs, out = _detach((call.args, call.kwargs, call.out))
        self.records.append(
            NodeRecord(
                name=name if index == 1 else f"{name}@{index}",
                op=call.op,
                kind=call.kind,
                call=Call(call.op, call.target, call.kind, tuple(args), dict(kwargs), None, out),
                scope=scope,
                module_path=None,
                inputs=[],
                params=[],
                call_index=index,
            )
        )

    def warn_uncosted(self, warnings: list[str]) -> None:
        if self.uncosted:
            warnings.append(
                "the forward's own functional ops without a MAC rule are counted as 0: "
                + ", ".join(sorted(self.uncosted))
            )

    def failure(self, exc: BaseException) -> _Failed:
        """Where the forward stopped, with the rows recorded up to there."""
        where, mod = self.stack[-1] if self.stack else ("", self.model)
        _attribute_direct_params(self.model, self.records)
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
                out = _real_forward(model, inputs, device, recorder.inner)
            else:
                state = MetaState()
                state.for_module(model)  # made before recording: copying weights is no call of the model's
                recorder.constants = state.tensor_ids(model)
                with torch.device("meta"), recorder.inner:
                    out = state.call(model, inputs.args, inputs.kwargs)
        except Exception as exc:
            raise recorder.failure(exc) from exc
    finally:
        recorder.detach()
    _attribute_direct_params(model, recorder.records)
    recorder.warn_uncosted(warnings)
    return recorder.records, out


def _attribute_direct_params(model: nn.Module, records: list[NodeRecord]) -> None:
    """Parameters a non-leaf module owns itself (a ViT's class token) belong to no leaf;
    give them to the first row recorded inside that module, where they are first used."""
    for path, module in model.named_modules():
        own = list(module.named_parameters(prefix=path, recurse=False))
        if not own or not list(module.children()):
            continue
        for rec in records:
            if (
                not path
                or rec.module_path == path
                or (rec.module_path or "").startswith(path + ".")
            ):
                if not any(p is q for _, q in rec.params for _, p in own):
                    rec.params = rec.params + own
                break


def _real_forward(model: nn.Module, inputs: Inputs, device: Any, inner: InnerCalls) -> Any:
    args, kwargs = inputs.make_real(device)
    if _model_on_meta(model):
        state = stand_ins(model, torch.device(device))
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


def _detach(out: Any) -> Any:
    with torch_function_off():
        return _to_meta(out)


def _to_meta(out: Any) -> Any:
    try:
        return tree_map(_meta_of, out)
    except ValueError:  # a PackedSequence refuses meta batch sizes: keep its tensors, as a tuple
        return tuple(_meta_of(v) for v in tree_flatten(out)[0])


def _meta_of(v: Any) -> Any:
    """A meta tensor stays itself: the calls recorded inside a leaf are joined by identity."""
    if isinstance(v, torch.Tensor) and v.device.type != "meta":
        return meta_like(v)
    return v


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
