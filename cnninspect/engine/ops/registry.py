"""The lookup machinery shared by every rule table."""

from __future__ import annotations

import operator
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
    module: nn.Module | None = None
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


class Registry(Generic[R]):
    """op key -> rule. Module classes are looked up along their MRO."""

    def __init__(self, quantity: str) -> None:
        self.quantity = quantity
        self._rules: dict[Any, Callable[[Call], R]] = {}
        self._misses: set[Any] = set()  # keys known to have no rule (cleared by register)

    def register(self, *keys: Any) -> Callable[[Callable[[Call], R]], Callable[[Call], R]]:
        def decorate(fn: Callable[[Call], R]) -> Callable[[Call], R]:
            for key in keys:
                self._rules[key] = fn
            self._misses.clear()
            return fn

        return decorate

    def lookup(self, key: Any) -> Callable[[Call], R] | None:
        try:
            rule = self._rules.get(key)
            if rule is not None or key in self._misses:
                return rule
        except TypeError:  # an unhashable target
            return None
        if callable(key) and not isinstance(key, type):
            # third-party functions are registered by dotted name, so that the rule
            # table need not import their package (torchvision) to exist
            rule = self._rules.get(
                f"{getattr(key, '__module__', '')}.{getattr(key, '__qualname__', '')}"
            )
        if rule is None and isinstance(key, type):
            for base in key.__mro__:
                # by class, or by dotted name for classes whose package we do not import
                rule = self._rules.get(base) or self._rules.get(
                    f"{base.__module__}.{base.__qualname__}"
                )
                if rule is not None:
                    self._rules[key] = rule  # cache the MRO walk
                    break
        if rule is None:
            self._misses.add(key)
        return rule

    def __contains__(self, key: Any) -> bool:
        return self.lookup(key) is not None

    def keys(self) -> list[Any]:
        return list(self._rules)
