"""Replays and traces remembered per model, so a second report of the same setup costs no replay.

A replay's log depends on the model's code, its module tree and every setting its modules
hold, its parameters' and buffers' shapes, dtypes and ``requires_grad``, the input, and the
dtype and autocast of the run -- never on tensor values (everything runs on meta). The key
holds all of these by value (a module's other objects by identity, as the trace cache
keys its callables), so a model changed in any of them is replayed afresh. Models are held
weakly and the values hold no reference to them, so the cache never keeps a model alive.

A key that holds no object by identity -- every setting a plain value, a class, a plain
function or a ``partial`` of those, no hook, shapes for input -- describes the replay
completely, whichever model it was read from. Results asked for with ``shared=True`` (the
report, the table's saved bytes: plain values) are then also remembered under that key
alone, so a freshly built model of an architecture already reported costs no replay.
"""

from __future__ import annotations

import functools
import types
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

import torch
from torch import nn
from torch.nn.modules import module as module_hooks

from cnninspect.engine.inventory import Inventory

T = TypeVar("T")

_PER_MODEL = 16  # setups and traces remembered per model (a budget search visits a handful)
_SIMPLE = frozenset({bool, int, float, str, type(None), torch.dtype, torch.device})
_REPLAYS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_SHARED_SIZE = 64  # results remembered by structure alone, across models
_SHARED: OrderedDict[tuple, Any] = OrderedDict()
_INTERNAL = frozenset(nn.Module().__dict__)  # nn.Module's own bookkeeping, hooks included
_DEPTH = 6  # nesting read by value in a setting; deeper, the object is held by identity
# objects a key may hold as themselves: compared by identity, but module-level, so holding
# them keeps nothing of a model alive and their identity is never reused while held
_ROUTINES = (type, types.FunctionType, types.BuiltinFunctionType)
_HOOKS = (
    "_forward_hooks",
    "_forward_pre_hooks",
    "_global_forward_hooks",
    "_global_forward_pre_hooks",
)


class Key(tuple):
    """A :func:`setup_key`: a tuple, and whether it describes the replay without any object
    held by identity (see the module's docstring)."""

    portable: bool


def structure(tree: Inventory) -> Key:
    """The model's part of every key: read once per report, shared by its replays' keys."""
    foreign: list[object] = []  # what the key holds by id: it is then valid for this model only
    modules = tuple([(path, _module(m, foreign)) for path, m in tree.modules])
    tensors = tuple(
        [
            (name, t.shape, t.dtype, t.requires_grad, type(t))
            for name, t in (*tree.params, *tree.buffers)
        ]
    )
    hooks = _hooks(vars(module_hooks), foreign)
    base = Key((modules, tensors, hooks, torch.get_default_dtype()))
    base.portable = not foreign
    return base


def setup_key(model: Inventory | Key, *setup: Any) -> Key:
    """What a replay of this model depends on: its :func:`structure` (or the inventory to
    read it from) and ``setup`` (the input and the run's options)."""
    base = model if isinstance(model, Key) else structure(model)
    key = Key((base, setup))
    key.portable = base.portable and all(map(_plain_input, setup))
    return key


def _module(m: nn.Module, foreign: list[object]) -> tuple:
    """A module's class, mode, forward hooks and every setting it holds, private ones too
    (``_is_cn``, ``_norm_layer``: a forward may branch on them); nn.Module's bookkeeping aside.

    Runs for every module of every report, so the common settings take a short path."""
    parts: list[Any] = [type(m), m.training, _hooks(m.__dict__, foreign)]
    for k, v in m.__dict__.items():
        kind = type(v)
        if kind in _SIMPLE:  # the type too: 1, 1.0 and True are equal keys but not settings
            parts.append((k, kind, v))
        elif k in _INTERNAL:
            continue
        elif kind is tuple and _SIMPLE.issuperset(map(type, v)):  # kernel_size, stride...
            parts.append((k, v, tuple(map(type, v))))
        else:
            parts.append((k, _value(v, foreign)))
    return tuple(parts)


def _plain_input(part: Any) -> bool:
    """A setup part other than an input spec, or a spec of shapes and plain keywords only."""
    if not hasattr(part, "shapes"):
        return True
    kwargs = getattr(part, "kwargs", None) or {}
    return part.data is None and all(type(v) in _SIMPLE for v in kwargs.values())


def _hooks(where: dict[str, Any], foreign: list[object]) -> tuple:
    """The forward hooks a call runs (a hook may add ops): by identity, as registered."""
    found = tuple(
        [(name, tuple(map(id, where[name].values()))) for name in _HOOKS if where.get(name)]
    )
    if found:
        foreign.append(found)
    return found


def _value(v: Any, foreign: list[object], depth: int = 0) -> Any:
    kind = type(v)
    if kind in _SIMPLE:
        return kind, v
    if depth > _DEPTH:
        foreign.append(v)
        return id(v)
    if kind is tuple or kind is list:
        return kind, tuple([_value(x, foreign, depth + 1) for x in v])
    if kind is dict:
        items = [(_value(k, foreign), _value(x, foreign, depth + 1)) for k, x in v.items()]
        return kind, tuple(items)
    if isinstance(v, torch.Tensor):  # a plain tensor attribute: only its metadata reaches meta
        return v.shape, v.dtype, v.device
    if isinstance(v, _ROUTINES) and getattr(v, "__closure__", None) is None:
        return v
    if kind is functools.partial:
        items = sorted(v.keywords.items())
        return kind, *[_value(x, foreign, depth + 1) for x in (v.func, v.args, items)]
    foreign.append(v)
    return id(v)


def remembered(model: nn.Module, key: tuple, make: Callable[[], T], *, shared: bool = False) -> T:
    """``make()``'s result for ``key``, made once while the model lives and the key holds;
    with ``shared``, once per portable key whatever the model (the result must hold no
    reference to the model)."""
    try:
        per_model = _REPLAYS.setdefault(model, {})
    except TypeError:  # a module that cannot be weakly referenced: never remembered
        return make()
    if key in per_model:
        return per_model[key]
    shared = shared and getattr(key, "portable", False)
    if shared and key in _SHARED:
        _SHARED.move_to_end(key)
        value = _SHARED[key]
    else:
        value = make()
        if shared:
            _SHARED[key] = value
            if len(_SHARED) > _SHARED_SIZE:
                _SHARED.popitem(last=False)
    if len(per_model) >= _PER_MODEL:
        del per_model[next(iter(per_model))]
    per_model[key] = value
    return value


def forget() -> None:
    """Drop every remembered replay (tests that time a first replay call this)."""
    _REPLAYS.clear()
    _SHARED.clear()
