"""The empirical receptive field: back-propagate from one output unit and see which inputs move.

On a copy of the model, every max-pool becomes an average pool of the same
geometry, every weight is positive, norms and pointwise activations are the
identity, and everything runs in float64 on an all-ones input. No path can then
cancel or saturate, so the input gradient of one unit is non-zero exactly on the
input pixels that unit reads: its receptive field, clipped to the input. This is
independent of the analytic rules in :mod:`.rules` and is what the tests hold
them to.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from cnninspect.engine.ops.registry import first_tensor
from cnninspect.errors import ModelError, OptionError

Region = tuple[tuple[int, int], ...]

# Pointwise ops and norms: the identity keeps the support and avoids saturation (ReLU6, sigmoid).
_IDENTITY = {
    "batch_norm", "layer_norm", "group_norm", "instance_norm", "local_response_norm", "rms_norm", "normalize",
    "relu", "relu_", "relu6", "hardtanh", "hardtanh_", "sigmoid", "sigmoid_", "tanh", "tanh_",
    "silu", "hardswish", "hardsigmoid", "gelu", "elu", "elu_", "selu", "celu", "mish",
    "softplus", "leaky_relu", "leaky_relu_", "prelu", "dropout", "dropout1d", "dropout2d",
    "dropout3d", "alpha_dropout", "feature_alpha_dropout",
}  # fmt: skip
_MAX_POOLS = {"max_pool1d": 1, "max_pool2d": 2, "max_pool3d": 3}
_ADAPTIVE_MAX = {"adaptive_max_pool1d": 1, "adaptive_max_pool2d": 2, "adaptive_max_pool3d": 3}
_POOL_ARGS = ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")


def _named(args: tuple, kwargs: dict, names: Sequence[str]) -> dict[str, Any]:
    out = dict(zip(names, args))
    out.update(kwargs)
    return out


_CONV_ARGS = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")


def _pair(v: Any) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[-1]))


def grouped_conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """The same arithmetic as ``F.conv2d`` for ``groups > 1``, as unfold and a batched matmul.

    Only a speed-up: float64 grouped (depthwise) convolutions fall back to one slow
    kernel call per group on the CPU, which makes MobileNet's probe take minutes.
    """
    x = input
    (s0, s1), (p0, p1), (d0, d1) = _pair(stride), _pair(padding), _pair(dilation)
    n, _, h, w = x.shape
    cout, cin_g, kh, kw = weight.shape
    oh = (h + 2 * p0 - d0 * (kh - 1) - 1) // s0 + 1
    ow = (w + 2 * p1 - d1 * (kw - 1) - 1) // s1 + 1
    cols = F.unfold(x, (kh, kw), dilation=(d0, d1), padding=(p0, p1), stride=(s0, s1))
    cols = cols.view(n, groups, cin_g * kh * kw, oh * ow)
    out = torch.einsum("gok,ngkl->ngol", weight.reshape(groups, cout // groups, cin_g * kh * kw), cols)
    out = out.reshape(n, cout, oh, ow)
    return out if bias is None else out + bias.view(1, -1, 1, 1)


class _Probe(TorchFunctionMode):
    """Rewrites the ops whose gradient would hide part of the support."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name in _IDENTITY:
            return args[0] if args else kwargs["input"]
        if name == "conv2d":
            a = _named(args, kwargs, _CONV_ARGS)
            if a.get("groups", 1) > 1 and not isinstance(a.get("padding", 0), str) and a["input"].dim() == 4:
                return grouped_conv2d(**a)
        if name in _MAX_POOLS:
            a = _named(args, kwargs, _POOL_ARGS)
            dilation = a.get("dilation", 1)
            if any(d != 1 for d in (dilation if isinstance(dilation, (tuple, list)) else (dilation,))):
                raise ModelError("the gradient check cannot stand in for a dilated max-pool")
            avg = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[_MAX_POOLS[name] - 1]
            out = avg(a["input"], a["kernel_size"], a.get("stride") or a["kernel_size"], a.get("padding", 0),
                      ceil_mode=a.get("ceil_mode", False), count_include_pad=True)  # fmt: skip
            return (out, torch.zeros(out.shape, dtype=torch.int64)) if a.get("return_indices") else out
        if name in _ADAPTIVE_MAX:
            a = _named(args, kwargs, ("input", "output_size", "return_indices"))
            adaptive = (F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d)[_ADAPTIVE_MAX[name] - 1]
            out = adaptive(a["input"], a["output_size"])
            return (out, torch.zeros(out.shape, dtype=torch.int64)) if a.get("return_indices") else out
        return func(*args, **kwargs)


