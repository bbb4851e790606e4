"""Cost rules: multiply-accumulates (MACs) and FLOPs per op.

Convention (also in the docs): ``macs`` counts the multiply-accumulates of the
matmul-like ops -- convolutions, linear layers, matmul/bmm/einsum, attention and
recurrent cells -- which is what torchvision, fvcore and papers publish as "MACs"
or "GMACs". ``flops`` counts every floating-point operation: ``2 x macs`` for the
matmul-like ops plus the work of normalisation, pooling, activations and
elementwise arithmetic, so those layers are costed without changing the
published MAC figure. Bias additions are not counted.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
from torch.nn.utils.rnn import PackedSequence

from cnninspect.engine.ops.ranks import pool_rank
from cnninspect.engine.ops.registry import Call, first_tensor


class Cost(NamedTuple):
    macs: int
    flops: int


def dense(macs: int) -> Cost:
    """A matmul-like op: every MAC is a multiply and an add."""
    return Cost(int(macs), 2 * int(macs))


def elementwise(flops: int) -> Cost:
    return Cost(0, int(flops))


def _numel(value) -> int:
    if isinstance(value, torch.Tensor):
        return value.numel()
    if isinstance(value, (tuple, list)):
        return sum(_numel(v) for v in value)
    return 0


def conv(call: Call) -> Cost:
    m = call.module
    per_output = (m.in_channels // m.groups) * math.prod(m.kernel_size)
    return dense(_numel(call.out) * per_output)


def conv_transpose(call: Call) -> Cost:
    m = call.module
    per_input = (m.out_channels // m.groups) * math.prod(m.kernel_size)
    return dense(call.args[0].numel() * per_input)


def conv_transpose_functional(call: Call) -> Cost:
    """The weight is ``(in, out/groups, *kernel)``: each input value feeds the rest of it."""
    weight = call.arg(1, "weight")
    return dense(call.args[0].numel() * math.prod(weight.shape[1:]))


def conv_functional(call: Call) -> Cost:
    weight = call.arg(1, "weight")
    return dense(_numel(call.out) * math.prod(weight.shape[1:]))


def linear(call: Call) -> Cost:
    return dense(_numel(call.out) * call.module.in_features)


def linear_functional(call: Call) -> Cost:
    weight = call.arg(1, "weight")
    return dense(_numel(call.out) * weight.shape[-1])


def bilinear(call: Call) -> Cost:
    m = call.module
    return dense(_numel(call.out) * m.in1_features * m.in2_features)


def bilinear_functional(call: Call) -> Cost:
    """``F.bilinear(x1, x2, weight)``: each output is x1^T W_k x2 over weight's last two axes."""
    weight = call.arg(2, "weight")
    return dense(_numel(call.out) * weight.shape[1] * weight.shape[2])


def _matmul_macs(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor) -> int:
    """MACs of a @ b: each output element is a dot product over the shared dimension."""
    inner = a.shape[-1] if a.dim() >= 1 else 1
    return _numel(out) * inner


def matmul(call: Call) -> Cost:
    a, b = call.args[0], call.args[1]
    return dense(_matmul_macs(a, b, call.out))


def addmm(call: Call) -> Cost:
    """``addmm``/``baddbmm``/``addbmm``, as functions or methods, products passed by position
    or by name (BLOOM's ``alibi.baddbmm(batch1=q, batch2=k, ...)``)."""
    a = call.arg(1, "mat1") if call.arg(1, "mat1") is not None else call.arg(1, "batch1")
    b = call.arg(2, "mat2") if call.arg(2, "mat2") is not None else call.arg(2, "batch2")
    if call.target is torch.addbmm or call.target == "addbmm":
        return dense(a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2])
    return dense(_matmul_macs(a, b, call.out))


def einsum(call: Call) -> Cost:
    """MACs of a contraction: the product of every index's size (exact for two operands)."""
    equation = call.args[0]
    operands = call.args[1:]
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    lhs = equation.replace(" ", "").split("->")[0]
    sizes: dict[str, int] = {}
    for spec, tensor in zip(lhs.split(","), operands):
        for index, size in zip(_einsum_indices(spec, tensor.dim()), tensor.shape):
            sizes[index] = max(sizes.get(index, 1), int(size))
    if len(operands) < 2:
        return elementwise(_numel(call.out))
    return dense(math.prod(sizes.values()))


