"""The built-in op families: every spelling of an op, and its four parts, in one place.

Third-party ops are named by dotted path so this table need not import their
package (torchvision). The rules are the small functions of :mod:`shapes <cnninspect.engine.ops.shapes>`,
:mod:`macs <cnninspect.engine.ops.macs>`, :mod:`receptive <cnninspect.engine.ops.receptive>`
and, named by name, :mod:`cnninspect.analyses.formulas` (the engine imports no analysis);
``spelled`` joins a family's
module rule and functional rule where the two read their settings from different places.
"""

from __future__ import annotations

import operator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cnninspect.engine import compat
from cnninspect.engine.ops import macs as cost
from cnninspect.engine.ops import ranks, shapes
from cnninspect.engine.ops import receptive as rf
from cnninspect.engine.ops.entry import OpEntry
from cnninspect.engine.ops.registry import spelled

# the reasons a part is missing, shared by many families
META = "runs on the meta device: torch's own meta kernel gives the shape"
NO_FORMULA = "no chapter formula; verify checks it against the real forward and the flop counter"
FREE = "no arithmetic to count"
MOVES_AXES = "moves or builds values along axes no rule follows yet: reported unknown"
NOT_SPATIAL = "not a spatial op"
TORCHVISION = "a torchvision helper costed as a whole; its geometry is not described"
_TV = "torchvision.models."


def family(name: str, *keys: Any, opt_out: dict[str, str] | None = None, **parts: Any) -> OpEntry:
    return OpEntry(name, keys, opt_out=opt_out or {}, **parts)


_CONVS = (
    family(
        "conv", nn.Conv1d, nn.Conv2d, nn.Conv3d, F.conv1d, F.conv2d, F.conv3d,
        shape=spelled(shapes.conv, None), cost=spelled(cost.conv, cost.conv_functional),
        receptive=spelled(rf.conv, rf.conv_functional), reference="conv",
        rank=ranks.kernel_rank, chain_step="conv_step", counted_by_torch=True,
    ),
    family(
        "conv_transpose", nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d,
        F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d,
        shape=spelled(shapes.conv_transpose, None),
        cost=spelled(cost.conv_transpose, cost.conv_transpose_functional),
        receptive=spelled(rf.conv_transpose, rf.conv_transpose_functional),
        reference="conv_transpose", rank=ranks.kernel_rank, counted_by_torch=True,
    ),
    family(
        "quantized_conv", "torch.ao.nn.quantized.modules.conv._ConvNd", cost=cost.conv,
        opt_out={"shape": META, "receptive": "quantized layers are not analysed for geometry",
                 "reference": NO_FORMULA},
    ),
)  # fmt: skip

_DENSE = (
    family(
        "linear", nn.Linear, F.linear, shape=spelled(shapes.linear, None),
        cost=spelled(cost.linear, cost.linear_functional), receptive=rf.linear,
        reference="linear", counted_by_torch=True,
    ),
    family(
        "quantized_linear", "torch.ao.nn.quantized.modules.linear.Linear", cost=cost.linear,
        opt_out={"shape": META, "receptive": "quantized layers are not analysed for geometry",
                 "reference": NO_FORMULA},
    ),
    family("bilinear", nn.Bilinear, F.bilinear, torch.bilinear,
           cost=spelled(cost.bilinear, cost.bilinear_functional), receptive=rf.linear,
           opt_out={"shape": META, "reference": NO_FORMULA}),
    family(
        "matmul", torch.matmul, operator.matmul, torch.mm, torch.bmm,
        "method:matmul", "method:mm", "method:bmm",
        cost=cost.matmul, receptive=rf.mixes_all, opt_out={"shape": META, "reference": NO_FORMULA},
    ),
    family("addmm", torch.addmm, torch.baddbmm, torch.addbmm, "method:addmm", "method:baddbmm",
           "method:addbmm", cost=cost.addmm, receptive=rf.mixes_all,
           opt_out={"shape": META, "reference": NO_FORMULA}),
    family("einsum", torch.einsum, cost=cost.einsum, receptive=rf.mixes_all,
           opt_out={"shape": META, "reference": NO_FORMULA}),
    family("sdpa", F.scaled_dot_product_attention, cost=cost.sdpa, receptive=rf.mixes_all,
           opt_out={"shape": META, "reference": NO_FORMULA}),
    family("multihead_attention", nn.MultiheadAttention, shape=shapes.multihead_attention,
           cost=cost.multihead_attention, receptive=rf.mixes_all, opt_out={"reference": NO_FORMULA}),
    family(
        "transformer", nn.Transformer, nn.TransformerEncoder, nn.TransformerDecoder,
        nn.TransformerEncoderLayer, nn.TransformerDecoderLayer, receptive=rf.mixes_all,
        opt_out={"shape": META, "cost": "summed from the layers inside it", "reference": NO_FORMULA},
    ),
    family("recurrent", nn.LSTM, nn.GRU, nn.RNN, shape=shapes.recurrent, cost=cost.recurrent,
           receptive=rf.mixes_all, opt_out={"reference": NO_FORMULA}),
    family("recurrent_cell", nn.LSTMCell, nn.GRUCell, nn.RNNCell, cost=cost.recurrent_cell,
           receptive=rf.mixes_all, opt_out={"shape": META, "reference": NO_FORMULA}),
)  # fmt: skip

