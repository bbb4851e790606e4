"""Teaching cnninspect a custom convolution (the worked example of docs/extending.rst)."""

import math

import torch
import torch.nn.functional as F
from torch import nn

import cnninspect
from cnninspect.engine.ops.receptive import Window, conv_window


class Im2ColConv(nn.Module):
    """A 2-D convolution written as unfold + matmul, as some accelerator kernels are."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1, padding: int = 0):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = (kernel, kernel), (stride, stride), (padding, padding)
        fan_in = in_channels * kernel * kernel
        self.weight = nn.Parameter(torch.randn(out_channels, fan_in) / math.sqrt(fan_in))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        cols = F.unfold(x, self.kernel_size, padding=self.padding, stride=self.stride)
        oh, ow = (_out(size, k, s, p) for size, k, s, p in zip((h, w), self.kernel_size, self.stride, self.padding))
        return (self.weight @ cols).view(n, self.out_channels, oh, ow)


def _out(n: int, k: int, s: int, p: int) -> int:
    return (n + 2 * p - k) // s + 1


# --- the three rules: each reads the call (call.module, call.args, call.out) -------------


def im2col_shape(call):
    """The output, as a meta tensor: no arithmetic runs."""
    m, x = call.module, call.args[0]
    size = [_out(n, k, s, p) for n, k, s, p in zip(x.shape[-2:], m.kernel_size, m.stride, m.padding)]
    return torch.empty(x.shape[0], m.out_channels, *size, dtype=x.dtype, device="meta")


def im2col_macs(call):
    """Each output value is a dot product over in_channels x kernel inputs."""
    m = call.module
    return call.out.numel() * m.in_channels * math.prod(m.kernel_size)


def im2col_field(call, dims):
    """Output unit o reads input units o*stride - padding .. o*stride - padding + kernel - 1."""
    m = call.module
    return Window(tuple(conv_window(k, s, p) for k, s, p in zip(m.kernel_size, m.stride, m.padding)))


cnninspect.register_op(
    Im2ColConv,
    shape=im2col_shape,
    cost=im2col_macs,
    receptive=im2col_field,
    rank=lambda m: len(m.kernel_size),
    opt_out={"reference": "no NumPy formula written for it yet"},
)

if __name__ == "__main__":
    model = nn.Sequential(Im2ColConv(3, 16, 3, padding=1), nn.ReLU(), Im2ColConv(16, 32, 3, stride=2))
    summary = cnninspect.summarize(model, (1, 3, 32, 32))
    print(summary)
    print("receptive field of the last layer:", summary.layers[-1].receptive_field.size)
