"""The lookup machinery shared by every rule table."""

from __future__ import annotations

import operator
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from torch import nn

R = TypeVar("R")


@dataclass
class Call:
    """One executed graph node, as rules see it.

    ``args``/``kwargs`` hold the input values (meta tensors, Python scalars, ...),
    ``out`` the output once known. ``module`` is set for ``call_module`` nodes.
    """

    op: str  # call_module | call_function | call_method
    target: Any
    kind: str
    args: tuple
    kwargs: dict
    # the layer (an nn.Module) of a call_module node, else None; typed Any because rules read its
    # configuration (kernel_size, stride...), which torch's stubs type as ``Tensor | Module``
    module: Any = None
    out: Any = None
    extra: dict = field(default_factory=dict)

    def arg(self, index: int, name: str, default: Any = None) -> Any:
        """The argument passed at ``index`` positionally or as ``name``."""
        if len(self.args) > index:
            return self.args[index]
        return self.kwargs.get(name, default)


def first_tensor(value: Any) -> Any:
    """The first tensor in a (nested) value: an op's main input or output."""
    import torch

    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        for v in value:
            t = first_tensor(v)
            if t is not None:
                return t
    return None


def op_key(op: str, target: Any, module: nn.Module | None = None) -> Any:
    """The key a node's rules are registered under."""
    if op == "call_module":
        return type(module)
    if op == "call_method":
        return f"method:{target}"
    return target


_OPERATOR_NAMES = {
    operator.add: "add",
    operator.iadd: "add",
    operator.sub: "sub",
    operator.mul: "mul",
    operator.imul: "mul",
    operator.truediv: "div",
    operator.floordiv: "floordiv",
    operator.matmul: "matmul",
    operator.getitem: "getitem",
    operator.neg: "neg",
    operator.pow: "pow",
}


def kind_of(op: str, target: Any, module: nn.Module | None = None) -> str:
    """A short human name for the op: ``Conv2d``, ``relu``, ``add``, ``view``."""
    if op == "call_module":
        return type(module).__name__
    if op == "call_method":
        return str(target)
    if target in _OPERATOR_NAMES:
        return _OPERATOR_NAMES[target]
    name = getattr(target, "__name__", None) or str(target)
    return name.removesuffix("_") if name.endswith("_") and not name.startswith("_") else name


_CACHEABLE = (type, str, types.FunctionType, types.BuiltinFunctionType)


def forward_owner(cls: type) -> type | None:
    """The class in ``cls``'s MRO whose ``forward`` it runs."""
    for base in cls.__mro__:
        if "forward" in base.__dict__:
            return base
    return None


def runs_forward_of(cls: type, base: type) -> bool:
    """Whether ``cls`` runs the forward a rule written for ``base`` describes.

    A subclass that overrides ``forward`` (timm's ``Conv2dSame`` pads first) runs other
    code, so its parent's rule would be silently wrong. torch's own subclasses are the
    exception: they are the implementations the rules were written against (the
    quantized convolutions, ``SyncBatchNorm``).
    """
    owner = forward_owner(cls)
    return owner is None or issubclass(base, owner) or owner.__module__.startswith("torch.")


def dotted(obj: Any) -> str:
    """``package.module.Name``: how rules name what their package does not import."""
    return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"


class Registry(Generic[R]):
    """op key -> rule (or any value: the catalogue keeps its entries in one). Module classes
    are looked up along their MRO.

    Derived answers (MRO walks, dotted names, misses) live in a cache of their own,
    never in the rule table, and any registration clears it: a rule registered for a
    class reaches the subclasses looked up before it.
    """

    def __init__(self, quantity: str) -> None:
        self.quantity = quantity
        self._rules: dict[Any, R] = {}
        self._cache: dict[Any, R | None] = {}

    def register(self, *keys: Any) -> Callable[[R], R]:
        def decorate(fn: R) -> R:
            for key in keys:
                self._rules[key] = fn
            self._cache.clear()
            return fn

        return decorate

    def unregister(self, *keys: Any) -> None:
        for key in keys:
            self._rules.pop(key, None)
        self._cache.clear()

    def lookup(self, key: Any) -> R | None:
        try:
            rule = self._rules.get(key)
            if rule is not None:
                return rule
            return self._cache[key]
        except KeyError:
            rule = self._derive(key)
            if isinstance(key, _CACHEABLE):  # never a module instance: the cache must not keep models alive
                self._cache[key] = rule
            return rule
        except TypeError:  # an unhashable target
            return None

    def _derive(self, key: Any) -> R | None:
        if not isinstance(key, type):
            # third-party functions are registered by dotted name, so that the rule
            # table need not import their package (torchvision) to exist
            return self._rules.get(dotted(key)) if callable(key) else None
        for base in key.__mro__:
            # by class, or by dotted name for classes whose package we do not import
            rule = self._rules.get(base) or self._rules.get(dotted(base))
            if rule is not None:
                return rule if runs_forward_of(key, base) else None
        return None

    def __contains__(self, key: Any) -> bool:
        return self.lookup(key) is not None

    def keys(self) -> list[Any]:
        return list(self._rules)


def spelled(module_rule: Callable[..., Any] | None, function_rule: Callable[..., Any] | None) -> Callable[..., Any]:
    """One rule for an op's module and functional spellings, which read their settings
    from different places (the module's attributes, the call's arguments)."""

    def rule(call: Call, *rest: Any) -> Any:
        chosen = module_rule if call.module is not None else function_rule
        return None if chosen is None else chosen(call, *rest)

    rule.__name__ = getattr(module_rule or function_rule, "__name__", "rule")
    rule.__doc__ = (module_rule or function_rule).__doc__
    return rule
