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
    python benchmarks/summary_speed.py --only timm --repeats 3 --threads 1 --profile

The timm panel (issue 14) times the first summary of ten timm models, each freshly built on the
CPU at its default input size, beside torchinfo's; it needs timm (a test extra) and says so and
skips when timm is missing. ``--profile`` prints cProfile's top entries of our summary for every
model under its target. A run's output is kept by redirecting it to
``benchmarks/results/summary_speed-[timm-]DATE.txt``; it states torch's thread count and the load
average, because on a busy machine torchinfo's forward with torch's default threads slows far
more than our single-threaded trace (``--threads 1`` keeps such a run fair).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

MODELS_224 = [
    "resnet50",
    "densenet121",
    "vit_b_16",
    "convnext_tiny",
    "efficientnet_b0",
    "mobilenet_v3_large",
]

# timm's layers beyond torchvision's: dynamic-"same" pads, SE/ECA gates, windowed and
# relative-position attention, MaxViT partitions, RegNet's group convs
TIMM_PANEL = [
    "resnet50",
    "mobilenetv3_large_100",
    "densenet121",
    "regnety_032",
    "swin_tiny_patch4_window7_224",
    "maxvit_tiny_tf_224",
    "efficientnet_b0",
    "tf_efficientnet_b0",
    "convnext_tiny",
    "vit_base_patch16_224",
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


def first_summaries(
    build: Callable[[], object], shape: tuple[int, ...], repeats: int
) -> tuple[float, float | None, float | None]:
    """``paired`` timings of a first summary: every run of either tool gets a model built anew,
    so no run profits from a trace or hook state an earlier one left on it."""
    import torchinfo

    import cnninspect

    ours, theirs = [], []
    for _ in range(repeats):
        fresh = build()
        ours.append(timed(lambda fresh=fresh: cnninspect.summarize(fresh, shape)))
        fresh = build()
        theirs.append(timed(lambda fresh=fresh: torchinfo.summary(fresh, shape, verbose=0)))
    return paired(ours, theirs)


def conditions() -> str:
    """What the timings depend on besides the code: torch's threads and the machine's load."""
    import torch

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"torch threads {torch.get_num_threads()}; load average {load} on {os.cpu_count()} CPUs"


def print_profile(summarize: Callable[[], object], entries: int = 12) -> None:
    """cProfile's top entries by own time of one summary, to show where a slow one goes."""
    profile = cProfile.Profile()
    profile.runcall(summarize)
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(entries)
    body = text.getvalue().strip().splitlines()
    print("\n".join("    " + line for line in body if line.strip()))


def timm_panel(repeats: int, profile: bool = False) -> list[dict]:
    """First summaries of ``TIMM_PANEL`` beside torchinfo's; [] (and a line saying so) without timm."""
    try:
        import timm
    except ImportError:
        print("timm panel skipped: timm is not installed (pip install timm, or the 'test' extra)")
        return []
    import cnninspect

    print(f"timm {timm.__version__}: the first summary of a model freshly built on the CPU")
    print(f"({repeats} pairs, default input size of each model; {conditions()})")
    print(f"{'case':42s} {'cold':>10}  {'torchinfo':>10}  {'speedup':>8}")
    rows = []
    for name in TIMM_PANEL:

        def build(name: str = name) -> Any:
            return timm.create_model(name, pretrained=False).eval()

        shape = (1, *build().pretrained_cfg["input_size"])
        ours, theirs, ratio = first_summaries(build, shape, repeats)
        case = f"timm {name} {'x'.join(map(str, shape))} cold"
        rows.append(row(case, ours, theirs, ratio, "target >= 2x"))
        if profile and ratio is not None and ratio < 2:
            fresh = build()
            print_profile(lambda fresh=fresh, shape=shape: cnninspect.summarize(fresh, shape))
    print(f"end of the timm panel: {conditions()}")
    return rows


def row(case: str, ours: float, theirs: float | None, ratio: float | None, note: str = "") -> dict:
    """One timing as the JSON record, printed as a table line as it is made."""
    shown = f"{theirs:8.3f} s  {ratio:7.1f}x" if theirs else f"{'-':>10}  {'-':>8}"
    print(f"{case:42s} {ours:8.3f} s  {shown}  {note}", flush=True)
    return {
        "case": case,
        "cnninspect_s": ours,
        "torchinfo_s": theirs,
        "speedup": ratio,
        "note": note,
    }


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
    parser.add_argument("--only", choices=["timm"], help="run just this section")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads for the whole run")
    parser.add_argument("--profile", action="store_true", help="profile timm models under target")
    args = parser.parse_args()
    repeats = 2 if args.quick else args.repeats
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.only == "timm":
        print(json.dumps(timm_panel(repeats, args.profile)))
        return

    import torch
    import torchinfo
    import torchvision

    import cnninspect

    rows: list[dict] = []

    def add(case: str, ours: float, theirs: float | None, ratio: float | None, note: str = "") -> None:
        rows.append(row(case, ours, theirs, ratio, note))

    print("Cold: the first summary of a freshly built model (fx traces it). Warm: later summaries of")
    print("the same model, which reuse its trace while its modules, modes and settings are unchanged.")
    print(f"{'case':42s} {'cold':>10}  {'torchinfo':>10}  {'speedup':>8}")
    for name in MODELS_224:
        build = getattr(torchvision.models, name)
        timings = first_summaries(lambda build=build: build().eval(), (1, 3, 224, 224), repeats)
        add(f"{name} 224 cold (with receptive fields)", *timings, "target >= 3x")
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
    rows += timm_panel(repeats, args.profile)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