_TORCHVISION = (
    family("swin_attention", _TV + "swin_transformer.shifted_window_attention",
           cost=cost.shifted_window_attention,
           opt_out={"shape": META, "receptive": TORCHVISION, "reference": NO_FORMULA}),
    family("swin_attention_3d", _TV + "video.swin_transformer.shifted_window_attention_3d",
           cost=cost.shifted_window_attention_3d,
           opt_out={"shape": META, "receptive": TORCHVISION, "reference": NO_FORMULA}),
    family("mvit_relative_position", _TV + "video.mvit._add_rel_pos", cost=cost.mvit_relative_position,
           opt_out={"shape": META, "receptive": TORCHVISION, "reference": NO_FORMULA}),
    family("mvit_shortcut", _TV + "video.mvit._add_shortcut", cost=cost.mvit_shortcut,
           opt_out={"shape": META, "receptive": TORCHVISION, "reference": NO_FORMULA}),
    family(
        "torchvision_helpers", _TV + "swin_transformer._get_relative_position_bias",
        _TV + "swin_transformer._patch_merging_pad", _TV + "video.mvit._unsqueeze",
        _TV + "video.mvit._squeeze", _TV + "video.swin_transformer._get_window_and_shift_size",
        _TV + "video.swin_transformer._compute_pad_size_3d",
        _TV + "video.swin_transformer._get_relative_position_bias",
        _TV + "video.swin_transformer._compute_attention_mask_3d",
        cost=cost.free, opt_out={"shape": META, "receptive": TORCHVISION, "reference": NO_FORMULA},
    ),
)  # fmt: skip

_NORMS = (
    family("batch_norm", nn.modules.batchnorm._BatchNorm, F.batch_norm,
           shape=spelled(shapes.batch_norm, shapes.same), cost=cost.batch_norm, receptive=rf.keep,
           reference="batch_norm"),
    # timm's norm + activation layer, described by its own forward: batch norm, drop, act (most
    # timm CNNs have one per conv; traced through, each was ten calls of a first summary)
    family("norm_act", "timm.layers.norm_act.BatchNormAct2d", shape=shapes.same, cost=cost.norm_act,
           receptive=rf.keep, rank=lambda m: 2, opt_out={"reference": NO_FORMULA},
           describes=cost.norm_act_priced),
    family("instance_norm", nn.modules.instancenorm._InstanceNorm, F.instance_norm, shape=shapes.same,
           cost=cost.normalisation, receptive=rf.keep, opt_out={"reference": NO_FORMULA}),
    family("group_norm", nn.GroupNorm, F.group_norm, shape=shapes.same, cost=cost.normalisation,
           receptive=rf.keep, reference="group_norm"),
    family("layer_norm", nn.LayerNorm, nn.RMSNorm, F.layer_norm, F.rms_norm, shape=shapes.same,
           cost=cost.normalisation, receptive=rf.keep, reference="layer_norm"),
    family("local_response_norm", nn.LocalResponseNorm, nn.CrossMapLRN2d, F.local_response_norm,
           shape=shapes.same, receptive=rf.keep,
           opt_out={"cost": "its window sums are not costed yet", "reference": NO_FORMULA}),
    family("normalize", F.normalize, cost=cost.reduction, receptive=rf.normalize,
           opt_out={"shape": META, "reference": NO_FORMULA}),
)  # fmt: skip

