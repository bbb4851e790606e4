"""Memory speed-ups that must not cost exactness (issue 15, issue 18): remembered replays see
every change that matters, the table's forward-only figure and the budget search read off two
replays agree with real forwards and exact replays.

References are independent: ``saved_tensors_hooks`` on real CPU forwards
(tests/memory_reference.py), and replays made from scratch after ``cache.forget()``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
import torchvision.models as M
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from memory_reference import real_saved_bytes  # noqa: E402

from cnninspect.analyses.memory import cache, largest_batch, memory, saved_bytes  # noqa: E402
from cnninspect.chapter.models import SimpleCNN  # noqa: E402


@pytest.mark.parametrize(
    ("build", "shape"),
    [
        (M.resnet18, (2, 3, 64, 64)),
        (M.densenet121, (1, 3, 64, 64)),  # concatenations
        (M.mobilenet_v3_large, (2, 3, 64, 64)),  # in-place activations
        (lambda: M.vit_b_16(image_size=64), (1, 3, 64, 64)),  # attention kernels
    ],
)
def test_forward_only_saved_bytes_equal_a_real_forward(build, shape):
    torch.manual_seed(0)
    model = build()
    assert saved_bytes(model, shape) == real_saved_bytes(model, torch.randn(shape))


class WithConstant(nn.Module):
    """A plain CPU tensor attribute: the model's own forward cannot mix it with meta tensors."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.scale = torch.full((4, 8), 2.0)

    def forward(self, x):
        return self.fc(x) * self.scale


def test_forward_only_saved_bytes_fall_back_to_the_trace():
    from cnninspect.analyses.memory.run import replay
    from cnninspect.engine.inputs import InputSpec
    from cnninspect.errors import ModelError

    model = WithConstant()
    with pytest.raises(ModelError, match="not on the expected device"):
        replay(model, InputSpec.of((4, 8), None, None), train=True, backward=False, rows=False)
    assert saved_bytes(model, (4, 8)) == real_saved_bytes(model, torch.randn(4, 8))


def test_a_changed_setting_is_replayed_not_remembered():
    """A conv's stride is a tuple setting that no parameter shape reflects."""
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU())
    x = torch.randn(2, 3, 32, 32)
    before = memory(model, (2, 3, 32, 32)).activation_bytes
    assert before == real_saved_bytes(model, x)
    model[2].stride = (2, 2)
    after = memory(model, (2, 3, 32, 32)).activation_bytes
    assert after == real_saved_bytes(model, x) != before


def test_a_forward_hook_added_later_is_replayed_not_remembered():
    model = nn.Sequential(nn.Linear(16, 16), nn.Linear(16, 4))
    x = torch.randn(8, 16)
    before = memory(model, (8, 16)).activation_bytes
    handle = model[0].register_forward_hook(lambda m, i, o: o * o)  # saves its output twice
    try:
        after = memory(model, (8, 16)).activation_bytes
        assert after == real_saved_bytes(model, x) > before
    finally:
        handle.remove()


def test_frozen_parameters_and_modes_are_part_of_the_key():
    model = SimpleCNN()
    adam = memory(model, (4, 1, 28, 28), optimizer="adam")
    for p in model.conv1.parameters():
        p.requires_grad_(False)
    frozen = memory(model, (4, 1, 28, 28), optimizer="adam")
    trainable = sum(p.numel() * 4 for p in model.parameters() if p.requires_grad)
    assert frozen.gradient_bytes == trainable < adam.gradient_bytes
    assert frozen.activation_bytes == real_saved_bytes(model, torch.randn(4, 1, 28, 28))


def test_a_remembered_report_is_a_copy_and_equals_a_fresh_replay():
    model = M.resnet18()
    first = memory(model, (2, 3, 64, 64), optimizer="sgd")
    first.rows[0].saved_bytes = -1
    first.notes.append("mine")
    again = memory(model, (2, 3, 64, 64), optimizer="sgd")
    cache.forget()
    fresh = memory(model, (2, 3, 64, 64), optimizer="sgd")
    assert again == fresh and again.rows[0].saved_bytes >= 0 and again.notes == []


