"""The awkward cases users actually have: recurrent layers, tokens, transformers, containers,
wrappers, dtypes and layouts. Each is checked against a real forward or against hand formulas."""

from __future__ import annotations

import pytest
import torch
import torchvision
from modelstate import assert_unchanged, snapshot
from oracles import counted_macs
from torch import nn

import cnninspect


def real_shapes(model: nn.Module, *args, **kwargs):
    with torch.no_grad():
        out = model(*args, **kwargs)
    leaves = torch.utils._pytree.tree_leaves(out)
    return [tuple(t.shape) for t in leaves if isinstance(t, torch.Tensor)]


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU])
@pytest.mark.parametrize("batch_first", [True, False])
def test_recurrent_layers_with_tuple_outputs(cls, batch_first):
    rnn = cls(
        input_size=6, hidden_size=5, num_layers=2, batch_first=batch_first, bidirectional=True
    )
    shape = (3, 7, 6) if batch_first else (7, 3, 6)
    s = cnninspect.summarize(rnn, shape)
    assert s.output_shapes == real_shapes(rnn, torch.zeros(shape))
    assert s.total_params == sum(p.numel() for p in rnn.parameters())
    gates = 4 if cls is nn.LSTM else 3
    # per step, per direction: gates * hidden * (input + hidden); layer 2 reads both directions
    per_step = gates * 5 * (6 + 5) + gates * 5 * (2 * 5 + 5)
    assert s.total_macs == per_step * 2 * 7 * 3


class TokenModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(100, 16)
        layer = nn.TransformerEncoderLayer(
            d_model=16, nhead=4, dim_feedforward=32, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.head = nn.Linear(16, 100)

    def forward(self, tokens):
        return self.head(self.encoder(self.embed(tokens)))


@pytest.mark.parametrize("training", [True, False])
def test_embedding_tokens_and_transformer_encoder(training):
    model = TokenModel().train(training)
    s = cnninspect.summarize(model, (2, 9), dtype=torch.long)
    assert s.output_shapes == [(2, 9, 100)]
    assert s.total_params == sum(p.numel() for p in model.parameters())
    tokens, d, ff, layers = 2 * 9, 16, 32, 2
    attention = tokens * 4 * d * d + 2 * 9 * 9 * d * 2  # q,k,v,out projections + QK^T and AV
    feedforward = tokens * 2 * d * ff
    assert s.total_macs == layers * (attention + feedforward) + tokens * d * 100
    assert model.training is training


class Recursive(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.step = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x, depth: int = 3):
        for _ in range(depth):
            x = torch.relu(self.step(x))
        return x


def test_module_called_several_times():
    s = cnninspect.summarize(Recursive(), (1, 4, 8, 8))
    steps = [layer for layer in s.layers if layer.name.startswith("step")]
    assert [layer.name for layer in steps] == ["step", "step@2", "step@3"]
    assert [layer.num_params for layer in steps] == [4 * 4 * 9 + 4, 0, 0]
    assert all(layer.macs == 8 * 8 * 4 * 4 * 9 for layer in steps)


class BuffersOnly(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(1, 3, 1, 1))
        self.register_buffer("std", torch.ones(1, 3, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


def test_buffers_only_module():
    s = cnninspect.summarize(BuffersOnly(), (2, 3, 5, 5))
    assert s.total_params == 0 and s.total_buffers == 6 and s.buffer_bytes == 24
    assert s.output_shapes == [(2, 3, 5, 5)]


class DictModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.image = nn.Conv2d(3, 8, 3)
        self.text = nn.Linear(10, 8)

    def forward(self, batch: dict, scale: float = 1.0, *, extra=None):
        feats = self.image(batch["image"]).mean(dim=(2, 3))
        out = {"joint": feats + self.text(batch["text"]), "parts": [feats, batch["text"]]}
        if extra is not None:
            out["extra"] = extra * scale
        return out


def test_dict_list_inputs_outputs_and_keyword_arguments():
    data = {
        "batch": {"image": torch.zeros(2, 3, 6, 6), "text": torch.zeros(2, 10)},
        "extra": torch.ones(4),
    }
    s = cnninspect.summarize(DictModel(), input_data=data)
    assert s.output_shapes == real_shapes(DictModel(), **data)
    assert s.total_params == (3 * 9 * 8 + 8) + (10 * 8 + 8)


def test_tuple_inputs_as_a_list_of_shapes():
    class Pair(nn.Module):
        def forward(self, a, b):
            return a @ b, (a, b)

    s = cnninspect.summarize(Pair(), [(2, 3, 4), (2, 4, 5)])
    assert s.output_shapes == [(2, 3, 5), (2, 3, 4), (2, 4, 5)]
    assert s.total_macs == 2 * 3 * 5 * 4


def test_torch_compile_wrapper_is_looked_through():
    from cnninspect.chapter.models import SimpleCNN

    model = SimpleCNN()
    compiled = torch.compile(model)
    s = cnninspect.summarize(compiled, (1, 1, 28, 28))
    assert s.total_params == 421_642 and "conv1" in [layer.name for layer in s.layers]
    assert any("torch.compile" in w for w in s.warnings)


def test_data_parallel_wrapper_is_looked_through():
    from cnninspect.chapter.models import CustomCNN

    model = nn.DataParallel(CustomCNN())
    before = snapshot(model)
    s = cnninspect.summarize(model, (1, 3, 32, 32))
    assert s.total_params == 60_362 and s.output_shapes == [(1, 10)]
    assert any("DataParallel" in w for w in s.warnings)
    assert_unchanged(model, before)


def test_distributed_data_parallel_wrapper(tmp_path):
    import torch.distributed as dist

    from cnninspect.chapter.models import CustomCNN

    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1
    )
    try:
        model = nn.parallel.DistributedDataParallel(CustomCNN())
        s = cnninspect.summarize(model, (1, 3, 32, 32))
        assert s.total_params == 60_362
        assert any("DistributedDataParallel" in w for w in s.warnings)
    finally:
        dist.destroy_process_group()


def test_channels_last_input_data():
    from cnninspect.chapter.models import CustomCNN

    x = torch.zeros(2, 3, 32, 32).to(memory_format=torch.channels_last)
    s = cnninspect.summarize(CustomCNN(), input_data=x)
    assert s.output_shapes == [(2, 10)] and s.input_shapes == [(2, 3, 32, 32)]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_and_bfloat16_models(dtype):
    from cnninspect.chapter.models import SimpleCNN

    model = SimpleCNN().to(dtype)
    s = cnninspect.summarize(model, (1, 1, 28, 28), dtype=dtype)
    assert s.param_bytes == 2 * 421_642
    assert s.output_shapes == [(1, 10)]


@pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device (none on this machine)"
)
def test_model_already_on_cuda():
    from cnninspect.chapter.models import SimpleCNN

    model = SimpleCNN().cuda()
    s = cnninspect.summarize(model, (1, 1, 28, 28))
    assert s.total_params == 421_642
    assert next(model.parameters()).is_cuda


class CachesState(nn.Module):
    """Like torchvision's AnchorGenerator: a forward that caches tensors on the module."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)
        self.cache = None

    def forward(self, x):
        if x.sum() > -1e9:  # data-dependent: forces the hook fallback
            self.cache = torch.zeros(x.shape[-1], device=x.device)
        return self.conv(x)


def test_forward_that_caches_state_leaves_the_model_as_it_was():
    model = CachesState()
    s = cnninspect.summarize(model, (1, 3, 4, 4))
    assert s.total_params == 12
    assert model.cache is None
    assert s.total_macs == counted_macs(model, torch.randn(1, 3, 4, 4)) == 16 * 3 * 3


class MakesConstants(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        scale = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 4, 1, 1)
        return self.conv(x) * scale + scale


def test_tensor_made_in_forward_is_kept_by_the_trace_not_set_on_the_model():
    """fx stores such a tensor on the traced module as ``_tensor_constant0``; ours does not."""
    model = MakesConstants()
    before = set(vars(model))
    first = cnninspect.summarize(model, (1, 3, 8, 8))
    assert set(vars(model)) == before
    again = cnninspect.summarize(model, (1, 3, 8, 8))  # the cached trace still finds it
    assert [(r.name, r.output_shape) for r in again.layers] == [
        (r.name, r.output_shape) for r in first.layers
    ] == [("conv", (1, 4, 6, 6)), ("mul", (1, 4, 6, 6)), ("add", (1, 4, 6, 6))]


class HoldsTensors(nn.Module):
    """A plain tensor attribute (not a buffer) and a buffer, both used directly in forward."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = nn.Sequential(nn.Conv2d(3, 4, 3))
        self.inner.scale = torch.full((1, 4, 1, 1), 2.0)  # plain attribute of a submodule
        self.register_buffer("shift", torch.ones(1, 4, 1, 1))

    def forward(self, x):
        y = self.inner(x)
        return torch.mul(y, self.inner.scale) + torch.add(y, self.shift)


def test_tensor_attributes_are_found_by_name_when_first_used():
    """fx indexes such tensors on every trace; ours looks them up when one is met. Either
    way the row reads the model's own tensor, under its own name, and fx is left as found."""
    import torch.fx._symbolic_trace as fx_tracing

    from cnninspect.engine.trace import _trace

    before = fx_tracing._constant_attribute_types
    model = HoldsTensors()
    tr = _trace(model, None, 8)
    assert fx_tracing._constant_attribute_types is before
    fetched = {n.target for n in tr.nodes if n.op == "get_attr"}
    assert fetched == {"inner.scale", "shift"} and tr.constants == {}
    s = cnninspect.summarize(model, (1, 3, 6, 6))
    assert [r.output_shape for r in s.layers][-1] == (1, 4, 4, 4)
    cnninspect.summarize(CachesState(), (1, 3, 4, 4))  # fx fails on it (hook fallback)
    assert fx_tracing._constant_attribute_types is before


class SameNames(nn.Module):
    """Module paths that read like functional op names, at the root and nested."""

    def __init__(self) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        self.add = nn.ModuleList([nn.Identity(), nn.ReLU()])

    def forward(self, x):
        y = self.add[1](self.flatten(x)) + torch.flatten(x, 1)
        return torch.add(y, 1) + y


def test_row_names_stay_unique_where_module_paths_read_like_op_names():
    names = [r.name for r in cnninspect.summarize(SameNames(), (2, 3, 4)).layers]
    # the root-level module takes "flatten" by fx's rules, so the function becomes "flatten_1";
    # the nested module is named by its path "add.1" and reserves nothing, so the functional
    # adds count on from "add" (fx itself, which names that module "add_1", skips to "add_2")
    assert names == ["flatten", "add.1", "flatten_1", "add", "add_1", "add_2"]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("name", ["resnet18", "densenet121", "vit_b_16"])
def test_a_summarised_model_can_be_freed(name):
    """The trace cache holds models weakly and holds nothing that points back at them."""
    import gc
    import weakref

    model = getattr(torchvision.models, name)()
    cnninspect.summarize(model, (1, 3, 224, 224))
    cnninspect.summarize(model, (1, 3, 224, 224))
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None


def test_quantized_model_after_convert():
    """An int8 model: quantized tensors have no meta kernels, so it runs once for real;
    its packed weights are no nn.Parameters, which the summary says instead of guessing."""
    import warnings

    from torchvision.models import quantization

    model = quantization.resnet18(quantize=False).eval()
    model.fuse_model(is_qat=False)
    model.qconfig = torch.ao.quantization.get_default_qconfig("fbgemm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.ao.quantization.prepare(model, inplace=True)
        model(torch.randn(1, 3, 64, 64))
        torch.ao.quantization.convert(model, inplace=True)
    s = cnninspect.summarize(model, (1, 3, 64, 64))
    assert s.method == "hooks (real forward)" and s.output_shapes == [(1, 1000)]
    # oracle: torch's flop counter on a real forward of the same (fused) float network; it cannot
    # cost int8 kernels, so the float twin stands in (fusing folds BN into conv, MACs unchanged)
    float_model = quantization.resnet18(quantize=False).eval()
    float_model.fuse_model(is_qat=False)
    assert s.total_macs == counted_macs(float_model, torch.randn(1, 3, 64, 64)) == 148_557_824
    assert any("packed" in w for w in s.warnings)