_ACTIVATIONS = (
    family(
        "activation",
        nn.ReLU, F.relu, torch.relu, "method:relu", F.relu_, torch.relu_, "method:relu_",
        nn.ReLU6, F.relu6, nn.LeakyReLU, F.leaky_relu, F.leaky_relu_, nn.ELU, F.elu, F.elu_,
        nn.SELU, F.selu, nn.CELU, nn.GELU, F.gelu, nn.SiLU, F.silu, nn.Mish, F.mish,
        nn.Sigmoid, F.sigmoid, torch.sigmoid, "method:sigmoid", "method:sigmoid_",
        nn.Tanh, F.tanh, torch.tanh, "method:tanh", nn.Hardswish, F.hardswish,
        nn.Hardsigmoid, F.hardsigmoid, nn.Hardtanh, F.hardtanh, F.hardtanh_, nn.Softplus, F.softplus,
        nn.Softsign, nn.Tanhshrink, nn.Threshold, nn.LogSigmoid,
        shape=shapes.same, cost=cost.one_flop_per_element, receptive=rf.keep,
        reference="same_shape",
    ),
    family("prelu", nn.PReLU, F.prelu, "method:prelu", shape=shapes.same, cost=cost.one_flop_per_element,
           receptive=rf.keep, reference="prelu"),
    family("softmax", nn.Softmax, nn.LogSoftmax, F.softmax, torch.softmax, "method:softmax",
           F.log_softmax, "method:log_softmax", shape=shapes.same, cost=cost.one_flop_per_element,
           receptive=rf.softmax_like, reference="same_shape"),
    family("glu", nn.GLU, F.glu, cost=cost.one_flop_per_element, receptive=rf.glu,
           opt_out={"shape": META, "reference": NO_FORMULA}),
    family("softmax2d", nn.Softmax2d, shape=shapes.same, cost=cost.one_flop_per_element,
           receptive=rf.keep, reference="same_shape"),
    family(
        "dropout", nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
        nn.FeatureAlphaDropout, F.dropout, F.dropout2d, nn.Identity,
        "torchvision.ops.stochastic_depth.stochastic_depth",
        shape=shapes.same, cost=cost.free, receptive=rf.keep, reference="same_shape",
    ),
)  # fmt: skip

_ELEMENTWISE = (
    family(
        "arithmetic",
        operator.add, operator.iadd, torch.add, "method:add", "method:add_",
        operator.sub, operator.isub, torch.sub, "method:sub", "method:sub_",
        operator.mul, operator.imul, torch.mul, "method:mul", "method:mul_",
        operator.truediv, operator.itruediv, torch.div, "method:div", "method:div_",
        shape=shapes.elementwise_binary, cost=cost.one_flop_per_element, receptive=rf.keep,
        reference="broadcast",
    ),
    family(
        "elementwise_math",
        torch.abs, "method:abs", torch.exp, "method:exp", torch.neg, operator.neg, "method:neg",
        torch.sqrt, "method:sqrt", torch.rsqrt, torch.log, torch.square, torch.pow, operator.pow,
        "method:pow", operator.floordiv, torch.maximum, torch.minimum, torch.sin, "method:sin",
        torch.cos, "method:cos", torch.reciprocal, "method:reciprocal", torch.erf, "method:erf",
        "method:rsqrt", "method:log", "method:square", "method:maximum", "method:minimum",
        cost=cost.one_flop_per_element, receptive=rf.keep, reference="same_shape",
        opt_out={"shape": META + " (and its dtype promotion)"},
    ),
    family(
        "select", torch.clamp, torch.clip, "method:clamp", "method:clamp_", torch.where,
        torch.masked_fill, "method:masked_fill", "method:clip", "method:where",
        cost=cost.free, receptive=rf.keep, opt_out={"shape": META, "reference": NO_FORMULA},
    ),
    family(
        "copy", "method:contiguous", "method:clone", "method:detach", "method:to", "method:type_as",
        "method:float", "method:double", "method:half", "method:bfloat16", "method:long",
        "method:int", "method:bool",
        cost=cost.free, receptive=rf.keep, reference="same_shape", opt_out={"shape": META},
    ),
    family("expand", "method:expand", "method:expand_as", cost=cost.free, receptive=rf.keep,
           opt_out={"shape": META, "reference": NO_FORMULA}),
    family("no_op", compat.torch_assert, getattr, nn.ChannelShuffle, cost=cost.free, receptive=rf.keep,
           opt_out={"shape": META, "reference": NO_FORMULA}),
)  # fmt: skip

