"""Fuzzing: random valid graphs agree with a real forward and torch's flop counter; random inputs never crash us.

A few hundred seeded examples run here; ``python benchmarks/fuzz_long.py`` runs thousands.
"""

from __future__ import annotations

import torch
from fuzzgraphs import graphs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import counted_macs, hooked_forward
from reach import Reach
from torch import nn

import cnninspect
from cnninspect.errors import CnnInspectError

FUZZ = settings(
    max_examples=200, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck)
)


def real_module_shapes(model, x):
    shapes: dict[str, list] = {}
    leaves = [(n, m) for n, m in model.named_modules() if n and not list(m.children())]
    out = hooked_forward(model, x, leaves, lambda n, o: shapes.setdefault(n, []).append(tuple(o.shape)))
    return shapes, tuple(out.shape)


def test_trace_agrees_with_a_real_forward():
    reach = Reach()

    @given(graphs())
    @FUZZ
    def check(case):
        check_graph(case, reach)

    check()
    # what the generator claims to test, reached often enough to mean something
    reach.require(**{"graph": 200, "ConvTranspose2d": 40, "Conv2d": 100, "strided conv": 35, "dilated conv": 40,
                     "merge add": 30, "merge cat": 30, "Upsample": 30, "MaxPool2d": 30})  # fmt: skip


@st.composite
def shapes_near(draw, valid: tuple[int, ...]) -> tuple[int, ...]:
    """Inputs around the graph's valid one, so that about half are ones torch accepts."""
    change = draw(st.sampled_from(["same", "resize", "resize", "channels", "batch", "rank", "nonpositive", "random"]))
    shape = list(valid)
    if change == "resize":
        shape[2:] = [draw(st.integers(1, 24)) for _ in shape[2:]]
    elif change == "channels":
        shape[1] = draw(st.integers(1, 5).filter(lambda c: c != valid[1]))
    elif change == "batch":
        shape[0] = draw(st.integers(2, 3))
    elif change == "rank":
        shape = shape[:-1] if draw(st.booleans()) else [*shape, draw(st.integers(1, 4))]
    elif change == "nonpositive":
        shape[draw(st.integers(0, len(shape) - 1))] = draw(st.integers(-1, 0))
    elif change == "random":
        shape = draw(st.lists(st.integers(-1, 14), min_size=1, max_size=5))
    return tuple(shape)


def test_random_inputs_fail_only_with_our_errors():
    reach = Reach()

    @given(graphs(max_layers=4), st.data())
    @FUZZ
    def check(case, data):
        check_input(case, data.draw(shapes_near(case[1])), reach)

    check()
    reach.require(accepted=80, rejected=25, nonpositive=15)


def check_graph(case, reach: Reach | None = None) -> None:
    """Trace and a real forward agree on every module call of a valid random graph, and on MACs."""
    model, shape = case
    s = cnninspect.summarize(model, shape)
    real, out = real_module_shapes(model, torch.zeros(shape))
    assert s.output_shapes == [out]
    for layer in s.layers:
        if layer.op == "call_module":
            path, _, n = layer.name.partition("@")
            assert real[path][int(n) - 1 if n else 0] == layer.output_shape, layer.name
    assert s.total_params == sum(p.numel() for p in model.parameters())
    assert s.total_macs == counted_macs(model, torch.zeros(shape))
    if reach is not None:
        reach.hit("graph", *_features(model))


def _features(model) -> set[str]:
    found = {type(m).__name__ for m in model.ops} | {f"merge {m}" for m in model.merges if m != "none"}
    convs = [m for m in model.ops if isinstance(m, nn.Conv2d)]
    if any(max(m.stride) > 1 for m in convs):
        found.add("strided conv")
    if any(max(m.dilation) > 1 for m in convs):
        found.add("dilated conv")
    return found


def check_input(case, shape, reach: Reach | None = None) -> None:
    """A random input either summarises like torch runs it, or fails with one of our errors."""
    model, _ = case
    shape = tuple(shape)
    if min(shape) <= 0:
        # by design: a zero or negative size is a mistake even where torch would return an empty tensor
        try:
            cnninspect.summarize(model, shape)
        except cnninspect.InputShapeError as exc:
            assert "must be a positive int" in str(exc)
            if reach is not None:
                reach.hit("nonpositive")
            return
        raise AssertionError(f"accepted {shape}")
    try:
        with torch.no_grad():
            expected = tuple(model(torch.zeros(shape)).shape)
    except Exception:
        expected = None  # torch rejects it (or cannot even build the input)
    try:
        s = cnninspect.summarize(model, shape)
    except CnnInspectError as exc:
        assert expected is None, f"we rejected {shape} that torch accepts: {exc}"
        assert "Traceback" not in str(exc) and str(exc).count("\n") == 0
        if reach is not None:
            reach.hit("rejected")
        return
    assert expected is not None, f"we accepted {shape} that torch rejects"
    assert s.output_shapes == [expected]
    assert s.total_macs == counted_macs(model, torch.zeros(shape))
    if reach is not None:
        reach.hit("accepted")
