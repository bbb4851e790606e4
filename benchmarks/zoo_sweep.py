"""Every timm architecture and every transformers model type, summarised and checked against torch.

    python benchmarks/zoo_sweep.py --limit 30                 # the first 30 models not yet done
    nice -n 10 python benchmarks/zoo_sweep.py --family timm   # all of timm (about an hour, one core)
    python benchmarks/zoo_sweep.py --family transformers      # every transformers model type
    python benchmarks/zoo_sweep.py --only 'vit_.*' --redo     # run these again, replacing their rows
    python benchmarks/zoo_sweep.py --report                   # only rewrite docs/zoo-sweep.{csv,md,inc}

Models are built on the meta device without weights, in eval mode: timm's ``list_models()`` up to
1 B parameters at ``pretrained_cfg['input_size']`` (batch 1, fused attention off), and each
transformers config type with an ``AutoModel`` class from its default config (eager attention,
no cache) fed synthetic inputs (no processor): the guess from ``model.main_input_name`` and the
config first, then variants (optional arguments such as bbox or image sizes, video frames, mono
audio, Qwen-VL patches with grid_thw, native image sizes, ... text only) until the model's own
forward accepts one; the ``input`` column names the variant used. A model whose own forward
rejects every variant is ``skipped: inputs unknown`` with each rejection recorded, not a crash.
Per model one CSV row: outcome,
cnninspect's pass and time, its parameters beside ``sum(p.numel())`` and its MACs beside
``FlopCounterMode`` FLOPs // 2 of a meta forward (or, where that forward needs real values and the
model has at most 300 M parameters, a CPU forward of the model built with real tensors; above
that size a 2-layer copy on the CPU only checks that the inputs are accepted).

Rows are appended to docs/zoo-sweep.csv as they come, so a stopped sweep resumes where it was.
Each model runs in a worker process; one taking longer than ``--timeout`` seconds is killed and
recorded as ``slow`` with whatever figures it had, and the worker restarts.
"""

from __future__ import annotations

import argparse
import csv
import gc
import multiprocessing as mp
import re
import sys
import time
import traceback
import warnings
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CSV_PATH = ROOT / "docs" / "zoo-sweep.csv"
MD_PATH = ROOT / "docs" / "zoo-sweep.md"
INC_PATH = ROOT / "docs" / "zoo-sweep.inc"  # included by docs/zoo-sweep.rst
MAX_PARAMS = 1_000_000_000  # timm: architectures up to 1 B parameters
CPU_REFERENCE_MAX = 300_000_000  # a real CPU forward for the reference only up to this size
TEXT_TOKENS = 128
WORKER_MEMORY = 14 * 2**30  # bytes of address space a worker may map
RESTART_EVERY = 150  # a fresh worker now and then, so no model's leftovers pile up


@dataclass
class Row:
    family: str
    name: str
    input: str = ""
    outcome: str = ""  # ok | error:<Type>: <first line> | slow | skipped: <why>
    method: str = ""  # summary.method
    seconds: str = ""  # cnninspect.summarize(...) wall time
    params: str = ""  # summary.total_params
    params_ref: str = ""  # sum(p.numel() for p in model.parameters())
    macs: str = ""  # summary.total_macs
    macs_ref: str = ""  # FlopCounterMode total // 2
    macs_ratio: str = ""  # macs / macs_ref
    reference: str = ""  # meta | cpu | unavailable: <why>
    rf_unknown: str = ""  # rows whose receptive field is unknown
    rf_error: str = ""  # why the receptive-field analysis failed, if it did
    warnings: str = ""  # len(summary.warnings)
    first_warning: str = ""
    built: str = ""  # meta | cpu (a builder that does not run on meta)
    recurrent: str = ""  # the recurrent layer types in the model (FlopCounterMode counts 0 MACs)


COLUMNS = [f.name for f in fields(Row)]


def first_line(exc: BaseException, limit: int = 160) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:limit] if text else ''}"


# ---------------------------------------------------------------- building and inputs (worker side)


def build_timm(name: str, device: str) -> Any:
    import timm
    import torch

    with torch.device(device):
        model = timm.create_model(name, pretrained=False)
    return model.eval()


def timm_inputs(model: Any) -> tuple[Any, Any]:
    import torch

    shape = (1, *model.pretrained_cfg["input_size"])
    return shape, (torch.empty(shape, device="meta"),), {}


def hf_config(name: str) -> Any:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    cfg = CONFIG_MAPPING[name]()
    if hasattr(cfg, "use_cache"):
        cfg.use_cache = False
    return cfg


def build_hf(name: str, device: str) -> Any:
    import torch
    from transformers import AutoModel

    cfg = hf_config(name)
    # eager attention and eager mixture-of-experts (grouped_mm wants bf16 on the CPU): the plain ops
    with torch.device(device):
        try:
            model = AutoModel.from_config(
                cfg, attn_implementation="eager", experts_implementation="eager"
            )
        except (ValueError, TypeError) as exc:
            if "implementation" not in str(exc).lower() and "attention" not in str(exc).lower():
                raise
            model = AutoModel.from_config(hf_config(name))
    return model.eval()


SUB_CONFIGS = ("text_config", "vision_config", "audio_config", "encoder_config", "decoder_config", "qformer_config", "speech_config", "audio_encoder_config", "vision_encoder_config", "model_config", "backbone_config")  # fmt: skip
AUDIO_SAMPLES = 16000
MEL_FRAMES = 3000


def _configs(cfg: Any) -> list[Any]:
    """The config, then its sub-configs (text, vision, audio...): where a size may be found."""
    subs = [getattr(cfg, s, None) for s in SUB_CONFIGS]
    return [cfg, *(s for s in subs if s is not None and not isinstance(s, (dict, str)))]


def _find(cfg: Any, *names: str) -> Any:
    """The first of these attributes set on the config or one of its sub-configs."""
    for c in _configs(cfg):
        for n in names:
            value = getattr(c, n, None)
            if value is not None and not callable(value):
                return value
    return None


def _image_hw(cfg: Any) -> tuple[int, int]:
    size = getattr(cfg, "image_size", None) or getattr(cfg, "img_size", None) or 224
    if isinstance(size, dict):
        size = (size.get("height", 224), size.get("width", 224))
    if isinstance(size, (list, tuple)):
        return int(size[0]), int(size[-1])
    return int(size), int(size)


def _image_size(cfg: Any) -> int:
    return _image_hw(cfg)[0]


def _text_config(cfg: Any) -> Any:
    return getattr(cfg, "text_config", None) or cfg


def _tokens(cfg: Any, seed: int, n: int | None = None) -> Any:
    """(1, 128) token ids below min(vocab, 1000), or fewer tokens if the positions table is shorter."""
    import torch

    vocab = _find(cfg, "vocab_size") or 1000
    positions = getattr(cfg, "max_position_embeddings", None) or getattr(
        _text_config(cfg), "max_position_embeddings", None
    )
    if n is None:
        n = (
            min(TEXT_TOKENS, int(positions))
            if isinstance(positions, int) and positions > 0
            else TEXT_TOKENS
        )
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(3, max(4, min(int(vocab), 1000)), (1, n), generator=gen)