def probe_copy(model: nn.Module) -> nn.Module:
    """A float64 copy in eval mode with every parameter a positive constant (1/fan-in)."""
    clone = copy.deepcopy(model)
    if any(t.device.type == "meta" for t in list(clone.parameters()) + list(clone.buffers())):
        clone = clone.to_empty(device="cpu")
    clone = clone.to(device="cpu", dtype=torch.float64).eval()
    with torch.no_grad():
        for p in clone.parameters():
            p.requires_grad_(False)
            fan = p[0].numel() if p.dim() >= 2 else 1
            p.fill_(1.0 / fan if p.dim() >= 2 else 0.01)
    return clone


def measure(
    model: nn.Module,
    input_shape: Sequence[int],
    units: Sequence[int | Sequence[int]],
    *,
    probe: nn.Module | None = None,
) -> list[Region | None]:
    """Per unit of the model's output, the ``(first, last)`` input index per axis with a
    non-zero gradient (None where none is). All units go through one backward pass,
    each on its own copy of the input in the batch, so they cannot mix."""
    shape = tuple(int(v) for v in input_shape)
    if len(shape) < 3:
        raise OptionError(f"input shape {shape} has no spatial axes; give (N, C, H, W) or similar")
    net = probe if probe is not None else probe_copy(model)
    x = torch.ones((len(units),) + shape[1:], dtype=torch.float64, requires_grad=True)
    with _Probe():
        out = first_tensor(net(x))
    if out is None or out.dim() != len(shape):
        raise ModelError(f"the model's output {None if out is None else tuple(out.shape)} has no spatial axes to probe")
    spatial = tuple(out.shape[2:])
    picks = []
    for b, unit in enumerate(units):
        u = (unit,) * len(spatial) if isinstance(unit, int) else tuple(unit)
        if len(u) != len(spatial) or not all(-n <= i < n for i, n in zip(u, spatial)):
            raise OptionError(f"unit {unit!r} is outside the output's spatial size {spatial}")
        picks.append(out[(b, slice(None)) + u].sum())
    torch.stack(picks).sum().backward()
    grad = x.grad
    assert grad is not None  # x requires grad, and the backward above went through it
    regions: list[Region | None] = []
    for b in range(len(units)):
        support = (grad[b] != 0).any(dim=0)
        if not bool(support.any()):
            regions.append(None)
            continue
        region = []
        for axis in range(support.dim()):
            others = tuple(a for a in range(support.dim()) if a != axis)
            hit = support.any(dim=others) if others else support
            idx = torch.nonzero(hit).flatten()
            region.append((int(idx[0]), int(idx[-1])))
        regions.append(tuple(region))
    return regions


@dataclass(frozen=True)
class Check:
    """One unit: the analytic region, the measured one, and whether they agree."""

    unit: tuple[int, ...]
    analytic: Region
    measured: Region | None

    @property
    def ok(self) -> bool:
        return self.analytic == self.measured


def check(model: nn.Module, input_shape: Sequence[int], units: Sequence[int | Sequence[int]]) -> list[Check]:
    """Compare :meth:`ReceptiveFieldReport.region` of the output node with :func:`measure`."""
    from cnninspect.engine.receptive import receptive_field

    report = receptive_field(model, tuple(input_shape))
    last = list(report.fields)[-1]
    measured = measure(model, input_shape, units)
    out = []
    for unit, got in zip(units, measured):
        u = tuple(unit) if not isinstance(unit, int) else (unit,) * len(report.input_size)
        out.append(Check(u, report.region(last, u), got))
    return out
