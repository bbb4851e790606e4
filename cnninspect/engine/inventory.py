"""One walk over a model's module tree, shared by every step that needs the tree.

``model.parameters()``, ``buffers()`` and ``named_modules()`` each re-walk the tree
recursively; on a deep model a handful of such walks cost more than the whole shape
pass. Everything that needs the tree takes this inventory instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class Inventory:
    modules: list[tuple[str, nn.Module]]  # every module, the root first as ""
    params: list[tuple[str, nn.Parameter]]  # each parameter once, under its first name
    buffers: list[tuple[str, torch.Tensor]]  # each buffer once, under its first name
    # each module's plain attributes (no leading "_"), aligned with ``modules``: the settings a
    # trace depends on and what the guard restores, read in the same walk
    attributes: list[dict[str, Any]]

    @property
    def device(self) -> torch.device:
        for _, t in self.params + self.buffers:
            return t.device
        return torch.device("cpu")

    @property
    def on_meta(self) -> bool:
        return any(t.device.type == "meta" for _, t in self.params + self.buffers)


def inventory(model: nn.Module) -> Inventory:
    modules = list(model.named_modules())
    params: list[tuple[str, nn.Parameter]] = []
    buffers: list[tuple[str, torch.Tensor]] = []
    attributes: list[dict[str, Any]] = []
    seen: set[int] = set()
    for path, module in modules:
        attributes.append({k: v for k, v in module.__dict__.items() if k[0] != "_"})
        prefix = f"{path}." if path else ""
        for name, p in module._parameters.items():
            if p is not None and id(p) not in seen:
                seen.add(id(p))
                params.append((prefix + name, p))
        for name, b in module._buffers.items():
            if b is not None and id(b) not in seen:
                seen.add(id(b))
                buffers.append((prefix + name, b))
    return Inventory(modules, params, buffers, attributes)
