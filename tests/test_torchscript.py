"""torch.jit.script'ed models: summarised from their inlined graph, held to a real forward and torch's flop counter."""

from __future__ import annotations

import warnings

import pytest
import torch
import torchvision
from oracles import counted_macs, hooked_forward
from torch import nn

import cnninspect
from cnninspect.chapter.models import SimpleCNN


def scripted(model):
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # torch.jit.script is deprecated, but users have such models
        return torch.jit.script(model)


def test_scripted_simple_cnn_has_the_chapters_rows():
    s = cnninspect.summarize(scripted(SimpleCNN()), (1, 1, 28, 28))
    assert s.method == "torchscript"
    assert s.total_params == 421_642 and s.output_shapes == [(1, 10)]
    rows = {layer.name: layer for layer in s.layers}
    assert rows["conv1"].kind == "Conv2d" and rows["conv1"].output_shape == (1, 32, 28, 28)
    assert rows["conv1"].macs == 28 * 28 * 32 * 9
    assert rows["fc1"].num_params == 3136 * 128 + 128 and rows["fc1"].macs == 3136 * 128


def conv_shapes_of_a_real_forward(model, x) -> list[tuple[str, tuple]]:
    """Every Conv2d call's output shape, by module path, recorded by hooks on the eager model."""
    seen: list[tuple[str, tuple]] = []
    convs = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    out = hooked_forward(model, x, convs, lambda n, o: seen.append((n, tuple(o.shape))))
    return seen + [("<output>", tuple(out.shape))]


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "densenet121"])
def test_scripted_torchvision_models_against_a_real_forward(name):
    """Held to torch, not to our eager summary: the flop counter's MACs, the real output and
    every conv's real output shape, in call order."""
    eager = getattr(torchvision.models, name)().eval()
    x = torch.randn(1, 3, 64, 64)
    script = cnninspect.summarize(scripted(eager), (1, 3, 64, 64))
    assert script.method == "torchscript"
    assert script.total_params == sum(p.numel() for p in eager.parameters())
    assert script.total_macs == counted_macs(eager, x)
    real = conv_shapes_of_a_real_forward(eager, x)
    assert script.output_shapes == [real[-1][1]]
    convs = [(layer.name, layer.output_shape) for layer in script.layers if layer.kind == "Conv2d"]
    assert convs == real[:-1]


def test_scripted_model_with_wrong_input_gets_our_error():
    with pytest.raises(cnninspect.InputShapeError, match="conv1"):
        cnninspect.summarize(scripted(SimpleCNN()), (1, 3, 28, 28))
