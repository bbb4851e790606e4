"""The core summary on the chapter's models and small hand-checked graphs.

Expected figures come from the chapter's formulas worked by hand here, never from cnninspect.
"""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from oracles import counted_macs
from torch import nn

import cnninspect
from cnninspect.chapter.models import ConvBlock, CustomCNN, SimpleCNN

# The chapter's per-tensor list for SimpleCNN: conv1 w/b, conv2 w/b, fc1 w/b, fc2 w/b.
CHAPTER_TENSORS = [288, 32, 18_432, 64, 401_408, 128, 1_280, 10]


def conv_params(c_in: int, k: int, c_out: int) -> int:
    return c_in * k * k * c_out + c_out


def test_simple_cnn_totals_match_the_chapters_tensor_list():
    s = cnninspect.summarize(SimpleCNN(), (1, 1, 28, 28))
    assert s.total_params == sum(CHAPTER_TENSORS) == 421_642
    assert s.trainable_params == s.total_params and s.non_trainable_params == 0
    assert s.param_bytes == 4 * sum(CHAPTER_TENSORS)


def test_simple_cnn_rows_follow_the_chapter():
    s = cnninspect.summarize(SimpleCNN(), (1, 1, 28, 28))
    shapes = {layer.name: layer.output_shape for layer in s.layers}
    assert shapes["conv1"] == (1, 32, 28, 28)
    assert shapes["pool"] == (1, 32, 14, 14)
    assert shapes["conv2"] == (1, 64, 14, 14)
    assert shapes["pool@2"] == (1, 64, 7, 7)
    assert shapes["view"] == (1, 3136)
    assert shapes["fc1"] == (1, 128)
    assert shapes["fc2"] == (1, 10)
    params = {layer.name: layer.num_params for layer in s.layers}
    assert params["conv1"] == conv_params(1, 3, 32) == 288 + 32
    assert params["conv2"] == conv_params(32, 3, 64) == 18_432 + 64
    assert params["fc1"] == 3136 * 128 + 128
    assert params["fc2"] == 128 * 10 + 10
    # functional ops are rows of their own: three relus and the view
    kinds = [layer.kind for layer in s.layers]
    assert kinds.count("relu") == 3 and "view" in kinds
    # MACs: output positions x (C_in * K * K) for convs, in x out for linears
    macs = {layer.name: layer.macs for layer in s.layers}
    assert macs["conv1"] == 28 * 28 * 32 * (1 * 3 * 3)
    assert macs["conv2"] == 14 * 14 * 64 * (32 * 3 * 3)
    assert macs["fc1"] == 3136 * 128
    assert macs["fc2"] == 128 * 10
    assert s.total_macs == sum(macs.values())
    conv1 = s.layer("conv1")
    assert (conv1.kernel_size, conv1.stride, conv1.padding, conv1.groups) == (
        (3, 3),
        (1, 1),
        (1, 1),
        1,
    )


def test_custom_cnn_and_conv_block():
    s = cnninspect.summarize(CustomCNN(), (1, 3, 32, 32))
    expected = conv_params(3, 3, 32) + conv_params(32, 3, 64) + 64 * 8 * 8 * 10 + 10
    assert s.total_params == expected == 60_362
    assert s.output_shapes == [(1, 10)]
    b = cnninspect.summarize(ConvBlock(), (1, 3, 32, 32))
    assert b.total_params == conv_params(3, 3, 32)
    assert b.layers[-1].output_shape == (1, 32, 32, 32)


def test_batch_and_image_size_scale_shapes_and_macs_only():
    small = cnninspect.summarize(CustomCNN(), (1, 3, 32, 32))
    big = cnninspect.summarize(CustomCNN(), (8, 3, 32, 32))
    assert big.total_params == small.total_params
    assert big.total_macs == 8 * small.total_macs
    assert big.output_shapes == [(8, 10)]
    # the image size too, on a fully convolutional net: twice the side, four times every conv's MACs,
    # the same parameters; shapes and MACs as a real forward and torch's flop counter see them
    trunk = nn.Sequential(ConvBlock(3, 8), nn.MaxPool2d(2), ConvBlock(8, 16), nn.AdaptiveAvgPool2d(1))
    sides = {}
    for side in (16, 32):
        s = cnninspect.summarize(trunk, (1, 3, side, side))
        x = torch.randn(1, 3, side, side)
        assert s.total_macs == counted_macs(trunk, x)
        assert s.layer("2.conv").output_shape == tuple(trunk[:3](x).shape) == (1, 16, side // 2, side // 2)
        sides[side] = s
    assert sides[32].total_params == sides[16].total_params
    assert [r.macs for r in sides[32].layers] == [4 * r.macs for r in sides[16].layers]
    assert sides[16].total_macs == 16 * 16 * 8 * 27 + 8 * 8 * 16 * 72


class Attention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.qkv = nn.Linear(16, 48)

    def forward(self, x):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        scores = torch.matmul(q, k.transpose(-2, -1))
        mixed = F.scaled_dot_product_attention(q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1))
        return torch.cat([scores.softmax(-1) @ v, mixed.squeeze(1)], dim=-1) + x.repeat(1, 1, 2)


def test_functional_ops_are_rows_with_their_macs():
    s = cnninspect.summarize(Attention(), (2, 10, 16))
    kinds = [layer.kind for layer in s.layers]
    for kind in ("chunk", "matmul", "scaled_dot_product_attention", "cat", "add", "softmax"):
        assert kind in kinds, kind
    by_kind = {layer.kind: layer for layer in s.layers}
    assert by_kind["Linear"].macs == 2 * 10 * 16 * 48
    assert by_kind["matmul"].macs == 2 * 10 * 10 * 16  # (2,10,16) @ (2,16,10)
    # sdpa: QK^T and AV, each B*H*L*S*E
    assert by_kind["scaled_dot_product_attention"].macs == 2 * 1 * 10 * 10 * (16 + 16)
    assert s.output_shapes == [(2, 10, 32)]


