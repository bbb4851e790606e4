"""The op catalogue: everything cnninspect knows about an op, in one entry per op family.

An :class:`OpEntry` names every spelling of an op (``nn.ReLU``, ``F.relu``,
``torch.relu``, ``x.relu()``, ``relu_``) and holds its parts: how it changes shapes
(:mod:`~cnninspect.engine.ops.shapes`), what it costs (:mod:`~cnninspect.engine.ops.macs`),
its receptive-field effect (:mod:`~cnninspect.engine.ops.receptive`), its reference
formula (:mod:`~cnninspect.analyses.formulas`, named, since the engine imports no
analysis) and its spatial rank
(:mod:`~cnninspect.engine.ops.ranks`). A part an op has not got is an explicit
opt-out with the reason, so ``tests/test_catalogue.py`` can hold every entry to all
four. ``SHAPES``, ``COSTS`` and ``RF_RULES`` are views of the catalogue, one per
quantity, that the passes look rules up in; :func:`register_op` teaches it a user's op.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from torch import nn

from cnninspect.engine.ops import macs
from cnninspect.engine.ops.entry import PARTS, OpEntry, Rule
from cnninspect.engine.ops.families import FAMILIES
from cnninspect.engine.ops.registry import Call, Registry, kind_of, op_key
from cnninspect.errors import OptionError

SHAPES: Registry[Rule] = Registry("output shape")
COSTS: Registry[Rule] = Registry("MACs")
RF_RULES: Registry[Rule] = Registry("receptive field")
ENTRIES: Registry[OpEntry] = Registry("op entry")  # key -> OpEntry, looked up as rules are
_VIEWS = {"shape": SHAPES, "cost": COSTS, "receptive": RF_RULES}


class Catalogue:
    """The entries by name, and which entry owns each key."""

    def __init__(self) -> None:
        self.entries: dict[str, OpEntry] = {}
        self._owner: dict[Any, str] = {}
        self._by_kind: dict[str, OpEntry] | None = None

    def add(self, entry: OpEntry, replace: bool = False) -> OpEntry:
        clashes = [k for k in entry.keys if k in self._owner]
        if not replace and (clashes or entry.name in self.entries):
            taken = _describe(clashes[0]) if clashes else f"the name {entry.name!r}"
            owner = self._owner[clashes[0]] if clashes else entry.name
            raise OptionError(
                f"cannot register op {entry.name!r}: {taken} already belongs to the catalogue "
                f"entry {owner!r}; pass replace=True to replace it"
            )
        if entry.name in self.entries:
            self.remove(entry.name)
        for key in clashes:
            self._release(key)
        self.entries[entry.name] = entry
        for key in entry.keys:
            self._owner[key] = entry.name
        for part, view in _VIEWS.items():
            if getattr(entry, part) is not None:
                view.register(*entry.keys)(getattr(entry, part))
        ENTRIES.register(*entry.keys)(entry)
        self._changed()
        return entry

    def remove(self, name: str) -> None:
        for key in self.entries[name].keys:
            self._release(key)
        del self.entries[name]
        self._changed()

    def _release(self, key: Any) -> None:
        """Take ``key`` away from the entry that owns it."""
        name = self._owner.pop(key, None)
        if name is None:
            return
        old = self.entries[name]
        self.entries[name] = dataclasses.replace(old, keys=tuple(k for k in old.keys if k != key))
        for view in _VIEWS.values():
            view.unregister(key)
        ENTRIES.unregister(key)

    def _changed(self) -> None:
        self._by_kind = None
        trace = sys.modules.get("cnninspect.engine.trace")  # no traces before it is imported
        if trace is not None and hasattr(trace, "forget_traces"):
            trace.forget_traces()  # a leaf yesterday may not be one now

    def for_kind(self, kind: str) -> OpEntry | None:
        """The entry of a functional row's kind (``relu``, ``add``): what verify knows of it."""
        if self._by_kind is None:
            index: dict[str, OpEntry] = {}
            for entry in self.entries.values():
                for key in entry.keys:
                    if isinstance(key, str):
                        index.setdefault(key.removeprefix("method:"), entry)
                    elif callable(key) and not isinstance(key, type):
                        index.setdefault(kind_of("call_function", key), entry)
            self._by_kind = index
        return self._by_kind.get(kind)

    def __iter__(self):
        return iter(list(self.entries.values()))


