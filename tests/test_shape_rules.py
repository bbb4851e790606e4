"""Every shape rule agrees with running the real layer on the meta device.

Rules exist for speed; this is what keeps speed from costing truth: for random layer
configurations and inputs, the rule's output shape equals the layer's own, and where the
layer rejects the input the rule rejects it too (with our error type).
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import counted_macs
from reach import Reach
from torch import nn

from cnninspect.engine.ops.macs import COSTS
from cnninspect.engine.ops.registry import Call
from cnninspect.engine.ops.shapes import SHAPES
from cnninspect.engine.propagate import MetaState
from cnninspect.errors import InputShapeError

SETTINGS = settings(
    max_examples=150, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def compare(module: nn.Module, shape: tuple[int, ...], macs: bool = False) -> bool:
    """True when torch accepted the input (and the rule agreed); with ``macs`` also hold the cost
    rule to torch's flop counter on a real forward of that input."""
    x = torch.empty(shape, device="meta")
    rule = SHAPES.lookup(type(module))
    assert rule is not None, type(module)
    try:
        with torch.device("meta"):
            expected = MetaState().call(module, (x,), {})
    except Exception:
        expected = None
    if isinstance(expected, torch.Tensor) and 0 in expected.shape[2:]:
        expected = None  # meta is laxer than the real kernels, which reject an empty output
    try:
        got = rule(Call("call_module", module, type(module).__name__, (x,), {}, module))
    except InputShapeError:
        got = None
    if expected is None:
        assert got is None, f"{module} accepted {shape} but torch rejects it"
        return False
    assert got is not None, f"{module} rejected {shape} but torch accepts it"
    if isinstance(expected, tuple):
        assert [tuple(t.shape) for t in got] == [tuple(t.shape) for t in expected]
    else:
        assert tuple(got.shape) == tuple(expected.shape), module
    if macs:
        cost = COSTS.lookup(type(module))(Call("call_module", module, type(module).__name__, (x,), {}, module, got))
        assert cost.macs == counted_macs(module, torch.zeros(shape)), module
    return True


@st.composite
def conv_case(draw):
    dims = draw(st.sampled_from([1, 2, 3]))
    groups = draw(st.sampled_from([1, 2]))
    c_in = groups * draw(st.integers(1, 2))
    c_out = groups * draw(st.integers(1, 2))
    k = tuple(draw(st.integers(1, 4)) for _ in range(dims))
    s = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    d = tuple(draw(st.integers(1, 2)) for _ in range(dims))
    same = draw(st.booleans()) and all(v == 1 for v in s)
    p = "same" if same else tuple(draw(st.integers(0, 2)) for _ in range(dims))
    module = getattr(nn, f"Conv{dims}d")(
        c_in, c_out, k, stride=s, padding=p, dilation=d, groups=groups
    )
    channels = draw(st.sampled_from([c_in, c_in, c_in + 1]))
    batched = draw(st.booleans())
    spatial = tuple(draw(st.integers(1, 9)) for _ in range(dims))
    return module, ((2, channels) if batched else (channels,)) + spatial


def test_conv_rule_matches_meta():
    reach = Reach()

    @given(conv_case())
    @SETTINGS
    def check(case):
        reach.hit("accepted" if compare(*case, macs=True) else "rejected")

    check()
    reach.require(accepted=60, rejected=40)


@st.composite
def conv_transpose_case(draw):
    dims = draw(st.sampled_from([1, 2, 3]))
    k = tuple(draw(st.integers(1, 4)) for _ in range(dims))
    s = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    d = tuple(draw(st.integers(1, 2)) for _ in range(dims))
    p = tuple(draw(st.integers(0, 2)) for _ in range(dims))
    op = tuple(draw(st.integers(0, max(0, min(si, di) - 1))) for si, di in zip(s, d))
    module = getattr(nn, f"ConvTranspose{dims}d")(
        2, 3, k, stride=s, padding=p, dilation=d, output_padding=op
    )
    spatial = tuple(draw(st.integers(1, 6)) for _ in range(dims))
    return module, (1, 2) + spatial


