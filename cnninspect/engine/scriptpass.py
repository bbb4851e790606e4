"""TorchScript models: interpret the inlined TorchScript graph on meta values.

A ``torch.jit.script``'ed module takes no Python hooks and fx cannot trace it, but its
inlined graph lists every aten op with the parameters it reads (``prim::GetAttr`` chains).
Walking that graph with meta tensors gives the same rows as the fx path -- one per op, named
by the module whose parameters it uses -- without running any arithmetic. Control flow is
followed where its condition is a plain value (shape checks); a condition on tensor data
needs real values and is reported as such.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from cnninspect.engine import compat
from cnninspect.engine.ops.registry import Call
from cnninspect.engine.propagate import NodeFailure, NodeRecord, has_tensor, to_meta
from cnninspect.errors import ModelError

_SCALAR_OPS: dict[str, Callable[..., Any]] = {
    "aten::eq": operator.eq, "aten::ne": operator.ne, "aten::lt": operator.lt, "aten::le": operator.le,
    "aten::gt": operator.gt, "aten::ge": operator.ge, "aten::add": operator.add, "aten::sub": operator.sub,
    "aten::mul": operator.mul, "aten::floordiv": operator.floordiv, "aten::div": operator.truediv,
    "aten::remainder": operator.mod, "aten::neg": operator.neg, "aten::__not__": operator.not_,
    "aten::__and__": operator.and_, "aten::__or__": operator.or_, "aten::__is__": operator.is_,
    "aten::__isnot__": operator.is_not, "aten::len": len, "aten::Int": int, "aten::Float": float,
    "aten::Bool": bool, "aten::pow": operator.pow, "aten::min": min, "aten::max": max,
}  # fmt: skip
_IGNORED = {"aten::warn", "prim::SetAttr"}


class _Interpreter:
    def __init__(self, root: torch.jit.ScriptModule) -> None:
        self.root = root
        self.env: dict[int, Any] = {}
        self.paths: dict[int, str] = {}  # value -> attribute path ("layer1.0.conv1.weight")
        self.producers: dict[int, list[str]] = {}
        self.records: list[NodeRecord] = []
        self.names: dict[str, int] = {}
        self.seen_params: set[int] = set()
        self.real_params: dict[int, torch.Tensor] = {}  # value -> the model's own tensor

    def run(self, args: tuple) -> Any:
        graph = self.root.inlined_graph
        inputs = list(graph.inputs())
        self.env[inputs[0].unique()] = self.root
        self.paths[inputs[0].unique()] = ""
        for i, (value, arg) in enumerate(zip(inputs[1:], args)):
            self.env[value.unique()] = arg
            self.producers[value.unique()] = [f"input:{value.debugName() or i}"]
        return self._block(
            graph.nodes(),
            [graph.return_node().inputsAt(i) for i in range(len(list(graph.outputs())))],
        )

    def _block(self, nodes, outputs) -> Any:
        for node in nodes:
            self._node(node)
        values = [self.env[v.unique()] for v in outputs]
        return values[0] if len(values) == 1 else tuple(values)

    def _get(self, value) -> Any:
        return self.env[value.unique()]

    def _set(self, value, obj: Any, sources: list[str]) -> None:
        self.env[value.unique()] = obj
        self.producers[value.unique()] = sources

    def _sources(self, node) -> list[str]:
        out: list[str] = []
        for v in node.inputs():
            for s in self.producers.get(v.unique(), ()):
                if s not in out:
                    out.append(s)
        return out

    def _node(self, node: torch.Node) -> None:
        kind = node.kind()
        ins = list(node.inputs())
        outs = list(node.outputs())
        if kind == "prim::Constant":
            value = (
                outs[0].toIValue()
                if node.hasAttributes() or str(outs[0].type()) != "NoneType"
                else None
            )
            self._set(outs[0], to_meta(value), [])
        elif kind == "prim::GetAttr":
            self._get_attr(node, ins[0], outs[0])
        elif kind in ("prim::ListConstruct", "prim::TupleConstruct"):
            items = [self._get(v) for v in ins]
            self._set(
                outs[0],
                items if kind == "prim::ListConstruct" else tuple(items),
                self._sources(node),
            )
        elif kind in ("prim::ListUnpack", "prim::TupleUnpack"):
            for out, item in zip(outs, self._get(ins[0])):
                self._set(out, item, self._sources(node))
        elif kind == "prim::TupleIndex" or kind == "aten::__getitem__":
            self._set(outs[0], self._get(ins[0])[self._get(ins[1])], self._sources(node))
        elif kind == "prim::If":
            self._if(node, ins, outs)
        elif kind == "prim::Loop":
            self._loop(node, ins, outs)
        elif kind == "prim::RaiseException":
            raise ModelError(f"the TorchScript model raised: {self._get(ins[0])}")
        else:
            self._value_node(node, kind, ins, outs)

    def _value_node(
        self, node: torch.Node, kind: str, ins: list[torch.Value], outs: list[torch.Value]
    ) -> None:
        """Nodes that compute a value: casts, string and list helpers, scalar maths, aten ops."""
        if kind in (
            "prim::unchecked_cast",
            "prim::Uninitialized",
            "aten::detach",
            "prim::NumToTensor",
        ):
            self._set(outs[0], self._get(ins[0]) if ins else None, self._sources(node))
        elif kind == "aten::format":
            parts = [self._get(v) for v in ins]
            self._set(outs[0], str(parts[0]).format(*parts[1:]), [])
        elif kind == "aten::append":
            self._get(ins[0]).append(self._get(ins[1]))
            self._set(outs[0], self._get(ins[0]), self._sources(node))
        elif kind in _IGNORED:
            for out in outs:
                self._set(out, None, [])
        elif kind == "prim::device":
            self._set(outs[0], self._get(ins[0]).device, [])
        elif kind == "prim::dtype":
            self._set(outs[0], self._get(ins[0]).dtype, [])
        elif kind in _SCALAR_OPS and not any(isinstance(self._get(v), torch.Tensor) for v in ins):
            self._set(outs[0], _SCALAR_OPS[kind](*[self._get(v) for v in ins]), [])
        elif kind == "aten::size" and len(ins) == 1:
            self._set(outs[0], list(self._get(ins[0]).shape), [])
        elif kind == "aten::dim":
            self._set(outs[0], self._get(ins[0]).dim(), [])
        elif kind.startswith("aten::"):
            self._aten(node, kind[6:], ins, outs)
        else:
            raise NodeFailure(
                kind,
                Call("call_function", kind, kind, (), {}),
                None,
                NotImplementedError(f"TorchScript node {kind} is not interpreted"),
            )

    def _get_attr(self, node: torch.Node, owner_value: torch.Value, out: torch.Value) -> None:
        """A submodule stays itself (its attributes are read next); a tensor becomes meta."""
        owner = self._get(owner_value)
        name = node.s("name")
        path = f"{self.paths[owner_value.unique()]}.{name}".lstrip(".")
        value = getattr(owner, name)
        self.paths[out.unique()] = path
        self._set(out, value if isinstance(value, nn.Module) else to_meta(value), [])
        if isinstance(value, torch.Tensor):
            self.real_params[out.unique()] = value  # the real parameter, for counting

    def _if(self, node: torch.Node, ins: list[torch.Value], outs: list[torch.Value]) -> None:
        """Follow the branch a plain-value condition picks; a tensor condition needs real data."""
        cond = self._get(ins[0])
        if isinstance(cond, torch.Tensor):
            raise NodeFailure(
                "if",
                Call("call_function", "prim::If", "if", (), {}),
                None,
                NotImplementedError("a branch on tensor data needs real values (meta)"),
            )
        blocks = list(node.blocks())
        block = blocks[0] if cond else blocks[1]
        result = self._block(block.nodes(), list(block.outputs()))
        results = result if len(outs) != 1 else (result,)
        for out, value in zip(outs, results if isinstance(results, tuple) else (results,)):
            self._set(out, value, self._sources(node))

    def _loop(self, node, ins, outs) -> None:
        trips, cond = self._get(ins[0]), self._get(ins[1])
        carried = [self._get(v) for v in ins[2:]]
        block = list(node.blocks())[0]
        params = list(block.inputs())
        i = 0
        while cond and i < trips:
            self._set(params[0], i, [])
            for p, v in zip(params[1:], carried):
                self._set(p, v, [])
            for n in block.nodes():
                self._node(n)
            results = [self._get(v) for v in block.outputs()]
            cond, carried = results[0], results[1:]
            i += 1
        for out, value in zip(outs, carried):
            self._set(out, value, self._sources(node))

    def _aten(self, node, name: str, ins, outs) -> None:
        args, kwargs = _bind(node, [self._get(v) for v in ins])
        target = _functional(name)
        params = []
        for v in ins:
            real = self.real_params.get(v.unique())
            if isinstance(real, nn.Parameter):
                params.append((self.paths[v.unique()], real))
        owner = params[0][0].rsplit(".", 1)[0] if params else None
        kind = _original_name(self.root, owner) if owner else name.rstrip("_")
        op = "call_method" if isinstance(target, str) else "call_function"
        call = Call(
            op,
            target.removeprefix("method:") if op == "call_method" else target,
            kind,
            args,
            kwargs,
        )
        try:
            with torch.device("meta"):
                out = getattr(torch.ops.aten, name)(*args, **kwargs)
        except Exception as exc:
            raise NodeFailure(owner or name, call, owner, exc) from exc
        call.out = out
        values = out if len(outs) > 1 else (out,)
        sources = self._sources(node)
        if not has_tensor(out):
            for o, v in zip(outs, values):
                self._set(o, v, sources)
            return
        label = owner or name.rstrip("_")
        count = self.names[label] = self.names.get(label, 0) + 1
        if count > 1:
            label = f"{label}@{count}" if owner else f"{label}_{count - 1}"
        parent = owner.rsplit(".", 1)[0] if owner and "." in owner else ""
        self.records.append(
            NodeRecord(
                name=label,
                op="call_module" if owner else "call_function",
                kind=kind,
                call=call,
                scope=parent,
                module_path=owner,
                inputs=sources,
                params=params,
                call_index=count if owner else 1,
            )
        )
        for o, v in zip(outs, values):
            self._set(o, v, [label])


def _functional(name: str) -> Any:
    """The Python function an aten op stands for, so the same rules apply as on the fx path."""
    import torch.nn.functional as F

    base = name.rstrip("_")
    for namespace in (F, torch):
        fn = getattr(namespace, base, None)
        if callable(fn):
            return fn
    return f"method:{base}"


def _bind(node, values: list) -> tuple[tuple, dict]:
    """Positional TorchScript arguments to Python's: keyword-only ones become keywords."""
    try:
        schema = node.schema()
    except RuntimeError:
        return tuple(values), {}
    if schema == "(no schema)":
        return tuple(values), {}
    arguments = compat.parse_schema(schema).arguments
    args, kwargs = [], {}
    for argument, value in zip(arguments, values):
        if argument.kwarg_only:
            kwargs[argument.name] = value
        else:
            args.append(value)
    return tuple(args), kwargs


def _original_name(root: torch.jit.ScriptModule, path: str) -> str:
    module: Any = root
    for part in path.split("."):
        module = getattr(module, part)
    return getattr(module, "original_name", type(module).__name__)


def script_records(model: torch.jit.ScriptModule, args: tuple) -> tuple[list[NodeRecord], Any]:
    """Rows for a ScriptModule from its inlined graph, evaluated on meta values."""
    interpreter = _Interpreter(model)
    output = interpreter.run(args)
    return interpreter.records, output
