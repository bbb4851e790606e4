"""torchinfo's fixture models on the cases issues 14 and 18 name, against the truth.

Issue 14: lazy and uninitialised parameters report their materialised counts, the
packed-sequence LSTM its 29,010 parameters and 128x18 output, a bad ``device`` is one
clear line, tied weights on a real model, a bare ConvTranspose2d costs its MACs, a
returned parameter is used, a distribution output does not break a summary.
Issue 18: the fixture families ported last (tests/torchinfo_models_more.py: GenotypeNetwork,
TMVA-Net, compressai's factorized prior, flan-t5-small and BERT) through the shim.

The truth is never cnninspect's own output: ``sum(p.numel())`` over unique parameters
(after a real forward where parameters are lazy), a forward's output shapes, and
``FlopCounterMode`` for MACs. Where torchinfo's expected output differs, a comment says why.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch
import torchinfo_models_more as more
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode
from torchinfo_models import CustomParameter, PackPaddedLSTM, UninitializedParameterModel

from cnninspect import summarize, torchinfo_summary, verify
from cnninspect.errors import ModelError, OptionError

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")

# torchinfo's pack_padded case: 128 sequences of lengths 13 down to 4 (903 steps in all)
LENGTHS = [13, 12] + [11] * 8 + [10] * 14 + [9] * 14 + [8] * 9 + [7] * 19 + [6] * 25
LENGTHS += [5] * 21 + [4] * 16


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


def shapes(value: Any) -> list[tuple[int, ...]]:
    return [tuple(t.shape) for t in tree_flatten(value)[0] if isinstance(t, torch.Tensor)]


def unique_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())  # parameters() yields each tensor once


def real_run(model: nn.Module, *args: Any, **kwargs: Any) -> tuple[Any, int]:
    """(output, MACs) of one real forward, MACs by torch's flop counter (FLOPs / 2)."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(*args, **kwargs)
    return out, counter.get_total_flops() // 2


