"""The native API's input options: ``mode``, ``batch_dim`` and ``forward_kwargs`` (issue 18).

Every figure is held to an independent source: a real forward in the same mode, with the same
keyword arguments (its output shapes, and torch's flop counter on it), forward pre-hooks for the
shapes each layer receives, ``sum(p.numel())``; never to cnninspect's own output.
"""

from __future__ import annotations

import pytest
import torch
from oracles import counted_macs
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import cnninspect
from cnninspect.errors import InputShapeError, OptionError


class AuxNet(nn.Module):
    """An auxiliary head that only training runs, as torchvision's GoogLeNet and Inception have."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.bn = nn.BatchNorm2d(8)
        self.drop = nn.Dropout(0.5)
        self.head = nn.Linear(8, 4)
        self.aux = nn.Linear(8 * 6 * 6, 10)

    def forward(self, x: torch.Tensor):
        h = self.drop(torch.relu(self.bn(self.conv(x))))
        out = self.head(h.mean((2, 3)))
        if self.training:
            return out, self.aux(h.flatten(1))
        return out


def real_shapes(model: nn.Module, *args, **kwargs) -> list[tuple[int, ...]]:
    with torch.no_grad():
        out = model(*args, **kwargs)
    outs = out if isinstance(out, tuple) else (out,)
    return [tuple(t.shape) for t in outs]


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_the_trace_sees_the_mode_asked_for(mode: str) -> None:
    model = AuxNet().eval() if mode == "train" else AuxNet().train()  # the other mode to start
    s = cnninspect.summarize(model, (2, 3, 8, 8), mode=mode)
    twin = AuxNet()
    twin.load_state_dict(model.state_dict())
    twin.train(mode == "train")
    x = torch.rand(2, 3, 8, 8)
    assert s.output_shapes == real_shapes(twin, x)
    assert s.total_macs == counted_macs(twin, x)
    assert ("aux" in [layer.name for layer in s.layers]) is (mode == "train")


def test_every_modules_own_mode_is_given_back() -> None:
    model = AuxNet().train()
    model.bn.eval()  # a mixed model: summarising in one mode must not flatten it
    before = {name: m.training for name, m in model.named_modules()}
    stats = model.bn.running_mean.clone(), model.bn.num_batches_tracked.clone()
    for mode in ("eval", "train", "same"):
        cnninspect.summarize(model, (1, 3, 8, 8), mode=mode)
        assert {name: m.training for name, m in model.named_modules()} == before
    assert torch.equal(model.bn.running_mean, stats[0]) and torch.equal(model.bn.num_batches_tracked, stats[1])


def test_same_is_the_default_and_a_cached_trace_follows_the_mode() -> None:
    model = AuxNet().eval()
    assert len(cnninspect.summarize(model, (1, 3, 8, 8)).output_shapes) == 1
    # the same model again in each mode: a trace is reused only for the mode it was made in
    counts = [len(cnninspect.summarize(model, (1, 3, 8, 8), mode=m).output_shapes) for m in ("train", "eval", "train")]
    assert counts == [2, 1, 2]


def test_a_bad_mode_is_one_error_naming_the_choices() -> None:
    with pytest.raises(OptionError, match="'same' .*'eval' or 'train', got 'test'"):
        cnninspect.summarize(AuxNet(), (1, 3, 8, 8), mode="test")


@pytest.mark.parametrize(
    "shape, batch_dim, expected",
    [((3, 8, 8), 0, (1, 3, 8, 8)), ((8, 8, 3), -1, (8, 8, 3, 1)), ((3, 8, 8), 3, (3, 8, 8, 1))],
)
def test_batch_dim_inserts_a_batch_of_one(shape, batch_dim, expected) -> None:
    s = cnninspect.summarize(nn.Flatten(0), shape, batch_dim=batch_dim)
    assert s.input_shapes == [expected] == [tuple(torch.rand(shape).unsqueeze(batch_dim).shape)]


def test_batch_dim_summarises_as_the_full_shape_would() -> None:
    model = AuxNet().eval()
    s = cnninspect.summarize(model, (3, 8, 8), batch_dim=0)
    x = torch.rand(3, 8, 8).unsqueeze(0)
    assert s.output_shapes == real_shapes(model, x) and s.total_macs == counted_macs(model, x)
    assert s.total_params == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    "call, match",
    [
        ({"input_shape": (3, 8, 8), "batch_dim": 4}, r"batch_dim 4 is outside shape \(3, 8, 8\) \(valid: -4..3\)"),
        ({"input_shape": (3, 8, 8), "batch_dim": True}, "batch_dim must be an int"),
        ({"input_data": torch.rand(1, 3, 8, 8), "batch_dim": 0}, "input_data keeps its own, so drop batch_dim"),
        ({"batch_dim": 0}, "batch_dim needs an input_shape or input_data"),
        ({"forward_kwargs": {"scale": 2.0}}, "forward_kwargs needs an input_shape or input_data"),
        ({"input_shape": (1, 3, 8, 8), "forward_kwargs": ["scale"]}, "forward_kwargs must be a dict"),
    ],
)
def test_option_errors_name_the_fix(call, match) -> None:
    with pytest.raises(OptionError, match=match):
        cnninspect.summarize(Choose(), **call)


class Choose(nn.Module):
    """A forward whose keyword arguments pick the layer and scale the input."""

    def __init__(self) -> None:
        super().__init__()
        self.small, self.large = nn.Conv2d(3, 8, 3), nn.Conv2d(3, 64, 3)

    def forward(self, x: torch.Tensor, size: str = "small", scale: torch.Tensor | None = None):
        if scale is not None:
            x = x * scale
        return getattr(self, size)(x)


def flop_macs(model: nn.Module, *args, **kwargs) -> int:
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(*args, **kwargs)
    return counter.get_total_flops() // 2


def test_forward_kwargs_beside_an_input_shape() -> None:
    model, scale = Choose(), torch.rand(1, 3, 1, 1)
    s = cnninspect.summarize(model, (1, 3, 16, 16), forward_kwargs={"size": "large", "scale": scale})
    x = torch.rand(1, 3, 16, 16)
    assert s.output_shapes == real_shapes(model, x, size="large", scale=scale)
    assert s.total_macs == flop_macs(model, x, size="large", scale=scale)
    assert s.input_shapes == [(1, 3, 16, 16), tuple(scale.shape)]  # the keyword tensor too
    assert [layer.name for layer in s.layers if layer.is_module_call] == ["large"]


def test_forward_kwargs_beside_input_data_and_a_clash() -> None:
    model, x = Choose(), torch.rand(2, 3, 10, 10)
    s = cnninspect.summarize(model, input_data={"x": x}, forward_kwargs={"size": "large"})
    assert s.output_shapes == real_shapes(model, x, size="large")
    with pytest.raises(OptionError, match=r"\['size'\] given both in input_data and in forward_kwargs"):
        cnninspect.summarize(model, input_data={"x": x, "size": "small"}, forward_kwargs={"size": "large"})
    with pytest.raises(InputShapeError, match="unexpected keyword argument 'colour'"):
        cnninspect.summarize(model, (1, 3, 8, 8), forward_kwargs={"colour": "red"})


class Counted(nn.Module):
    """A forward that needs real values (``.item()``), so the summary falls back to a real forward."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(6, 6)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        return self.fc(x)[:, : int(keep.sum().item())]


