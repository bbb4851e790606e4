"""The largest batch that fits a memory budget, and budgets written as text ("24GiB")."""

from __future__ import annotations

import re
from typing import Any

from cnninspect.errors import OptionError

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}  # fmt: skip


def parse_bytes(value: Any, where: str = "budget") -> int:
    """``"24GiB"`` -> 25769803776; ``"1.5 GB"`` -> 1500000000; an int is bytes already."""
    if isinstance(value, int) and value > 0:
        return value
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(value))
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise OptionError(f"{where} {value!r} is not a size; write it like 24GiB, 1.5GB or 800MiB")
    return int(float(match.group(1)) * _UNITS[unit])


def largest_batch(
    model,
    input_shape: Any = None,
    budget: Any = "24GiB",
    *,
    peak: str = "train",
    limit: int = 1 << 20,
    **options,
) -> tuple[int, Any]:
    """The largest batch size whose ``peak`` ("train" or "inference") fits ``budget``.

    Memory grows with the batch, so the search doubles until a batch does not fit, then
    bisects; returns the batch (0 when even batch 1 does not fit) and its report.
    """
    from cnninspect.analyses.memory import memory

    limit_bytes = parse_bytes(budget)

    def fits(batch: int):
        report = memory(model, input_shape, batch_size=batch, **options)
        value = report.train_peak if peak == "train" else report.inference_peak
        return value <= limit_bytes, report

    ok, report = fits(1)
    if not ok:
        return 0, report
    # peaks grow affinely with the batch: aim from batches 1 and 2, then confirm around the aim
    one = _value(report, peak)
    ok2, report2 = fits(2)
    if not ok2:
        return 1, report
    slope = max(_value(report2, peak) - one, 1)
    good = min(limit, max(2, 1 + (limit_bytes - one) // slope))
    ok, good_report = fits(good)
    while not ok and good > 1:  # not affine after all: walk down by halving the overshoot
        good = max(1, good - max(1, good // 8))
        ok, good_report = fits(good)
    while good < limit:
        ok, report = fits(good + 1)
        if not ok:
            break
        good, good_report = good + 1, report
    return good, good_report


def _value(report, peak: str) -> int:
    return report.train_peak if peak == "train" else report.inference_peak