class Capped(nn.Module):
    """Only the first four samples reach the layer: its memory stops growing at batch 4."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4096, 4096)

    def forward(self, x):
        return self.fc(x[:4]).relu()


@pytest.mark.parametrize(
    ("build", "shape", "budget"),
    [
        (SimpleCNN, (1, 1, 28, 28), "64MiB"),  # storages on lines: read off batches 1 and 2
        (Capped, (1, 4096), "130MiB"),  # not on lines past batch 4: searched run by run
    ],
)
def test_largest_batch_is_exact_at_the_answer_and_over_one_past_it(build, shape, budget):
    torch.manual_seed(0)
    best, report = largest_batch(build(), shape, budget, optimizer="sgd")
    limit = 130 * 2**20 if budget == "130MiB" else 64 * 2**20
    cache.forget()  # the checks replay from scratch, on a new model
    assert report.train_peak <= limit and best > 2
    assert memory(build(), shape, batch_size=best, optimizer="sgd").train_peak == report.train_peak
    assert memory(build(), shape, batch_size=best + 1, optimizer="sgd").train_peak > limit


class Gate(nn.Module):
    """Two instances differ only in a private flag the forward branches on (as MobileNetV3's
    ``InvertedResidual._is_cn``): same module tree, same parameter shapes."""

    def __init__(self, squared: bool) -> None:
        super().__init__()
        self.fc = nn.Linear(16, 16)
        self._squared = squared

    def forward(self, x):
        y = self.fc(x)
        return y * y * y if self._squared else y + 1  # saves y and y*y, or nothing


def _replays(monkeypatch) -> list[int]:
    from cnninspect.analyses.memory import run

    calls: list[int] = []
    real = run._replay
    monkeypatch.setattr(run, "_replay", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def test_a_fresh_model_of_a_reported_architecture_costs_no_replay(monkeypatch):
    cache.forget()
    torch.manual_seed(0)
    shape = (2, 3, 64, 64)
    first = memory(M.resnet18(), shape, optimizer="sgd")
    first_saved = saved_bytes(M.resnet18().eval(), shape)
    calls = _replays(monkeypatch)
    fresh = M.resnet18()
    again = memory(fresh, shape, optimizer="sgd")
    assert saved_bytes(M.resnet18().eval(), shape) == first_saved
    assert calls == [] and again == first
    assert again.activation_bytes == real_saved_bytes(fresh, torch.randn(shape))


def test_models_that_differ_in_a_private_setting_are_not_confused(monkeypatch):
    cache.forget()
    x = torch.randn(8, 16)
    plain, squared = Gate(False), Gate(True)
    assert memory(plain, (8, 16)).activation_bytes == real_saved_bytes(plain, x)
    calls = _replays(monkeypatch)
    assert memory(squared, (8, 16)).activation_bytes == real_saved_bytes(squared, x)
    assert real_saved_bytes(squared, x) > real_saved_bytes(plain, x)
    assert saved_bytes(squared, (8, 16)) == real_saved_bytes(squared, x)
    assert calls  # replayed, not served from the plain model's report


def _gate_class(squared: bool) -> type[nn.Module]:
    class Local(nn.Module):  # same name, same tree, another forward
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(16, 16)

        def forward(self, x):
            y = self.fc(x)
            return y * y * y if squared else y + 1

    return Local


def test_classes_of_the_same_name_and_tree_are_not_confused():
    cache.forget()
    x = torch.randn(8, 16)
    for squared in (False, True, False):
        model = _gate_class(squared)()
        assert saved_bytes(model, (8, 16)) == real_saved_bytes(model, x)
        assert memory(model, (8, 16)).activation_bytes == real_saved_bytes(model, x)


def test_a_model_holding_an_object_by_identity_is_remembered_for_itself_only(monkeypatch):
    cache.forget()
    build = lambda: nn.Sequential(nn.Linear(16, 16), nn.ReLU())  # noqa: E731
    first = build()
    first.helper = object()  # unknown: read by identity, so the key is this model's alone
    memory(first, (8, 16))
    calls = _replays(monkeypatch)
    second = build()
    second.helper = object()
    memory(second, (8, 16))
    assert calls