def _pixels(cfg: Any) -> Any:
    import torch

    channels, size = getattr(cfg, "num_channels", None) or 3, _image_size(cfg)
    return torch.randn(1, int(channels), size, size, generator=torch.Generator().manual_seed(0))


def _features(cfg: Any) -> Any:
    """(1, mel bins, 3000 frames) from num_mel_bins, else (1, 500, feature size x channels)."""
    import torch

    gen = torch.Generator().manual_seed(0)
    if getattr(cfg, "num_mel_bins", None):
        return torch.randn(1, int(cfg.num_mel_bins), MEL_FRAMES, generator=gen)
    feats = getattr(cfg, "input_feat_per_channel", None) or getattr(cfg, "feature_size", None)
    if feats:
        channels = getattr(cfg, "input_channels", 1) or 1
        return torch.randn(1, 500, int(feats) * int(channels), generator=gen)
    bins = _find(cfg, "num_mel_bins", "feature_size", "n_mels", "input_dim", "input_feat_size", "num_mels", "mel_bins")  # fmt: skip
    if not isinstance(bins, int):
        raise LookupError("input_features but no mel-bin or feature size in the config")
    return torch.randn(1, bins, MEL_FRAMES, generator=gen)


def forward_params(model: Any) -> dict[str, Any]:
    import inspect

    return dict(inspect.signature(model.forward).parameters)