class Shared(nn.Module):
    """A module called twice and an embedding tied to the output layer."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 8)
        self.block = nn.Linear(8, 8)
        self.head = nn.Linear(8, 50, bias=False)
        self.head.weight = self.embed.weight
        self.unused = nn.Linear(3, 3)

    def forward(self, tokens):
        h = self.embed(tokens)
        h = self.block(self.block(h))
        return self.head(h)


def test_shared_parameters_are_counted_once_where_first_used():
    model = Shared()
    s = cnninspect.summarize(model, (2, 5), dtype=torch.long)
    unique = {id(p): p.numel() for p in model.parameters()}
    assert s.total_params == sum(unique.values()) == 50 * 8 + (8 * 8 + 8) + (3 * 3 + 3)
    rows = {layer.name: layer for layer in s.layers}
    assert rows["embed"].num_params == 400
    assert rows["block"].num_params == 72 and rows["block@2"].num_params == 0
    assert rows["head"].num_params == 0  # its weight is the embedding's
    assert rows["block"].macs == rows["block@2"].macs == 2 * 5 * 8 * 8
    assert any("never used" in w and "unused.weight" in w for w in s.warnings)


class TwoInputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 6)
        self.b = nn.Linear(3, 6)

    def forward(self, x, y, scale: float = 1.0, mask=None):
        out = self.a(x) + self.b(y)
        if mask is not None:
            out = out * mask
        return out * scale


def test_several_inputs_and_input_data():
    s = cnninspect.summarize(TwoInputs(), [(2, 4), (2, 3)])
    assert s.input_shapes == [(2, 4), (2, 3)] and s.output_shapes == [(2, 6)]
    d = cnninspect.summarize(TwoInputs(), input_data={"x": torch.ones(5, 4), "y": torch.ones(5, 3)})
    assert d.output_shapes == [(5, 6)]
    m = cnninspect.summarize(
        TwoInputs(), input_data=(torch.ones(1, 4), torch.ones(1, 3), 2.0, torch.ones(1, 6))
    )
    assert "mul" in [layer.kind for layer in m.layers]


def test_dtype_is_an_option():
    s = cnninspect.summarize(ConvBlock(), (1, 3, 8, 8), dtype=torch.bfloat16)
    assert s.output_shapes == [(1, 32, 8, 8)]


def test_meta_model_summarises():
    import torchvision

    with torch.device("meta"):
        model = torchvision.models.resnet18()
    s = cnninspect.summarize(model, (1, 3, 224, 224))
    assert s.total_params == torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["num_params"]
    assert s.output_shapes == [(1, 1000)]
    assert all(p.device.type == "meta" for p in model.parameters())


def test_renderers_and_json_contract():
    s = cnninspect.summarize(SimpleCNN(), (1, 1, 28, 28))
    text = str(s)
    assert "421,642" in text and "conv1" in text and "Total MACs" in text
    for rendered in (s.to_markdown(), s.to_rst(), s.to_html()):
        assert "401,536" in rendered and "fc1" in rendered
    csv_lines = s.to_csv().splitlines()
    assert csv_lines[0].split(",")[:3] == ["name", "kind", "output_shape"]
    assert len(csv_lines) == len(s.layers) + 1
    data = json.loads(s.to_json())
    assert data["schema"] == "cnninspect.summary/1"
    for key in (
        "total_params",
        "trainable_params",
        "non_trainable_params",
        "total_macs",
        "method",
        "warnings",
    ):
        assert key in data
    assert data["total_params"] == 421_642
    fc1 = next(layer for layer in data["layers"] if layer["name"] == "fc1")
    assert (
        fc1["output_shape"] == [1, 128]
        and fc1["num_params"] == 401_536
        and fc1["macs"] == 3136 * 128
    )
    for field in (
        "name",
        "kind",
        "output_shape",
        "num_params",
        "trainable",
        "macs",
        "parent",
        "kernel_size",
    ):
        assert field in fc1


def test_depth_folding_sums_children():
    s = cnninspect.summarize(CustomCNN(), (1, 3, 32, 32))
    folded = s.to_csv(columns="name,num_params,macs", depth=1).splitlines()[1:]
    rows = {line.split(",")[0]: line.split(",") for line in folded}
    assert int(rows["block1"][1]) == conv_params(3, 3, 32)
    assert int(rows["block1"][2]) == 32 * 32 * 32 * 27
    assert "block1.conv" not in rows
    kinds = s.to_csv(columns="name,kind", depth=1).splitlines()
    assert "block1,ConvBlock" in kinds and "fc,Linear" in kinds
    with pytest.raises(cnninspect.OptionError, match="unknown column"):
        s.to_text(columns=["name", "nonsense"])


def test_human_numbers():
    from cnninspect.units import human, thousands

    assert thousands(421066) == "421,066"
    assert human(25_557_032) == "25.56 M"
    assert human(4_089_184_256) == "4.09 G"


def test_output_receptive_field_in_totals_and_json():
    # conv3 (r=3, j=1) -> pool2 (r=3+1*1=4, j=2) -> conv3 (r=4+2*2=8) -> pool2 (r=8+1*2=10, j=4)
    s = cnninspect.summarize(SimpleCNN(), (1, 1, 28, 28))
    assert "Receptive field:      10, jump 4 (pool@2)" in str(s)
    data = json.loads(s.to_json())["receptive_field"]
    assert data["node"] == "pool@2" and data["size"] == [10, 10] and data["jump"] == [4, 4]