def _einsum_indices(spec: str, rank: int) -> list[str]:
    """The index of each dimension; ``...`` stands for broadcast dimensions, named by their
    distance from the right so that operands' ellipses line up as torch broadcasts them."""
    head, _, tail = spec.partition("...")
    if "..." not in spec:
        return [c for c in spec if c.isalpha()]
    first, last = [c for c in head if c.isalpha()], [c for c in tail if c.isalpha()]
    hidden = rank - len(first) - len(last)
    return first + [f"...{hidden - i}" for i in range(hidden)] + last


def _attention_core(batch_heads: int, q_len: int, kv_len: int, qk_dim: int, v_dim: int) -> int:
    """Q @ K^T and softmax(.) @ V."""
    return batch_heads * q_len * kv_len * (qk_dim + v_dim)


def sdpa(call: Call) -> Cost:
    q, k, v = call.args[0], call.args[1], call.args[2]
    batch_heads = math.prod(q.shape[:-2])
    return dense(_attention_core(batch_heads, q.shape[-2], k.shape[-2], q.shape[-1], v.shape[-1]))


def multihead_attention(call: Call) -> Cost:
    """In-projections, both attention matmuls and the out-projection; the fused
    inference path does the same arithmetic, so it is counted the same."""
    m = call.module
    q = call.arg(0, "query")
    k = call.arg(1, "key")
    batched = q.dim() == 3
    if batched and m.batch_first:
        batch, q_len, kv_len = q.shape[0], q.shape[1], k.shape[1]
    elif batched:
        batch, q_len, kv_len = q.shape[1], q.shape[0], k.shape[0]
    else:
        batch, q_len, kv_len = 1, q.shape[0], k.shape[0]
    e = m.embed_dim
    projections = batch * (
        q_len * e * e + kv_len * m.kdim * e + kv_len * m.vdim * e + q_len * e * e
    )
    core = _attention_core(batch * m.num_heads, q_len, kv_len, m.head_dim, m.head_dim)
    return dense(projections + core)


def recurrent(call: Call) -> Cost:
    m = call.module
    x = call.args[0]
    gates = {"LSTM": 4, "GRU": 3}.get(m.mode, 1)  # the cell's configuration, not its class name
    if isinstance(x, PackedSequence):  # one row of .data per (step, sample) the cell really runs
        steps, batch = x.data.shape[0], 1
    elif x.dim() == 3:
        steps, batch = (x.shape[1], x.shape[0]) if m.batch_first else (x.shape[0], x.shape[1])
    else:
        steps, batch = x.shape[0], 1
    directions = 2 if m.bidirectional else 1
    hidden = m.hidden_size
    out_size = m.proj_size if getattr(m, "proj_size", 0) else hidden
    total = 0
    for layer in range(m.num_layers):
        in_size = m.input_size if layer == 0 else out_size * directions
        per_step = gates * hidden * (in_size + out_size)
        if getattr(m, "proj_size", 0):
            per_step += hidden * m.proj_size
        total += per_step
    return dense(total * steps * batch * directions)


def recurrent_cell(call: Call) -> Cost:
    m = call.module
    gates = m.weight_ih.shape[0] // m.hidden_size  # 4 for an LSTM cell, 3 for a GRU cell, 1 for an RNN cell
    x = call.args[0]
    batch = x.shape[0] if x.dim() == 2 else 1
    return dense(batch * gates * m.hidden_size * (m.input_size + m.hidden_size))