def required_params(model: Any) -> list[str]:
    return [
        n
        for n, p in forward_params(model).items()
        if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


def hf_inputs(model: Any) -> dict[str, Any]:
    """The main input; decoder_input_ids where the forward takes them and the model is an
    encoder-decoder; and any of input_ids / pixel_values the forward requires (no default),
    pixel_values from vision_config where there is one (a text+image model led by input_ids);
    then every other argument the forward requires, by its name (FILL)."""
    import torch

    cfg = model.config
    takes = forward_params(model)
    main = getattr(model, "main_input_name", None)
    mains = main if isinstance(main, (list, tuple)) else [main]
    known = all(m in takes for m in mains) or not required_params(model)
    data = hf_main_input(model) if known else {}
    if getattr(cfg, "is_encoder_decoder", False) and "decoder_input_ids" in takes:
        data["decoder_input_ids"] = _tokens(cfg, seed=1)
    vision = getattr(cfg, "vision_config", None)
    if "pixel_values" in takes and "pixel_values" not in data and vision is not None:
        data["pixel_values"] = _pixels(vision)
    for name in required_params(model):
        if name == "input_ids" and name not in data:
            data["input_ids"] = _tokens(cfg, seed=0)
            data.setdefault("attention_mask", torch.ones_like(data["input_ids"]))
        elif name == "pixel_values" and name not in data:
            data["pixel_values"] = _pixels(vision if vision is not None else cfg)
        elif name in ("grid_thw", "image_grid_thw") and name not in data:
            data.update(patch_grid(model, data))
        elif name not in data:
            data[name] = fill(name, model, data)
    return data


def hf_main_input(model: Any) -> dict[str, Any]:
    """Real CPU tensors for the model's main input (cnninspect makes meta copies itself).

    Raises LookupError when the input cannot be guessed; the row then says why.
    """
    import torch

    cfg = model.config
    main = getattr(model, "main_input_name", None)
    if main == "input_ids":
        ids = _tokens(cfg, seed=0)
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    if main == "pixel_values":
        return {"pixel_values": _pixels(cfg)}
    if main == "input_values":
        return {
            "input_values": torch.randn(
                1, AUDIO_SAMPLES, generator=torch.Generator().manual_seed(0)
            )
        }
    if main == "input_features":
        return {"input_features": fill("input_features", model, {})}
    if isinstance(main, (list, tuple)):  # oneformer: several main inputs
        data: dict[str, Any] = {}
        for name in main:
            data[name] = fill(name, model, data)
        return data
    return {main: fill(main, model, {})}


def _first_width(model: Any) -> int:
    """The input width of the model's first linear or convolution layer."""
    for module in model.modules():
        width = getattr(module, "in_features", None) or getattr(module, "in_channels", None)
        if isinstance(width, int):
            return width
    raise LookupError("no linear or convolution layer to read an input width from")


def _seq_len(data: dict[str, Any]) -> int:
    ids = data.get("input_ids")
    return int(ids.shape[-1]) if ids is not None else TEXT_TOKENS


def _bbox(n: int) -> Any:
    """(1, n, 4) boxes x0 <= x1, y0 <= y1 on a 0..1000 grid, as layout models take them."""
    import torch

    corner = torch.randint(0, 500, (1, n, 2), generator=torch.Generator().manual_seed(0))
    return torch.cat([corner, corner + 100], dim=-1)


def _frames_mask(data: dict[str, Any]) -> Any:
    """Ones over the time axis of the audio input (its longest axis after the batch)."""
    import torch

    audio = data.get("input_features", data.get("input_values", data.get("audio_mel")))
    steps = max(audio.shape[1:]) if audio is not None else MEL_FRAMES
    return torch.ones(1, steps, dtype=torch.long)


def fill(name: str, model: Any, data: dict[str, Any]) -> Any:  # long: one rule per argument name
    """A synthetic tensor for a forward argument, chosen by its name and sized from the config;
    LookupError for a name without a rule (the row then says which)."""
    import torch

    cfg = model.config
    gen = torch.Generator().manual_seed(0)
    vision = getattr(cfg, "vision_config", None) or cfg
    if name in ("input_ids", "audio_input_ids", "input"):
        return _tokens(cfg, seed=0)
    if name in ("attention_mask", "decoder_attention_mask", "token_type_ids"):
        return torch.ones(1, _seq_len(data), dtype=torch.long)
    if name == "qformer_input_ids":
        return _tokens(getattr(cfg, "qformer_config", cfg), seed=2, n=32)
    if name == "qformer_attention_mask":
        return torch.ones(1, 32, dtype=torch.long)
    if name in ("pixel_values", "prompt_pixel_values", "prompt_masks", "pixel_values_images"):
        return _pixels(vision)
    if name == "pixel_values_videos":  # (1, frames, C, H, W) at the largest size a config names
        image = {"pixel_values": _pixels(vision)}
        try:
            image = _native_pixels(model, image)
        except LookupError:
            pass
        return _frames(model, image["pixel_values"])
    if name == "input_values":
        return torch.randn(1, AUDIO_SAMPLES, generator=gen)
    if name in ("input_features", "audio_mel"):
        try:
            return _features(cfg)
        except LookupError:  # no size in the config: the first layer's input width says it
            return torch.randn(1, MEL_FRAMES, _first_width(model), generator=gen)
    if name in ("input_features_mask", "audio_mel_mask", "feature_attention_mask", "input_features_attention_mask", "padding_mask"):  # fmt: skip
        return _frames_mask(data).bool() if name == "audio_mel_mask" else _frames_mask(data)
    if name == "bbox":
        return _bbox(_seq_len(data))
    if name == "target_sizes":  # patches per side of each image
        patch = int(_find(cfg, "patch_size") or 14)
        return torch.tensor([[d // patch for d in data["pixel_values"].shape[-2:]]])
    if name == "image_sizes":
        return torch.tensor([list(data["pixel_values"].shape[-2:])])
    if name == "query_embeds":
        return torch.randn(1, 32, int(_find(cfg, "hidden_size")), generator=gen)
    if name == "visual_feats":
        return torch.randn(1, 36, int(cfg.visual_feat_dim), generator=gen)
    if name == "visual_pos":
        return torch.rand(1, 36, int(cfg.visual_pos_dim), generator=gen)
    if name == "high_res_pixel_values":
        return _pixels(cfg.high_res_vision_config)
    if name in ("hidden_states", "inputs_embeds"):
        return torch.randn(1, _seq_len(data), int(_find(cfg, "hidden_size", "d_model")), generator=gen)  # fmt: skip
    if name == "image_attention_mask":  # idefics: every token sees the one image
        return torch.ones(1, _seq_len(data), 1, dtype=torch.long)
    if name == "image_embeds_position_mask":  # kosmos-2: the first latent_query_num tokens
        mask = torch.zeros(1, _seq_len(data), dtype=torch.bool)
        mask[0, 1 : 1 + int(_find(cfg, "latent_query_num") or 64)] = True
        return mask
    if name == "task_inputs":  # oneformer: the task prompt's tokens
        return _tokens(cfg, seed=3, n=int(_find(cfg, "task_seq_len") or 77))
    if name == "encoder_hidden_states":
        width = _find(cfg, "encoder_hidden_size", "hidden_size")
        return torch.randn(1, 257, int(width), generator=gen)
    if name == "past_values":
        length = int(_find(cfg, "context_length") or 512)
        return torch.randn(1, length, int(_find(cfg, "num_input_channels") or 1), generator=gen)
    if name == "latents":  # (1, channels, frames) for the first convolution
        return torch.randn(1, _first_width(model), 50, generator=gen)
    raise LookupError(f"the forward requires {name!r}, which this sweep has no rule for")


OPTIONAL = ("pixel_values", "input_features", "image_attention_mask", "image_embeds_position_mask", "encoder_hidden_states", "bbox", "image_sizes", "target_sizes", "visual_feats", "visual_pos", "qformer_input_ids", "input_features_mask", "feature_attention_mask", "high_res_pixel_values", "input_values", "pixel_values_videos", "input_ids")  # fmt: skip


def with_optional(model: Any, data: dict[str, Any]) -> dict[str, Any]:
    """The guess plus the optional arguments that some forwards need after all (bbox, image
    sizes, visual features, a second modality...)."""
    takes = forward_params(model)
    out = dict(data)
    for name in OPTIONAL:
        if name in takes and name not in out:
            try:
                out[name] = fill(name, model, out)
            except (LookupError, AttributeError, KeyError, TypeError):
                continue
    if "qformer_input_ids" in out and "qformer_attention_mask" in takes:
        out["qformer_attention_mask"] = fill("qformer_attention_mask", model, out)
    if "input_ids" in out and "attention_mask" in takes:
        out.setdefault("attention_mask", fill("attention_mask", model, out))
    return out


def _image_tokens(model: Any, count: int, extra: int = 32) -> dict[str, Any]:
    """input_ids with `count` image tokens after `extra` text tokens (and a vision-start token
    where the config names one), their mask, and mm_token_type_ids (1 on the image tokens)."""
    import torch

    cfg = model.config
    image = _find(cfg, "image_token_id", "image_token_index", "image_pad_token_id")
    if not isinstance(image, int):
        raise LookupError("no image token id in the config")
    ids = _tokens(cfg, seed=0, n=count + 2 * extra)
    start = _find(cfg, "vision_start_token_id", "image_start_token_id")
    specials = {image, start} - {None}
    ids[torch.isin(ids, torch.tensor(sorted(specials)))] = 5
    ids[0, extra : extra + count] = image
    if isinstance(start, int):
        ids[0, extra - 1] = start
    out = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    if "mm_token_type_ids" in forward_params(model):
        out["mm_token_type_ids"] = (ids == image).long()
    return out


def patch_grid(model: Any, data: dict[str, Any]) -> dict[str, Any]:
    """Qwen-VL style vision input: flattened patches (N, C x T x P x P) with their (1, 3) grid
    (t, h, w), and as many image tokens in input_ids as the merger leaves."""
    import torch

    takes = forward_params(model)
    grid_name = next((n for n in ("grid_thw", "image_grid_thw") if n in takes), None)
    if grid_name is None:
        raise LookupError("no grid_thw argument")
    cfg = model.config
    vision = getattr(cfg, "vision_config", None) or cfg
    patch = int(_find(vision, "patch_size") or 14)
    temporal = int(getattr(vision, "temporal_patch_size", None) or 1)
    channels = int(_find(vision, "in_channels", "num_channels", "in_chans") or 3)
    merge = int(_find(vision, "spatial_merge_size", "merge_size") or 2)
    side = 8 * merge
    flat = torch.randn(side * side, channels * temporal * patch * patch)
    pixel_name = "pixel_values" if "pixel_values" in takes else "hidden_states"
    out = {pixel_name: flat, grid_name: torch.tensor([[1, side, side]])}
    if "input_ids" in takes:
        out.update(_image_tokens(model, side * side // (merge * merge)))
    return out


def _native_pixels(model: Any, data: dict[str, Any]) -> dict[str, Any]:
    """pixel_values at the largest image size any (sub-)config names (SAM's 1024, MGP-STR's
    32 x 128), or large enough for DepthPro's scaled patches."""
    cfg = model.config
    sizes = [_image_hw(c) for c in _configs(cfg) if getattr(c, "image_size", None)]
    ratios = getattr(cfg, "scaled_images_ratios", None)
    if ratios:
        side = int(_find(cfg, "patch_size") / min(ratios))
        sizes.append((side, side))
    if not sizes:
        raise LookupError("no image size in the config")
    h, w = max(sizes, key=lambda s: s[0] * s[1])
    if "prompt_pixel_values" in data:  # SegGPT: the prompt and the image share one canvas
        h //= 2
    return _resized(data, h, w)


def _resized(data: dict[str, Any], h: int, w: int) -> dict[str, Any]:
    """Every image-like input (pixel_values, prompt images and masks) at h x w."""
    import torch

    out = dict(data)
    for name in ("pixel_values", "prompt_pixel_values", "prompt_masks"):
        if name in out and out[name].dim() == 4:
            out[name] = torch.randn(*out[name].shape[:2], h, w)
    if "pixel_values" not in data:
        raise LookupError("no pixel_values")
    return out


def _reshaped(name: str, how: Any) -> Any:
    def variant(model: Any, data: dict[str, Any]) -> dict[str, Any]:
        if name not in data:
            raise LookupError(f"no {name}")
        return {**data, name: how(model, data[name])}

    return variant


def _frames(model: Any, pixels: Any) -> Any:
    frames = min(16, int(_find(model.config, "num_frames", "frames_per_clip") or 8))
    return pixels.unsqueeze(1).expand(-1, frames, -1, -1, -1).clone()


def _text_only(model: Any, data: dict[str, Any]) -> dict[str, Any]:
    keep = ("input_ids", "attention_mask", "decoder_input_ids", "token_type_ids")
    if "input_ids" not in data:
        raise LookupError("no input_ids")
    return {k: v for k, v in data.items() if k in keep}


def _mrope_positions(model: Any, data: dict[str, Any]) -> dict[str, Any]:
    import torch

    if "position_ids" not in forward_params(model) or "input_ids" not in data:
        raise LookupError("no position_ids")
    n = _seq_len(data)
    return {**data, "position_ids": torch.arange(n).view(1, 1, n).expand(3, 1, n).clone()}


def _dummy(model: Any, data: dict[str, Any]) -> dict[str, Any]:
    import torch

    dummy = getattr(model, "dummy_inputs", None)
    if not isinstance(dummy, dict) or not dummy:
        raise LookupError("no dummy_inputs")
    return {k: v for k, v in dummy.items() if isinstance(v, torch.Tensor)}


VARIANTS: list[tuple[str, Any]] = [
    ("video frames", _reshaped("pixel_values", _frames)),
    ("one-image stack", _reshaped("pixel_values", lambda m, p: p.unsqueeze(1))),
    ("image pair", _reshaped("pixel_values", lambda m, p: torch_cat_pair(p))),
    ("native image size", _native_pixels),
    ("image 512", lambda m, d: _resized(d, 512, 512)),
    ("image 640", lambda m, d: _resized(d, 640, 640)),
    ("image 1024", lambda m, d: _resized(d, 1024, 1024)),
    ("flat patches + spatial_shapes", lambda m, d: _flat_patches(m, d)),
    ("image tokens in the text", lambda m, d: _with_image_tokens(m, d)),
    ("2-D series", _reshaped("past_values", lambda m, v: v[..., 0])),
    (
        "features (1, T, first layer width)",
        _reshaped(
            "input_features", lambda m, v: v.new_zeros(1, MEL_FRAMES, _first_width(m)).normal_()
        ),
    ),  # fmt: skip
    ("mono audio (1, 1, T)", _reshaped("input_values", lambda m, v: v.unsqueeze(1))),
    (
        "audio 19200 samples",
        _reshaped("input_values", lambda m, v: v.new_zeros(1, 19200).normal_()),
    ),  # fmt: skip
    (
        "mono audio 19200 samples",
        _reshaped("input_values", lambda m, v: v.new_zeros(1, 1, 19200).normal_()),
    ),  # fmt: skip
    ("spectrogram (1, frames, bins)", _reshaped("input_values", lambda m, v: _spectrogram(m))),
    (
        "features (1, T, input size)",
        _reshaped("input_features", lambda m, v: _features_by_size(m)),
    ),  # fmt: skip
    (
        "features (1, T, F)",
        _reshaped("input_features", lambda m, v: v.transpose(1, 2).contiguous()),
    ),  # fmt: skip
    ("features (1, 1, T, bins)", _reshaped("input_features", lambda m, v: _mel_image(m))),
    ("channels-first sequence", lambda m, d: _channels_first(m, d)),
    ("long channels-first sequence", lambda m, d: _channels_first(m, d, 24000)),
    ("hidden-state sequence", lambda m, d: _hidden_sequence(m, d)),
    ("patches + grid_thw", patch_grid),
    ("3-D rope positions", _mrope_positions),
    ("text only", _text_only),
    ("dummy_inputs", _dummy),
]


def _spectrogram(model: Any) -> Any:
    """(1, max_length, num_mel_bins): the audio spectrogram transformer's filter-bank input."""
    import torch

    cfg = model.config
    return torch.randn(1, int(_find(cfg, "max_length") or 1024), int(cfg.num_mel_bins))


def _features_by_size(model: Any) -> Any:
    """(1, 3000, F) with F the encoder's input size (input_dim / feature_size / input_feat_size)."""
    import torch

    size = _find(model.config, "input_dim", "input_feat_size", "feature_size", "num_mel_bins")
    return torch.randn(1, MEL_FRAMES, int(size))


def _flat_patches(model: Any, data: dict[str, Any]) -> dict[str, Any]:
    """SigLIP-2 style: (1, N, C x P x P) patches, their (1, 2) spatial shape and a patch mask."""
    import torch

    takes = forward_params(model)
    if "spatial_shapes" not in takes or "pixel_values" not in data:
        raise LookupError("no spatial_shapes")
    vision = getattr(model.config, "vision_config", None) or model.config
    patch, channels = (
        int(_find(vision, "patch_size") or 16),
        int(_find(vision, "num_channels") or 3),
    )
    side = 16
    out = {**data, "pixel_values": torch.randn(1, side * side, channels * patch * patch)}
    out["spatial_shapes"] = torch.tensor([[side, side]])
    out["pixel_attention_mask"] = torch.ones(1, side * side, dtype=torch.long)
    return out


IMAGE_TOKEN_COUNTS = ("image_seq_length", "num_image_tokens", "mm_tokens_per_image", "image_token_count", "num_query_tokens")  # fmt: skip


def _with_image_tokens(model: Any, data: dict[str, Any]) -> dict[str, Any]:
    """input_ids carrying as many image tokens as the config says one image makes."""
    count = _find(model.config, *IMAGE_TOKEN_COUNTS)
    if "pixel_values" not in data or not isinstance(count, int):
        raise LookupError("no image-token count")
    text = _image_tokens(model, count)
    return {**data, **{k: v for k, v in text.items() if k != "mm_token_type_ids"}}


def _channels_first(model: Any, data: dict[str, Any], steps: int = 1000) -> dict[str, Any]:
    """The main float input as (1, first layer width, steps): codec and tokenizer towers."""
    import torch

    name = next((n for n in ("hidden_states", "input_values", "latents") if n in data), None)
    if name is None:
        raise LookupError("no sequence input")
    return {**data, name: torch.randn(1, _first_width(model), steps)}


def _hidden_sequence(model: Any, data: dict[str, Any]) -> dict[str, Any]:
    """The main float input as (1, 128, hidden size): an encoder without its pre-net."""
    import torch

    name = next((n for n in ("input_values", "hidden_states") if n in data), None)
    width = _find(model.config, "hidden_size", "d_model")
    if name is None or not isinstance(width, int):
        raise LookupError("no sequence input")
    out = {**data, name: torch.randn(1, TEXT_TOKENS, width)}
    if "decoder_input_values" in forward_params(model):  # SpeechT5 without pre-nets
        out["decoder_input_values"] = torch.randn(1, TEXT_TOKENS, width)
    return out


def _mel_image(model: Any) -> Any:
    """(1, 1, 1001, bins): a mel spectrogram as a one-channel image (CLAP's audio tower)."""
    import torch

    return torch.randn(1, 1, 1001, int(_find(model.config, "num_mel_bins") or 64))


def torch_cat_pair(pixels: Any) -> Any:
    import torch

    return torch.stack([pixels, pixels], dim=1)


def hf_candidates(model: Any) -> Any:
    """(label, inputs) to try in turn: the plain guess first (what the sweep always fed), then
    the guess with the optional arguments some forwards need, then reshaped variants of it."""
    base = hf_inputs(model)
    yield "guess", base
    extra = with_optional(model, base)
    if extra.keys() != base.keys():
        yield "guess + optional inputs", extra
    else:
        extra = base
    starts = [("", base)] + ([(" + optional inputs", extra)] if extra is not base else [])
    for label, variant in VARIANTS:
        for suffix, start in starts:
            try:
                data = variant(model, start)
            except (LookupError, AttributeError, KeyError, TypeError, ValueError, RuntimeError):
                continue
            yield label + suffix, data


def shape_text(data: Any) -> str:
    if isinstance(data, dict):
        return " ".join(f"{k}={'x'.join(map(str, v.shape))}" for k, v in data.items())
    return "x".join(map(str, data))


# ---------------------------------------------------------------- one model (worker side)


def count_macs(model: Any, args: tuple, kwargs: dict) -> int:
    """FLOPs // 2 as torch counts them. Parameters are frozen first: the counter's module tracker
    asserts on a leaf that requires grad fed straight into a module (cait's class token)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    model.requires_grad_(False)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(*args, **kwargs)
    return counter.get_total_flops() // 2


def reference_macs(row: Row, family: str, model: Any, args: tuple, kwargs: dict) -> None:
    """FlopCounterMode on a meta forward; a CPU forward with real values if that raises."""
    import torch
    from torch.utils._pytree import tree_map

    to_meta = lambda v: v.to("meta") if isinstance(v, torch.Tensor) else v  # noqa: E731
    try:
        row.macs_ref = str(count_macs(model, tree_map(to_meta, args), tree_map(to_meta, kwargs)))
        row.reference = "meta"
        return
    except Exception as exc:  # noqa: BLE001 - any failure of the meta forward sends us to the CPU
        why = first_line(exc, 100)
    if int(row.params_ref) > CPU_REFERENCE_MAX:
        row.reference = f"unavailable: meta forward failed ({why}); too big for a CPU forward"
        return
    del model
    gc.collect()
    try:
        cpu = (build_timm if family == "timm" else build_hf)(row.name, "cpu")
        real = tuple(torch.randn(a.shape) for a in args) if family == "timm" else args
        row.macs_ref = str(count_macs(cpu, real, kwargs))
        row.reference = f"cpu (meta forward failed: {why})"
    except Exception as exc:  # noqa: BLE001
        row.reference = (
            f"unavailable: meta forward failed ({why}); cpu forward failed ({first_line(exc, 100)})"
        )


META_ONLY = ("meta", "data-dependent", "GuardOnDataDependent")


def meta_only(exc: BaseException) -> bool:
    """A failure of the meta forward that a forward with real values would not have: the values
    were needed (.item(), .tolist(), a data-dependent shape) or a kernel has no meta version."""
    text = f"{type(exc).__name__}: {exc}"
    return isinstance(exc, NotImplementedError) or any(k in text for k in META_ONLY)


@dataclass
class Choice:
    """The inputs a transformers model is summarised with, and how they were validated."""

    label: str
    data: dict[str, Any]
    rejected: list[str]


LAYER_COUNTS = ("num_hidden_layers", "num_layers", "encoder_layers", "decoder_layers", "depth", "n_layer", "num_encoder_layers", "num_decoder_layers", "num_blocks")  # fmt: skip
SHRUNK_LAYERS = 2


def shrunk_hf(name: str) -> Any:
    """The model on the CPU with at most SHRUNK_LAYERS layers in every stack (per-layer lists cut
    to match): it checks that a big model's forward accepts the inputs, where the meta forward
    needs real values and the whole model is too big for a CPU forward."""
    import torch
    from transformers import AutoModel

    cfg = hf_config(name)
    for c in _configs(cfg):
        for attr in LAYER_COUNTS:
            value = getattr(c, attr, None)
            if isinstance(value, int) and value > SHRUNK_LAYERS:
                setattr(c, attr, SHRUNK_LAYERS)
        if isinstance(getattr(c, "layer_types", None), list):
            c.layer_types = c.layer_types[:SHRUNK_LAYERS]
    with torch.device("cpu"):
        try:
            model = AutoModel.from_config(
                cfg, attn_implementation="eager", experts_implementation="eager"
            )
        except (ValueError, TypeError):
            model = AutoModel.from_config(cfg)
    return model.eval()


def _cpu_check(row: Row, state: dict[str, Any], data: dict[str, Any]) -> str:
    """MACs of a CPU forward on these inputs: the whole model up to CPU_REFERENCE_MAX parameters,
    above that a SHRUNK_LAYERS-layer copy (built once, kept in `state`). Raises what it raises."""
    if "cpu" not in state:
        big = int(row.params_ref) > CPU_REFERENCE_MAX
        state["big"] = big
        try:
            state["cpu"] = shrunk_hf(row.name) if big else build_hf(row.name, "cpu")
        except Exception as exc:  # noqa: BLE001 - no copy to check on: say so once
            state["cpu"] = None
            state["why"] = first_line(exc, 100)
    if state["cpu"] is None:
        raise RuntimeError(f"no CPU copy to check on ({state['why']})")
    return str(count_macs(state["cpu"], (), data))


def choose_hf_inputs(row: Row, model: Any) -> Choice:  # long: the validation ladder
    """The first candidate the model's own forward accepts (FlopCounterMode on meta: that is also
    the reference). Where the meta forward needs real values, a CPU forward with random weights
    decides: of the model (the reference) up to CPU_REFERENCE_MAX parameters, of a shrunk copy
    above (the reference then unavailable). A big model whose copy rejects every candidate is
    summarised on the first one, unverified. LookupError when every candidate is rejected."""
    import torch
    from torch.utils._pytree import tree_map

    to_meta = lambda v: v.to("meta") if isinstance(v, torch.Tensor) else v  # noqa: E731
    rejected: list[str] = []
    state: dict[str, Any] = {}
    unverified: tuple[Choice, str] | None = None
    for label, data in hf_candidates(model):
        try:
            row.macs_ref = str(count_macs(model, (), tree_map(to_meta, data)))
            row.reference = "meta"
            return Choice(label, data, rejected)
        except Exception as exc:  # noqa: BLE001 - the model's own verdict on these inputs
            why = first_line(exc, 100)
            if not meta_only(exc):
                rejected.append(f"{label}: {why}")
                continue
        try:
            macs = _cpu_check(row, state, data)
        except Exception as exc:  # noqa: BLE001
            rejected.append(f"{label}: meta: {why}; cpu: {first_line(exc, 100)}")
            if state.get("big") and unverified is None:
                unverified = (Choice(label, data, rejected), why)
            continue
        if state["big"]:
            row.reference = f"unavailable: meta forward failed ({why}); too big for a CPU forward (inputs checked on a {SHRUNK_LAYERS}-layer copy)"
        else:
            row.macs_ref, row.reference = macs, f"cpu (meta forward failed: {why})"
        return Choice(label, data, rejected)
    if unverified is not None:
        row.reference = f"unavailable: meta forward failed ({unverified[1]}); too big for a CPU forward; inputs unverified (the {SHRUNK_LAYERS}-layer copy rejects them too)"
        return unverified[0]
    row.macs_ref, row.reference = "", ""
    row.first_warning = " || ".join(rejected)[:1000]  # every rejection, for the record
    raise LookupError(
        f"the model's own forward rejects all {len(rejected)} inputs tried; first: {rejected[0] if rejected else '-'}"
    )


def build(row: Row, family: str) -> Any:
    """The model on meta, or on the CPU when its builder cannot run on meta."""
    builder = build_timm if family == "timm" else build_hf
    try:
        model = builder(row.name, "meta")
        row.built = "meta"
    except Exception as exc:  # noqa: BLE001
        why = first_line(exc, 100)
        if family != "timm" and not meta_only(exc):
            raise  # the default config itself does not build; on the CPU it would only be slower
        model = builder(row.name, "cpu")
        row.built = f"cpu (meta build failed: {why})"
    return model


def inputs_for(row: Row, family: str, model: Any) -> tuple[Any, tuple, dict]:
    if family == "timm":
        shape, args, kwargs = timm_inputs(model)
        return shape, args, kwargs
    choice = choose_hf_inputs(row, model)
    label = "" if choice.label == "guess" else f"[{choice.label}] "
    row.input = label + shape_text(choice.data)
    return choice.data, (), choice.data


def summarize_hf(row: Row, model: Any, given: dict[str, Any]) -> Any:
    """cnninspect's summary of the meta model; where cnninspect says the forward reads values a
    meta model does not have (integer buffers such as a codec's strides) and asks for a CPU
    model, as a user would: the model built on the CPU (up to CPU_REFERENCE_MAX parameters)."""
    import cnninspect

    try:
        return cnninspect.summarize(model, input_data=given)
    except Exception as exc:  # noqa: BLE001 - only the one cnninspect asks to redo on the CPU
        if "build the model on the CPU" not in str(exc) or int(row.params_ref) > CPU_REFERENCE_MAX:
            raise
        why = first_line(exc, 80)
    summary = cnninspect.summarize(build_hf(row.name, "cpu"), input_data=given)
    row.built = f"cpu (on meta cnninspect asked for values: {why})"
    return summary


def run_one(
    family: str, name: str, send: Any
) -> Row:  # long: one model's whole story, step by step
    import torch

    import cnninspect

    row = Row(family, name)
    try:
        model = build(row, family)
    except Exception as exc:  # noqa: BLE001
        row.outcome = f"skipped: build failed: {first_line(exc)}"
        return row
    row.params_ref = str(sum(p.numel() for p in model.parameters()))
    row.recurrent = " ".join(
        sorted({type(m).__name__ for m in model.modules() if isinstance(m, torch.nn.RNNBase)})
    )
    if family == "timm" and int(row.params_ref) > MAX_PARAMS:
        row.outcome = f"skipped: {int(row.params_ref) / 1e9:.2f} B parameters, over the 1 B limit"
        return row
    if family != "timm" and type(model).forward is torch.nn.Module.forward:
        row.outcome = "skipped: the model class defines no forward() (only encode/decode/generate)"
        return row
    try:
        given, args, kwargs = inputs_for(row, family, model)
    except Exception as exc:  # noqa: BLE001
        row.outcome = f"skipped: inputs unknown: {first_line(exc)}"
        return row
    row.input = row.input or shape_text(given)
    send(("partial", asdict(row)))
    start = time.perf_counter()
    try:
        if family == "timm":
            summary = cnninspect.summarize(model, given)
        else:
            summary = summarize_hf(row, model, given)
        row.seconds = f"{time.perf_counter() - start:.2f}"
        row.outcome = "ok"
        row.method = summary.method
        row.params = str(summary.total_params)
        row.macs = str(summary.total_macs)
        row.rf_unknown = str(
            sum(
                1
                for layer in summary.layers
                if layer.receptive_field is not None and layer.receptive_field.unknown
            )
        )
        row.rf_error = str(summary.rf_error or "")
        row.warnings = str(len(summary.warnings))
        row.first_warning = summary.warnings[0][:200] if summary.warnings else ""
        del summary
    except Exception as exc:  # noqa: BLE001
        row.seconds = f"{time.perf_counter() - start:.2f}"
        row.outcome = f"error:{first_line(exc)}"
        if "inputs unverified" in row.reference:  # not shown to be cnninspect's failure
            row.outcome = f"skipped: inputs unknown: the model's own forward (its {SHRUNK_LAYERS}-layer copy) rejects every input tried; cnninspect on the first: {first_line(exc)}"
    send(("partial", asdict(row)))
    if family == "timm":  # transformers: measured while choosing the inputs
        with torch.no_grad():
            reference_macs(row, family, model, args, kwargs)
    if row.macs and row.macs_ref and int(row.macs_ref):
        row.macs_ratio = f"{int(row.macs) / int(row.macs_ref):.4f}"
    return row


def worker(conn: Any) -> None:
    """Receive (family, name), send back ("partial", row)* then ("done", row), until None."""
    import resource

    import torch

    # an allocation past this fails with an error the row records, instead of the kernel's OOM
    # killer taking the worker (or a neighbour) down
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY, WORKER_MEMORY))
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    try:
        import timm.layers

        timm.layers.set_fused_attn(False)
    except ImportError:
        pass
    import transformers

    transformers.logging.set_verbosity_error()
    while (task := conn.recv()) is not None:
        family, name = task
        try:
            row = run_one(family, name, conn.send)
        except BaseException as exc:  # noqa: BLE001 - the sweep must go on
            row = Row(
                family,
                name,
                outcome=f"error:{first_line(exc)}",
                first_warning=traceback.format_exc()[-200:],
            )
        conn.send(("done", asdict(row)))
        gc.collect()


# ---------------------------------------------------------------- the sweep (parent side)


class Pool:
    """One worker process at a time; killed and replaced when a model overruns or kills it."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.proc: Any = None
        self.conn: Any = None
        self.served = 0

    def _start(self) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=worker, args=(child,), daemon=True)
        self.proc.start()
        self.served = 0

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.is_alive():
                self.proc.kill()
            self.proc.join(5)
        self.proc = None

    def run(self, family: str, name: str) -> Row:
        if self.proc is None or self.served >= RESTART_EVERY:
            self.stop()
            self._start()
        self.served += 1
        self.conn.send((family, name))
        row, deadline = Row(family, name), time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            try:
                ready = left > 0 and self.conn.poll(left)
                if not ready:
                    self.stop()
                    row.outcome = f"slow (over {self.timeout:.0f} s; killed)"
                    return row
                kind, data = self.conn.recv()
            except (EOFError, OSError):
                self.stop()
                row.outcome = (
                    "error:WorkerDied: the worker process exited (out of memory or a crash)"
                )
                return row
            row = Row(**data)
            if kind == "done":
                return row


def timm_names() -> list[str]:
    """timm's models, round-robin over the source modules (resnet, vision_transformer...): the
    first model of every module, then the second of each... so a partial sweep covers every
    architecture family before it repeats one."""
    import timm
    from timm.models import _registry

    by_module: dict[str, list[str]] = defaultdict(list)
    for name in timm.list_models():
        by_module[_registry._model_to_module.get(name, "")].append(name)
    queues = [by_module[m] for m in sorted(by_module)]
    out: list[str] = []
    for i in range(max(map(len, queues), default=0)):
        out += [q[i] for q in queues if i < len(q)]
    return out


def hf_names() -> list[str]:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    return sorted(CONFIG_MAPPING_NAMES)


def hf_without_automodel(names: list[str]) -> dict[str, str]:
    from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES

    return {
        n: "skipped: no AutoModel class for this config type"
        for n in names
        if n not in MODEL_MAPPING_NAMES
    }


def read_rows(path: Path = CSV_PATH) -> list[Row]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return [Row(**{k: r.get(k, "") or "" for k in COLUMNS}) for r in csv.DictReader(f)]


def write_rows(rows: list[Row], path: Path = CSV_PATH) -> None:
    with path.open("w", newline="") as f:
        out = csv.DictWriter(f, COLUMNS)
        out.writeheader()
        out.writerows(asdict(r) for r in rows)


def append_row(row: Row, path: Path = CSV_PATH) -> None:
    new = not path.exists()
    with path.open("a", newline="") as f:
        out = csv.DictWriter(f, COLUMNS)
        if new:
            out.writeheader()
        out.writerow(asdict(row))


def sweep(args: argparse.Namespace) -> None:
    families = [args.family] if args.family else ["timm", "transformers"]
    pattern = re.compile(args.only) if args.only else None
    rows = read_rows(args.rows)
    if args.redo and pattern:
        rows = [r for r in rows if not (r.family in families and pattern.search(r.name))]
        write_rows(rows, args.rows)
    done = {(r.family, r.name) for r in rows}
    todo: list[tuple[str, str]] = []
    for family in families:
        names = timm_names() if family == "timm" else hf_names()
        todo += [
            (family, n)
            for n in names
            if (family, n) not in done and (not pattern or pattern.search(n))
        ]
    if args.limit:
        todo = todo[: args.limit]
    no_auto = hf_without_automodel([n for f, n in todo if f == "transformers"])
    pool = Pool(args.timeout)
    try:
        for i, (family, name) in enumerate(todo, 1):
            start = time.perf_counter()
            row = (
                Row(family, name, outcome=no_auto[name])
                if name in no_auto and family != "timm"
                else pool.run(family, name)
            )
            append_row(row, args.rows)
            print(
                f"[{i}/{len(todo)}] {family:12s} {name:50s} {row.outcome[:70]:70s} "
                f"ratio={row.macs_ratio or '-':8s} {time.perf_counter() - start:6.1f}s",
                flush=True,
            )
    finally:
        pool.stop()


# ---------------------------------------------------------------- the report


def latest(rows: list[Row]) -> list[Row]:
    """One row per (family, name): the last one written wins; sorted by family, then name."""
    by_key = {(r.family, r.name): r for r in rows}
    return [by_key[k] for k in sorted(by_key)]


def ratio(row: Row) -> float | None:
    return float(row.macs_ratio) if row.macs_ratio else None


def is_flagged(row: Row) -> bool:
    """Outside 1 % of the reference MACs, parameters not exact, a partial summary, or none."""
    if row.outcome.startswith("skipped"):
        return False
    if row.outcome != "ok":
        return True
    r = ratio(row)
    return (
        (r is not None and abs(r - 1) > 0.01)
        or row.params != row.params_ref
        or "partial" in row.method
    )


def plain_fails(row: Row) -> bool:
    """The model's own forward fails with these inputs too (meta and CPU): the inputs or the model."""
    return "cpu forward failed" in row.reference


def skip_kind(row: Row) -> str:
    """Why a row was skipped, in a few words: the outcome up to its first colon after 'skipped'."""
    kind = row.outcome.removeprefix("skipped: ").split(":")[0]
    return re.sub(r"[\d.]+ B parameters, over the 1 B limit", "over the 1 B limit", kind)


def counts(rows: list[Row]) -> list[tuple[str, str]]:
    ran = [r for r in rows if not r.outcome.startswith("skipped")]
    ok = [r for r in ran if r.outcome == "ok"]
    compared = [r for r in ok if ratio(r) is not None]
    pct = lambda n, d: f"{n} / {d} ({100 * n / d:.1f} %)" if d else "0 / 0"  # noqa: E731
    refs = Counter(
        "cpu" if r.reference.startswith("cpu") else r.reference.split(":")[0] or "none" for r in ok
    )
    outcomes = Counter(r.outcome.split(":")[0] if r.outcome != "ok" else "ok" for r in ran)
    return [
        ("models listed", str(len(rows))),
        (
            "skipped (build failed, over 1 B, no AutoModel, inputs unknown)",
            str(len(rows) - len(ran)),
        ),
        *(
            (f"... {why}", str(n))
            for why, n in sorted(Counter(skip_kind(r) for r in rows if r not in ran).items())
        ),
        ("summarised", pct(len(ok), len(ran))),
        ("crashed (error)", str(outcomes.get("error", 0))),
        (
            "... of them where the plain forward fails too",
            str(sum(1 for r in ran if r.outcome.startswith("error") and plain_fails(r))),
        ),
        ("slow (over the time limit)", str(sum(1 for r in ran if r.outcome.startswith("slow")))),
        ("parameters exact", pct(sum(1 for r in ok if r.params == r.params_ref), len(ok))),
        (
            "MACs within 1 % of the reference",
            pct(sum(1 for r in compared if abs(ratio(r) - 1) <= 0.01), len(compared)),
        ),
        (
            "... outside 1 % where the cost depends on weight values (VALUE_DEPENDENT)",
            str(sum(1 for r in compared if abs(ratio(r) - 1) > 0.01 and r.name in VALUE_DEPENDENT)),
        ),
        (
            "... outside 1 % with recurrent layers (FlopCounterMode counts no RNN MACs)",
            str(sum(1 for r in compared if ratio(r) > 1.01 and r.recurrent)),
        ),
        (
            "MACs within 5 % of the reference",
            pct(sum(1 for r in compared if abs(ratio(r) - 1) <= 0.05), len(compared)),
        ),
        (
            "reference: meta forward / CPU forward / unavailable",
            f"{refs['meta']} / {refs['cpu']} / {refs['unavailable']}",
        ),
        (
            "models with unknown receptive-field rows",
            str(sum(1 for r in ok if r.rf_unknown not in ("", "0"))),
        ),
        ("models with a failed receptive-field analysis", str(sum(1 for r in ok if r.rf_error))),
        ("hook fallback used", str(sum(1 for r in ok if "hook" in r.method))),
        (
            "partial summaries (the hook pass lost part of the forward)",
            str(sum(1 for r in ok if "partial" in r.method)),
        ),
    ]


# Models whose cost depends on the values their random weights produce (predicted durations,
# detected keypoints): the reference's CPU model and cnninspect's draw different weights, and two
# draws of the reference alone differ by tens of per cent, so their ratio says nothing.
VALUE_DEPENDENT = {
    "fastspeech2_conformer": "output length from the duration predictor",
    "fastspeech2_conformer_with_hifigan": "output length from the duration predictor",
    "vits": "output length from the stochastic duration predictor",
    "lightglue": "number of keypoints from the detector's scores",
    "superglue": "number of keypoints from the detector's scores",
}


def why(row: Row) -> str:
    """A flagged row's reason in a few words, for the flagged table."""
    if row.outcome.startswith("slow"):
        return "over the time limit"
    if row.outcome != "ok":
        checked = row.reference.startswith(("meta", "cpu")) or "checked on" in row.reference
        return (
            "cnninspect fails where the model's own forward runs"
            if checked
            else "cnninspect fails; the model's own forward could not be run here"
        )
    if row.params != row.params_ref:
        return "parameters differ"
    r = ratio(row)
    if r is not None and abs(r - 1) > 0.01 and row.name in VALUE_DEPENDENT:
        return f"cost depends on weight values ({VALUE_DEPENDENT[row.name]})"
    if r is not None and r > 1.01 and row.recurrent:
        return f"recurrent layers ({row.recurrent}): FlopCounterMode counts none of their MACs"
    if "partial" in row.method:
        return "the hook pass stopped partway: MACs incomplete"
    return "MACs differ from the reference"


def cell(row: Row, column: str) -> str:
    return why(row) if column == "why" else str(getattr(row, column))


def md_table(rows: list[Row], columns: list[str]) -> list[str]:
    esc = lambda v: str(v).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(esc(cell(r, c)) for c in columns) + " |" for r in rows]
    return out


FLAG_COLUMNS = ["family", "name", "why", "outcome", "method", "params", "params_ref", "macs", "macs_ref", "macs_ratio", "reference", "rf_unknown", "warnings"]  # fmt: skip
FULL_COLUMNS = ["family", "name", "input", "outcome", "method", "seconds", "params", "params_ref", "macs", "macs_ref", "macs_ratio", "rf_unknown", "warnings"]  # fmt: skip


def report(rows: list[Row]) -> str:
    rows = latest(rows)
    lines = [
        "# The zoo sweep",
        "",
        "Written by `benchmarks/zoo_sweep.py`; do not edit by hand.",
        "",
    ]
    for family in ("timm", "transformers"):
        part = [r for r in rows if r.family == family]
        if not part:
            continue
        lines += [f"## Summary: {family}", "", "| figure | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in counts(part)]
        lines.append("")
    flagged = [r for r in rows if is_flagged(r)]
    lines += [
        f"## Every model outside 1 % of the reference MACs, with inexact parameters, a partial summary, crashing or slow ({len(flagged)})",
        "",
    ]
    lines += md_table(flagged, FLAG_COLUMNS) + ["", f"## All models ({len(rows)})", ""]
    lines += md_table(rows, FULL_COLUMNS)
    return "\n".join(lines) + "\n"


def rst_table(rows: list[list[str]]) -> list[str]:
    """A list-table, first row the header; empty cells as a backslash so the table stays square."""
    out = [".. list-table::", "   :header-rows: 1", ""]
    for row in rows:
        cells = [
            str(c).replace("\n", " ").replace("*", "\\*").replace("`", "'") or "\\" for c in row
        ]
        out.append(f"   * - {cells[0]}")
        out += [f"     - {c}" for c in cells[1:]]
    return out + [""]


def rst_report(rows: list[Row]) -> str:
    """The summary per family and the flagged models, for docs/zoo-sweep.rst to include."""
    lines = [".. This file is written by benchmarks/zoo_sweep.py; do not edit it by hand.", ""]
    for family in ("timm", "transformers"):
        part = [r for r in rows if r.family == family]
        if part:
            lines += [f"**{family}**", ""] + rst_table(
                [["figure", "value"], *map(list, counts(part))]
            )
    flagged = [r for r in rows if is_flagged(r)]
    lines += [
        f"Every model outside 1 % of the reference MACs, with inexact parameters, a partial summary, crashing or slow ({len(flagged)}):",
        "",
    ]
    body = [[cell(r, c) for c in FLAG_COLUMNS] for r in flagged]
    lines += rst_table([FLAG_COLUMNS, *body]) if flagged else ["None.", ""]
    return "\n".join(lines)


def write_report(merge: Path | None = None) -> None:
    rows = latest(read_rows() + (read_rows(merge) if merge else []))
    write_rows(rows)
    MD_PATH.write_text(report(rows))
    INC_PATH.write_text(rst_report(rows))
    print(f"wrote docs/zoo-sweep.csv, .md and .inc: {len(rows)} models")


def clusters(rows: list[Row]) -> dict[str, list[Row]]:
    """Failures grouped by a cause key, for the engine's to-do list (printed with --clusters)."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for r in latest(rows):
        if r.outcome.startswith("skipped"):
            key = "skipped: " + re.sub(r"\d[\d.]*", "N", r.outcome.split(":", 2)[-1].strip())[:90]
        elif r.outcome != "ok":
            key = r.outcome.replace("the model's forward raised ", "")
            key = re.sub(r"in '[^']*' \((\w+)\)", r"in \1", key)  # the module path, not its class
            key = re.sub(r"\d+", "N", key)[:120]
            key = ("[plain forward fails too] " if plain_fails(r) else "") + key
        elif r.params != r.params_ref:
            key = "params differ"
        elif "partial" in r.method:
            key = f"partial summary ({r.method}); reference {r.reference.split(' (')[0][:40]}"
        elif ratio(r) is not None and abs(ratio(r) - 1) > 0.01:
            key = f"MACs {'over' if ratio(r) > 1 else 'under'} reference by >1 %"
        elif r.rf_unknown not in ("", "0") or r.rf_error:
            bad = "rf analysis failed: " + r.rf_error[:60] if r.rf_error else "unknown RF rows"
            key = f"{bad}; {warning_kind(r)}"
        else:
            continue
        groups[key].append(r)
    return dict(sorted(groups.items(), key=lambda kv: -len(kv[1])))


def warning_kind(row: Row) -> str:
    """The first warning cut to its cause: an opaque module's class, or its opening words."""
    found = re.search(
        r"opaque module '[^']*': fx cannot trace it \((\w+): (\w+)", row.first_warning
    )
    if found:
        return f"first warning: opaque {found.group(1)} ({found.group(2)})"
    if not row.first_warning:
        return "no warning"
    return f"first warning: {re.sub(r'[0-9]+', 'N', row.first_warning[:45])}"


def print_clusters(path: Path = CSV_PATH) -> None:
    rows = latest(read_rows(path))
    for family in sorted({r.family for r in rows}):
        print(
            f"{family}: "
            + "; ".join(f"{k} {v}" for k, v in counts([r for r in rows if r.family == family]))
        )
    for key, members in clusters(rows).items():
        names = ", ".join(
            f"{m.family}:{m.name}" + (f" ({m.macs_ratio})" if m.macs_ratio else "")
            for m in members[:8]
        )
        print(f"- {len(members):4d}  {key}\n        e.g. {names}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--family", choices=["timm", "transformers"], help="one family only (default both)"
    )
    p.add_argument(
        "--only", metavar="PATTERN", help="model names matching this regular expression (re.search)"
    )
    p.add_argument("--limit", type=int, default=0, help="at most N models not yet done")
    p.add_argument("--redo", action="store_true", help="with --only: run the matching models again")
    p.add_argument(
        "--timeout", type=float, default=120.0, help="seconds per model before it is 'slow'"
    )
    p.add_argument(
        "--report", action="store_true", help="only write docs/zoo-sweep.{csv,md} from the rows"
    )
    p.add_argument(
        "--clusters", action="store_true", help="only print the failures grouped by cause"
    )
    p.add_argument(
        "--rows",
        type=Path,
        default=CSV_PATH,
        help="append rows here instead (a second sweep beside a running one)",
    )
    p.add_argument(
        "--merge",
        type=Path,
        help="with --report: first take in the rows of this file (later rows win)",
    )
    args = p.parse_args(argv)
    if args.redo and not args.only:
        p.error("--redo needs --only PATTERN (it replaces the rows of the models that match)")
    if args.clusters:
        print_clusters(args.rows)
        return 0
    if not args.report:
        sweep(args)
        if args.rows != CSV_PATH:
            print(f"rows in {args.rows}; fold them in with --report --merge {args.rows}")
            return 0
    write_report(args.merge)
    return 0


if __name__ == "__main__":
    sys.exit(main())
