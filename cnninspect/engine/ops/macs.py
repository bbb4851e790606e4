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
import operator
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from cnninspect.engine.ops.registry import Call, Registry, first_tensor


class Cost(NamedTuple):
    macs: int
    flops: int


def dense(macs: int) -> Cost:
    """A matmul-like op: every MAC is a multiply and an add."""
    return Cost(int(macs), 2 * int(macs))


def elementwise(flops: int) -> Cost:
    return Cost(0, int(flops))


COSTS: Registry[Cost] = Registry("MACs")


def _numel(value) -> int:
    if isinstance(value, torch.Tensor):
        return value.numel()
    if isinstance(value, (tuple, list)):
        return sum(_numel(v) for v in value)
    return 0


@COSTS.register(nn.Conv1d, nn.Conv2d, nn.Conv3d, "torch.ao.nn.quantized.modules.conv._ConvNd")
def conv(call: Call) -> Cost:
    m = call.module
    per_output = (m.in_channels // m.groups) * math.prod(m.kernel_size)
    return dense(_numel(call.out) * per_output)


@COSTS.register(nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
def conv_transpose(call: Call) -> Cost:
    m = call.module
    per_input = (m.out_channels // m.groups) * math.prod(m.kernel_size)
    return dense(call.args[0].numel() * per_input)


@COSTS.register(F.conv1d, F.conv2d, F.conv3d, torch.conv1d, torch.conv2d, torch.conv3d)
def conv_functional(call: Call) -> Cost:
    weight = call.arg(1, "weight")
    return dense(_numel(call.out) * math.prod(weight.shape[1:]))


@COSTS.register(nn.Linear, "torch.ao.nn.quantized.modules.linear.Linear")
def linear(call: Call) -> Cost:
    return dense(_numel(call.out) * call.module.in_features)


@COSTS.register(F.linear)
def linear_functional(call: Call) -> Cost:
    weight = call.arg(1, "weight")
    return dense(_numel(call.out) * weight.shape[-1])


@COSTS.register(nn.Bilinear)
def bilinear(call: Call) -> Cost:
    m = call.module
    return dense(_numel(call.out) * m.in1_features * m.in2_features)


def _matmul_macs(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor) -> int:
    """MACs of a @ b: each output element is a dot product over the shared dimension."""
    inner = a.shape[-1] if a.dim() >= 1 else 1
    return _numel(out) * inner


@COSTS.register(
    torch.matmul, operator.matmul, torch.mm, torch.bmm, "method:matmul", "method:mm", "method:bmm"
)
def matmul(call: Call) -> Cost:
    a, b = call.args[0], call.args[1]
    return dense(_matmul_macs(a, b, call.out))


@COSTS.register(torch.addmm, torch.baddbmm, torch.addbmm)
def addmm(call: Call) -> Cost:
    a, b = call.args[1], call.args[2]
    if call.target is torch.addbmm:
        return dense(a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2])
    return dense(_matmul_macs(a, b, call.out))


@COSTS.register(torch.einsum)
def einsum(call: Call) -> Cost:
    """MACs of a contraction: the product of every index's size (exact for two operands)."""
    equation = call.args[0]
    operands = call.args[1:]
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    lhs = equation.replace(" ", "").split("->")[0]
    sizes: dict[str, int] = {}
    for spec, tensor in zip(lhs.split(","), operands):
        letters = [c for c in spec if c.isalpha()]
        if "..." in spec:
            return dense(0)  # ellipsis: not worth guessing, counted as 0 and flagged upstream
        for letter, size in zip(letters, tensor.shape):
            sizes[letter] = max(sizes.get(letter, 1), int(size))
    if len(operands) < 2:
        return elementwise(_numel(call.out))
    return dense(math.prod(sizes.values()))


def _attention_core(batch_heads: int, q_len: int, kv_len: int, qk_dim: int, v_dim: int) -> int:
    """Q @ K^T and softmax(.) @ V."""
    return batch_heads * q_len * kv_len * (qk_dim + v_dim)


@COSTS.register(F.scaled_dot_product_attention)
def sdpa(call: Call) -> Cost:
    q, k, v = call.args[0], call.args[1], call.args[2]
    batch_heads = math.prod(q.shape[:-2])
    return dense(_attention_core(batch_heads, q.shape[-2], k.shape[-2], q.shape[-1], v.shape[-1]))


@COSTS.register(nn.MultiheadAttention)
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


@COSTS.register(nn.LSTM, nn.GRU, nn.RNN)
def recurrent(call: Call) -> Cost:
    m = call.module
    x = call.args[0]
    gates = {"LSTM": 4, "GRU": 3}.get(type(m).__name__, 1)
    if x.dim() == 3:
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


@COSTS.register(nn.LSTMCell, nn.GRUCell, nn.RNNCell)
def recurrent_cell(call: Call) -> Cost:
    m = call.module
    gates = {"LSTMCell": 4, "GRUCell": 3}.get(type(m).__name__, 1)
    x = call.args[0]
    batch = x.shape[0] if x.dim() == 2 else 1
    return dense(batch * gates * m.hidden_size * (m.input_size + m.hidden_size))


@COSTS.register("torchvision.models.swin_transformer.shifted_window_attention")
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


@COSTS.register("torchvision.models.video.swin_transformer.shifted_window_attention_3d")
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


@COSTS.register("torchvision.models.video.mvit._add_rel_pos")
def mvit_relative_position(call: Call) -> Cost:
    """MViT-v2's decomposed relative positions: one einsum per axis over the query tokens."""
    q = call.arg(1, "q")
    q_thw, k_thw = call.arg(2, "q_thw"), call.arg(3, "k_thw")
    batch, heads, _, dim = q.shape
    return dense(batch * heads * math.prod(q_thw) * dim * sum(k_thw))


@COSTS.register("torchvision.models.video.mvit._add_shortcut")
def mvit_shortcut(call: Call) -> Cost:
    return elementwise(_numel(call.out))


# --- ops costed in FLOPs only (no MACs by the convention above) ---


@COSTS.register(nn.modules.batchnorm._BatchNorm, F.batch_norm)
def batch_norm(call: Call) -> Cost:
    """Inference batch norm is one scale and one shift per element."""
    return elementwise(2 * _numel(call.out))


@COSTS.register(
    nn.LayerNorm,
    nn.GroupNorm,
    nn.modules.instancenorm._InstanceNorm,
    nn.RMSNorm,
    F.layer_norm,
    F.group_norm,
)
def normalisation(call: Call) -> Cost:
    """Mean, variance, normalise, scale and shift: five FLOPs per element."""
    return elementwise(5 * _numel(call.out))


@COSTS.register(nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
def pool(call: Call) -> Cost:
    """One comparison or addition per window element."""
    m = call.module
    k = m.kernel_size
    window = math.prod(k) if isinstance(k, (tuple, list)) else k ** int(type(m).__name__[-2])
    return elementwise(_numel(first_tensor(call.out)) * window)


@COSTS.register(
    F.max_pool1d,
    F.max_pool2d,
    F.max_pool3d,
    F.avg_pool1d,
    F.avg_pool2d,
    F.avg_pool3d,
    "method:max_pool2d",
)
def pool_functional(call: Call) -> Cost:
    x = call.args[0]
    k = call.arg(1, "kernel_size")
    dims = x.dim() - 2 if x.dim() > 2 else 1
    window = math.prod(k) if isinstance(k, (tuple, list)) else k**dims
    return elementwise(_numel(first_tensor(call.out)) * window)


@COSTS.register(
    nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
    nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d,
    F.adaptive_avg_pool2d, F.adaptive_avg_pool1d, F.adaptive_max_pool2d,
)  # fmt: skip
def adaptive_pool(call: Call) -> Cost:
    """Every input element is visited once (windows overlap little)."""
    return elementwise(_numel(call.args[0]))


_ONE_FLOP = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Sigmoid, nn.Tanh, nn.Hardswish, nn.Hardsigmoid, nn.Hardtanh, nn.Softplus, nn.PReLU,
    nn.Softmax, nn.LogSoftmax,
    F.relu, torch.relu, F.relu6, F.gelu, F.silu, F.hardswish, F.hardsigmoid, F.sigmoid,
    torch.sigmoid, F.tanh, torch.tanh, F.leaky_relu, F.elu, F.mish, F.softmax, torch.softmax,
    F.hardtanh, F.relu6,
    operator.add, operator.iadd, operator.sub, operator.mul, operator.imul, operator.truediv,
    torch.add, torch.sub, torch.mul, torch.div,
    "method:relu", "method:sigmoid", "method:tanh", "method:softmax",
    "method:add", "method:add_", "method:sub", "method:mul", "method:mul_", "method:div",
)  # fmt: skip


@COSTS.register(*_ONE_FLOP)
def one_flop_per_element(call: Call) -> Cost:
    """Activations and elementwise arithmetic: about one FLOP per output element."""
    return elementwise(_numel(call.out))


_FREE = (
    nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.Identity,
    nn.Flatten, nn.Unflatten, nn.Embedding, nn.Upsample, nn.PixelShuffle, nn.ChannelShuffle,
    nn.ZeroPad2d, nn.ConstantPad2d,
    F.dropout, torch.flatten, torch.cat, torch.stack, torch.reshape, torch.transpose,
    torch.permute, torch.chunk, torch.split, torch.unsqueeze, torch.squeeze, operator.getitem,
    F.pad, F.interpolate, torch._assert, getattr,
    "torchvision.ops.stochastic_depth.stochastic_depth",
    "torch.ao.nn.quantized.modules.Quantize", "torch.ao.nn.quantized.modules.DeQuantize",
    "torchvision.models.swin_transformer._get_relative_position_bias",
    "torchvision.models.swin_transformer._patch_merging_pad",
    "method:view", "method:reshape", "method:flatten", "method:permute", "method:transpose",
    "method:contiguous", "method:size", "method:unsqueeze", "method:squeeze", "method:chunk",
    "method:split", "method:expand", "method:repeat", "method:unbind", "method:clone",
    "method:to", "method:type_as", "method:dim", "method:unflatten", "method:float",
    torch.repeat_interleave, torch.tensor_split, torch.narrow, torch.roll, torch.gather,
    torch.index_select, torch.movedim, torch.swapaxes, torch.unbind, torch.tile, torch.zeros,
    torch.ones, torch.arange, torch.full, torch.zeros_like, torch.ones_like, torch.empty,
    torch.meshgrid, torch.stack, torch.where, torch.masked_fill, torch.clamp,
    "method:repeat_interleave", "method:tensor_split", "method:narrow", "method:roll",
    "method:gather", "method:index_select", "method:movedim", "method:new_zeros",
    "method:new_ones", "method:masked_fill", "method:expand_as", "method:view_as",
    "method:reshape_as", "method:half", "method:bfloat16", "method:double", "method:long",
    "method:int", "method:bool", "method:detach", "method:clamp", "method:clamp_", "method:fill_",
    "method:zero_", "method:copy_", "method:t", "method:mT", "method:swapaxes", "method:tile",
    "torchvision.models.video.mvit._unsqueeze", "torchvision.models.video.mvit._squeeze",
    "torchvision.models.swin_transformer._patch_merging_pad",
    "torchvision.models.video.swin_transformer._get_window_and_shift_size",
    "torchvision.models.video.swin_transformer._compute_pad_size_3d",
    "torchvision.models.video.swin_transformer._get_relative_position_bias",
    "torchvision.models.video.swin_transformer._compute_attention_mask_3d",
)  # fmt: skip


@COSTS.register(
    torch.mean, torch.sum, "method:mean", "method:sum", torch.norm, "method:norm", F.normalize
)
def reduction(call: Call) -> Cost:
    """Means, sums and norms: about one FLOP per input element."""
    return elementwise(_numel(call.args[0]))


@COSTS.register(*_FREE)
def free(call: Call) -> Cost:
    """Reshapes, copies and index ops move data but do no arithmetic."""
    return Cost(0, 0)


def is_container_constructor(target: object) -> bool:
    """Building a namedtuple of outputs (GoogLeNetOutputs) costs nothing either."""
    return isinstance(target, type) and issubclass(target, (tuple, dict))
