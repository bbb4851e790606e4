"""Summarising never changes the model: snapshot what could change, restore it, prove it."""

from __future__ import annotations

from torch import nn

from cnninspect.engine.inventory import Inventory, inventory


class ModelGuard:
    """Remembers train/eval modes, requires_grad flags, devices and hooks of every module."""

    def __init__(self, model: nn.Module, tree: Inventory | None = None) -> None:
        self.model = model
        tree = tree or inventory(model)
        modules = [m for _, m in tree.modules]
        self.modes = [(m, m.training) for m in modules]
        self.grads = [(p, p.requires_grad) for _, p in tree.params]
        self.devices = [(t, t.device) for _, t in tree.params + tree.buffers]
        self.hooks = [(m, _hook_counts(m)) for m in modules]
        self.attributes = list(zip(modules, tree.attributes))

    def restore_attributes(self) -> None:
        """Undo attributes a forward cached on a module (torchvision's AnchorGenerator keeps
        its anchors this way: a meta run would leave meta tensors behind)."""
        for m, attrs in self.attributes:
            current = m.__dict__
            for key in [k for k in current if k[0] != "_" and k not in attrs]:
                del current[key]
            for key, value in attrs.items():
                if current.get(key, _MISSING) is not value:
                    current[key] = value

    def restore(self) -> None:
        self.restore_attributes()
        for m, training in self.modes:
            if m.training != training:
                m.training = training
        for p, flag in self.grads:
            if p.requires_grad != flag:
                p.requires_grad_(flag)

    def changes(self) -> list[str]:
        """What differs from the snapshot (empty when the model is untouched)."""
        out = []
        for m, training in self.modes:
            if m.training != training:
                out.append(f"{type(m).__name__}.training changed")
        for p, flag in self.grads:
            if p.requires_grad != flag:
                out.append("a parameter's requires_grad changed")
        for t, device in self.devices:
            if t.device != device:
                out.append(f"a tensor moved from {device} to {t.device}")
        for m, counts in self.hooks:
            if _hook_counts(m) != counts:
                out.append(f"hooks on {type(m).__name__} changed")
        return out


_MISSING = object()


def _hook_counts(m: nn.Module) -> tuple[int, ...]:
    return (
        len(m._forward_hooks),
        len(m._forward_pre_hooks),
        len(m._backward_hooks),
        len(getattr(m, "_forward_hooks_with_kwargs", {})),
    )