_POOLS = (
    family(
        "max_pool", nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, F.max_pool1d, F.max_pool2d,
        F.max_pool3d, "method:max_pool2d",
        shape=spelled(shapes.pool, None), cost=spelled(cost.pool, cost.pool_functional),
        receptive=spelled(rf.pool, rf.max_pool_functional), reference="pool",
        rank=ranks.pool_rank, chain_step="pool_step",
    ),
    family(
        "avg_pool", nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, F.avg_pool1d, F.avg_pool2d, F.avg_pool3d,
        shape=spelled(shapes.pool, None), cost=spelled(cost.pool, cost.pool_functional),
        receptive=spelled(rf.pool, rf.avg_pool_functional), reference="pool",
        rank=ranks.pool_rank, chain_step="pool_step",
    ),
    family("lp_pool", nn.LPPool1d, nn.LPPool2d, nn.LPPool3d, receptive=rf.pool, rank=ranks.pool_rank,
           opt_out={"shape": META, "cost": "power means are not costed yet", "reference": NO_FORMULA}),
    family(
        "adaptive_pool",
        nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
        nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d,
        F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d,
        F.adaptive_max_pool1d, F.adaptive_max_pool2d, F.adaptive_max_pool3d,
        shape=spelled(shapes.adaptive_pool, shapes.adaptive_pool_functional), cost=cost.adaptive_pool,
        receptive=rf.adaptive_pool, reference="adaptive_pool", rank=ranks.adaptive_rank,
    ),
)  # fmt: skip

_RESAMPLING = (
    family("pad", F.pad, torch.constant_pad_nd, cost=cost.free, receptive=rf.pad,
           opt_out={"shape": META, "reference": NO_FORMULA}),
    family(
        "pad_module", nn.ZeroPad1d, nn.ZeroPad2d, nn.ZeroPad3d,
        nn.ConstantPad1d, nn.ConstantPad2d, nn.ConstantPad3d,
        nn.ReflectionPad1d, nn.ReflectionPad2d, nn.ReflectionPad3d,
        nn.ReplicationPad1d, nn.ReplicationPad2d, nn.ReplicationPad3d,
        cost=cost.free, receptive=rf.pad_module, opt_out={"shape": META, "reference": NO_FORMULA},
    ),
    family("circular_pad", nn.CircularPad1d, nn.CircularPad2d, nn.CircularPad3d, cost=cost.free,
           receptive=rf.circular_pad, opt_out={"shape": META, "reference": NO_FORMULA}),
    family(
        "interpolate", nn.Upsample, F.interpolate, F.upsample, F.upsample_bilinear, F.upsample_nearest,
        cost=cost.free, receptive=spelled(rf.upsample, rf.interpolate),
        opt_out={"shape": META, "reference": NO_FORMULA},
    ),
    family("pixel_shuffle", nn.PixelShuffle, cost=cost.free, receptive=rf.pixel_shuffle,
           opt_out={"shape": META, "reference": NO_FORMULA}),
    family("pixel_unshuffle", nn.PixelUnshuffle, cost=cost.free, receptive=rf.pixel_unshuffle,
           opt_out={"shape": META, "reference": NO_FORMULA}),
)  # fmt: skip

