"""The module tree with parameters per module: a summary that needs no input at all.

An ``EmptyModule``, a bare ``ModuleList`` or a model whose input is not known yet
cannot be traced, but its structure and parameter counts are still facts of the
model. :func:`module_tree` walks ``_modules`` the way the model holds them (a module
placed twice is listed twice and flagged ``repeated``), and :func:`tree_totals`
counts every parameter once, so the totals equal ``sum(p.numel() for p in
model.parameters())`` whatever the sharing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.parameter import is_lazy


@dataclass
class TreeRow:
    """One module of the tree, at ``depth`` (the root is 0)."""

    path: str  # '' for the root, 'layers.0' below it
    name: str  # the attribute name in its parent; the class name for the root
    kind: str  # class name
    depth: int
    module: nn.Module
    num_params: int  # every parameter of the module and its children, each once
    trainable_params: int
    param_bytes: int
    repeated: bool  # the same module object was listed earlier (shared or reused)
    is_leaf: bool  # no child modules
    lazy: bool = False  # holds uninitialised (lazy) parameters, counted as 0


@dataclass(frozen=True)
class TreeTotals:
    total_params: int
    trainable_params: int
    param_bytes: int
    buffer_bytes: int
    lazy_params: list[str]  # names of uninitialised parameters (not counted)


def module_tree(model: nn.Module) -> list[TreeRow]:
    """Every module of ``model`` in definition order, parents before their children."""
    rows: list[TreeRow] = []
    seen: set[int] = set()
    stack: list[tuple[str, str, nn.Module, int]] = [("", type(model).__name__, model, 0)]
    while stack:
        path, name, module, depth = stack.pop()
        rows.append(_row(path, name, module, depth, id(module) in seen))
        seen.add(id(module))
        children = [(n, m) for n, m in module._modules.items() if m is not None]
        prefix = f"{path}." if path else ""
        stack += [(prefix + n, n, m, depth + 1) for n, m in reversed(children)]
    return rows


def _row(path: str, name: str, module: nn.Module, depth: int, repeated: bool) -> TreeRow:
    num = trainable = size = 0
    lazy = False
    for p in module.parameters():
        if is_lazy(p):
            lazy = True
            continue
        num += p.numel()
        trainable += p.numel() if p.requires_grad else 0
        size += p.numel() * p.element_size()
    kind = _kind(module)
    has_children = any(m is not None for m in module._modules.values())
    return TreeRow(
        path, name, kind, depth, module, num, trainable, size, repeated, not has_children, lazy
    )


def _kind(module: nn.Module) -> str:
    if isinstance(module, torch.jit.ScriptModule):
        return getattr(module, "original_name", None) or type(module).__name__
    return type(module).__name__


def tree_totals(model: nn.Module) -> TreeTotals:
    """Parameters and bytes of ``model``, each tensor counted once; lazy ones named, not counted."""
    total = trainable = size = 0
    lazy: list[str] = []
    for name, p in model.named_parameters():
        if is_lazy(p):
            lazy.append(name)
            continue
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
        size += p.numel() * p.element_size()
    buffers = sum(b.numel() * b.element_size() for b in model.buffers() if not is_lazy(b))
    return TreeTotals(total, trainable, size, buffers, lazy)
