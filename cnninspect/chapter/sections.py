"""One function per section of the chapter: its printed figures beside what cnninspect computes.

Every computed value comes from cnninspect's own machinery -- ``summarize`` (meta-tensor
shapes and parameter counts), ``receptive_field``, the NumPy references and the
chapter's models -- fed the chapter's inputs from :mod:`cnninspect.chapter.facts`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from cnninspect.chapter import facts
from cnninspect.chapter.replay import Figure

if TYPE_CHECKING:
    from cnninspect.engine.receptive.report import Number

_N = TypeVar("_N")


def _summary(model: Any, shape: tuple[int, ...]) -> Any:
    from cnninspect.engine.summary import summarize

    return summarize(model, shape, receptive_field=True)


def _hwc(shape: tuple[int, ...]) -> tuple[int, ...]:
    """(1, C, H, W) -> (H, W, C) as the chapter writes it; (1, F) -> (F,)."""
    return (shape[2], shape[3], shape[1]) if len(shape) == 4 else tuple(shape[1:])


def position_and_fc() -> list[Figure]:
    """1.1: the cat moved one pixel, the dense first layer, the overview diagram's CNN."""
    from cnninspect.analyses import reference as ref
    from cnninspect.analyses.fc import position_sensitivity
    from cnninspect.chapter.pictures import cat

    moved = position_sensitivity(cat(), dy=facts.CAT_SHIFT[0], dx=facts.CAT_SHIFT[1])
    inputs = math.prod(facts.FC_INPUT)
    return [
        Figure("1.1", "cat.distance", "the cat moved one pixel right: distance of the flattened images",
               facts.PRINTED_CAT_DISTANCE, round(moved.flat_distance, 2)),
        Figure("1.1", "cat.equivariant", "a conv's feature map of the moved cat is the moved feature map",
               True, moved.equivariant),
        Figure("1.1", "fc.inputs", "dense layer on 224x224x3: inputs", facts.PRINTED_FC_INPUTS, inputs),
        Figure("1.1", "fc.weights", "dense layer on 224x224x3 into 1,000 units: weights",
               facts.PRINTED_FC_WEIGHTS, int(ref.linear_params(inputs, facts.FC_UNITS, bias=False))),
        *overview_cnn(),
    ]  # fmt: skip


def overview_cnn() -> list[Figure]:
    """1.1: the diagram's stages 28 -> 26 -> 13 -> 11 -> 5 -> 1600 -> 128 -> 10 from a real model."""
    from cnninspect.chapter.models import OverviewCNN

    s = _summary(OverviewCNN(), OverviewCNN.default_input_shape)
    kinds = ("Conv2d", "MaxPool2d", "flatten", "Linear")
    stages = [_hwc(layer.output_shape) for layer in s.layers if layer.kind in kinds]
    return [
        Figure("1.1", "overview.stages", "overview diagram: conv, pool, conv, pool, flatten, fc, output",
               facts.OVERVIEW_STAGES, stages),
        Figure("1.1", "overview.params", "overview diagram's CNN: parameters (implied, not printed)",
               facts.OVERVIEW_PARAMS, s.total_params),
    ]  # fmt: skip


def worked_convolution() -> list[Figure]:
    """1.2: the 5x5 image and the 3x3 edge kernel, valid cross-correlation."""
    from cnninspect.analyses import reference as ref
    from cnninspect.chapter.pictures import worked_example

    image, kernel = worked_example()
    region = image[:3, :3]
    return [
        Figure("1.2", "conv.region_00", "worked convolution: the window under output [0,0]",
               facts.PRINTED_REGION_00, region),
        Figure("1.2", "conv.products_00", "worked convolution: its element-wise products",
               facts.PRINTED_PRODUCTS_00, region * kernel),
        Figure("1.2", "conv.sum_00", "worked convolution: their sum, output [0,0]",
               facts.PRINTED_SUM_00, (region * kernel).sum()),
        Figure("1.2", "conv.output", "worked convolution: the 3x3 output",
               facts.PRINTED_CONV_OUTPUT, ref.conv2d(image, kernel)),
    ]  # fmt: skip


