"""Does pausing garbage collection during a summary still earn its place? An A/B run.

A: summarize() as shipped (cnninspect.engine.gcpause pauses the collector while the calling
thread is the only one). B: the same with the pause made a no-op. Runs alternate A, B / B, A
so the machine's drift weighs on both; the figure is the median of the B/A ratios of adjacent
pairs. A first summary builds a fresh model before each run (untimed); a repeat reuses one.

    python benchmarks/gc_pause.py            # 9 pairs, three torchvision models
    python benchmarks/gc_pause.py 5 --deep   # 5 pairs, plus a 2,000-block conv stack
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
import types

import torchvision
from torch import nn

import cnninspect.engine.gcpause as pause
from cnninspect.engine.summary import summarize

PAUSING = pause.gc
NOT_PAUSING = types.SimpleNamespace(isenabled=gc.isenabled, enable=gc.enable, disable=lambda: None)


def stack(depth: int):
    return lambda: nn.Sequential(*[nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU()) for _ in range(depth)])


def timed(model: nn.Module, shape: tuple[int, ...], paused: bool) -> float:
    pause.gc = PAUSING if paused else NOT_PAUSING
    try:
        start = time.perf_counter()
        summarize(model, shape)
        return time.perf_counter() - start
    finally:
        pause.gc = PAUSING


def main() -> None:
    pairs = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 9
    cases = [(n, getattr(torchvision.models, n), (1, 3, 224, 224)) for n in ("resnet50", "densenet121", "mobilenet_v3_large")]
    if "--deep" in sys.argv:
        cases.append(("conv stack x2000", stack(2000), (1, 8, 32, 32)))
    for name, build, shape in cases:
        for case in ("first", "repeat"):
            a: list[float] = []
            b: list[float] = []
            model = build().eval()
            timed(model, shape, True)  # warm imports and caches
            for i in range(pairs):
                for paused in ((True, False) if i % 2 == 0 else (False, True)):
                    m = build().eval() if case == "first" else model
                    (a if paused else b).append(timed(m, shape, paused))
            ratio = statistics.median(y / x for x, y in zip(a, b, strict=True))
            print(
                f"{name:20s} {case:6s} paused {statistics.median(a) * 1000:7.1f} ms  "
                f"collecting {statistics.median(b) * 1000:7.1f} ms  collecting/paused {ratio:.2f}x",
                flush=True,
            )


if __name__ == "__main__":
    main()
