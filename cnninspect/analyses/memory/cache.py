"""Replays and traces remembered per model, so a second report of the same setup costs no replay.

A replay's log depends on the model's code, its module tree and every setting its modules
hold, its parameters' and buffers' shapes, dtypes and ``requires_grad``, the input, and the
dtype and autocast of the run -- never on tensor values (everything runs on meta). The key
holds all of these by value (a module's other objects by identity, as the trace cache
keys its callables), so a model changed in any of them is replayed afresh. Models are held
weakly and the values hold no reference to them, so the cache never keeps a model alive.
"""

from __future__ import annotations

import weakref
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
_HOOKS = (
    "_forward_hooks",
    "_forward_pre_hooks",
    "_global_forward_hooks",
    "_global_forward_pre_hooks",
)


def setup_key(tree: Inventory, *setup: Any) -> tuple:
    """What a replay of this model depends on, besides ``setup`` (the input and the run's options)."""
    modules = tuple(
        [
            (path, type(m), m.training, _settings(attrs), _hooks(m.__dict__))
            for (path, m), attrs in zip(tree.modules, tree.attributes, strict=True)
        ]
    )
    tensors = tuple(
        [
            (name, t.shape, t.dtype, t.requires_grad, type(t))
            for name, t in (*tree.params, *tree.buffers)
        ]
    )
    return modules, tensors, _hooks(vars(module_hooks)), torch.get_default_dtype(), setup


def _hooks(where: dict[str, Any]) -> tuple:
    """The forward hooks a call runs (a hook may add ops): by identity, as registered."""
    return tuple(
        [(name, tuple(map(id, where[name].values()))) for name in _HOOKS if where.get(name)]
    )


def _settings(attrs: dict[str, Any]) -> tuple:
    # the type too: 1, 1.0 and True are equal keys but not equal settings
    return tuple([(k, type(v), v if type(v) in _SIMPLE else _value(v)) for k, v in attrs.items()])


def _value(v: Any) -> Any:
    kind = type(v)
    if kind in _SIMPLE:
        return kind, v
    if kind is tuple or kind is list:
        return kind, tuple([_value(x) for x in v])
    if isinstance(v, torch.Tensor):  # a plain tensor attribute: only its metadata reaches meta
        return v.shape, v.dtype, v.device
    return id(v)


def remembered(model: nn.Module, key: tuple, make: Callable[[], T]) -> T:
    """``make()``'s result for ``key``, made once while the model lives and the key holds."""
    try:
        per_model = _REPLAYS.setdefault(model, {})
    except TypeError:  # a module that cannot be weakly referenced: never remembered
        return make()
    if key in per_model:
        return per_model[key]
    value = make()
    if len(per_model) >= _PER_MODEL:
        del per_model[next(iter(per_model))]
    per_model[key] = value
    return value


def forget() -> None:
    """Drop every remembered replay (tests that time a first replay call this)."""
    _REPLAYS.clear()