def kernel_gallery() -> list[Figure]:
    """1.2: five kernels on the 6x7 picture; each output keeps the picture's size."""
    from cnninspect.chapter.pictures import chapter_image, gallery

    image = chapter_image()
    results = gallery()
    return [
        Figure("1.2", "gallery.shapes", "kernel gallery: every output is 6x7, like its input",
               [image.shape] * len(facts.GALLERY_KERNELS), [r.shape for r in results.values()]),
        Figure("1.2", "gallery.identity", "kernel gallery: the identity kernel returns the picture unchanged",
               True, bool(np.array_equal(results["identity"], image))),
    ]  # fmt: skip


def output_sizes() -> list[Figure]:
    """1.2: floor((n + 2p - k) / s) + 1, read off a real Conv2d's output."""
    from torch import nn

    figures = []
    for n, k, s, p, out, label in facts.OUTPUT_SIZE_CASES:
        shape = _summary(nn.Conv2d(1, 1, k, s, p), (1, 1, n, n)).layers[0].output_shape
        figures.append(Figure("1.2", f"output_size.{label}", f"output size, {label}: n={n} k={k} s={s} p={p}",
                              out, shape[-1]))  # fmt: skip
    return figures


def _conv_figures(
    section: str, key: str, layer: Any, shape: tuple[int, ...], printed: Mapping[str, object]
) -> list[Figure]:
    row = _summary(layer, shape).layers[0]
    computed = {
        "output": row.output_shape, "params": row.num_params,
        "weights": layer.weight.numel(), "biases": layer.bias.numel(),
        "weight_shape": tuple(layer.weight.shape), "bias_shape": tuple(layer.bias.shape),
    }  # fmt: skip
    return [
        Figure(section, f"{key}.{name}", f"{key.replace('_', ' ')}: {name.replace('_', ' ')}", value, computed[name])
        for name, value in printed.items()
        if name != "input"
    ]


def layers_and_parameters() -> list[Figure]:
    """1.3 and 1.4: a multichannel conv, Conv2d basics, the parameter table, the filter grid."""
    from torch import nn

    figures = _conv_figures("1.3", "multichannel_conv", nn.Conv2d(3, 16, 3, padding=1),
                            facts.MULTICHANNEL["input"], facts.MULTICHANNEL)  # fmt: skip
    figures += _conv_figures("1.4", "conv2d_basics", nn.Conv2d(3, 64, 3, stride=1, padding=1),
                             facts.CONV2D_BASICS["input"], facts.CONV2D_BASICS)  # fmt: skip
    for cin, cout, k, printed in facts.PARAM_TABLE:
        s = _summary(nn.Conv2d(cin, cout, k), (1, cin, k, k))
        figures.append(Figure("1.4", f"param_table.{cin}-{cout}-{k}", f"parameter table: {k}x{k} conv {cin} -> {cout}",
                              printed, s.total_params))  # fmt: skip
    fc = _fc_params(bias=True)
    conv = _summary(nn.Conv2d(3, 64, 3), (1, 3, 3, 3)).total_params
    figures += [
        Figure("1.4", "param_table.fc", "dense 224x224x3 -> 1,000 with biases", facts.PRINTED_FC_WITH_BIAS, fc),
        Figure("1.4", "param_table.conv", "conv 3 -> 64, 3x3, with bias", facts.PRINTED_CONV_3_64, conv),
        Figure("1.4", "param_table.reduction", "the conv's saving over the dense layer (2 decimals; 99.9988 %)",
               facts.PRINTED_REDUCTION, f"{1 - conv / fc:.2%}"),
        Figure("1.4", "filter_grid", "filter grid of Conv2d(1,8,3,padding=1): rows x columns",
               facts.FILTER_GRID, _filter_grid_layout(nn.Conv2d(1, 8, 3, padding=1), ncols=4)),
    ]  # fmt: skip
    return figures


