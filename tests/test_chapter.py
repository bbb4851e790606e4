"""The chapter replayed: every entry of the shared figures.json, proven by an independent source.

figures.json (beside the checkout, test-only) is the chapter's record. Each test
computes the entry's value without cnninspect's summary or rules -- a real forward,
``sum(p.numel())``, ``F.conv2d``, torch's own padding, back-propagated gradients --
and asserts that (a) it reproduces the printed value where the chapter is right and
its ``true_*`` value where it errs, (b) ``cnninspect.chapter.replay`` computed the same,
and (c) the replay calls it equal or a known erratum accordingly.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnninspect.analyses import gradcheck
from cnninspect.chapter import facts
from cnninspect.chapter.models import (
    FIXTURES,
    ConvBlock,
    CustomCNN,
    OverviewCNN,
    SimpleCNN,
    rf_stack,
)
from cnninspect.chapter.pictures import correlate_same, gallery
from cnninspect.chapter.replay import replay
from cnninspect.integrations.cli import main as cli_main

FIGURES_JSON = Path(__file__).resolve().parents[2] / "shared/chapter/figures.json"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def chapter() -> dict:
    assert FIGURES_JSON.is_file(), f"the chapter's figures are expected at {FIGURES_JSON}"
    return json.loads(FIGURES_JSON.read_text())


@pytest.fixture(scope="module")
def figures() -> dict:
    return {f.key: f for f in replay().figures}


def _plain(v):
    return json.loads(json.dumps(np.asarray(v).tolist() if isinstance(v, np.ndarray) else v, default=list))


def _check(figures, key, truth, printed, erratum=False):
    """cnninspect's value equals the independent truth; the status follows from printed vs truth."""
    fig = figures[key]
    assert _plain(fig.printed) == _plain(printed), key
    assert _plain(fig.computed) == _plain(truth), (key, fig.computed, truth)
    assert fig.status == ("erratum" if erratum else "equal"), (key, fig.status)
    assert (_plain(truth) != _plain(printed)) == erratum, key
    if erratum:
        assert fig.why


def _forward_shape(model, shape):
    with torch.no_grad():
        return tuple(model.eval()(torch.zeros(shape)).shape)


def _params(model):
    return sum(p.numel() for p in model.parameters())


def test_position_sensitivity(chapter, figures):
    entry = chapter["position_sensitivity"]
    img = torch.zeros(entry["image_size"])
    moved = torch.zeros(entry["image_size"])
    for r, c in entry["original_ones"]:
        img[r, c] = 1
    for r, c in entry["shifted_ones"]:
        moved[r, c] = 1
    assert torch.equal(torch.roll(img, 1, dims=1), moved)  # "one pixel to the right"
    distance = float(torch.linalg.vector_norm(img.flatten() - moved.flatten()))
    assert distance == pytest.approx(math.sqrt(6))
    _check(figures, "cat.distance", round(distance, 2), entry["printed_distance"])
    assert figures["cat.equivariant"].status == "equal"


def test_fc_first_layer(chapter, figures):
    entry = chapter["fc_first_layer"]
    layer = nn.Linear(math.prod(entry["input"]), entry["units"], bias=False, device="meta")
    _check(figures, "fc.inputs", layer.in_features, entry["printed_inputs"])
    _check(figures, "fc.weights", layer.weight.numel(), entry["printed_weights"])


def test_overview_cnn_is_a_third_model(chapter, figures):
    entry = chapter["cnn_overview_diagram"]
    model = OverviewCNN()
    shapes, x = [], torch.zeros(1, 1, 28, 28)
    with torch.no_grad():
        for layer in (model.conv1, model.pool1, model.conv2, model.pool2):
            x = layer(x)
            shapes.append((x.shape[2], x.shape[3], x.shape[1]))
        x = torch.flatten(x, 1)
        shapes.append((x.shape[1],))
        x = model.fc1(x)
        shapes.append((x.shape[1],))
        shapes.append((model.fc2(x).shape[1],))
    stages = [tuple(int(v) for v in s.split()[-1].split("x")) for s in entry["stages"] if s.split()[0] != "relu"][1:]
    assert shapes == stages
    _check(figures, "overview.stages", shapes, shapes)
    _check(figures, "overview.params", _params(model), entry["true_params"])
    assert FIXTURES["overview-cnn"].factory is OverviewCNN
    assert cli_main(["summary", "overview-cnn"]) == 0


