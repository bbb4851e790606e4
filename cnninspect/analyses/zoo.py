"""The torchvision zoo as a checklist: build any model cheaply and say how it summarised.

Used by the zoo tests and ``benchmarks/zoo_check.py``. Models are built on the meta device
when their builder allows it (no weights are allocated), else on the CPU; nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from cnninspect.engine.summary import summarize
from cnninspect.errors import CnnInspectError

# Input per task family: shapes at the size torchvision publishes its figures for.
_VIDEO_FRAMES = {
    "mvit_v1_b": 16,
    "mvit_v2_s": 16,
    "s3d": 16,
    "swin3d_t": 16,
    "swin3d_s": 16,
    "swin3d_b": 16,
}


@dataclass
class ZooResult:
    name: str
    task: str
    outcome: str  # "exact" | "fallback: <reason>" | "error: <message>"
    method: str
    total_params: int | None
    expected_params: int
    total_macs: int | None
    published_gmacs: float | None
    input: Any

    @property
    def params_exact(self) -> bool:
        return self.total_params == self.expected_params


def task_of(name: str) -> str:
    import torchvision.models as tvm
    from torchvision.models import list_models

    for task, module in (
        ("segmentation", tvm.segmentation),
        ("video", tvm.video),
        ("optical_flow", tvm.optical_flow),
        ("detection", tvm.detection),
        ("quantization", tvm.quantization),
    ):
        if name in list_models(module=module):
            return task
    return "classification"


def build(name: str, device: str = "meta") -> nn.Module:
    """Build a torchvision model without weights or downloads, as its weights are published."""
    from torchvision.models import get_model

    task = task_of(name)
    kwargs: dict[str, Any] = {}
    if name in ("googlenet", "quantized_googlenet"):
        kwargs["aux_logits"] = False
    if name in ("googlenet", "inception_v3", "quantized_googlenet", "quantized_inception_v3"):
        kwargs["init_weights"] = False
    if task in ("segmentation", "detection"):
        kwargs["weights_backbone"] = None
    if task == "segmentation" and not name.startswith("lraspp"):
        kwargs["aux_loss"] = True  # published with the auxiliary classifier
    if task == "quantization":
        kwargs["quantize"] = False
    crop = published(name)[2]
    if name.startswith("vit_") and crop and crop != 224:
        kwargs["image_size"] = crop  # vit_h_14's published weights are the 518-pixel SWAG ones
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if device == "meta":
            try:
                with torch.device("meta"):
                    return get_model(name, **kwargs).eval()
            except (NotImplementedError, RuntimeError):
                pass  # e.g. regnet computes its widths with tensor ops meta cannot read back
            with _no_init():  # on the CPU, but the weights' values never matter for a summary
                return get_model(name, **kwargs).eval()
        return get_model(name, **kwargs).eval()


@contextlib.contextmanager
def _no_init() -> Iterator[None]:
    """Skip torch.nn.init while building: untouched weights stay unallocated pages, so even
    regnet_y_128gf (645 M parameters) builds in a tenth of a second and ~0.7 GB."""
    init = torch.nn.init
    names = [n for n in dir(init) if n.endswith("_") and not n.startswith("_") and callable(getattr(init, n))]
    saved = {n: getattr(init, n) for n in names}
    try:
        for n in names:
            setattr(init, n, lambda tensor, *args, **kwargs: tensor)
        yield
    finally:
        for n, fn in saved.items():
            setattr(init, n, fn)


def published(name: str) -> tuple[int | None, float | None, int | None]:
    """(num_params, GMACs, crop size) from the first weights entry torchvision ships."""
    from torchvision.models import get_model_weights

    weights = list(get_model_weights(name))[0]
    crop = getattr(weights.transforms(), "crop_size", None)
    return weights.meta.get("num_params"), weights.meta.get("_ops"), crop[0] if crop else None


def input_for(name: str, task: str, model: nn.Module, crop: int | None) -> dict[str, Any]:
    device = next(iter(model.parameters())).device
    if task == "video":
        side = crop or 112
        return {"input_shape": (1, 3, _VIDEO_FRAMES.get(name, 16), side, side)}
    if task == "optical_flow":
        return {"input_shape": [(1, 3, 128, 128), (1, 3, 128, 128)]}
    if task == "detection":
        side = 320 if "320" in name else 300 if name.startswith("ssd300") else 224
        return {"input_data": ([torch.zeros(3, side, side, device=device)],)}
    if task == "segmentation":
        return {"input_shape": (1, 3, 224, 224)}
    side = crop or 224
    return {"input_shape": (1, 3, side, side)}


def check(name: str, device: str = "meta") -> ZooResult:
    """Summarise one model and classify the outcome."""
    task = task_of(name)
    model = build(name, device)
    expected = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    _, gmacs, crop = published(name)
    spec = input_for(name, task, model, crop)
    try:
        s = summarize(model, **spec)
    except CnnInspectError as exc:
        return ZooResult(name, task, f"error: {exc}", "", None, expected, None, gmacs, spec)
    if s.method == "fx":
        outcome = "exact"
    else:
        reason = "; ".join(
            w for w in s.warnings if "fx could not" in w or "stopped at" in w or "opaque" in w
        )
        outcome = f"fallback ({s.method}): {reason}"
    return ZooResult(
        name, task, outcome, s.method, s.total_params, expected, s.total_macs, gmacs, spec
    )
