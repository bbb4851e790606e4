"""The torchvision classification zoo against torchvision's own published figures and a real forward.

``weights.meta["num_params"]`` must match exactly and ``weights.meta["_ops"]`` (GMACs at the
weights' crop size, published to 3 decimals) exactly at that precision: every model matches to
its last published digit, so a 0.5 % tolerance would let resnet50 lose its classifier unseen.
"""

from __future__ import annotations

import pytest
import torch
import torchvision
from oracles import hooked_forward
from torch import nn
from torchvision.models import get_model_weights

import cnninspect
from cnninspect.analyses.zoo import build

REPRESENTATIVE = [
    "alexnet", "convnext_tiny", "densenet121", "efficientnet_b0", "efficientnet_v2_s", "googlenet",
    "inception_v3", "maxvit_t", "mnasnet1_0", "mobilenet_v2", "mobilenet_v3_small", "regnet_y_400mf",
    "resnet18", "resnet50", "resnext50_32x4d", "shufflenet_v2_x1_0", "squeezenet1_1", "swin_t",
    "swin_v2_t", "vgg11_bn", "vit_b_16", "wide_resnet50_2",
]  # fmt: skip


def published(name: str) -> tuple[int, float, int]:
    weights = list(get_model_weights(name))[0]
    crop = getattr(weights.transforms(), "crop_size", [224])[0]
    return weights.meta["num_params"], weights.meta["_ops"], crop


def macs_match(ours: int, published_gmacs: float) -> bool:
    return round(ours / 1e9, 3) == published_gmacs


@pytest.mark.parametrize("name", REPRESENTATIVE)
def test_params_exact_and_macs_match_torchvision(name):
    num_params, gmacs, crop = published(name)
    model = build(name)
    s = cnninspect.summarize(model, (1, 3, crop, crop))
    assert s.total_params == num_params
    assert macs_match(s.total_macs, gmacs), f"{s.total_macs / 1e9:.4f} vs published {gmacs}"
    assert s.output_shapes == [(1, 1000)]
    assert s.method == "fx"


@pytest.mark.slow
def test_every_classification_model():
    """The whole classification zoo (benchmarks/zoo_check.py prints the table)."""
    failures = []
    for name in torchvision.models.list_models(module=torchvision.models):
        num_params, gmacs, crop = published(name)
        s = cnninspect.summarize(build(name), (1, 3, crop, crop))
        if s.total_params != num_params or not macs_match(s.total_macs, gmacs):
            failures.append(
                f"{name}: params {s.total_params} vs {num_params}, GMACs {s.total_macs / 1e9:.4f} vs {gmacs}"
            )
    assert not failures, "\n".join(failures)


# (model, input side) for the real-forward comparison: small valid inputs keep it fast
REAL_FORWARD = [
    ("alexnet", 64), ("convnext_tiny", 64), ("densenet121", 64), ("efficientnet_b0", 64),
    ("googlenet", 64), ("inception_v3", 96), ("mnasnet0_5", 64), ("mobilenet_v2", 64),
    ("mobilenet_v3_large", 64), ("regnet_y_400mf", 64), ("resnet18", 64), ("resnext50_32x4d", 64),
    ("shufflenet_v2_x0_5", 64), ("squeezenet1_1", 64), ("swin_t", 64), ("vgg11", 64),
    ("vit_b_16", 224), ("maxvit_t", 224),
]  # fmt: skip


def record_with_hooks(model: nn.Module, x: torch.Tensor) -> dict[str, list[tuple]]:
    """Our own independent recorder: every module call's output shapes, by module path."""
    shapes: dict[str, list[tuple]] = {}

    def record(path, out):
        leaves = [t for t in torch.utils._pytree.tree_leaves(out) if isinstance(t, torch.Tensor)]
        shapes.setdefault(path, []).append([tuple(t.shape) for t in leaves])

    out = hooked_forward(model, x, list(model.named_modules()), record)
    shapes["<output>"] = [[tuple(out.shape)]]
    return shapes


@pytest.mark.parametrize("name, side", REAL_FORWARD)
def test_every_row_shape_equals_a_real_forward(name, side):
    torch.manual_seed(0)
    model = build(name, device="cpu")
    s = cnninspect.summarize(model, (1, 3, side, side))
    real = record_with_hooks(model, torch.randn(1, 3, side, side))
    checked = 0
    for layer in s.layers:
        if layer.op != "call_module":
            continue
        path, _, call = layer.name.partition("@")
        index = int(call) - 1 if call else 0
        ours = layer.output_shape if isinstance(layer.output_shape, list) else [layer.output_shape]
        assert real[path][index] == ours, f"{layer.name}: traced {ours} vs real {real[path][index]}"
        checked += 1
    assert checked >= 5
    assert s.output_shapes == real["<output>"][0]