def test_worked_convolution_errata(chapter, figures):
    entry = chapter["manual_convolution"]
    image = torch.tensor(entry["image"], dtype=torch.float64)
    kernel = torch.tensor(entry["kernel"], dtype=torch.float64)
    out = F.conv2d(image[None, None], kernel[None, None])[0, 0]
    assert out.tolist() == entry["true_output"]
    products = image[:3, :3] * kernel
    _check(figures, "conv.region_00", image[:3, :3].tolist(), entry["printed_region_00"])
    _check(figures, "conv.products_00", products.tolist(), entry["printed_products_00"])
    _check(figures, "conv.sum_00", entry["true_sum_00"], entry["printed_sum_00"], erratum=True)
    assert float(products.sum()) == entry["true_sum_00"]
    _check(figures, "conv.output", out.tolist(), entry["printed_output"], erratum=True)


def test_kernel_gallery_same_size_mirror_border(chapter, figures):
    entry = chapter["kernel_gallery"]
    image = torch.tensor(entry["test_image"], dtype=torch.float64)
    kernels = {k: (torch.ones(3, 3) / 9 if v == "ones(3,3)/9" else torch.tensor(v)) for k, v in entry["kernels"].items()}
    results = gallery()
    assert list(results) == list(kernels)
    for name, k in kernels.items():
        # for a 3x3 kernel a one-pixel mirror ("symmetric") border repeats the edge pixel: torch's replicate pad
        padded = F.pad(image[None, None], (1, 1, 1, 1), mode="replicate")
        expected = F.conv2d(padded, k.double()[None, None])[0, 0]
        np.testing.assert_allclose(results[name], expected.numpy(), atol=1e-9, err_msg=name)
        assert results[name].shape == image.shape
    _check(figures, "gallery.shapes", [list(image.shape)] * 5, [list(image.shape)] * 5)
    _check(figures, "gallery.identity", True, True)
    # a wider kernel mirrors two pixels deep: numpy's symmetric pad, checked by hand at a corner
    k5 = np.arange(25.0).reshape(5, 5)
    img = np.arange(12.0).reshape(3, 4)
    mirrored = np.array([[img[abs(i) - (i < 0) if i < 3 else 5 - i, abs(j) - (j < 0) if j < 4 else 7 - j]
                          for j in range(-2, 3)] for i in range(-2, 3)])  # fmt: skip
    assert correlate_same(img, k5)[0, 0] == pytest.approx((mirrored * k5).sum())


def test_output_sizes(chapter, figures):
    entry = chapter["output_size"]
    for case in entry["cases"]:
        n, k, s, p = case["n"], case["k"], case["s"], case["p"]
        out = _forward_shape(nn.Conv2d(1, 1, k, s, p), (1, 1, n, n))[-1]
        assert out == (n + 2 * p - k) // s + 1
        _check(figures, f"output_size.{case['label']}", out, case["out"])


def test_multichannel_and_conv2d_basics(chapter, figures):
    for key, section, layer in (("multichannel_conv", "multichannel_conv", nn.Conv2d(3, 16, 3, padding=1)),
                                ("conv2d_basics", "conv2d_basics", nn.Conv2d(3, 64, 3, stride=1, padding=1))):  # fmt: skip
        entry = chapter[section]
        truth = {"output": _forward_shape(layer, entry["input"]), "params": _params(layer),
                 "weights": layer.weight.numel(), "biases": layer.bias.numel(),
                 "weight_shape": tuple(layer.weight.shape), "bias_shape": tuple(layer.bias.shape)}  # fmt: skip
        for name in ("output", "weights", "biases", "params", "weight_shape", "bias_shape"):
            if name in entry:
                _check(figures, f"{key}.{name}", truth[name], entry[name])


