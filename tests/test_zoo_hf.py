"""Hugging Face transformers models nobody here wrote, from default configs without weights (issue 14).

Each is built twice: on the CPU (seeded) and on meta, with eager attention, and given keyword
inputs as a user would (token ids with an ``attention_mask``, pixels, audio). On both builds the
summary's parameters must be exact and its MACs within 1 % of ``FlopCounterMode`` on the same
inputs; on the CPU build :func:`cnninspect.verify` must find every row's shape equal to a real
forward's. A model whose forward reads tensor values (``.item()``) cannot run on meta, so its meta
summary is judged against the counter on the CPU build, which has the same architecture.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial

import pytest
import torch
import transformers as hf
from torch import nn
from zoo_panel import assert_totals, assert_verified, panel_params, reference_macs

import cnninspect

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TOKENS = 32


@dataclass(frozen=True)
class Case:
    """One model of the panel: how to build it on the current device and what it is fed."""

    build: Callable[[], nn.Module]
    inputs: Callable[[str], dict[str, torch.Tensor]]  # device -> keyword inputs
    meta_forward: bool = True  # False: the forward calls .item(), so it cannot run on meta


def tokens(device: str, decoder: bool = False) -> dict[str, torch.Tensor]:
    """Token ids and a mask whose last quarter is padding (all ones on meta, which has no values)."""
    ids = (torch.arange(TOKENS, device=device) * 7 % 900 + 5).unsqueeze(0)
    mask = torch.ones(1, TOKENS, dtype=torch.long, device=device)
    if device != "meta":
        mask[:, -TOKENS // 4 :] = 0
    out = {"input_ids": ids, "attention_mask": mask}
    if decoder:
        out["decoder_input_ids"] = ids[:, : TOKENS // 2]
    return out


def pixels(side: int) -> Callable[[str], dict[str, torch.Tensor]]:
    return lambda device: {"pixel_values": torch.zeros(1, 3, side, side, device=device)}


def audio(device: str) -> dict[str, torch.Tensor]:
    """One second at 16 kHz, and its mask."""
    return {
        "input_values": torch.zeros(1, 16_000, device=device),
        "attention_mask": torch.ones(1, 16_000, dtype=torch.long, device=device),
    }


def mel(device: str) -> dict[str, torch.Tensor]:
    """Whisper's encoder takes exactly 3,000 frames of 80 mel bins (30 s)."""
    return {"input_features": torch.zeros(1, 80, 3_000, device=device)}


def small_llama() -> nn.Module:
    config = hf.LlamaConfig(
        hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, vocab_size=1_000, max_position_embeddings=128, attn_implementation="eager",
    )  # fmt: skip
    return hf.LlamaModel(config)


def default(model_class: type, config_class: type) -> Callable[[], nn.Module]:
    return lambda: model_class(config_class(attn_implementation="eager"))


CASES = {
    "BertModel": Case(default(hf.BertModel, hf.BertConfig), tokens, meta_forward=False),
    "GPT2Model": Case(default(hf.GPT2Model, hf.GPT2Config), tokens),
    "T5Model": Case(default(hf.T5Model, hf.T5Config), partial(tokens, decoder=True), meta_forward=False),
    "ViTModel": Case(default(hf.ViTModel, hf.ViTConfig), pixels(224)),
    "ConvNextModel": Case(default(hf.ConvNextModel, hf.ConvNextConfig), pixels(224)),
    "ResNetModel": Case(default(hf.ResNetModel, hf.ResNetConfig), pixels(224)),
    "SwinModel": Case(default(hf.SwinModel, hf.SwinConfig), pixels(224)),
    "CLIPVisionModel": Case(default(hf.CLIPVisionModel, hf.CLIPVisionConfig), pixels(224)),
    "WhisperEncoder": Case(lambda: default(hf.WhisperModel, hf.WhisperConfig)().encoder, mel),
    "Wav2Vec2Model": Case(default(hf.Wav2Vec2Model, hf.Wav2Vec2Config), audio, meta_forward=False),
    "LlamaModel": Case(small_llama, tokens),
}


# known gaps in cnninspect (issue 14), each a strict xfail: the run fails when one is fixed
CPU_GAPS: dict[str, tuple[type[BaseException], str]] = {}


def build(name: str, device: str) -> tuple[nn.Module, dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    with torch.device(device):
        model = CASES[name].build().eval()
    return model, CASES[name].inputs(device)


@cache
def cpu_reference(name: str) -> int:
    """The counter's MACs on the seeded CPU build (what judges a meta build that cannot run)."""
    model, inputs = build(name, "cpu")
    return reference_macs(model, **inputs)


@cache
def meta_summary(name: str) -> tuple[nn.Module, dict[str, torch.Tensor], cnninspect.Summary]:
    model, inputs = build(name, "meta")
    return model, inputs, cnninspect.summarize(model, input_data=inputs)


@pytest.mark.parametrize("name", panel_params(CASES, CPU_GAPS))
def test_cpu_build_totals_and_verify(name):
    model, inputs = build(name, "cpu")
    reference = reference_macs(model, **inputs)
    report = cnninspect.verify(model, input_data=inputs, gradient_layers="none")
    assert_totals(report.summary, model, reference)
    assert_verified(report)


@pytest.mark.parametrize("name", panel_params(CASES, {}))
def test_meta_build_totals(name):
    model, inputs, summary = meta_summary(name)
    reference = reference_macs(model, **inputs) if CASES[name].meta_forward else cpu_reference(name)
    assert_totals(summary, model, reference)


def test_wav2vec2_receptive_field_in_samples():
    """The conv feature extractor's field, in input samples, by the recurrence over the config:
    rf = 1 + sum((k_i - 1) * prod(s_j, j < i)), jump = prod(s_i) -- 400 and 320 for the defaults."""
    config = hf.Wav2Vec2Config()
    kernels, strides = config.conv_kernel, config.conv_stride
    size = 1 + sum((k - 1) * math.prod(strides[:i]) for i, k in enumerate(kernels))
    _, _, summary = meta_summary("Wav2Vec2Model")
    last = f"feature_extractor.conv_layers.{len(kernels) - 1}.conv"
    rows = [layer for layer in summary.layers if layer.name == last]
    assert len(rows) == 1, f"no row {last!r}"
    field = rows[0].receptive_field
    assert field is not None, f"{last} has no receptive field"
    assert (field.size, field.jump) == ((size,), (math.prod(strides),))
