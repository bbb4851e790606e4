"""What really happens: one real forward with a hook on every module.

The tracer infers shapes on meta tensors; this runs the model's arithmetic once
(batch 1 by default, CPU unless asked) and writes down what every module call
actually received and returned. :mod:`cnninspect.verify` compares the two.

The model is left exactly as it was found: the forward runs through
``torch.func.functional_call`` on stand-in tensors (the parameters themselves on
their own device, fresh copies elsewhere; buffers always copied), so nothing the
forward does can move, overwrite or update the model's own tensors. Train/eval
modes are restored, our hooks removed and the RNG state forked, also when the
forward raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from cnninspect.engine.compat import tree_flatten
from cnninspect.errors import ModelError, OptionError

Shape = tuple[int, ...]


@dataclass
class HookRecord:
    """One module call, as observed."""

    name: str  # module path ('' for the root)
    call: int  # 1 for the module's first call, 2 for its second, ...
    kind: str
    is_leaf: bool
    num_params: int  # parameters the module owns, recursively, each counted once
    input_shapes: list[Shape] = field(default_factory=list)
    arg_count: int = 0  # positional and keyword arguments, tensors or not
    output_shapes: list[Shape] | None = None  # None if the call raised
    param_ids: frozenset[int] = field(default_factory=frozenset, repr=False)

    @property
    def label(self) -> str:
        """The summary's row name for this call: ``path`` or ``path@2``."""
        return self.name if self.call == 1 else f"{self.name}@{self.call}"


@dataclass
class ForwardRecording:
    """Every module call of one real forward, in the order the calls started."""

    model_name: str
    device: str
    input_shapes: list[Shape]
    output_shapes: list[Shape]
    records: list[HookRecord]
    flops: dict[str, int] | None = None  # module path -> FLOPs (all its calls), torch.utils.flop_counter
    total_flops: int | None = None
    param_numel: dict[int, int] = field(default_factory=dict, repr=False)  # id(parameter) -> size

    def get(self, label: str) -> HookRecord | None:
        """The record of ``path`` or ``path@k`` (the k-th call), or None."""
        for rec in self.records:
            if rec.label == label:
                return rec
        return None

    def first_use(self, labels: set[str]) -> dict[str, int]:
        """Parameters per call counted only at their first use among ``labels``.

        That is how a summary counts them: a module called twice, or two modules
        sharing a weight, own it once.
        """
        seen: set[int] = set()
        out: dict[str, int] = {}
        for rec in self.records:
            if rec.label not in labels:
                continue
            fresh = rec.param_ids - seen
            seen |= fresh
            out[rec.label] = sum(self.param_numel[i] for i in fresh)
        return out


def record_forward(
    model: nn.Module,
    input_shape: Any = None,
    *,
    input_data: Any = None,
    dtype: torch.dtype | list[torch.dtype] | None = None,
    device: str | torch.device = "cpu",
    batch_size: int | None = None,
    mode: str | None = None,
    count_flops: bool = False,
) -> ForwardRecording:
    """Run ``model`` once for real and record every module call.

    ``input_shape`` includes the batch dimension, as in :func:`cnninspect.summarize`,
    and may be an :class:`~cnninspect.engine.inputs.InputSpec` (``batch_size``
    overrides the batch of shapes; ``input_data`` keeps its own). ``mode`` is
    ``None`` (keep each module's train/eval mode), ``"eval"`` or ``"train"``. With
    ``count_flops`` the same forward runs under ``torch.utils.flop_counter.FlopCounterMode``.
    """
    from cnninspect.engine.inputs import InputSpec, choose_input

    _check_call(model, mode)
    spec = choose_input(model, InputSpec.of(input_shape, input_data, dtype))
    inputs = (spec.with_batch(batch_size) if batch_size is not None else spec).build()
    device = torch.device(device)
    args, kwargs = inputs.make_real(device)

    recorder = _Recorder(model)
    modes = [(m, m.training) for m in model.modules()]
    counter = None
    try:
        recorder.attach()
        if mode is not None:
            model.train(mode == "train")
        run = _forward_fn(model, device)
        forks = [device.index or 0] if device.type == "cuda" else []
        try:
            with torch.no_grad(), torch.random.fork_rng(devices=forks):
                if count_flops:
                    out, counter = _counted_forward(run, args, kwargs)
                else:
                    out = run(args, kwargs)
        except Exception as exc:
            raise _forward_error(exc, recorder.stack, device, inputs.shapes) from exc
    finally:
        recorder.detach()
        for module, training in modes:
            module.training = training

    recording = ForwardRecording(
        model_name=type(model).__name__,
        device=str(device),
        input_shapes=list(inputs.shapes),
        output_shapes=_shapes(out),
        records=recorder.records,
        param_numel=recorder.numel,
    )
    if counter is not None:
        recording.flops, recording.total_flops = _flops_by_path(counter, type(model).__name__)
    return recording


