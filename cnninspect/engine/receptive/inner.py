"""The receptive-field effect of an opaque module, read from the torch calls recorded inside it.

fx cannot trace timm's ``Conv2dSame`` (it pads by the input's size) or a block that branches on
shapes, but running it on meta records each inner call with the very tensors it read and made.
Matching those tensors by identity gives the module's inner graph; the same per-op rules then
give the field of its output relative to its input, which composes with the outer field as one
window (a field of size r, jump j and centre offset s is the window ``o*j + s -+ (r-1)/2``).
A module that returns its input untouched keeps the field; one whose output comes from its own
tensors and the input's sizes alone (a cached position table) reaches no input position.
Anything else the graph cannot account for -- a tensor from nowhere (a property read such as
``x.T``), a second spatial input, axes that moved -- gives None: the field stays unknown.
The one window keeps the field's size, jump and centre exact; a dilated kernel's holes inside
the module are not kept, so a border unit's region is then the bounding box of what it reads.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import torch

from cnninspect.engine.compat import tree_flatten
from cnninspect.engine.ops.receptive import AxisWindow, Constant, Effect, Global, Keep, Window
from cnninspect.engine.ops.registry import first_tensor
from cnninspect.engine.propagate import NodeRecord
from cnninspect.engine.receptive.report import exact

if TYPE_CHECKING:
    from cnninspect.engine.receptive.analyse import _State

Step = Callable[[NodeRecord, list[tuple[str, Any]], bool], tuple[Any, Any]]


def _tensors(value: Any) -> list[torch.Tensor]:
    return [v for v in tree_flatten(value)[0] if isinstance(v, torch.Tensor)]


def opaque_effect(rec: NodeRecord, primary: _State, base: _State, step: Step) -> Effect | None:
    """The module's effect on ``primary``'s axes, or None when its inner calls cannot tell."""
    x = first_tensor(rec.call.args) if rec.call.args else first_tensor(rec.call.kwargs)
    if x is None:
        return None
    producers: dict[int, str] = {id(x): "input:"}
    others = {id(t) for t in _tensors((rec.call.args, rec.call.kwargs))} - {id(x)}
    states: dict[str, Any] = {"input:": base}
    for index, (name, call) in enumerate(rec.children):
        key = f"{index}:{name}"
        sources: list[str] = []
        for t in _tensors((call.args, call.kwargs)):
            src = producers.get(id(t))
            if src is None and (id(t) in others or id(t) not in rec.constants):
                return None  # a second input, or a tensor the record cannot trace back
            if src is not None and src not in sources:
                sources.append(src)
        inner = NodeRecord(key, call.op, call.kind, call, "", None, sources)
        ins = [(n, states[n]) for n in sources if states.get(n) is not None]
        state, _ = step(inner, ins, False)
        for t in _tensors(call.out):
            producers[id(t)] = key
        if state is not None:
            states[key] = state
    out = first_tensor(rec.out)
    if out is None:
        return None
    made_by = producers.get(id(out))
    if (made_by is None and id(out) in rec.constants) or (made_by is not None and made_by not in states):
        return Constant("made inside the module from its own tensors and sizes: no input position reaches it")
    final = states.get(made_by or "")
    return None if final is None else _as_effect(final, primary)


def _as_effect(final: _State, primary: _State) -> Effect | None:
    if final.kind == "global":
        return Global(f"inside the module: {final.why}")
    if final.kind != "spatial" or final.misaligned or final.dims != primary.dims:
        return None
    if all(r == 1 and j == 1 and s == 0 for r, j, s in zip(final.r, final.j, final.start)):
        return Keep()
    width = -min(primary.dims)
    axes = [AxisWindow(1, 0, 0)] * width
    kernel = [1] * width
    for a, d in enumerate(primary.dims):
        half = exact(Fraction(final.r[a] - 1) / 2)
        axes[width + d] = AxisWindow(final.j[a], final.start[a] - half, final.start[a] + half)
        kernel[width + d] = final.naive[a]
    return Window(tuple(axes), tuple(kernel))