_LAYOUT = (
    family("flatten", nn.Flatten, torch.flatten, "method:flatten",
           shape=spelled(shapes.flatten_module, shapes.flatten), cost=cost.free,
           receptive=rf.flatten, reference="flatten"),
    family(
        "reshape", torch.reshape, "method:view", "method:reshape", nn.Unflatten, "method:unflatten",
        "method:view_as", "method:reshape_as",
        cost=cost.free, receptive=rf.reshape, opt_out={"shape": META, "reference": NO_FORMULA},
    ),
    family("squeeze", torch.unsqueeze, "method:unsqueeze", torch.squeeze, "method:squeeze",
           cost=cost.free, receptive=rf.squeeze, opt_out={"shape": META, "reference": NO_FORMULA}),
    family("permute", torch.permute, "method:permute", shape=shapes.permute, cost=cost.free,
           receptive=rf.permute, opt_out={"reference": NO_FORMULA}),
    family("transpose", torch.transpose, "method:transpose", torch.swapaxes, "method:swapaxes",
           cost=cost.free, receptive=rf.transpose, opt_out={"shape": META, "reference": NO_FORMULA}),
    family("movedim", torch.movedim, "method:movedim", cost=cost.free, receptive=rf.movedim,
           opt_out={"shape": META, "reference": NO_FORMULA}),
    family("cat", torch.cat, torch.concat, torch.concatenate, shape=shapes.cat, cost=cost.free,
           receptive=rf.split_or_concat, opt_out={"reference": NO_FORMULA}),
    family("split", torch.chunk, torch.split, "method:chunk", "method:split", cost=cost.free,
           receptive=rf.split_or_concat, opt_out={"shape": META, "reference": NO_FORMULA}),
    family("stack", torch.stack, torch.unbind, "method:unbind", cost=cost.free, receptive=rf.stack,
           opt_out={"shape": META, "reference": NO_FORMULA}),
    family("getitem", operator.getitem, cost=cost.free, receptive=rf.getitem,
           opt_out={"shape": META, "reference": NO_FORMULA}),
    family(
        "indexing", "method:size", "method:dim", "method:repeat", "method:tile", torch.tile,
        torch.repeat_interleave, "method:repeat_interleave", torch.tensor_split,
        "method:tensor_split", torch.narrow, "method:narrow", torch.roll, "method:roll",
        torch.gather, "method:gather", torch.index_select, "method:index_select",
        "method:t", "method:mT", "method:fill_", "method:zero_", "method:copy_",
        cost=cost.free, opt_out={"shape": META, "receptive": MOVES_AXES, "reference": NO_FORMULA},
    ),
    family(
        "creation", torch.zeros, torch.ones, torch.arange, torch.full, torch.zeros_like,
        torch.ones_like, torch.empty, torch.meshgrid, "method:new_zeros", "method:new_ones",
        torch.tensor, torch.empty_like, torch.full_like, torch.rand_like, torch.randn_like,
        torch.linspace, torch.eye, "method:new_full", "method:new_empty", "method:new_tensor",
        cost=cost.free, receptive=rf.constant, opt_out={"shape": META, "reference": NO_FORMULA},
    ),
    family(
        "compare", operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne,
        torch.lt, torch.le, torch.gt, torch.ge, torch.eq, torch.ne, torch.isin, torch.isnan,
        torch.isinf, torch.isfinite, "method:lt", "method:le", "method:gt", "method:ge",
        "method:eq", "method:ne", torch.all, torch.any, "method:all", "method:any",
        torch.logical_and, torch.logical_or, torch.logical_not, operator.and_, operator.or_,
        operator.invert, "method:__and__", "method:__or__", "method:__invert__",
        "method:type", "method:isnan", "method:isinf", "method:isfinite", "method:logical_and",
        "method:logical_or", "method:logical_not",
        cost=cost.free, opt_out={"shape": META, "receptive": MOVES_AXES, "reference": NO_FORMULA},
    ),
    family("unfold", nn.Unfold, F.unfold, cost=cost.free, receptive=rf.unfold,
           opt_out={"shape": META, "reference": NO_FORMULA}),
    family("unfold_axis", "method:unfold", cost=cost.free, receptive=rf.unfold_axis,
           opt_out={"shape": META, "reference": NO_FORMULA}),
    family("fold", nn.Fold, F.fold, cost=cost.free,
           opt_out={"shape": META, "receptive": MOVES_AXES, "reference": NO_FORMULA}),
    family("embedding", nn.Embedding, cost=cost.free, reference="embedding",
           opt_out={"shape": META, "receptive": "looks values up: no input geometry"}),
    family("quantize", "torch.ao.nn.quantized.modules.Quantize",
           "torch.ao.nn.quantized.modules.DeQuantize", cost=cost.free,
           opt_out={"shape": META, "receptive": NOT_SPATIAL, "reference": NO_FORMULA}),
)  # fmt: skip

_REDUCTIONS = (
    family(
        "mean_sum", torch.mean, "method:mean", torch.sum, "method:sum", torch.amax, "method:amax",
        torch.amin, "method:amin", shape=shapes.reduce, cost=cost.reduction, receptive=rf.reduction,
        opt_out={"reference": NO_FORMULA},
    ),
    family(
        "reduction", torch.std, "method:std", torch.var, "method:var", torch.logsumexp,
        torch.max, "method:max", torch.min, "method:min", torch.prod, "method:prod", "method:logsumexp",
        cost=cost.reduction, receptive=rf.reduction, opt_out={"shape": META, "reference": NO_FORMULA},
    ),
    family("scan", torch.cumsum, "method:cumsum", torch.cumprod, "method:cumprod", cost=cost.reduction,
           opt_out={"shape": META, "receptive": MOVES_AXES, "reference": NO_FORMULA}),
    family("norm", torch.norm, "method:norm", torch.linalg.vector_norm, cost=cost.reduction,
           receptive=rf.norm, opt_out={"shape": META, "reference": NO_FORMULA}),
)  # fmt: skip

FAMILIES: tuple[OpEntry, ...] = (
    *_CONVS, *_DENSE, *_TORCHVISION, *_NORMS, *_ACTIVATIONS, *_ELEMENTWISE, *_POOLS,
    *_RESAMPLING, *_LAYOUT, *_REDUCTIONS,
)  # fmt: skip
