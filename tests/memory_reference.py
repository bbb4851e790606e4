"""Independent memory figures from real CPU runs, for tests/test_memory.py and the benchmark.

Nothing here reads cnninspect: saved bytes come from ``saved_tensors_hooks`` on a real
forward, peaks from the allocator's own events under ``torch.profiler`` (every CPU
allocation and free, with its size), summed in time order.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile


def _storages(tensors) -> dict[int, int]:
    return {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors}


def real_saved_bytes(model: nn.Module, x: torch.Tensor) -> int:
    """Bytes autograd saves on a real training forward, each storage once, parameters and buffers excluded."""
    model.train()
    held = _storages(list(model.parameters()) + list(model.buffers()))
    seen: dict[int, int] = {}
    keep = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        keep.append(t)  # no storage is freed (and its address reused) while we count
        st = t.untyped_storage()
        if st.data_ptr() not in held:
            seen[st.data_ptr()] = st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x)
    return sum(seen.values())


def _profiled_peak(fn) -> int:
    """The largest sum of live bytes the CPU allocator reported while ``fn`` ran."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    live = peak = 0
    for e in sorted(events, key=lambda e: e.start_ns()):
        live += e.nbytes()
        peak = max(peak, live)
    return peak


def measured_inference_peak(model: nn.Module, x: torch.Tensor) -> int:
    """Parameters, buffers and the input, plus the forward's largest live set (eval, no grad)."""
    model.eval()
    base = sum(_storages(list(model.parameters()) + list(model.buffers()) + [x]).values())
    with torch.no_grad():
        model(x)  # warm-up: one-time caches are not the model's memory
        return base + _profiled_peak(lambda: model(x))


def _loss(out) -> torch.Tensor:
    outs = out if isinstance(out, (tuple, list)) else [out]
    return sum(o.float().sum() for o in outs if isinstance(o, torch.Tensor) and o.requires_grad)


def measured_train_peak(model: nn.Module, x: torch.Tensor, optimizer: str = "adamw") -> int:
    """A steady-state step (after a first one made the optimizer state): forward, backward,
    step, zero_grad; parameters, buffers, input and optimizer state counted as held."""
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = {
        "sgd": lambda: torch.optim.SGD(params, lr=1e-3),
        "sgd-momentum": lambda: torch.optim.SGD(params, lr=1e-3, momentum=0.9),
        "adam": lambda: torch.optim.Adam(params, lr=1e-3),
        "adamw": lambda: torch.optim.AdamW(params, lr=1e-3),
    }[optimizer]()

    def step() -> None:
        _loss(model(x)).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    if optimizer != "sgd":  # a first step makes the optimizer's state (plain SGD keeps none)
        step()
    state = [t for s in opt.state.values() for t in s.values() if isinstance(t, torch.Tensor)]
    base = sum(_storages(list(model.parameters()) + list(model.buffers()) + [x] + state).values())
    return base + _profiled_peak(step)
