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
import itertools
import types
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import torch
from torch import nn
from torch.nn.modules import module as module_hooks
from torch.nn.parameter import is_lazy

T = TypeVar("T")

_PER_MODEL = 16  # setups and traces remembered per model (a budget search visits a handful)
_SIMPLE = frozenset({bool, int, float, str, type(None), torch.dtype, torch.device})
_REPLAYS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_SHARED_SIZE = 64  # results remembered by structure alone, across models
_SHARED: OrderedDict[tuple, Any] = OrderedDict()
_ORDER = tuple(nn.Module().__dict__)  # nn.Module's own bookkeeping, hooks included
_FIRST = len(_ORDER)
_INTERNAL = frozenset(_ORDER)
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


def structure(model: nn.Module) -> Key | None:
    """The model's part of every key, read in one walk of its modules (a report's replays
    share it); None when a parameter or buffer is lazy: it has no shape to read yet."""
    foreign: list[object] = []  # what the key holds by id: it is then valid for this model only
    modules: list[tuple] = []
    tensors: list[tuple] = []
    seen: set[int] = set()
    for path, m in model.named_modules():
        modules.append((path, _module(m, foreign)))
        for slots in (m._parameters, m._buffers):
            for name, t in slots.items():
                if t is None or id(t) in seen:
                    continue
                if is_lazy(t):
                    return None
                seen.add(id(t))
                tensors.append((path, name, t.shape, t.dtype, t.requires_grad, type(t)))
    hooks = _hooks(vars(module_hooks), foreign)
    base = Key((tuple(modules), tuple(tensors), hooks, torch.get_default_dtype()))
    base.portable = not foreign
    return base


def setup_key(base: Key, *setup: Any) -> Key:
    """What a replay of this model depends on: its :func:`structure` and ``setup`` (the input
    and the run's options)."""
    key = Key((base, setup))
    key.portable = base.portable and all(map(_plain_input, setup))
    return key


def _module(m: nn.Module, foreign: list[object]) -> tuple:
    """A module's class, mode, forward hooks and every setting it holds, private ones too
    (``_is_cn``, ``_norm_layer``: a forward may branch on them); nn.Module's bookkeeping aside.

    Runs for every module of every report, so the common settings take a short path."""
    own = m.__dict__
    parts: list[Any] = [type(m), m.training, _hooks(own, foreign)]
    items: Iterable[tuple[str, Any]] = own.items()
    if tuple(own)[:_FIRST] == _ORDER:  # nn.Module.__init__'s bookkeeping first, as usual
        items = itertools.islice(items, _FIRST, None)
    for k, v in items:
        kind = type(v)
        if k in _INTERNAL:
            continue
        if kind in _SIMPLE:  # the type too: 1, 1.0 and True are equal keys but not settings
            parts.append((k, kind, v))
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
