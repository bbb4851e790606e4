"""An independent snapshot of everything a summary or forward could disturb in a model.

The tests hold "the model is left as found" to this, never to cnninspect's own ModelGuard (the
code that restores the model cannot also be the judge of whether it did).
"""

from __future__ import annotations

import torch
from torch import nn


def snapshot(model: nn.Module) -> dict:
    """Modes, grad flags, parameter identity and storage, devices, values, grads, hooks, attributes."""
    return {
        "modules": [(name, id(m)) for name, m in model.named_modules()],
        "attributes": [sorted(vars(m)) for m in model.modules()],
        "modes": [m.training for m in model.modules()],
        "grad_flags": [p.requires_grad for p in model.parameters()],
        "param_ids": [id(p) for p in model.parameters()],
        "data_ptrs": [p.data_ptr() for p in model.parameters() if p.device.type != "meta"],
        "devices": [t.device for t in list(model.parameters()) + list(model.buffers())],
        "values": {k: v.clone() for k, v in model.state_dict().items()},
        "grads": [p.grad for p in model.parameters()],
        "hooks": [
            (len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks),
             len(m._forward_hooks_with_kwargs), len(m._forward_pre_hooks_with_kwargs))
            for m in model.modules()
        ],  # fmt: skip
        "global_hooks": (
            len(nn.modules.module._global_forward_hooks),
            len(nn.modules.module._global_forward_pre_hooks),
        ),
    }


def assert_unchanged(model: nn.Module, before: dict) -> None:
    after = snapshot(model)
    for key in ("modules", "attributes", "modes", "grad_flags", "param_ids", "data_ptrs", "devices", "hooks", "global_hooks"):
        assert after[key] == before[key], key
    assert after["values"].keys() == before["values"].keys()
    for name, value in before["values"].items():
        now = after["values"][name]
        if value.device.type == "meta":
            assert (now.shape, now.dtype) == (value.shape, value.dtype), name
        else:
            assert torch.equal(now, value), name
    assert all(a is b for a, b in zip(after["grads"], before["grads"]))
