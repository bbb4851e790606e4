"""Every bad input gets one clear cnninspect error naming the cause and the fix."""

from __future__ import annotations

import pytest
from modelstate import assert_unchanged, snapshot
from torch import nn

import cnninspect
from cnninspect.chapter.models import SimpleCNN
from cnninspect.errors import CnnInspectError, InputShapeError, ModelError, ModelSpecError
from cnninspect.integrations.spec import load_model


def test_wrong_channels_names_layer_and_both_shapes():
    with pytest.raises(InputShapeError) as info:
        cnninspect.summarize(SimpleCNN(), (1, 3, 28, 28))
    msg = str(info.value)
    assert "'conv1'" in msg and "Conv2d" in msg
    assert "1x3x28x28" in msg and "32x1x3x3" in msg and "1 input channels" in msg
    assert info.value.__cause__ is None and "Traceback" not in msg


def test_wrong_rank():
    with pytest.raises(InputShapeError, match=r"'conv1'.*4-D input.*got 2-D input of shape 28x28"):
        cnninspect.summarize(SimpleCNN(), (28, 28))


def test_wrong_features_into_linear():
    from cnninspect.chapter.models import CustomCNN

    # 64x64 pools to 16x16, so flatten gives 64*16*16 = 16,384 features, not 4,096
    with pytest.raises(InputShapeError, match=r"'fc'.*4096 input features.*1x16384"):
        cnninspect.summarize(CustomCNN(), (1, 3, 64, 64))


def test_a_reshape_that_cannot_fit_names_the_op():
    with pytest.raises(
        InputShapeError, match=r"'view' \(view\).*1x64x8x8.*invalid for input of size 4096"
    ):
        cnninspect.summarize(SimpleCNN(), (1, 1, 32, 32))


@pytest.mark.parametrize(
    "shape, fragment",
    [
        ((1, -1, 28, 28), "size of -1"),
        ((1, 0, 28, 28), "size of 0"),
        ((1, 1, 28.0, 28), "every size must be an int"),
        ("abc", "not a list of integers"),
        ((), "non-empty tuple"),
        (5, "non-empty tuple"),
    ],
)
def test_input_shape_must_be_positive_ints(shape, fragment):
    with pytest.raises(InputShapeError, match=fragment):
        cnninspect.summarize(SimpleCNN(), shape)


def test_input_too_small_names_the_layer_and_size():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.MaxPool2d(2), nn.Conv2d(4, 4, 3), nn.Conv2d(4, 4, 3))
    with pytest.raises(InputShapeError, match=r"layer '3'.*too small.*shrink spatial axis 0 to -1"):
        cnninspect.summarize(net, (1, 1, 9, 9))


def test_not_a_module():
    with pytest.raises(ModelError, match="needs a torch.nn.Module, got function"):
        cnninspect.summarize(lambda x: x, (1, 3))


def test_spec_errors_say_which_part():
    with pytest.raises(ModelSpecError, match="no module named 'no_such_pkg'"):
        load_model("no_such_pkg.models:Net")
    with pytest.raises(ModelSpecError, match="has no attribute 'resnet9000'"):
        load_model("torchvision.models:resnet9000")
    with pytest.raises(ModelSpecError, match="neither a fixture"):
        load_model("not-a-fixture")
    with pytest.raises(ModelSpecError, match="not an nn.Module"):
        load_model("math:pi")


def needs_args(width):
    return nn.Linear(width, width)


def test_factory_that_needs_arguments():
    with pytest.raises(ModelSpecError, match=r"cannot be called with no arguments.*--kwargs"):
        load_model(f"{__name__}:needs_args")
    assert isinstance(load_model(f"{__name__}:needs_args", {"width": 3}).model, nn.Linear)


class Raises(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)
        self.inner = Boom()

    def forward(self, x):
        return self.inner(self.conv(x))


class Boom(nn.Module):
    def forward(self, x):
        if x.shape[1] != 5:  # control flow on a traced value: fx makes this module opaque
            raise ValueError("boom: expects 5 channels")
        return x


def test_forward_that_raises_is_a_model_error_naming_the_module():
    model = Raises()
    before = snapshot(model)
    with pytest.raises(ModelError, match=r"'inner' \(Boom\).*ValueError: boom"):
        cnninspect.summarize(model, (1, 3, 4, 4))
    assert_unchanged(model, before)


def test_debug_true_raises_the_underlying_error():
    with pytest.raises(InputShapeError) as plain:
        cnninspect.summarize(nn.Linear(4, 2), (1, 5))
    assert plain.value.__cause__ is None
    assert "(1, 5)" not in str(plain.value) and "1x5" in str(plain.value)
    # debug=True hands over torch's own error, traceback and all
    with pytest.raises(RuntimeError) as debug:
        cnninspect.summarize(nn.Linear(4, 2), (1, 5), debug=True)
    assert not isinstance(debug.value, CnnInspectError)


@pytest.mark.parametrize("training", [True, False])
def test_model_left_unchanged_on_success_and_failure(training):
    model = SimpleCNN()
    model.train(training)
    model.conv1.weight.requires_grad_(False)
    hooks_before = len(model.conv1._forward_hooks)
    before = snapshot(model)
    cnninspect.summarize(model, (1, 1, 28, 28))
    with pytest.raises(InputShapeError):
        cnninspect.summarize(model, (1, 2, 28, 28))
    assert_unchanged(model, before)
    assert model.training is training and model.conv1.training is training
    assert model.conv1.weight.requires_grad is False and model.conv2.weight.requires_grad is True
    assert model.conv1.weight.device.type == "cpu"
    assert len(model.conv1._forward_hooks) == hooks_before