def _check_call(model: object, mode: str | None) -> None:
    if not isinstance(model, nn.Module):
        raise ModelError(f"record_forward() needs a torch.nn.Module, got {type(model).__name__}")
    if mode not in (None, "eval", "train"):
        raise OptionError(f"mode must be None, 'eval' or 'train', got {mode!r}")


class _Recorder:
    """The hooks' shared state: a record per module call, and the calls still running."""

    def __init__(self, model: nn.Module) -> None:
        self.names: dict[int, tuple[str, nn.Module]] = {}  # id -> first path and the module
        for name, module in model.named_modules(remove_duplicate=False):
            self.names.setdefault(id(module), (name, module))
        self.owned: dict[int, tuple[int, frozenset[int]]] = {}  # id -> (parameters, their ids)
        self.numel: dict[int, int] = {}  # id(parameter) -> size
        for _, module in self.names.values():
            params = list(module.parameters())
            self.owned[id(module)] = (sum(p.numel() for p in params), frozenset(id(p) for p in params))
            self.numel.update((id(p), p.numel()) for p in params)
        self.records: list[HookRecord] = []
        self.calls: dict[str, int] = {}
        self.stack: list[HookRecord] = []
        self.handles: list[Any] = []

    def attach(self) -> None:
        for name, module in self.names.values():
            try:
                self.handles.append(
                    module.register_forward_pre_hook(
                        lambda m, a, kw, _n=name: self.pre(m, a, kw, _n), with_kwargs=True
                    )
                )
                self.handles.append(
                    module.register_forward_hook(
                        lambda m, a, kw, o, _n=name: self.post(o, _n), with_kwargs=True
                    )
                )
            except RuntimeError:  # ScriptModules take no hooks
                pass

    def detach(self) -> None:
        for handle in self.handles:
            handle.remove()

    def pre(self, module: nn.Module, a: tuple[Any, ...], kw: dict[str, Any], name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1
        count, ids = self.owned[id(module)]
        rec = HookRecord(
            name=name,
            call=self.calls[name],
            kind=type(module).__name__,
            is_leaf=not any(True for _ in module.children()),
            num_params=count,
            input_shapes=_shapes((a, kw)),
            arg_count=len(a) + len(kw),
            param_ids=ids,
        )
        self.records.append(rec)
        self.stack.append(rec)

    def post(self, out: Any, name: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i].name == name:
                self.stack.pop(i).output_shapes = _shapes(out)
                break


def _counted_forward(run: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """The forward under ``FlopCounterMode``: its output and the counter."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    # attention's fused fast path is one opaque aten op the counter cannot
    # cost; the plain path does the same arithmetic in ops it can
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        # likewise the fused CPU attention kernels: the math backend is plain matmuls; and
        # autograd on, since the counter's module tracker hooks the gradients of what each
        # module receives, which fails for a parameter passed in under no_grad (timm's CaiT, PiT)
        with counter, sdpa_kernel([SDPBackend.MATH]), torch.enable_grad():
            out = run(args, kwargs)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    return out, counter


def _forward_error(
    exc: Exception, stack: list[HookRecord], device: torch.device, shapes: list[Shape]
) -> ModelError:
    """The user's forward failed: name the module it failed in, and the input it got."""
    where = stack[-1] if stack else None
    place = f" in {where.name!r} ({where.kind})" if where is not None and where.name else ""
    hint = ""
    if "more than 1 value per channel" in str(exc):
        hint = "; batch norm in training mode needs a batch: pass mode='eval' or a batch larger than 1"
    return ModelError(
        f"the model's forward raised {type(exc).__name__}{place} on a real {device.type} "
        f"input of shape {_fmt(shapes)}: {_first_line(exc)}{hint}"
    )


def _forward_fn(model: nn.Module, device: torch.device) -> Any:
    """How to call the model without touching its tensors.

    Eager modules run on stand-ins (:func:`stand_ins`). TorchScript modules cannot
    (their attributes are compiled in): they run where they are, and their buffers
    are copied before and written back after.
    """
    if isinstance(model, torch.jit.ScriptModule):
        own = {t.device for t in list(model.parameters()) + list(model.buffers())}
        if own and own != {device}:
            raise OptionError(
                f"a TorchScript model runs on its own device ({', '.join(map(str, own))}), not {device}; "
                "pass that device"
            )

        def run_scripted(args: tuple, kwargs: dict) -> Any:
            saved = {name: b.detach().clone() for name, b in model.named_buffers()}
            try:
                return model(*args, **kwargs)
            finally:
                for name, b in model.named_buffers():
                    if name in saved and b.shape == saved[name].shape:
                        b.copy_(saved[name])

        return run_scripted
    state = stand_ins(model, device)
    return lambda args, kwargs: torch.func.functional_call(model, state, args, kwargs, tie_weights=True, strict=False)


def stand_ins(model: nn.Module, device: torch.device) -> dict[str, torch.Tensor]:
    """Tensors to run on: parameters as they are (or copied to ``device``), buffers copied.

    A model on the meta device has no values; it gets small random weights so
    that its shapes can still be observed.
    """
    state: dict[str, torch.Tensor] = {}
    made: dict[int, torch.Tensor] = {}  # one stand-in per tensor, so tied weights stay tied
    for name, p in model.named_parameters(remove_duplicate=False):
        if id(p) not in made:
            if p.device.type == "meta":
                made[id(p)] = torch.empty(p.shape, dtype=p.dtype, device=device).normal_(0, 0.02)
            elif p.device != device:
                made[id(p)] = p.detach().to(device)
            else:
                made[id(p)] = p
        state[name] = made[id(p)]
    for name, b in model.named_buffers(remove_duplicate=False):
        if id(b) not in made:
            if b.device.type == "meta":
                fill = 1 if b.dtype.is_floating_point else 0
                made[id(b)] = torch.full(b.shape, fill, dtype=b.dtype, device=device)
            else:
                made[id(b)] = b.detach().to(device, copy=True)
        state[name] = made[id(b)]
    return state


def _flops_by_path(counter: Any, root: str) -> tuple[dict[str, int], int]:
    out: dict[str, int] = {}
    for key, by_op in counter.get_flop_counts().items():
        if key == "Global":
            continue
        path = "" if key == root else key.removeprefix(root + ".")
        out[path] = int(sum(by_op.values()))
    return out, int(counter.get_total_flops())


def _shapes(value: Any) -> list[Shape]:
    leaves, _ = tree_flatten(value)
    return [tuple(v.shape) for v in leaves if isinstance(v, torch.Tensor)]


def _fmt(shapes: list[Shape]) -> str:
    return ", ".join("x".join(map(str, s)) for s in shapes)


def _first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return re.sub(r"\s+", " ", lines[0]) if lines else type(exc).__name__
