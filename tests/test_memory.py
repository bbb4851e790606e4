"""Memory (issue 15): saved-for-backward bytes exactly as a real forward saves them, peaks
within 10 % of a real CPU step, and the API, CLI and budget search around them.

The references come from tests/memory_reference.py, which never reads cnninspect:
``saved_tensors_hooks`` on a real CPU forward, and the allocator's events under
``torch.profiler``. Inputs are small to keep the file fast; the figures do not depend
on size (meta tensors), the references do.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import pytest
import torch
import torchvision.models as M
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from memory_reference import (  # noqa: E402
    measured_inference_peak,
    measured_train_peak,
    real_saved_bytes,
)

from cnninspect.analyses.memory import largest_batch, memory, parse_bytes  # noqa: E402
from cnninspect.analyses.memory.liveness import saved_by_row  # noqa: E402
from cnninspect.analyses.memory.run import replay  # noqa: E402
from cnninspect.chapter.models import CustomCNN, SimpleCNN  # noqa: E402
from cnninspect.engine.inputs import InputSpec  # noqa: E402
from cnninspect.errors import OptionError  # noqa: E402


class LSTMNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(16, 32, num_layers=2, batch_first=True)
        self.fc = nn.Linear(32, 5)

    def forward(self, x):
        y, _ = self.lstm(x)
        return self.fc(y[:, -1])


MODELS = {
    "simple_cnn": SimpleCNN,
    "custom_cnn": CustomCNN,
    "resnet18": M.resnet18,
    "resnet50": M.resnet50,
    "densenet121": M.densenet121,
    "mobilenet_v3_large": M.mobilenet_v3_large,
    "efficientnet_b0": M.efficientnet_b0,
    "convnext_tiny": M.convnext_tiny,
    "vit_b_16": lambda: M.vit_b_16(image_size=64),
    "swin_t": M.swin_t,
    "lstm": LSTMNet,
    "mnasnet0_5": M.mnasnet0_5,
    "googlenet": lambda: M.googlenet(aux_logits=False, init_weights=False),
    "shufflenet_v2": M.shufflenet_v2_x0_5,
    "squeezenet": M.squeezenet1_0,
    "regnet_y_400mf": M.regnet_y_400mf,
    "alexnet": M.alexnet,
    "mobilenet_v2": M.mobilenet_v2,
}
SAVED_CASES = {
    "simple_cnn": (2, 1, 28, 28),
    "custom_cnn": (2, 3, 32, 32),
    "resnet18": (2, 3, 64, 64),
    "resnet50": (2, 3, 64, 64),
    "densenet121": (2, 3, 64, 64),
    "mobilenet_v3_large": (2, 3, 64, 64),
    "efficientnet_b0": (2, 3, 64, 64),
    "convnext_tiny": (1, 3, 64, 64),
    "vit_b_16": (1, 3, 64, 64),
    "swin_t": (1, 3, 64, 64),
    "lstm": (2, 7, 16),
    "mnasnet0_5": (4, 3, 64, 64),
    "googlenet": (1, 3, 64, 64),
    "shufflenet_v2": (1, 3, 64, 64),
    "squeezenet": (4, 3, 64, 64),
    "regnet_y_400mf": (2, 3, 64, 64),
}


# large models whose initialisers cost more than the test, with no index tables made at init
FAST_BUILD = {"resnet50", "densenet121", "efficientnet_b0", "convnext_tiny", "vit_b_16", "alexnet"}


@functools.cache
def built(name: str) -> nn.Module:
    """Each model once per session (building the large ones costs more than measuring them)."""
    torch.manual_seed(0)
    if name not in FAST_BUILD:
        return MODELS[name]()
    with torch.device("meta"):  # skip torchvision's initialisers: values do not matter here
        model = MODELS[name]()
    model.to_empty(device="cpu")
    with torch.no_grad():
        for t in list(model.parameters()) + list(model.buffers()):
            if t.is_floating_point():
                t.normal_(0, 0.02)
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_var is not None:
                m.running_var.fill_(1.0)
    return model


@pytest.mark.parametrize("name", list(SAVED_CASES))
def test_saved_bytes_equal_a_real_forward(name):
    model, shape = built(name), SAVED_CASES[name]
    log, _ = replay(model, InputSpec.of(shape, None, None), train=True)
    ours = sum(saved_by_row(log, len(log.rows)))
    # oneDNN's LSTM kernel (CPU only) saves its own workspace; torch's reference
    # kernel, which CUDA-less meta runs follow, is what the replay models
    flags = torch.backends.mkldnn.flags(enabled=False) if name == "lstm" else _nothing()
    with flags:
        real = real_saved_bytes(model, torch.randn(shape))
    assert ours == real


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# shapes where activations, not oneDNN's per-call weight reorders (a CPU-only transient the
# size of one conv weight), decide the peak; the same shapes as above, so replays are shared
PEAK_CASES = {
    "simple_cnn": (64, 1, 28, 28),
    "custom_cnn": (32, 3, 32, 32),
    "alexnet": (4, 3, 64, 64),
    "squeezenet": (4, 3, 64, 64),
    "resnet18": (8, 3, 96, 96),
    "mnasnet0_5": (2, 3, 64, 64),
    "mobilenet_v2": (1, 3, 64, 64),
    "googlenet": (1, 3, 64, 64),
}


@pytest.mark.parametrize("name", list(PEAK_CASES))
def test_peaks_within_ten_percent_of_a_real_cpu_step(name):
    model, shape = built(name), PEAK_CASES[name]
    report = memory(model, shape, optimizer="sgd")
    x = torch.randn(shape)
    assert report.inference_peak == pytest.approx(measured_inference_peak(model, x), rel=0.10)
    assert report.train_peak == pytest.approx(measured_train_peak(model, x, "sgd"), rel=0.10)


def test_adam_state_and_step_peak_match_a_real_step():
    model = SimpleCNN()
    report = memory(model, (2, 1, 28, 28), optimizer="adamw")
    assert report.optimizer_bytes == 2 * report.param_bytes + 4 * len(list(model.parameters()))
    measured = measured_train_peak(model, torch.randn(2, 1, 28, 28), "adamw")
    assert report.train_peak == pytest.approx(measured, rel=0.10)


def test_rows_and_totals_agree_and_the_model_is_left_as_found():
    model = M.resnet18().eval()
    report = memory(model, (1, 3, 64, 64), batch_size=4)
    assert report.batch_size == 4
    assert sum(r.saved_bytes for r in report.rows) == report.activation_bytes
    assert report.row("conv1").output_bytes == 4 * 64 * 32 * 32 * 4  # a real conv1 output's bytes
    assert report.param_bytes == sum(p.numel() * 4 for p in model.parameters())
    assert not model.training and all(p.device.type == "cpu" for p in model.parameters())
    assert "training-step peak" in report.to_text()
    assert report.to_dict()["train_peak"] == report.train_peak


def test_dtype_halves_parameters_and_activations():
    full = memory(SimpleCNN(), (8, 1, 28, 28), optimizer="sgd")
    half = memory(SimpleCNN(), (8, 1, 28, 28), optimizer="sgd", dtype="bfloat16")
    assert half.param_bytes * 2 == full.param_bytes
    assert half.activation_bytes < full.activation_bytes


def test_largest_batch_fits_and_the_next_does_not():
    budget = 64 * 2**20
    best, report = largest_batch(SimpleCNN(), (1, 1, 28, 28), "64MiB", optimizer="sgd")
    assert best > 1 and report.train_peak <= budget
    assert (
        memory(SimpleCNN(), (1, 1, 28, 28), batch_size=best + 1, optimizer="sgd").train_peak
        > budget
    )


def test_bad_options_name_the_fix():
    with pytest.raises(OptionError, match="sgd, sgd-momentum, adam, adamw"):
        memory(SimpleCNN(), optimizer="lion")
    with pytest.raises(OptionError, match="24GiB"):
        parse_bytes("lots")
    assert parse_bytes("24GiB") == 24 * 2**30 and parse_bytes("1.5GB") == 1_500_000_000


def test_cli_prints_the_breakdown_and_the_batch(capsys):
    from cnninspect.integrations.cli import main

    assert (
        main(
            ["memory", "simple-cnn", "--batch-size", "4", "--optimizer", "sgd", "--budget", "8MiB"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "activations saved for backward" in out and "largest batch that fits 8MiB" in out


@pytest.mark.parametrize("name", ["simple_cnn", "resnet18", "convnext_tiny", "swin_t"])
def test_amp_saved_bytes_equal_a_real_autocast_forward(name):
    model, shape = built(name), SAVED_CASES[name]
    log, _ = replay(model, InputSpec.of(shape, None, None), train=True, amp=torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        real = real_saved_bytes(model, torch.randn(shape))
    assert sum(saved_by_row(log, len(log.rows))) == real  # bf16 weight copies included


def test_summary_memory_uses_the_summarised_model_and_input():
    import cnninspect

    model = M.resnet18()
    s = cnninspect.summarize(model, (2, 3, 64, 64))
    report = s.memory(batch_size=4, optimizer="sgd-momentum")
    assert report.batch_size == 4 and report.optimizer_bytes == report.param_bytes
    assert report.activation_bytes == cnninspect.memory(model, (4, 3, 64, 64)).activation_bytes


def test_memory_budgets_fail_with_the_layers_that_save_the_most():
    import cnninspect
    from cnninspect.analyses.budgets import evaluate, resolve

    s = cnninspect.summarize(SimpleCNN(), (1, 1, 28, 28))
    budget = resolve(
        (
            "marker",
            {
                "max_activation_memory": "4MiB @ batch=64, optimizer=adam",
                "max_train_memory": "1GiB",
            },
        )
    )
    message = evaluate(s, budget)
    saved = memory(SimpleCNN(), (64, 1, 28, 28), optimizer="adam").activation_bytes
    assert message.splitlines()[0].endswith(
        f"activations saved for backward {saved / 2**20:.2f} MiB > max 4.00 MiB (batch 64, adam)"
    )
    assert "Top 10 layers by share of memory saved for backward" in message
    assert message.splitlines()[3].split()[:2] == [
        "relu",
        "relu",
    ]  # relu keeps its 64x32x28x28 output
    assert evaluate(s, resolve(("marker", {"max_train_memory": "1GiB @ batch=64"}))) is None
    with pytest.raises(OptionError, match="batch='x' must be a positive whole number"):
        resolve(("marker", {"max_train_memory": "4MiB @ batch=x"}))


def test_a_model_built_on_meta_gives_the_same_report():
    with torch.device("meta"):
        on_meta = SimpleCNN()
    a = memory(on_meta, (8, 1, 28, 28), optimizer="adam")
    b = memory(SimpleCNN(), (8, 1, 28, 28), optimizer="adam")
    assert (a.activation_bytes, a.param_bytes, a.train_peak) == (
        b.activation_bytes,
        b.param_bytes,
        b.train_peak,
    )
    assert all(p.device.type == "meta" for p in on_meta.parameters())


def test_with_memory_adds_columns_and_json_fields_on_a_copy():
    import json

    import cnninspect
    from cnninspect.analyses.memory import with_memory

    s = cnninspect.summarize(SimpleCNN(), (1, 1, 28, 28))
    annotated, report = with_memory(s, batch_size=64)
    relu = annotated.layer("relu")
    assert relu.output_bytes == relu.saved_bytes == 64 * 32 * 28 * 28 * 4  # relu keeps its output
    text = annotated.to_text(columns="name,output_bytes,saved_bytes")
    assert "Saved for backward" in text and "6,422,528" in text
    layers = json.loads(annotated.to_json())["layers"]
    assert sum(row["saved_bytes"] for row in layers) == report.activation_bytes
    assert s.layer("relu").saved_bytes is None  # the summary itself is untouched
    assert "saved_bytes" not in json.loads(s.to_json())["layers"][0]  # additive only when set
