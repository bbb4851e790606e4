"""A hypothesis strategy for random valid CNN graphs (shared by the fuzz test and the long run).

Graphs are grown with torch itself deciding what is valid: each candidate op is tried on a small
real tensor of the current shape and kept only if torch accepts it, so validity never depends
on the code under test.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st
from torch import nn


class RandomGraph(nn.Module):
    """ops[i] reads node ``sources[i][0]``; a merge also reads ``sources[i][1]``."""

    def __init__(
        self, ops: list[nn.Module], sources: list[tuple[int, ...]], merges: list[str]
    ) -> None:
        super().__init__()
        self.ops = nn.ModuleList(ops)
        self.sources = sources
        self.merges = merges

    def forward(self, x):
        nodes = [x]
        for op, src, merge in zip(self.ops, self.sources, self.merges):
            y = op(nodes[src[0]])
            if merge == "add":
                y = y + nodes[src[1]]
            elif merge == "cat":
                y = torch.cat([y, nodes[src[1]]], dim=1)
            nodes.append(y)
        return nodes[-1]


@st.composite
def layer(draw, channels: int):
    kind = draw(
        st.sampled_from(["conv", "conv", "conv", "maxpool", "avgpool", "up", "relu", "bn", "convT"])
    )
    if kind == "conv":
        groups = draw(st.sampled_from([g for g in (1, 2) if channels % g == 0]))
        out = groups * draw(st.integers(1, 3))
        k = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        return nn.Conv2d(
            channels, out, k, stride=draw(st.integers(1, 2)), padding=draw(st.integers(0, 1)),
            dilation=draw(st.integers(1, 2)), groups=groups,
        )  # fmt: skip
    if kind == "convT":
        return nn.ConvTranspose2d(
            channels,
            draw(st.integers(1, 3)),
            draw(st.integers(1, 3)),
            stride=draw(st.integers(1, 2)),
        )
    if kind == "maxpool":
        k = draw(st.integers(1, 3))
        return nn.MaxPool2d(
            k,
            stride=draw(st.integers(1, 2)),
            padding=draw(st.integers(0, k // 2)),
            ceil_mode=draw(st.booleans()),
        )
    if kind == "avgpool":
        k = draw(st.integers(1, 3))
        return nn.AvgPool2d(
            k,
            stride=draw(st.integers(1, 2)),
            padding=draw(st.integers(0, k // 2)),
            ceil_mode=draw(st.booleans()),
        )
    if kind == "up":
        return nn.Upsample(scale_factor=2, mode=draw(st.sampled_from(["nearest", "bilinear"])))
    if kind == "bn":
        return nn.BatchNorm2d(channels)
    return nn.ReLU()


@st.composite
def graphs(draw, max_layers: int = 6):
    """(model, input_shape) for a valid random graph with branches and merges."""
    channels = draw(st.integers(1, 3))
    side = draw(st.integers(4, 12))
    x = torch.zeros(1, channels, side, side)
    shapes = [tuple(x.shape)]
    tensors = [x]
    ops, sources, merges = [], [], []
    for _ in range(draw(st.integers(1, max_layers))):
        src = draw(st.integers(0, len(tensors) - 1))
        op = draw(layer(tensors[src].shape[1]))
        try:
            with torch.no_grad():
                y = op.eval()(tensors[src])
        except RuntimeError:
            continue  # torch rejects this op here: leave it out
        if min(y.shape[2:]) < 1:
            continue
        merge, partners = "none", (src,)
        same = [i for i, t in enumerate(tensors) if t.shape == y.shape]
        spatial = [i for i, t in enumerate(tensors) if t.shape[2:] == y.shape[2:]]
        choice = draw(st.sampled_from(["none", "add", "cat"]))
        if choice == "add" and same:
            merge, partners = "add", (src, draw(st.sampled_from(same)))
            y = y + tensors[partners[1]]
        elif choice == "cat" and spatial:
            merge, partners = "cat", (src, draw(st.sampled_from(spatial)))
            y = torch.cat([y, tensors[partners[1]]], dim=1)
        ops.append(op)
        sources.append(partners)
        merges.append(merge)
        tensors.append(y)
        shapes.append(tuple(y.shape))
    model = RandomGraph(ops, sources, merges).eval()
    if not ops:
        model = RandomGraph([nn.Identity()], [(0,)], ["none"]).eval()
    return model, shapes[0]