def _field_by_gradients(model, size=64):
    """Width of the input region the centre output unit depends on, by back-propagation."""
    out = _forward_shape(model, (1, 3, size, size))
    (rows, _cols), = gradcheck.measure(model, (1, 3, size, size), [(out[2] // 2, out[3] // 2)])
    return rows[1] - rows[0] + 1


def test_receptive_field_stack_erratum(chapter, figures):
    entry = chapter["receptive_field"]
    stack = rf_stack()
    assert [(m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0],
             m.stride if isinstance(m.stride, int) else m.stride[0]) for m in stack] == [tuple(x) for x in entry["layers_kernel_stride"]]  # fmt: skip
    true = [1] + [_field_by_gradients(stack[: i + 1]) for i in range(len(stack))]
    assert true == entry["true_stride_aware"]
    _check(figures, "rf.sizes", true, entry["printed"], erratum=True)
    naive = [1]
    for k, _s in entry["layers_kernel_stride"]:
        naive.append(naive[-1] + k - 1)  # the chapter's formula, as it states it
    _check(figures, "rf.naive", naive, entry["printed"])


def test_param_table(chapter, figures):
    entry = chapter["param_table"]
    for row in entry["rows"]:
        n = _params(nn.Conv2d(row["cin"], row["cout"], row["k"]))
        _check(figures, f"param_table.{row['cin']}-{row['cout']}-{row['k']}", n, row["params"])
    fc = _params(nn.Linear(224 * 224 * 3, 1000, device="meta"))
    conv = _params(nn.Conv2d(3, 64, 3))
    _check(figures, "param_table.fc", fc, entry["fc_224x224x3_to_1000_with_bias"])
    _check(figures, "param_table.conv", conv, entry["conv_3_64_3x3"])
    assert f"{100 * (1 - conv / fc):.4f}" == entry["true_reduction"].split()[0]
    _check(figures, "param_table.reduction", f"{1 - conv / fc:.2%}", entry["printed_reduction"])


def test_filter_grids(chapter, figures):
    _check(figures, "filter_grid", tuple(chapter["filter_grid"]["grid"]), chapter["filter_grid"]["grid"])
    rows = -(-SimpleCNN().conv1.out_channels // 8)
    _check(figures, "learned_filters.grid", (rows, 8), chapter["learned_filters"]["grid"])


def test_relu_and_conv_block(chapter, figures):
    entry = chapter["relu"]
    out = [max(0.0, v) for v in entry["input"]]
    _check(figures, "relu", out, entry["output"])
    block = chapter["conv_block"]
    _check(figures, "conv_block.output", _forward_shape(ConvBlock(3, 64), block["input"]), block["output"])


def test_simple_cnn_total_erratum(chapter, figures):
    entry = chapter["simple_cnn"]
    model = SimpleCNN()
    tensors = {name: p.numel() for name, p in model.named_parameters()}
    for name, printed in entry["per_tensor"].items():
        _check(figures, f"simple_cnn.{name}", tensors[name], printed)
    assert sum(entry["per_tensor"].values()) == _params(model) == entry["true_total"]
    _check(figures, "simple_cnn.total", _params(model), entry["printed_total"], erratum=True)
    _check(figures, "simple_cnn.trainable", _params(model), entry["printed_total"], erratum=True)


def test_training_recipe_is_the_default(chapter, figures):
    entry = chapter["training"]
    optimizer, lr = entry["optimizer"].split()
    recipe = {"normalize": entry["normalize"], "train_batch": entry["train_batch"], "test_batch": entry["test_batch"],
              "optimizer": optimizer.lower(), "lr": float(lr.split("=")[1]), "epochs": entry["epochs"]}  # fmt: skip
    for key, value in recipe.items():
        _check(figures, f"training.{key}", value, value)
    # the normalisation really is ToTensor + Normalize(mean, std): 0 -> -mean/std
    from cnninspect.chapter.data import normalize

    assert float(normalize(torch.zeros(1, 28, 28, dtype=torch.uint8))[0, 0, 0, 0]) == pytest.approx(-0.1307 / 0.3081)
    assert [e["test_acc"] for e in entry["printed_epochs"]] == [e[3] for e in facts.PRINTED_EPOCHS]


def test_exercises(chapter, figures):
    ex = chapter["exercises"]
    h, w, c = ex["1"]["input"]
    out = _forward_shape(nn.Conv2d(c, ex["1"]["cout"], ex["1"]["k"], ex["1"]["s"], ex["1"]["p"]), (1, c, h, w))
    _check(figures, "ex1", f"{out[2]}x{out[3]}x{out[1]}", ex["1"]["answer"])
    ex2 = [_params(nn.Conv2d(ci, co, k)) for ci, co, k in ex["2"]["layers"]]
    _check(figures, "ex2.layers", ex2, ex["2"]["answer"])
    _check(figures, "ex2.total", sum(ex2), ex["2"]["total"])
    four = [nn.Conv2d(3, 3, 3, padding=1) for _ in range(4)]
    ex3 = [_field_by_gradients(nn.Sequential(*four[: i + 1])) for i in range(4)]
    _check(figures, "ex3", ex3, ex["3"]["answer"])
    _check(figures, "ex4", _params(CustomCNN()), ex["4"]["true_params"])
    convs = [_params(nn.Conv2d(a, b, 3)) for a, b in ((3, 64), (64, 64), (64, 64))]
    fc = _params(nn.Linear(224 * 224 * 3, 1000, device="meta"))
    _check(figures, "ex5.fc", fc, ex["5"]["fc"])
    _check(figures, "ex5.convs", convs, ex["5"]["three_convs"])
    _check(figures, "ex5.total", sum(convs), ex["5"]["cnn_total"])
    _check(figures, "ex5.reduction", f"{1 - sum(convs) / fc:.2%}", ex["5"]["reduction"])


def test_packaged_facts_match_figures_json(chapter):
    """The package's own copy of the facts is the chapter's, value for value."""
    c = chapter
    assert facts.CONV_IMAGE == tuple(map(tuple, c["manual_convolution"]["image"]))
    assert facts.CONV_KERNEL == tuple(map(tuple, c["manual_convolution"]["kernel"]))
    assert facts.PRINTED_CONV_OUTPUT == tuple(map(tuple, c["manual_convolution"]["printed_output"]))
    assert facts.PRINTED_SUM_00 == c["manual_convolution"]["printed_sum_00"]
    assert [list(p) for p in facts.CAT_ONES] == c["position_sensitivity"]["original_ones"]
    assert facts.GALLERY_IMAGE == tuple(map(tuple, c["kernel_gallery"]["test_image"]))
    assert list(facts.GALLERY_KERNELS) == list(c["kernel_gallery"]["kernels"])
    assert list(facts.RF_LAYERS) == [tuple(x) for x in c["receptive_field"]["layers_kernel_stride"]]
    assert list(facts.PRINTED_RF) == c["receptive_field"]["printed"]
    assert facts.SIMPLE_CNN_TENSORS == c["simple_cnn"]["per_tensor"]
    assert facts.PRINTED_SIMPLE_CNN_TOTAL == c["simple_cnn"]["printed_total"]
    assert facts.OVERVIEW_PARAMS == c["cnn_overview_diagram"]["true_params"]
    assert [list(x) for x in facts.PRINTED_EPOCHS] == [list(e.values()) for e in c["training"]["printed_epochs"]]


def test_every_section_is_replayed(chapter, figures):
    sections = {k for k in chapter if k != "about"}
    prefixes = {k.split(".")[0] for k in figures}
    covered = {"position_sensitivity": "cat", "fc_first_layer": "fc", "cnn_overview_diagram": "overview",
               "manual_convolution": "conv", "kernel_gallery": "gallery", "output_size": "output_size",
               "multichannel_conv": "multichannel_conv", "receptive_field": "rf", "conv2d_basics": "conv2d_basics",
               "param_table": "param_table", "filter_grid": "filter_grid", "relu": "relu", "conv_block": "conv_block",
               "simple_cnn": "simple_cnn", "training": "training", "learned_filters": "learned_filters"}  # fmt: skip
    assert sections - {"exercises"} == set(covered)
    assert set(covered.values()) | {"ex1", "ex2", "ex3", "ex4", "ex5"} == prefixes
    # the three errata the chapter's record names, and no others
    errata = {f.key for f in figures.values() if f.status == "erratum"}
    assert errata == {"conv.output", "conv.sum_00", "rf.sizes", "simple_cnn.total", "simple_cnn.trainable"}


def test_cli_chapter_exits_0_and_names_errata():
    proc = subprocess.run([sys.executable, "-m", "cnninspect", "chapter", "--errata"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    for printed, true in (("421,066", "421,642"), ("[1, 3, 5, 6, 8, 10, 11]", "[1, 3, 5, 6, 10, 14, 16]"),
                          ("[[-13, -15, -12], [-8, -9, -6], [-5, -6, 0]]", "[[0, 18, -18], [27, 41, -17], [-21, -13, -5]]")):  # fmt: skip
        assert f"printed:    {printed}" in proc.stdout and f"true:       {true}" in proc.stdout
    assert "ignores the pools' stride" in proc.stdout


def test_cli_chapter_exits_1_on_a_mismatch(monkeypatch, capsys):
    monkeypatch.setattr(facts, "PRINTED_CAT_DISTANCE", 2.5)
    assert cli_main(["chapter", "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert not data["ok"]
    assert [f["key"] for f in data["figures"] if f["status"] == "mismatch"] == ["cat.distance"]
