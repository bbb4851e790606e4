"""Speed and scale of ``cnninspect.summarize`` beside ``torchinfo.summary``, measured in one run.

Every figure is a median of several runs, taken alternately (ours, theirs, ours, ...) so that
the machine's state weighs on both alike; a speedup is the median of the ratios of adjacent
pairs, since this machine's CPU speed drifts by up to 1.7x within a minute and a pair sees
the same speed. The linear-growth rounds keep each depth's fastest run instead. Peak memory is
measured in fresh subprocesses:
a baseline that imports torch, torchvision and cnninspect and builds the model, and one that
also summarises it.

    python benchmarks/summary_speed.py            # everything (several minutes on 2 cores)
    python benchmarks/summary_speed.py --quick    # fewer repeats, no 1024x1024 torchinfo run
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

MODELS_224 = [
    "resnet50",
    "densenet121",
    "vit_b_16",
    "convnext_tiny",
    "efficientnet_b0",
    "mobilenet_v3_large",
]


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def alternate(
    ours: Callable[[], object], theirs: Callable[[], object] | None, repeats: int
) -> tuple[float, float | None, float | None]:
    """(median time of ours, median time of theirs, median ratio theirs/ours of adjacent runs)."""
    ours()  # warm both (imports, caches, allocator)
    if theirs is not None:
        theirs()
    a, b = [], []
    for _ in range(repeats):
        a.append(timed(ours))
        if theirs is not None:
            b.append(timed(theirs))
    return paired(a, b)


def paired(a: list[float], b: list[float]) -> tuple[float, float | None, float | None]:
    if not b:
        return statistics.median(a), None, None
    ratio = statistics.median(y / x for x, y in zip(a, b, strict=True))
    return statistics.median(a), statistics.median(b), ratio


def child_peak_rss(setup: str, measured: str) -> tuple[float, float]:
    """(RSS after ``setup``, peak RSS while running ``measured``), in MB, in a fresh Python.

    Linux resets the peak (VmHWM) when "5" is written to /proc/self/clear_refs, so the
    peak is that of ``measured`` alone, not of importing torch.
    """
    script = (
        setup
        + "\ndef _status(key):\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith(key):\n"
        "            return int(line.split()[1]) / 1024\n"
        "open('/proc/self/clear_refs', 'w').write('5')\n"
        "_before = _status('VmRSS')\n"
        + measured
        + "\nimport json; print(json.dumps([_before, _status('VmHWM')]))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    before, peak = json.loads(out.stdout.strip().splitlines()[-1])
    return before, peak


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    repeats = 2 if args.quick else args.repeats

    import torch
    import torchinfo
    import torchvision

    import cnninspect

    rows: list[dict] = []

    def add(case: str, ours: float, theirs: float | None, ratio: float | None, note: str = "") -> None:
        rows.append(
            {
                "case": case,
                "cnninspect_s": ours,
                "torchinfo_s": theirs,
                "speedup": ratio,
                "note": note,
            }
        )
        shown = f"{theirs:8.3f} s  {ratio:7.1f}x" if theirs else f"{'-':>10}  {'-':>8}"
        print(f"{case:42s} {ours:8.3f} s  {shown}  {note}", flush=True)

    print("Cold: the first summary of a freshly built model (fx traces it). Warm: later summaries of")
    print("the same model, which reuse its trace while its modules, modes and settings are unchanged.")
    print(f"{'case':42s} {'cold':>10}  {'torchinfo':>10}  {'speedup':>8}")
    for name in MODELS_224:
        colds, theirs_cold = [], []
        for _ in range(repeats):
            fresh = getattr(torchvision.models, name)().eval()
            colds.append(timed(lambda fresh=fresh: cnninspect.summarize(fresh, (1, 3, 224, 224))))
            fresh = getattr(torchvision.models, name)().eval()
            theirs_cold.append(timed(lambda fresh=fresh: torchinfo.summary(fresh, (1, 3, 224, 224), verbose=0)))
        add(f"{name} 224 cold (with receptive fields)", *paired(colds, theirs_cold), "target >= 3x")
    print(f"{'case':42s} {'warm':>10}  {'torchinfo':>10}  {'speedup':>8}")
    for name in MODELS_224:
        model = getattr(torchvision.models, name)().eval()
        timings = alternate(
            lambda model=model: cnninspect.summarize(model, (1, 3, 224, 224)),
            lambda model=model: torchinfo.summary(model, (1, 3, 224, 224), verbose=0),
            repeats,
        )
        add(f"{name} 224 warm (with receptive fields)", *timings, "target >= 3x")

    model = torchvision.models.resnet50().eval()
    big_theirs = big_ratio = None
    if not args.quick:
        big, big_theirs, big_ratio = alternate(
            lambda: cnninspect.summarize(model, (8, 3, 1024, 1024)),
            lambda: torchinfo.summary(model, (8, 3, 1024, 1024), verbose=0),
            1,
        )
    else:
        big, _, _ = alternate(lambda: cnninspect.summarize(model, (8, 3, 1024, 1024)), None, repeats)
    add("resnet50 8x3x1024x1024", big, big_theirs, big_ratio, "target >= 100x")
    # the two sizes alternate too, so each ratio compares runs made at the same machine speed
    _, _, size_ratio = alternate(
        lambda: cnninspect.summarize(model, (1, 3, 224, 224)),
        lambda: cnninspect.summarize(model, (8, 3, 1024, 1024)),
        2 * repeats + 1,
    )
    print(
        f"{'  ours at 8x3x1024x1024 / ours at 1x3x224x224':42s} {size_ratio:8.2f}    (target <= 1.2)"
    )
    rows.append({"case": "resnet50 size ratio 8x1024 / 1x224", "ratio": size_ratio})

    setup = "import torch, torchvision, cnninspect, torchinfo\nm = torchvision.models.resnet50()\n"
    before, peak = child_peak_rss(setup, "cnninspect.summarize(m, (8, 3, 1024, 1024))")
    print(f"{'peak RSS while summarising resnet50 8x1024^2':42s} +{peak - before:8.1f} MB over the {before:.0f} MB after building it (target < 100)")
    rows.append({"case": "resnet50 8x1024 peak RSS over baseline (MB)", "value": peak - before})
    if not args.quick:
        before_ti, peak_ti = child_peak_rss(setup, "torchinfo.summary(m, (8, 3, 1024, 1024), verbose=0)")
        print(f"{'  the same for torchinfo':42s} +{peak_ti - before_ti:8.1f} MB")
        rows.append({"case": "torchinfo resnet50 8x1024 peak RSS over baseline (MB)", "value": peak_ti - before_ti})

    big_setup = (
        "import torch, torch.nn as nn, cnninspect, time\n"
        "with torch.device('meta'):\n"
        "    m = nn.Sequential(*[nn.Linear(8192, 8192) for _ in range(16)])\n"
    )
    before, peak = child_peak_rss(
        big_setup, "t = time.perf_counter(); cnninspect.summarize(m, (1, 8192)); print(time.perf_counter() - t)"
    )
    took = float(subprocess.run([sys.executable, "-c", big_setup + "t = time.perf_counter(); cnninspect.summarize(m, (1, 8192)); print(time.perf_counter() - t)"], capture_output=True, text=True, check=True).stdout.split()[0])
    print(f"{'meta model, 1.07 B params (first summary)':42s} {took:8.3f} s  (target < 2 s), +{peak - before:.1f} MB peak RSS (target < 200)")
    rows.append({"case": "meta 1.07B params", "seconds": took, "rss_over_baseline_mb": peak - before})

    # Linear growth: rounds interleave the three depths and each depth keeps its fastest run
    # (timeit's rule: noise only ever adds time). First summaries use freshly built stacks.
    depths = (500, 2000, 8000)

    def conv_stack(depth: int) -> torch.nn.Module:
        with torch.device("meta"):
            layers = []
            for _ in range(depth):
                layers += [torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.ReLU()]
            return torch.nn.Sequential(*layers)

    first = {d: [] for d in depths}
    again = {d: [] for d in depths}
    for _ in range(2 if args.quick else 7):
        for depth in depths:
            stack = conv_stack(depth)
            first[depth].append(timed(lambda stack=stack: cnninspect.summarize(stack, (1, 8, 32, 32))))
            again[depth].append(timed(lambda stack=stack: cnninspect.summarize(stack, (1, 8, 32, 32))))
    for label, runs in (("first summary", first), ("repeat summary", again)):
        per_node = {d: min(runs[d]) / (2 * d) for d in depths}
        for d in depths:
            print(f"{f'conv+relu stack of {d}, {label}':42s} {min(runs[d]):8.3f} s  {per_node[d] * 1e6:8.1f} us/node")
        spread = max(per_node.values()) / min(per_node.values())
        print(f"{f'  time per node, max/min ({label})':42s} {spread:8.2f}    (target <= 1.5)")
        rows.append({"case": f"time per node spread 500..8000, {label}", "ratio": spread,
                     "us_per_node": {d: per_node[d] * 1e6 for d in depths}})

    imports = []
    for _ in range(7):
        code = "import torch, time; t = time.perf_counter(); import cnninspect; print(time.perf_counter() - t)"
        imports.append(float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout))
    extra = statistics.median(imports) * 1000
    print(f"{'import cnninspect after import torch':42s} {extra:8.1f} ms  (target < 50)")
    rows.append({"case": "import overhead ms", "value": extra})
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