def shifted_window_attention(call: Call) -> Cost:
    """torchvision's Swin attention: qkv projection, windowed attention, output projection."""
    x = call.args[0]
    window = call.arg(4, "window_size")
    batch, height, width, channels = x.shape
    pad_h = -(-height // window[0]) * window[0]
    pad_w = -(-width // window[1]) * window[1]
    tokens = batch * pad_h * pad_w
    per_window = window[0] * window[1]
    windows = batch * (pad_h // window[0]) * (pad_w // window[1])
    core = windows * per_window * per_window * channels * 2
    return dense(tokens * channels * 3 * channels + core + tokens * channels * channels)


def shifted_window_attention_3d(call: Call) -> Cost:
    """torchvision's Video Swin attention, the 3-D twin of the rule above."""
    x = call.args[0]
    window = call.arg(4, "window_size")
    batch, *sizes, channels = x.shape
    padded = [-(-n // w) * w for n, w in zip(sizes, window)]
    tokens = batch * math.prod(padded)
    per_window = math.prod(window)
    windows = batch * math.prod(p // w for p, w in zip(padded, window))
    core = windows * per_window * per_window * channels * 2
    return dense(tokens * channels * 3 * channels + core + tokens * channels * channels)


def mvit_relative_position(call: Call) -> Cost:
    """MViT-v2's decomposed relative positions: one einsum per axis over the query tokens."""
    q = call.arg(1, "q")
    q_thw, k_thw = call.arg(2, "q_thw"), call.arg(3, "k_thw")
    batch, heads, _, dim = q.shape
    return dense(batch * heads * math.prod(q_thw) * dim * sum(k_thw))


def mvit_shortcut(call: Call) -> Cost:
    return elementwise(_numel(call.out))


# --- ops costed in FLOPs only (no MACs by the convention above) ---


def batch_norm(call: Call) -> Cost:
    """Inference batch norm is one scale and one shift per element."""
    return elementwise(2 * _numel(call.out))


def norm_act(call: Call) -> Cost | None:
    """timm's ``BatchNormAct2d``: its batch norm, then its own ``drop`` and ``act`` modules,
    each priced by its rule; None (cost unknown) when one of them has none."""
    from cnninspect.engine.ops.catalogue import COSTS

    total = batch_norm(call)
    macs_, flops = total.macs, total.flops
    for part in (call.module.drop, call.module.act):
        rule = COSTS.lookup(type(part))
        inner = Call("call_module", part, type(part).__name__, (call.out,), {}, part, call.out)
        c = rule(inner) if rule is not None else None
        if c is None:
            return None
        macs_, flops = macs_ + c.macs, flops + c.flops
    return Cost(macs_, flops)


def norm_act_priced(module: Any) -> bool:
    """Whether a norm+act layer's ``drop`` and ``act`` both have cost rules (else trace it)."""
    from cnninspect.engine.ops.catalogue import COSTS

    parts = [getattr(module, "drop", None), getattr(module, "act", None)]
    return all(p is not None and COSTS.lookup(type(p)) is not None for p in parts)


def normalisation(call: Call) -> Cost:
    """Mean, variance, normalise, scale and shift: five FLOPs per element."""
    return elementwise(5 * _numel(call.out))


def pool(call: Call) -> Cost:
    """One comparison or addition per window element."""
    m = call.module
    k = m.kernel_size
    window = math.prod(k) if isinstance(k, (tuple, list)) else k ** pool_rank(m)
    return elementwise(_numel(first_tensor(call.out)) * window)


def pool_functional(call: Call) -> Cost:
    x = call.args[0]
    k = call.arg(1, "kernel_size")
    dims = x.dim() - 2 if x.dim() > 2 else 1
    window = math.prod(k) if isinstance(k, (tuple, list)) else k**dims
    return elementwise(_numel(first_tensor(call.out)) * window)


def adaptive_pool(call: Call) -> Cost:
    """Every input element is visited once (windows overlap little)."""
    return elementwise(_numel(call.args[0]))




def one_flop_per_element(call: Call) -> Cost:
    """Activations and elementwise arithmetic: about one FLOP per output element."""
    return elementwise(_numel(call.out))




def reduction(call: Call) -> Cost:
    """Means, sums and norms: about one FLOP per input element."""
    return elementwise(_numel(call.args[0]))


def free(call: Call) -> Cost:
    """Reshapes, copies and index ops move data but do no arithmetic."""
    return Cost(0, 0)


def is_container_constructor(target: object) -> bool:
    """Building a namedtuple of outputs (GoogLeNetOutputs) costs nothing either."""
    return isinstance(target, type) and issubclass(target, (tuple, dict))


def __getattr__(name: str):
    if name == "COSTS":  # the view of the op catalogue, built once the rules above exist
        from cnninspect.engine.ops.catalogue import COSTS

        return COSTS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
