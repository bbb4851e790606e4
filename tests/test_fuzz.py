"""Fuzzing: random valid graphs agree with a real forward; random inputs never crash us.

A few hundred seeded examples run here; ``python benchmarks/fuzz_long.py`` runs thousands.
"""

from __future__ import annotations

import torch
from fuzzgraphs import graphs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cnninspect
from cnninspect.errors import CnnInspectError

FUZZ = settings(
    max_examples=200, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck)
)


def real_module_shapes(model, x):
    shapes = {}
    handles = [
        m.register_forward_hook(
            lambda mod, a, out, _n=n: shapes.setdefault(_n, []).append(tuple(out.shape))
        )
        for n, m in model.named_modules()
        if n and not list(m.children())
    ]
    try:
        with torch.no_grad():
            out = model(x)
    finally:
        for h in handles:
            h.remove()
    return shapes, tuple(out.shape)


@given(graphs())
@FUZZ
def test_trace_agrees_with_a_real_forward(case):
    check_graph(case)


@given(graphs(max_layers=4), st.lists(st.integers(-1, 14), min_size=1, max_size=5))
@FUZZ
def test_random_inputs_fail_only_with_our_errors(case, shape):
    check_input(case, shape)


def check_graph(case) -> None:
    """Trace and a real forward agree on every module call of a valid random graph."""
    model, shape = case
    s = cnninspect.summarize(model, shape)
    real, out = real_module_shapes(model, torch.zeros(shape))
    assert s.output_shapes == [out]
    for layer in s.layers:
        if layer.op == "call_module":
            path, _, n = layer.name.partition("@")
            assert real[path][int(n) - 1 if n else 0] == layer.output_shape, layer.name
    assert s.total_params == sum(p.numel() for p in model.parameters())


def check_input(case, shape) -> None:
    """A random input either summarises like torch runs it, or fails with one of our errors."""
    model, _ = case
    shape = tuple(shape)
    if min(shape) <= 0:
        # by design: a zero or negative size is a mistake even where torch would return an empty tensor
        try:
            cnninspect.summarize(model, shape)
        except cnninspect.InputShapeError as exc:
            assert "must be a positive int" in str(exc)
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
        return
    assert expected is not None, f"we accepted {shape} that torch rejects"
    assert s.output_shapes == [expected]
