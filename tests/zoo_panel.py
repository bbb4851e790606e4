"""What the timm and transformers panels (test_zoo_timm.py, test_zoo_hf.py) hold every model to.

Each figure is judged by a source that does not import cnninspect: ``sum(p.numel())`` for the
parameters, torch's ``FlopCounterMode`` on a forward of the same model for the MACs, and -- inside
:func:`cnninspect.verify` -- a real forward's hooks for every row's output shape.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

MAC_TOLERANCE = 0.01  # issue 14: within 1 % of FlopCounterMode on every panel model


def reference_macs(model: nn.Module, *args: Any, **kwargs: Any) -> int:
    """FlopCounterMode's MACs (its FLOPs / 2) for one forward of ``model`` on these inputs.

    Unlike :func:`oracles.counted_macs` the forward keeps autograd on: under ``no_grad`` the
    counter's module tracker raises "Expected gradient function to be set" on CaiT and PiT, whose
    blocks receive a parameter-derived tensor (torch 2.14).
    """
    with FlopCounterMode(display=False) as counter:
        model(*args, **kwargs)
    flops = counter.get_total_flops()
    assert flops % 2 == 0, flops
    return flops // 2


def assert_totals(summary: Any, model: nn.Module, reference: int) -> None:
    """Parameters exact against the model's own tensors; MACs within 1 % of the counter's."""
    owned = sum(p.numel() for p in model.parameters())
    assert summary.total_params == owned, f"params {summary.total_params:,}, the model holds {owned:,}"
    assert reference > 0, "FlopCounterMode counted nothing: the reference cannot judge this model"
    ratio = summary.total_macs / reference
    assert abs(ratio - 1) <= MAC_TOLERANCE, (
        f"MACs {summary.total_macs:,} vs FlopCounterMode {reference:,} (ratio {ratio:.4f}); "
        f"warnings: {summary.warnings}"
    )


def assert_verified(report: Any) -> None:
    """Every row's shape equal to the real forward's first (the claim the panel exists for), then
    every other value that two sources can judge."""
    shapes = [m for m in report.mismatches if m.quantity == "output_shape"]
    assert not shapes, "shapes differ from a real forward:\n" + "\n".join(map(str, shapes[:10]))
    assert report.ok, "\n".join(map(str, report.mismatches[:10]))


def panel_params(ids: Iterable[str], gaps: dict[str, tuple[type[BaseException], str]]) -> list[Any]:
    """Parametrize values, one per id; an id with a known gap -- (the exception it raises now, the
    gap) -- is a strict xfail, so the run fails the day the gap is fixed and the mark must come off."""
    ids = list(ids)
    unknown = set(gaps) - set(ids)
    assert not unknown, f"known gaps for ids not in the panel: {sorted(unknown)}"
    return [
        pytest.param(i, id=i, marks=pytest.mark.xfail(strict=True, raises=gaps[i][0], reason=gaps[i][1]))
        if i in gaps else pytest.param(i, id=i)
        for i in ids
    ]  # fmt: skip