def _fc_params(bias: bool) -> int:
    from torch import nn

    layer = nn.Linear(math.prod(facts.FC_INPUT), facts.FC_UNITS, bias=bias, device="meta")
    return _summary(layer, (1, math.prod(facts.FC_INPUT))).total_params


def _filter_grid_layout(layer: Any, ncols: int) -> tuple[int, int]:
    """Rows and columns of the mosaic ``viz.filter_grid`` draws for this layer."""
    from cnninspect.chapter.viz import tile_mosaic

    w = layer.weight.detach()[:, 0]
    mosaic = tile_mosaic(w, ncols=ncols)
    kh, kw = w.shape[-2:]
    return ((mosaic.shape[0] + 1) // (kh + 1), (mosaic.shape[1] + 1) // (kw + 1))


def _first_axis(values: tuple[_N, ...] | None) -> _N:
    """Axis 0 of a receptive field's sizes; the chapter's stacks are plain convs and pools,
    whose fields are always known."""
    assert values is not None
    return values[0]


def receptive_field_stack() -> list[Figure]:
    """1.3: the VGG-like stack's field after each layer; the chapter's formula ignores stride."""
    from cnninspect.chapter.models import rf_stack
    from cnninspect.engine.receptive import receptive_field

    r = receptive_field(rf_stack(), (1, 3, 32, 32))
    rows = [row for row in r if not row.is_global]
    true: list[Number] = [1, *(_first_axis(row.size) for row in rows)]
    naive: list[Number] = [1, *(_first_axis(row.naive) for row in rows)]
    return [
        Figure("1.3", "rf.sizes", "VGG-like stack: receptive field after input, " + ", ".join(facts.RF_NAMES),
               facts.PRINTED_RF, true),
        Figure("1.3", "rf.naive", "the same stack by the chapter's stride-1 formula (cnninspect's naive)",
               facts.PRINTED_RF, naive),
    ]  # fmt: skip


def activations_and_blocks() -> list[Figure]:
    """1.5: ReLU on five values; a conv block keeps 224x224."""
    import torch
    import torch.nn.functional as F

    from cnninspect.chapter.models import ConvBlock

    out = _summary(ConvBlock(3, 64), facts.CONV_BLOCK["input"]).layers[-1].output_shape
    return [
        Figure("1.5", "relu", "ReLU of -2, -1, 0, 1, 2", facts.PRINTED_RELU,
               F.relu(torch.tensor(facts.RELU_INPUT)).tolist()),
        Figure("1.5", "conv_block.output", "Conv2d(3,64,3,padding=1) + ReLU on 1x3x224x224",
               facts.CONV_BLOCK["output"], out),
    ]  # fmt: skip


def simple_cnn() -> list[Figure]:
    """1.6: SimpleCNN's tensors and total, the training recipe, the learned-filter grid."""
    from cnninspect.chapter.models import SimpleCNN

    model = SimpleCNN()
    tensors = {name: p.numel() for name, p in model.named_parameters()}
    s = _summary(model, SimpleCNN.default_input_shape)
    figures = [
        Figure("1.6", f"simple_cnn.{name}", f"SimpleCNN {name}", printed, tensors.get(name))
        for name, printed in facts.SIMPLE_CNN_TENSORS.items()
    ]
    figures += [
        Figure("1.6", "simple_cnn.total", "SimpleCNN total parameters", facts.PRINTED_SIMPLE_CNN_TOTAL, s.total_params),
        Figure("1.6", "simple_cnn.trainable", "SimpleCNN trainable parameters (the same erratum)",
               facts.PRINTED_SIMPLE_CNN_TOTAL, s.trainable_params),
        Figure("1.6", "learned_filters.grid", "learned filters of conv1: rows x columns",
               facts.LEARNED_FILTERS_GRID, _filter_grid_layout(model.conv1, ncols=8)),
        *_training_recipe(),
    ]  # fmt: skip
    return figures


def _training_recipe() -> list[Figure]:
    """The recipe ``cnninspect train`` runs by default is the chapter's."""
    import inspect

    from cnninspect.chapter.data import MEAN, STD
    from cnninspect.chapter.train.loop import fit

    defaults = {k: p.default for k, p in inspect.signature(fit).parameters.items()}
    ours = {"normalize": (MEAN, STD), "train_batch": defaults["batch_size"],
            "test_batch": defaults["eval_batch_size"], "optimizer": defaults["optimizer"],
            "lr": defaults["lr"], "epochs": defaults["epochs"]}  # fmt: skip
    return [
        Figure("1.6", f"training.{key}", f"training recipe: {key.replace('_', ' ')} (cnninspect train's default)",
               value, ours[key])
        for key, value in facts.TRAINING.items()
    ]


def exercises() -> list[Figure]:
    """The five exercises, answered by cnninspect."""
    from torch import nn

    from cnninspect.chapter.models import CustomCNN
    from cnninspect.engine.receptive import receptive_field

    e1 = facts.EX1
    h, w, c = e1["input"]
    out = _summary(nn.Conv2d(c, e1["cout"], e1["k"], e1["s"], e1["p"]), (1, c, h, w)).layers[0].output_shape
    ex2 = [_summary(nn.Conv2d(ci, co, k), (1, ci, k, k)).total_params for ci, co, k in facts.EX2["layers"]]
    four = nn.Sequential(*[nn.Conv2d(1, 1, 3, padding=1) for _ in range(4)])
    ex3 = [_first_axis(row.size) for row in receptive_field(four, (1, 1, 16, 16))]
    convs = [nn.Conv2d(3, 64, 3, padding=1), nn.Conv2d(64, 64, 3, padding=1), nn.Conv2d(64, 64, 3, padding=1)]
    ex5 = [_summary(m, (1, m.in_channels, 3, 3)).total_params for m in convs]
    fc = _fc_params(bias=True)
    return [
        Figure("ex.1", "ex1", "exercise 1: 64x64x3, 5x5 conv, stride 2, padding 2, 128 filters",
               e1["answer"], "x".join(map(str, _hwc(out)))),
        Figure("ex.2", "ex2.layers", "exercise 2: parameters of 7x7 3->64, 3x3 64->128, 3x3 128->256",
               facts.EX2["answer"], ex2),
        Figure("ex.2", "ex2.total", "exercise 2: their total", facts.EX2["total"], sum(ex2)),
        Figure("ex.3", "ex3", "exercise 3: receptive field after each of four padded 3x3 convs",
               facts.EX3["answer"], ex3),
        Figure("ex.4", "ex4", "exercise 4: CustomCNN parameters", facts.EX4_CUSTOM_CNN,
               _summary(CustomCNN(), CustomCNN.default_input_shape).total_params),
        Figure("ex.5", "ex5.fc", "exercise 5: the dense layer", facts.EX5["fc"], fc),
        Figure("ex.5", "ex5.convs", "exercise 5: three 3x3 convs 3->64->64->64", facts.EX5["three_convs"], ex5),
        Figure("ex.5", "ex5.total", "exercise 5: the conv stack's total", facts.EX5["cnn_total"], sum(ex5)),
        Figure("ex.5", "ex5.reduction", "exercise 5: its saving over the dense layer",
               facts.EX5["reduction"], f"{1 - sum(ex5) / fc:.2%}"),
    ]  # fmt: skip


SECTIONS = (
    position_and_fc,
    worked_convolution,
    kernel_gallery,
    output_sizes,
    receptive_field_stack,
    layers_and_parameters,
    activations_and_blocks,
    simple_cnn,
    exercises,
)