def test_the_real_forward_of_a_fallback_gets_the_callers_keyword_values() -> None:
    model, keep = Counted(), torch.tensor([1, 1, 1, 0])
    s = cnninspect.summarize(model, (2, 6), forward_kwargs={"keep": keep})
    # made-up values (zeros) would keep 0 columns; the caller's keep 3
    assert s.output_shapes == real_shapes(model, torch.rand(2, 6), keep=keep) == [(2, 3)]
    assert "hooks" in s.method


def test_each_rows_input_shapes_are_what_the_layer_received() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 7 * 7, 5))
    received: dict[str, tuple[int, ...]] = {}

    def record(name: str):
        def hook(module: nn.Module, args: tuple) -> None:
            received[name] = tuple(args[0].shape)

        return hook

    handles = [m.register_forward_pre_hook(record(n)) for n, m in model.named_children()]
    with torch.no_grad():
        model(torch.rand(2, 3, 16, 16))
    for h in handles:
        h.remove()
    s = cnninspect.summarize(model, (2, 3, 16, 16))
    assert {layer.module_path: layer.input_shapes[0] for layer in s.layers} == received
    text = s.to_text(columns=["name", "input_shape", "output_shape"])
    assert "2x3x16x16" in text.splitlines()[5] and "2x196" in text  # the conv row; the Linear's input


class TwoInputs(nn.Module):
    def forward(self, tokens: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return weights[tokens]


@pytest.mark.parametrize("dtype", [[torch.long, torch.float16], [torch.LongTensor, torch.HalfTensor]])
def test_dtypes_as_torch_dtypes_or_tensor_types(dtype) -> None:
    s = cnninspect.summarize(TwoInputs(), [(2, 5), (10,)], dtype=dtype)
    real = TwoInputs()(torch.zeros(2, 5, dtype=torch.long), torch.rand(10).half())
    assert s.output_shapes == [tuple(real.shape)] and s.source[1].dtypes == (torch.int64, torch.float16)


@pytest.mark.parametrize(
    "dtype, match",
    [("float32", "'float32' is neither a torch.dtype nor a tensor type"), ([torch.long] * 3, "got 3 for 2 inputs")],
)
def test_a_bad_dtype_is_one_error(dtype, match) -> None:
    with pytest.raises(OptionError, match=match):
        cnninspect.summarize(TwoInputs(), [(2, 5), (10,)], dtype=dtype)


class NormThenItem(nn.Module):
    """BatchNorm before a value-dependent slice: the summary needs a real forward, in train mode here."""

    def __init__(self) -> None:
        super().__init__()
        self.fc, self.bn = nn.Linear(4, 4), nn.BatchNorm1d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.bn(self.fc(x))
        return h[:, : 2 if x.abs().sum().item() >= 0 else 1]


def test_a_train_mode_real_forward_leaves_the_running_statistics() -> None:
    model = NormThenItem().eval()
    stats = [b.clone() for b in model.bn.buffers()]
    s = cnninspect.summarize(model, (8, 4), mode="train")
    assert "real forward" in s.method and s.output_shapes == [(8, 2)]
    assert all(torch.equal(a, b) for a, b in zip(stats, model.bn.buffers())) and not model.training