CATALOGUE = Catalogue()


def _describe(key: Any) -> str:
    if isinstance(key, str):
        return repr(key)
    return f"{getattr(key, '__module__', '')}.{getattr(key, '__qualname__', key)}"


def entry_for_module(module: nn.Module) -> OpEntry | None:
    """The entry whose rules describe ``module``'s forward (none for a subclass that overrides it)."""
    return ENTRIES.lookup(type(module))


def entry_for_call(op: str, target: Any, module: nn.Module | None = None) -> OpEntry | None:
    return ENTRIES.lookup(op_key(op, target, module))


def has_rule(cls: type) -> bool:
    """Whether the catalogue describes instances of ``cls``: they can be leaves of a trace."""
    return ENTRIES.lookup(cls) is not None


def describes(module: nn.Module) -> bool:
    """Whether the catalogue describes this very module (its class, and the entry's own test)."""
    entry = ENTRIES.lookup(type(module))
    return entry is not None and (entry.describes is None or entry.describes(module))


def register_op(
    *keys: Any,
    name: str | None = None,
    shape: Rule | None = None,
    cost: Rule | None = None,
    receptive: Rule | None = None,
    reference: Rule | None = None,
    rank: Callable[[nn.Module], int] | None = None,
    opt_out: Mapping[str, str] | None = None,
    replace: bool = False,
) -> Any:
    """Teach cnninspect an op: a module class, a function, or a method (``"method:name"``).

    Give the parts you know (see :class:`OpEntry`; ``cost`` may return a plain MAC count);
    the rest run on meta, count as unknown cost and unknown receptive field. A key
    already known raises :class:`~cnninspect.errors.OptionError` unless ``replace=True``.
    Registering clears every cached lookup and trace. Without keys it is a decorator
    that registers the decorated class or function.
    """
    if not keys:
        def decorate(obj: Any) -> Any:
            register_op(obj, name=name, shape=shape, cost=cost, receptive=receptive,
                        reference=reference, rank=rank, opt_out=opt_out, replace=replace)  # fmt: skip
            return obj

        return decorate
    _check_keys(keys)
    given = {"shape": shape, "cost": cost, "receptive": receptive, "reference": reference}
    for part, rule in given.items():
        if rule is not None and not callable(rule):
            raise OptionError(f"register_op: {part} must be a function, got {type(rule).__name__}")
    reasons = {p: "not given to register_op" for p, r in given.items() if r is None}
    reasons.update(opt_out or {})
    entry = OpEntry(
        name or _describe(keys[0]), tuple(keys), shape=shape, cost=_as_cost(cost), receptive=receptive,
        reference=reference, rank=rank, opt_out=reasons,
    )  # fmt: skip
    return CATALOGUE.add(entry, replace=replace)


def _check_keys(keys: Iterable[Any]) -> None:
    for key in keys:
        if not (isinstance(key, (type, str)) or callable(key)):
            raise OptionError(
                f"register_op: {key!r} is not an op; give a module class, a function or 'method:name'"
            )


def _as_cost(rule: Rule | None) -> Rule | None:
    """A user's cost rule may return a plain MAC count; the passes read a Cost."""
    if rule is None:
        return None

    def as_cost(call: Any) -> macs.Cost:
        value = rule(call)
        return value if isinstance(value, macs.Cost) else macs.dense(int(value))

    as_cost.__name__ = getattr(rule, "__name__", "cost")
    return as_cost


for _entry in FAMILIES:
    CATALOGUE.add(_entry)

__all__ = [
    "CATALOGUE", "COSTS", "ENTRIES", "PARTS", "RF_RULES", "SHAPES", "Catalogue", "OpEntry",
    "entry_for_call", "entry_for_module", "has_rule", "describes", "price", "register_op",
]  # fmt: skip


def price(call: Call) -> macs.Cost | None:
    """The call's cost by its rule; for a call no rule describes, what its aten ops cost as it
    ran (``Call.extra["aten_cost"]``, see :mod:`~cnninspect.engine.ops.aten_count`); else None."""
    rule = COSTS.lookup(op_key(call.op, call.target, call.module))
    cost = rule(call) if rule is not None else None
    return cost if cost is not None else call.extra.get("aten_cost")