def test_conv_transpose_rule_matches_meta():
    reach = Reach()

    @given(conv_transpose_case())
    @SETTINGS
    def check(case):
        reach.hit("accepted" if compare(*case, macs=True) else "rejected")

    check()
    reach.require(accepted=100)


@st.composite
def pool_case(draw):
    dims = draw(st.sampled_from([1, 2, 3]))
    kind = draw(st.sampled_from(["Max", "Avg"]))
    k = draw(st.integers(1, 4))
    s = draw(st.integers(1, 3))
    p = draw(st.integers(0, k // 2))
    ceil = draw(st.booleans())
    cls = getattr(nn, f"{kind}Pool{dims}d")
    if kind == "Max":
        module = cls(
            k,
            stride=s,
            padding=p,
            dilation=draw(st.integers(1, 2)),
            ceil_mode=ceil,
            return_indices=draw(st.booleans()),
        )
    else:
        module = cls(k, stride=s, padding=p, ceil_mode=ceil)
    spatial = tuple(draw(st.integers(1, 9)) for _ in range(dims))
    return module, (1, 2) + spatial


@given(pool_case())
@SETTINGS
def test_pool_rule_matches_meta(case):
    compare(*case)


@st.composite
def adaptive_case(draw):
    dims = draw(st.sampled_from([1, 2, 3]))
    kind = draw(st.sampled_from(["Max", "Avg"]))
    size = tuple(draw(st.one_of(st.none(), st.integers(1, 5))) for _ in range(dims))
    module = getattr(nn, f"Adaptive{kind}Pool{dims}d")(size if dims > 1 else size[0] or 1)
    spatial = tuple(draw(st.integers(1, 9)) for _ in range(dims))
    return module, (2, 3) + spatial


@given(adaptive_case())
@SETTINGS
def test_adaptive_pool_rule_matches_meta(case):
    compare(*case)


@given(st.integers(1, 6), st.integers(1, 6), st.lists(st.integers(1, 4), min_size=0, max_size=3))
@SETTINGS
def test_linear_rule_matches_meta(f_in, f_last, lead):
    compare(nn.Linear(f_in, 3), tuple(lead) + (f_last,))


@pytest.mark.parametrize("start, end", [(1, -1), (0, -1), (2, 3), (-2, -1)])
def test_flatten_rule_matches_meta(start, end):
    compare(nn.Flatten(start, end), (2, 3, 4, 5))


@pytest.mark.parametrize("cls", [nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d])
def test_batch_norm_rule_matches_meta(cls):
    rank = {nn.BatchNorm1d: 3, nn.BatchNorm2d: 4, nn.BatchNorm3d: 5}[cls]
    compare(cls(4).eval(), (2, 4) + (3,) * (rank - 2))
    compare(cls(4).eval(), (2, 5) + (3,) * (rank - 2))
    for wrong in (2, 3, 4, 5):
        compare(cls(4).eval(), (2, 4) + (3,) * (wrong - 2))


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("need_weights, average", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("rank", [2, 3])
def test_multihead_attention_rule_matches_meta(batch_first, need_weights, average, rank):
    m = nn.MultiheadAttention(8, 2, batch_first=batch_first)
    q = torch.empty(
        (5, 8) if rank == 2 else ((3, 5, 8) if batch_first else (5, 3, 8)), device="meta"
    )
    kv = torch.empty(
        (7, 8) if rank == 2 else ((3, 7, 8) if batch_first else (7, 3, 8)), device="meta"
    )
    kwargs = {"need_weights": need_weights, "average_attn_weights": average}
    with torch.device("meta"):
        expected = MetaState().call(m, (q, kv, kv), kwargs)
    got = SHAPES.lookup(nn.MultiheadAttention)(
        Call("call_module", m, "MultiheadAttention", (q, kv, kv), kwargs, m)
    )
    assert tuple(got[0].shape) == tuple(expected[0].shape)
    assert (got[1] is None) == (expected[1] is None)
    if got[1] is not None:
        assert tuple(got[1].shape) == tuple(expected[1].shape)


@pytest.mark.parametrize(
    "cls, shape",
    [(nn.LayerNorm, (2, 5, 6)), (nn.GroupNorm, (2, 6, 4, 4)), (nn.InstanceNorm2d, (2, 6, 4, 4))],
)
def test_norm_rules_keep_the_shape(cls, shape):
    m = cls(6) if cls is not nn.GroupNorm else cls(3, 6)
    compare(m, shape)


def run_function(target, args, op="call_function"):
    with torch.device("meta"):
        expected = getattr(args[0], target)(*args[1:]) if op == "call_method" else target(*args)
    key = f"method:{target}" if op == "call_method" else target
    got = SHAPES.lookup(key)(Call(op, target, str(target), tuple(args), {}))
    assert (
        got is not None
        and tuple(got.shape) == tuple(expected.shape)
        and got.dtype == expected.dtype
    )


@given(st.lists(st.integers(1, 4), min_size=1, max_size=4), st.randoms(use_true_random=False))
@SETTINGS
def test_permute_and_cat_rules_match_meta(shape, rnd):
    x = torch.empty(shape, device="meta")
    dims = list(range(len(shape)))
    rnd.shuffle(dims)
    run_function(torch.permute, (x, dims))
    run_function("permute", (x, *dims), op="call_method")
    dim = rnd.randrange(len(shape))
    other = list(shape)
    other[dim] = rnd.randint(1, 4)
    run_function(torch.cat, ([x, torch.empty(other, device="meta")], dim))
    # out-of-range dimensions: the rule steps aside and torch raises
    assert SHAPES.lookup(torch.cat)(Call("call_function", torch.cat, "cat", ([x, x], len(shape)), {})) is None
    assert SHAPES.lookup(torch.permute)(Call("call_function", torch.permute, "permute", (x, [*dims[:-1], len(shape)]), {})) is None


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("shape", [(7, 2, 5), (7, 5)])
def test_recurrent_shape_rule_equals_a_real_forward(cls, batch_first, bidirectional, shape):
    from torch.utils._pytree import tree_leaves

    from cnninspect.engine.ops.shapes import recurrent

    extra = [{"proj_size": 3}, {}] if cls is nn.LSTM else [{}]
    for kw in extra:
        m = cls(5, 4, num_layers=2, batch_first=batch_first, bidirectional=bidirectional, **kw)
        x = torch.randn(shape)
        real = [tuple(t.shape) for t in tree_leaves(m(x))]
        ours = recurrent(Call("call_module", m, cls.__name__, (x,), {}, m))
        assert [tuple(t.shape) for t in tree_leaves(ours)] == real
        assert all(t.device.type == "meta" for t in tree_leaves(ours))


@pytest.mark.parametrize("op", ["mean", "sum", "amax", "amin"])
@pytest.mark.parametrize(
    "dim, keepdim", [((2, 3), True), ((2, 3), False), (1, False), (-1, True), ([0, -2], False)]
)
def test_reduction_shape_rule_equals_a_real_forward(op, dim, keepdim):
    from cnninspect.engine.ops.shapes import reduce

    x = torch.randn(2, 3, 4, 5)
    real = getattr(torch, op)(x, dim, keepdim=keepdim)
    for call in (
        Call("call_function", getattr(torch, op), op, (x, dim), {"keepdim": keepdim}, None),
        Call("call_method", op, op, (x,), {"dim": dim, "keepdim": keepdim}, None),
    ):
        out = reduce(call)
        assert tuple(out.shape) == tuple(real.shape) and out.dtype == real.dtype
    assert reduce(Call("call_function", torch.sum, op, (x.long(), dim), {}, None)) is None
