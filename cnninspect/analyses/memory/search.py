"""The largest batch that fits a memory budget, and budgets written as text ("24GiB")."""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

from cnninspect.errors import OptionError

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}  # fmt: skip


_ROUNDS = 8  # secant steps; a convex piecewise-linear peak needs two or three


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

    Every storage grows affinely with the batch in almost every model: replays at batches
    1 and 2 give every storage's line, the answer is read off them, and one exact replay
    at the answer must equal the lines' prediction storage for storage. Where it does not,
    a peak is still a max of lines: secant steps from batches 1 and 2 land on the line of
    the piece that holds the answer, and a run that falls exactly on it proves the next
    batch is over (else the search steps one batch at a time).
    Returns the batch (0 when even batch 1 does not fit) and its report.
    """
    from cnninspect.analyses.memory import memory

    limit_bytes = parse_bytes(budget)

    def fits(batch: int):
        report = memory(model, input_shape, batch_size=batch, _inference=peak != "train", **options)
        return _value(report, peak) <= limit_bytes, report

    ok, _ = fits(1)
    if not ok:
        return 0, memory(model, input_shape, batch_size=1, **options)
    points = [(1, _value(_, peak))]
    ok, two = fits(2)
    if not ok:
        return 1, memory(model, input_shape, batch_size=1, **options)
    points.append((2, _value(two, peak)))
    best = _by_lines(_Setup(model, input_shape, options, peak), limit_bytes, limit)
    if best is None:
        best = _secant(fits, points, peak, limit_bytes, limit)
    return best, memory(model, input_shape, batch_size=best, **options)


class _Setup:
    """One model, input and set of options, replayed at any batch (replays are remembered)."""

    def __init__(self, model, input_shape: Any, options: dict[str, Any], peak: str) -> None:
        from cnninspect.analyses.memory import _dtype, _spec, check_amp, check_optimizer

        self.model, self.peak = model, peak
        self.spec = _spec(model, input_shape, options.get("input_data"), None)
        self.optimizer = check_optimizer(options.get("optimizer", "adamw"))
        self.amp = check_amp(options.get("amp"), options.get("dtype"))
        self.dtype = _dtype(options.get("dtype"))
        self.state: Any = None  # parameters are the same at every batch: taken once
        self.ready: Any = None  # the model as its replays take it, read once

    def log(self, batch: int, train: bool):
        """The training replay's log (rows: the report's), or the inference one's as the
        report takes it (the model's own forward)."""
        from cnninspect.analyses.memory.run import own_forward_log, ready, replay

        spec = self.spec.with_batch(batch)
        if self.ready is None:
            self.ready = ready(self.model, spec)
        if not train:
            return own_forward_log(self.ready, spec, train=False, dtype=self.dtype, amp=self.amp)
        return replay(self.ready, spec, train=True, dtype=self.dtype, amp=self.amp)[0]

    def _state(self):
        from cnninspect.analyses.memory.run import replay

        self.log(1, True)  # made ready
        spec = self.spec.with_batch(1)
        return replay(self.ready, spec, train=True, dtype=self.dtype, amp=self.amp)[1]

    def value(self, batch: int, train_log, infer_log) -> int:
        from cnninspect.analyses.memory.build import report_from

        if self.state is None:
            self.state = self._state()
        report = report_from(
            "", batch, train_log, self.state, infer_log, self.optimizer, self.dtype, self.amp
        )
        return _value(report, self.peak)


def _by_lines(setup: _Setup, budget: int, limit: int) -> int | None:
    """The answer read off the lines through batches 1 and 2 (see :mod:`.affine`), held to one
    exact replay at it; None where the storages do not lie on lines (search run by run then).

    The peak of logs on growing lines is a max of growing lines, so it grows with the batch:
    the batch after the answer is over the budget wherever the lines hold, and they are
    shown to hold at batches 1, 2 and the answer, storage by storage.
    """
    from cnninspect.analyses.memory.affine import Lines

    kinds = (True, False) if setup.peak != "train" else (True,)
    lines = {t: Lines(setup.log(1, t), setup.log(2, t)) for t in kinds}
    if not all(line.affine and line.growing for line in lines.values()):
        return None

    def value(batch: int) -> int:
        infer = lines[False].at(batch) if False in lines else None
        return setup.value(batch, lines[True].at(batch), infer)

    best = _largest(value, budget, limit)
    if all(line.holds_at(best, setup.log(best, t)) for t, line in lines.items()):
        return best
    return None


def _largest(value, budget: int, limit: int) -> int:
    """The largest batch in [2, limit] whose non-decreasing ``value`` fits (2 is known to)."""
    good, over = 2, 4
    while over <= limit and value(over) <= budget:
        good, over = over, over * 2
    over = min(over, limit + 1)
    while over - good > 1:
        mid = (good + over) // 2
        good, over = (mid, over) if value(mid) <= budget else (good, mid)
    return good


def _secant(fits, points: list[tuple[int, int]], peak: str, budget: int, limit: int) -> int:
    """A convex function lies above its secant lines outside their interval: when a run
    lands exactly on the line that aimed it and the next batch lies beyond the line's two
    points, the next batch is over the budget without running it."""
    for _ in range(_ROUNDS):
        aim, on_line = _aim(points, budget, limit)
        if aim in {b for b, _ in points}:
            break
        ok, report = fits(aim)
        value = _value(report, peak)
        (b1, _), (b2, _) = points[-2], points[-1]
        points.append((aim, value))
        if ok and value == on_line and aim + 1 > max(b1, b2):
            return aim
    good = max(b for b, v in points if v <= budget)
    while good < limit:  # step to the edge, one batch at a time
        known = dict(points)
        value = known[good + 1] if good + 1 in known else _value(fits(good + 1)[1], peak)
        if value > budget:
            break
        good += 1
    return good


def _aim(points: list[tuple[int, int]], budget: int, limit: int) -> tuple[int, int | Fraction]:
    """The largest batch under ``budget`` on the line through the last two points, and
    that line's value there."""
    (b1, v1), (b2, v2) = points[-2], points[-1]
    slope = Fraction(v2 - v1, b2 - b1)
    if slope <= 0:
        return limit, v2
    aim = min(limit, b2 + math.floor((budget - v2) / slope))
    return aim, v2 + slope * (aim - b2)


def _value(report, peak: str) -> int:
    return report.train_peak if peak == "train" else report.inference_peak
