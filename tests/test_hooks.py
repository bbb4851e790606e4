"""The real-forward recorder: what it sees, and that it leaves the model exactly as it was."""

from __future__ import annotations

import pytest
import torch
from modelstate import assert_unchanged as _assert_unchanged
from modelstate import snapshot as _snapshot
from torch import nn

from cnninspect import ModelError
from cnninspect.chapter.models import SimpleCNN
from cnninspect.engine.hooks import record_forward

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class _Net(nn.Module):
    """BatchNorm (its buffers change in train mode), a frozen layer and a module used twice."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.act = nn.ReLU()
        self.head = nn.Linear(4, 2)
        self.head.weight.requires_grad_(False)

    def forward(self, x):
        x = self.act(self.bn(self.conv(x)))
        x = self.act(x)  # the same module again
        return self.head(x.mean((2, 3)))


def test_records_every_call_with_real_shapes():
    model = SimpleCNN()
    rec = record_forward(model, (1, 1, 28, 28))
    by_label = {r.label: r for r in rec.records}
    # the shapes below are the chapter's, worked by hand: 28 -> pool 14 -> pool 7
    assert by_label["conv1"].output_shapes == [(1, 32, 28, 28)]
    assert by_label["pool"].output_shapes == [(1, 32, 14, 14)]
    assert by_label["pool@2"].output_shapes == [(1, 64, 7, 7)]  # pool is called twice: two records
    assert by_label["pool@2"].input_shapes == [(1, 64, 14, 14)]
    assert by_label["fc1"].output_shapes == [(1, 128)]
    assert rec.output_shapes == [(1, 10)]
    # parameters the module owns: 32*1*3*3 + 32 and 3136*128 + 128
    assert by_label["conv1"].num_params == 320
    assert by_label["fc1"].num_params == 401_536
    assert by_label[""].num_params == 421_642  # the root: the whole model
    assert [r.label for r in rec.records if r.name == "pool"] == ["pool", "pool@2"]


def test_shared_parameters_count_once_at_first_use():
    model = _Net()
    rec = record_forward(model, (1, 3, 8, 8))
    first = rec.first_use({"conv", "bn", "act", "act@2", "head"})
    assert first == {"conv": 4 * 3 * 9 + 4, "bn": 8, "act": 0, "act@2": 0, "head": 4 * 2 + 2}


def test_batch_size_option_and_default_batch_of_one():
    model = SimpleCNN()
    assert record_forward(model, (1, 1, 28, 28)).output_shapes == [(1, 10)]
    assert record_forward(model, (1, 1, 28, 28), batch_size=3).output_shapes == [(3, 10)]


def test_model_left_exactly_as_found_in_train_mode():
    model = _Net().train()
    model.conv.weight.grad = torch.ones_like(model.conv.weight)
    before = _snapshot(model)
    record_forward(model, (2, 3, 8, 8))  # a train-mode forward updates BatchNorm's running stats...
    _assert_unchanged(model, before)  # ...but on copies: the model's own buffers are as they were


def test_mode_option_is_undone():
    model = _Net().train()
    model.head.eval()  # mixed modes must survive too
    before = _snapshot(model)
    record_forward(model, (1, 3, 8, 8), mode="eval")
    _assert_unchanged(model, before)


def test_model_left_as_found_when_forward_raises():
    class Exploding(_Net):
        def forward(self, x):
            self.bn(self.conv(x))
            raise RuntimeError("boom")

    model = Exploding().train()
    before = _snapshot(model)
    with pytest.raises(ModelError, match="forward raised RuntimeError.*boom"):
        record_forward(model, (2, 3, 8, 8), mode="eval", count_flops=True)
    _assert_unchanged(model, before)


def test_a_layer_that_rejects_its_input_is_named():
    model = SimpleCNN()
    before = _snapshot(model)
    with pytest.raises(ModelError, match="'conv1' \\(Conv2d\\)"):
        record_forward(model, (1, 3, 28, 28))  # three channels into a one-channel conv
    _assert_unchanged(model, before)


def test_meta_model_runs_on_stand_in_weights():
    with torch.device("meta"):
        model = SimpleCNN()
    rec = record_forward(model, (1, 1, 28, 28))
    assert rec.output_shapes == [(1, 10)]
    assert all(p.device.type == "meta" for p in model.parameters())


def test_flop_counter_runs_in_the_same_forward():
    model = SimpleCNN()
    rec = record_forward(model, (1, 1, 28, 28), count_flops=True)
    # FLOPs = 2 x MACs; conv1 does 32*28*28 dot products of length 9
    assert rec.flops["conv1"] == 2 * 32 * 28 * 28 * 9
    assert rec.flops["fc2"] == 2 * 10 * 128
    assert rec.total_flops == sum(v for k, v in rec.flops.items() if k and "." not in k)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_runs_on_another_device_and_leaves_the_model_on_its_own():
    model = _Net()
    before = _snapshot(model)
    rec = record_forward(model, (1, 3, 8, 8), device="cuda")
    assert rec.device.startswith("cuda")
    assert rec.output_shapes == [(1, 2)]
    _assert_unchanged(model, before)


def test_training_batch_norm_on_one_value_gets_a_hint():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).train()
    with pytest.raises(ModelError, match="pass mode='eval'"):
        record_forward(model, (1, 3, 3, 3))  # one value per channel
    assert record_forward(model, (1, 3, 3, 3), mode="eval").output_shapes == [(1, 4, 1, 1)]
