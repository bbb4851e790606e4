"""nn.Conv2d's tensors: weight (C_out, C_in, k, k), bias (C_out,), and what it does to a batch.

Section "Conv2d in PyTorch": the chapter's layers built for real, their weight
and bias shapes and parameter counts, and the output shape for a batch.

    python examples/conv2d_shapes.py
"""

from __future__ import annotations

import torch
from torch import nn

from cnninspect import summarize
from cnninspect.chapter.models import ConvBlock

LAYERS = [  # (in, out, kernel, stride, padding, input H=W)
    (3, 32, 3, 1, 1, 32),
    (1, 32, 3, 1, 1, 28),
    (32, 64, 3, 1, 1, 14),
    (3, 64, 7, 2, 3, 224),
]


def main() -> None:
    for cin, cout, k, s, p, n in LAYERS:
        conv = nn.Conv2d(cin, cout, k, stride=s, padding=p)
        out = conv(torch.zeros(8, cin, n, n))
        params = sum(t.numel() for t in conv.parameters())
        print(f"Conv2d({cin}, {cout}, {k}, stride={s}, padding={p}): weight {tuple(conv.weight.shape)}, "
              f"bias {tuple(conv.bias.shape)}, {params:,} params; input {(8, cin, n, n)} -> output {tuple(out.shape)}")  # fmt: skip
    summary = summarize(ConvBlock(), (1, 3, 32, 32))
    print()
    print(summary.to_text(columns="name,kind,output_shape,num_params,macs"))


if __name__ == "__main__":
    main()