def seeded(make, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return make()


# -- issue 14: lazy and uninitialised parameters ------------------------------------------


def test_uninitialized_parameter_reports_its_materialised_count() -> None:
    # torchinfo's uninitialized_tensor case: forward replaces the UninitializedParameter by a
    # real one of 128; a raw ValueError ("Attempted to use an uninitialized parameter") before
    x = torch.randn(2, 2)
    model = UninitializedParameterModel()
    s = summarize(model, input_data=x)
    twin = UninitializedParameterModel()
    out, _ = real_run(twin, x)
    assert s.total_params == unique_params(twin) == 128
    assert s.output_shapes == shapes(out)
    assert isinstance(model.param, nn.UninitializedParameter)  # the user's model is untouched
    assert any("dry forward on the meta device" in w for w in s.warnings)
    shim = torchinfo_summary(UninitializedParameterModel(), input_data=x, verbose=0)
    assert shim.total_params == 128


@pytest.mark.parametrize(
    "make, shape",
    [(more.LazyMLP, (3, 20)), (more.LazyConvNet, (2, 3, 8, 8))],
    ids=["lazy_mlp", "lazy_conv_bn"],
)
def test_lazy_modules_are_materialised_by_a_dry_forward_on_meta(make, shape) -> None:
    # "LazyLinear expects 0 input features" before: the rule read in_features=0
    model = seeded(make)
    s = summarize(model, shape)
    twin = seeded(make)
    out, macs = real_run(twin, torch.rand(shape))
    assert s.total_params == unique_params(twin)
    assert s.trainable_params == unique_params(twin)
    assert s.output_shapes == shapes(out)
    assert s.total_macs == macs
    assert any(nn.parameter.is_lazy(p) for p in model.parameters())  # still lazy


def test_lazy_mlp_through_the_shim() -> None:
    twin = seeded(more.LazyMLP)
    real_run(twin, torch.rand(3, 20))
    result = torchinfo_summary(seeded(more.LazyMLP), input_size=(3, 20), verbose=0)
    assert (
        (result.total_params, result.trainable_params) == (unique_params(twin),) * 2 == (3754,) * 2
    )


def test_lazy_batch_norm_through_the_shim() -> None:
    twin = seeded(more.LazyConvNet)
    real_run(twin, torch.rand(2, 3, 8, 8))
    result = torchinfo_summary(seeded(more.LazyConvNet), input_size=(2, 3, 8, 8), verbose=0)
    assert result.total_params == unique_params(twin)


@pytest.mark.parametrize(
    "make, shape",
    [
        (more.LazyMLP, (3, 20)),
        (more.LazyConvNet, (2, 3, 8, 8)),
        (UninitializedParameterModel, (2, 2)),
    ],
    ids=["lazy_mlp", "lazy_conv_bn", "uninitialized"],
)
def test_verify_runs_a_lazy_model_on_an_initialised_copy(make, shape) -> None:
    # verify's real forward needs shaped weights: a raw ValueError ("uninitialized parameter")
    # before; now every row's shape, parameters and MACs meet a real forward on a copy
    model = make()
    report = verify(model, shape)
    assert report.ok
    twin = make()
    real_run(twin, torch.rand(shape))
    assert report.summary.total_params == unique_params(twin)
    assert any(nn.parameter.is_lazy(p) for p in model.parameters())  # the model is untouched


class _LazyNeedsValues(nn.Module):
    """A lazy layer behind a branch on a value: a dry forward on meta cannot decide it."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.LazyLinear(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x) if x.sum() > 0 else self.fc(-x)


def test_a_lazy_model_whose_forward_reads_values_is_initialised_for_real() -> None:
    # a dry forward on meta cannot take the branch: one real forward on a copy shapes the layer
    model = seeded(_LazyNeedsValues)
    x = torch.rand(2, 3)
    s = summarize(model, (2, 3))
    twin = seeded(_LazyNeedsValues)
    out, macs = real_run(twin, x)
    assert s.total_params == unique_params(twin) == 16
    assert s.output_shapes == shapes(out)
    assert s.total_macs == macs
    assert nn.parameter.is_lazy(model.fc.weight)  # the model is unchanged


class _LazyThenMismatch(nn.Module):
    """LazyLinear(4) into a Linear that expects 7 features: no forward can run."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.LazyLinear(4)
        self.out = nn.Linear(7, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.fc(x))


def _lazy_on_meta() -> nn.Module:
    with torch.device("meta"):  # nothing real to run the branch on
        return _LazyNeedsValues()


@pytest.mark.parametrize(
    "make",
    [_LazyThenMismatch, _lazy_on_meta],
    ids=["forward_fails", "on_meta_reads_values"],
)
def test_a_lazy_model_that_cannot_be_shaped_is_one_clear_error(make) -> None:
    with pytest.raises(ModelError) as info:
        summarize(make(), (2, 3))
    msg = str(info.value)
    assert "\n" not in msg and "lazy" in msg and "fc.weight" in msg and "model(x)" in msg


class _LazyNeverUsed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.used = nn.Linear(3, 4)
        self.spare = nn.LazyLinear(5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.used(x)


def test_a_lazy_layer_forward_never_uses_is_one_clear_error() -> None:
    with pytest.raises(ModelError) as info:
        summarize(_LazyNeverUsed(), (2, 3))
    msg = str(info.value)
    assert "\n" not in msg and "spare.weight" in msg and "never uses" in msg


# -- issue 14: PackPaddedLSTM and PackedSequence outputs ---------------------------------


def _pack_padded_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.ones(20, 128).long(), torch.tensor(LENGTHS)


def test_pack_padded_lstm_native() -> None:
    batch, lengths = _pack_padded_inputs()
    model = PackPaddedLSTM()
    s = summarize(model, input_data=(batch, lengths))
    out, _ = real_run(model, batch, lengths)
    assert s.total_params == unique_params(model) == 29_010
    assert s.output_shapes == shapes(out) == [(128, 18)]
    # FlopCounterMode does not count LSTMs; by hand: each of the 903 (step, sample) pairs runs
    # 4 gates of 32 x (128 + 32) multiply-accumulates, then the Linear on the last hidden state
    assert s.total_macs == 4 * 32 * (128 + 32) * sum(LENGTHS) + 128 * 32 * 18


def test_pack_padded_lstm_through_the_shim() -> None:
    batch, lengths = _pack_padded_inputs()
    model = PackPaddedLSTM()
    result = torchinfo_summary(model, input_data=batch, lengths=lengths, device="cpu", verbose=0)
    out, _ = real_run(model, batch, lengths)
    assert result.total_params == unique_params(model) == 29_010
    assert result.summary.output_shapes == shapes(out) == [(128, 18)]


class _ReturnsPacked(nn.Module):
    """Returns the LSTM's PackedSequence itself (the hook pass used to fail: "batch_sizes
    should always be on CPU")."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(4, 6)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> Any:
        out, _ = self.lstm(pack_padded_sequence(x, lengths))
        return out


def test_a_packed_sequence_output() -> None:
    x, lengths = torch.randn(5, 3, 4), torch.tensor([5, 4, 2])
    model = _ReturnsPacked()
    s = summarize(model, input_data=(x, lengths))
    out, _ = real_run(model, x, lengths)
    assert s.output_shapes == shapes(out) == [(11, 6), (5,)]  # data and batch_sizes
    assert s.total_params == unique_params(model)
    assert s.total_macs == 4 * 6 * (4 + 6) * 11


# -- issue 14: device validated up front, one line ----------------------------------------


def _unavailable_cuda() -> str:
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return "cuda" if count == 0 else f"cuda:{count}"


@pytest.mark.parametrize(
    "device, match",
    [("lol", "not a torch device"), (_unavailable_cuda(), "not available here")],
    ids=["lol", "cuda_missing"],
)
@pytest.mark.parametrize("entry", ["summarize", "shim"])
def test_bad_device_is_one_clear_line(device: str, match: str, entry: str) -> None:
    # before: summarize() accepted both and ran, until a fallback needed the device and its
    # failure seemed to blame the model
    with pytest.raises(OptionError, match=match) as info:
        if entry == "summarize":
            summarize(nn.Linear(2, 3), (1, 2), device=device)
        else:
            torchinfo_summary(nn.Linear(2, 3), input_size=(1, 2), device=device, verbose=0)
    msg = str(info.value)
    assert "\n" not in msg and repr(device) in msg


def test_good_devices_pass() -> None:
    for device in ("cpu", torch.device("cpu"), "meta", None):
        assert summarize(nn.Linear(2, 3), (1, 2), device=device).total_params == 9


# -- issue 14: tied weights on a real model, transposed convs, returned parameters --------


class _TiedNeedsValues(nn.Module):
    """An embedding tied to the output head, and a branch on a value: the hook pass on a
    real (CPU) model (functional_call refused the tied names: "got multiple values")."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.emb.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.emb(x)
        return self.head(h * 2 if h.sum() > 0 else h)


def test_tied_weights_on_a_real_model_in_the_hook_pass() -> None:
    model = _TiedNeedsValues()
    x = torch.randint(0, 10, (2, 3))
    s = summarize(model, input_data=x)
    out, macs = real_run(model, x)
    assert s.method.startswith("hooks")
    assert s.total_params == unique_params(model) == 40  # one 10x4 matrix, counted once
    assert s.output_shapes == shapes(out)
    assert s.total_macs == macs


@pytest.mark.parametrize(
    "layer, shape",
    [
        (nn.ConvTranspose1d(3, 8, 3), (1, 3, 16)),
        (nn.ConvTranspose2d(3, 8, 3, stride=2), (1, 3, 16, 16)),
        (nn.ConvTranspose2d(8, 4, 5, stride=2, padding=2, output_padding=1, groups=2), (8, 14, 14)),
        (nn.ConvTranspose3d(3, 8, 3), (1, 3, 4, 4, 4)),
    ],
    ids=["1d", "2d_stride", "2d_unbatched_groups", "3d"],
)
def test_a_bare_conv_transpose_costs_what_torch_counts(layer, shape) -> None:
    s = summarize(layer, shape)
    out, macs = real_run(layer, torch.rand(shape))
    assert s.total_macs == macs > 0
    assert s.output_shapes == shapes(out)
    assert torchinfo_summary(layer, input_size=shape, verbose=0).total_mult_adds == macs


def test_a_parameter_returned_by_forward_is_used() -> None:
    model = CustomParameter(8, 4)
    s = summarize(model, (1,))
    out, _ = real_run(model, torch.rand(1))
    assert not any("never used" in w for w in s.warnings), s.warnings
    assert s.output_shapes == shapes(out) == [(4, 8)]
    [row] = [layer for layer in s.layers if layer.num_params]
    assert row.num_params == unique_params(model) == 32 and row.macs == 0
    assert row.op == "call_function"  # docs/json-schema.rst: one of the four documented ops


@pytest.mark.parametrize("make", [more.NormalOutputModel, more.CategoricalOutputModel])
def test_a_distribution_output(make) -> None:
    # torchinfo 1.8 fails on both ("Failed to run torchinfo"); newer torchinfo prints the
    # distribution's batch_shape as the output. Ours is the pytree convention its other cases
    # use (the object is one non-tensor leaf: no tensor shapes), with exact totals and MACs.
    # torchinfo's expected mult-adds (110 and 55) add one per bias; matmul MACs are 100 and 50.
    model = make()
    x = torch.rand(1, 10)
    s = summarize(model, input_data=x)
    out, macs = real_run(model, x)
    assert isinstance(out, torch.distributions.Distribution)
    assert s.output_shapes == shapes(out)
    assert s.total_params == unique_params(model)
    assert s.total_macs == macs
    result = torchinfo_summary(make(), input_size=(1, 10), verbose=0)
    assert result.total_params == unique_params(model)


# -- issue 18: the fixture families ported last, through the shim -------------------------


def test_genotype_network_totals_at_any_depth() -> None:
    # torchinfo's genotype case: the totals at depth 3 and 7 agree. Its mult-adds add a term per
    # BatchNorm channel; ours equal the flop counter. Its forward returns None: no output shapes.
    model = more.GenotypeNetwork()
    x = torch.rand(2, 3, 32, 32)
    out, macs = real_run(model.eval(), x)
    assert out is None
    for depth in (3, 7):
        result = torchinfo_summary(
            model, (2, 3, 32, 32), depth=depth, cache_forward_pass=True, verbose=0
        )
        assert (
            (result.total_params, result.trainable_params)
            == (unique_params(model),) * 2
            == (4592,) * 2
        )
        assert result.total_mult_adds == macs
        assert result.summary.output_shapes == []


def _tmva_inputs(device: str = "cpu") -> list[torch.Tensor]:
    return [
        torch.randn(1, 1, 5, 256, 64, device=device),
        torch.randn(1, 1, 5, 256, 256, device=device),
        torch.randn(1, 1, 5, 256, 64, device=device),
    ]


@pytest.mark.slow
def test_tmva_net_column_totals() -> None:
    # torchinfo's case: at depths 1, 3 and 5 the totals equal the sums over leaf rows. Its
    # mult-adds are 102.04 G: it prices a transposed conv by its output's pixels and adds bias
    # terms; ours equal the flop counter, 95.62 G. The truth's forward runs on a meta copy
    # (torch's own kernels' shapes; 95 GMACs on the CPU would cost a minute here).
    model = more.TMVANet()
    twin = copy.deepcopy(model).to("meta")
    out, macs = real_run(twin.eval(), *_tmva_inputs("meta"))
    for depth in (1, 3, 5):
        result = torchinfo_summary(
            model,
            input_data=_tmva_inputs(),
            col_names=["output_size", "num_params", "mult_adds"],
            depth=depth,
            cache_forward_pass=True,
            verbose=0,
        )
        assert result.total_params == unique_params(model) == 5_630_984
        assert result.total_params == sum(
            r.num_params for r in result.summary_list if r.is_leaf_layer
        )
        assert result.total_mult_adds == macs
        assert result.total_mult_adds == sum(r.macs for r in result.summary_list if r.is_leaf_layer)
        assert result.summary.output_shapes == shapes(out) == [(1, 4, 256, 64), (1, 4, 256, 256)]


def test_compressai_factorized_prior() -> None:
    # torchinfo's compressai case (bmshj2018-factorized, quality 4): 2,998,147 parameters, as
    # here; torchinfo 1.8 on this port prints its 12.06 G mult-adds too. Those price each
    # ConvTranspose2d by its *output* pixels (4x the work at stride 2) and skip GDN's functional
    # conv2d (its parameters are not named weight/bias); ours equal the flop counter, 5.53 G at 256.
    # The entropy bottleneck's range() over x.dim() defeats fx: one opaque row, costed inside.
    model = more.FactorizedPrior().eval()
    x = torch.rand(1, 3, 128, 128)
    out, macs = real_run(model, x)
    result = torchinfo_summary(model, input_size=(1, 3, 128, 128), verbose=0)
    assert (result.total_params, result.trainable_params) == (unique_params(model),) * 2
    assert result.total_params == 2_998_147
    assert result.summary.output_shapes == shapes(out) == [(1, 3, 128, 128), (1, 192, 8, 8)]
    assert result.total_mult_adds == macs


def _t5_inputs(length: int) -> dict[str, torch.Tensor]:
    ids = torch.zeros(2, length).long()
    return {"input_ids": ids, "attention_mask": torch.ones(2, length).long(), "labels": ids}


def _eager_macs(model: nn.Module, *args: Any, **kwargs: Any) -> int:
    """The flop counter's MACs with eager attention: on the CPU it does not see every
    scaled-dot-product-attention kernel (a T5's 76,800 attention MACs show as 51,200)."""
    model.set_attn_implementation("eager")
    try:
        return real_run(model, *args, **kwargs)[1]
    finally:
        model.set_attn_implementation("sdpa")


def _check_t5(model: nn.Module, length: int) -> None:
    data = _t5_inputs(length)
    result = torchinfo_summary(model, input_data=data, verbose=0)
    out, _ = real_run(model, **data)
    assert (result.total_params, result.trainable_params) == (unique_params(model),) * 2
    assert result.summary.output_shapes == shapes(out)  # loss, logits, encoder states
    assert result.total_mult_adds == _eager_macs(model, **data)


def test_t5_shaped_like_flan_t5_small_but_narrow() -> None:
    # the same architecture as the slow case below (gated-GELU, untied head, a shared embedding
    # tied between encoder and decoder, built on the CPU), at a width a test can afford
    torch.manual_seed(0)
    dims = dict(d_model=64, d_kv=16, d_ff=128, num_layers=2, num_decoder_layers=2, num_heads=4)
    _check_t5(more.flan_t5_small(vocab_size=100, **dims), 10)


@pytest.mark.slow
def test_flan_t5_small() -> None:
    # torchinfo's flan_t5_small case (weights from the Hub there; built from its config here):
    # 76,961,152 parameters in its expected output, as here. Its 186.86 M mult-adds price a
    # Linear as its weights times the batch only, not times the 100 positions, and miss the
    # attention matmuls; ours, 12.47 G, equal the flop counter with eager attention
    model = more.flan_t5_small()
    assert unique_params(model) == 76_961_152
    _check_t5(model, 100)


def _check_bert(model: nn.Module, length: int) -> None:
    z = torch.zeros(2, length, dtype=torch.int)
    result = torchinfo_summary(
        model, input_size=[(2, length)] * 3, dtypes=[torch.int] * 3, device="cpu", verbose=0
    )
    out, _ = real_run(model, z, z, z)
    assert (result.total_params, result.trainable_params) == (unique_params(model),) * 2
    assert result.summary.output_shapes == shapes(out)
    assert result.total_mult_adds == _eager_macs(model, z, z, z)


def test_bert_narrow() -> None:
    torch.manual_seed(0)
    config = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    _check_bert(more.bert(vocab_size=100, max_position_embeddings=64, **config), 16)


@pytest.mark.slow
def test_bert_base() -> None:
    # torchinfo's bert case: BertModel(BertConfig()), three int inputs of 2x512; ours 96.64 G
    # MACs (= the flop counter, eager attention); torchinfo prices each Linear by the batch only
    model = more.bert()
    assert unique_params(model) == 109_482_240
    _check_bert(model, 512)


@pytest.mark.parametrize("make, shape", [(more.LazyMLP, (3, 20)), (more.LazyConvNet, (2, 3, 8, 8))])
def test_lint_and_memory_of_a_lazy_model_equal_those_of_it_initialised(make, shape) -> None:
    # both read every parameter's shape (a raw ValueError / "could not run on meta" before);
    # the oracle is the same model after a real forward has initialised it
    from cnninspect.analyses.lint import lint
    from cnninspect.analyses.memory import memory

    ready = seeded(make)
    real_run(ready, torch.rand(shape))
    lazy_lint, ready_lint = lint(make(), shape), lint(ready, shape)
    assert [(f.code, f.path) for f in lazy_lint.findings] == [
        (f.code, f.path) for f in ready_lint.findings
    ]
    lazy_mem, ready_mem = memory(make(), shape), memory(ready, shape)
    assert (lazy_mem.param_bytes, lazy_mem.train_peak, lazy_mem.inference_peak) == (
        ready_mem.param_bytes,
        ready_mem.train_peak,
        ready_mem.inference_peak,
    )
    assert lazy_mem.param_bytes == 4 * unique_params(ready)
