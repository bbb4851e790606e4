"""Parameters a forward returns as they are (``return self.weight``): a row each.

fx gives such a parameter a ``get_attr`` node that feeds only the graph's output, so
no op row holds it and the summary would call it "never used". The forward does use
it -- it is the output -- so it gets a row of its own, at no cost, holding it.
"""

from __future__ import annotations

from torch import nn

from cnninspect.engine.ops.registry import Call
from cnninspect.engine.propagate import NodeRecord, to_meta
from cnninspect.engine.trace import Node, Trace


def returned_params(tr: Trace, records: list[NodeRecord]) -> list[NodeRecord]:
    """A record per parameter the output node takes straight from a ``get_attr`` node,
    unless a row already holds it."""
    held = {id(p) for rec in records for _, p in rec.params}
    out: list[NodeRecord] = []
    for node in tr.nodes:
        if node.op != "output":
            continue
        for source in node.inputs:
            param = _parameter(tr, source)
            if param is None or id(param) in held:
                continue
            held.add(id(param))
            call = Call("call_function", getattr, "Parameter", (), {}, None, to_meta(param))
            out.append(
                NodeRecord(
                    name=str(source.target),
                    op="call_function",  # the JSON contract's op names: fetching an attribute is a call of getattr
                    kind="Parameter",
                    call=call,
                    scope="",
                    module_path=None,
                    inputs=[],
                    params=[(str(source.target), param)],
                )
            )
    return out


def _parameter(tr: Trace, node: Node) -> nn.Parameter | None:
    if node.op != "get_attr":
        return None
    value: object = tr.root
    for part in str(node.target).split("."):
        value = getattr(value, part, None)
    return value if isinstance(value, nn.Parameter) else None
