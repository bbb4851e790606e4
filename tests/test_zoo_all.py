"""Every model torchvision lists: none crashes, parameters are exact, and the outcome is named.

``pytest -rA tests/test_zoo_all.py`` lists each model with its outcome (exact, or the fallback
that ran and why); ``python benchmarks/zoo_check.py`` prints the same as a table.
"""

from __future__ import annotations

import pytest
import torch
import torchvision
from oracles import counted_macs

from cnninspect.analyses.zoo import build, check

ALL = torchvision.models.list_models()
# Built on the CPU (their builders need real tensors) and too big for CI: checked by the benchmark script.
TOO_BIG_FOR_CPU = {
    "regnet_y_128gf",
    "regnet_y_32gf",
    "regnet_x_32gf",
    "regnet_y_16gf",
    "regnet_x_16gf",
}


def test_the_zoo_is_what_the_issue_lists():
    for expected in ("fcn_resnet50", "deeplabv3_resnet50", "lraspp_mobilenet_v3_large", "r3d_18", "mc3_18",
                     "r2plus1d_18", "s3d", "mvit_v1_b", "mvit_v2_s", "swin3d_t", "raft_small",
                     "fasterrcnn_resnet50_fpn", "retinanet_resnet50_fpn", "fcos_resnet50_fpn", "ssd300_vgg16",
                     "ssdlite320_mobilenet_v3_large", "maskrcnn_resnet50_fpn", "keypointrcnn_resnet50_fpn",
                     "quantized_resnet18"):  # fmt: skip
        assert expected in ALL


@pytest.mark.parametrize("name", ALL)
def test_every_model_summarises(name, record_property):
    result = check(name)
    record_property("outcome", result.outcome)
    print(f"{name}: {result.outcome}")
    assert not result.outcome.startswith("error"), result.outcome
    assert result.params_exact, f"{result.total_params} vs {result.expected_params}"
    assert result.total_macs and result.total_macs > 0
    if result.outcome != "exact":
        assert "fx could not trace" in result.outcome or "stopped at" in result.outcome


@pytest.mark.parametrize(
    "name", ["ssdlite320_mobilenet_v3_large", "fasterrcnn_mobilenet_v3_large_320_fpn"]
)
def test_detection_with_real_weights_runs_its_whole_forward(name):
    """A detector with real weights runs once for real (its proposals depend on the values)."""
    torch.manual_seed(0)
    result = check(name, device="cpu")
    assert result.method == "hooks (real forward)", result.outcome
    assert result.params_exact
    torch.manual_seed(0)  # the same weights again, for torch's flop counter on the same input
    assert result.total_macs == counted_macs(build(name, device="cpu"), *result.input["input_data"])


@pytest.mark.parametrize(
    "name, gmacs_tolerance",
    [("r3d_18", 0.005), ("mc3_18", 0.005), ("r2plus1d_18", 0.005), ("s3d", 0.005), ("mvit_v1_b", 0.005),
     ("mvit_v2_s", 0.005), ("swin3d_t", 0.005), ("ssd300_vgg16", 0.005), ("ssdlite320_mobilenet_v3_large", 0.005),
     ("retinanet_resnet50_fpn", 0.005)],
)  # fmt: skip
def test_macs_match_published_figures_beyond_classification(name, gmacs_tolerance):
    result = check(name)
    assert (
        abs(result.total_macs / 1e9 / result.published_gmacs - 1) < gmacs_tolerance
        or round(result.total_macs / 1e9, 3) == result.published_gmacs
    ), f"{result.total_macs / 1e9:.3f} vs {result.published_gmacs}"
