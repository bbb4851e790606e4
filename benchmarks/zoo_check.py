"""Every torchvision model: how cnninspect summarised it, and its figures beside torchvision's.

    python benchmarks/zoo_check.py                 # the whole zoo (a few minutes; regnet_y_128gf is built on the CPU)
    python benchmarks/zoo_check.py resnet vit_b    # names containing any of these

Prints one row per model: outcome (exact / fallback and why / error), parameters against the
model's own count, MACs against the published GMACs where torchvision publishes them.
"""

from __future__ import annotations

import sys
import time

import torchvision

from cnninspect.analyses.zoo import check


def main(patterns: list[str]) -> int:
    names = [
        n for n in torchvision.models.list_models() if not patterns or any(p in n for p in patterns)
    ]
    bad = 0
    print(
        f"{'model':40s} {'task':13s} {'params':>13s} {'GMACs':>9s} {'published':>9s} {'diff':>7s} {'time':>6s}  outcome"
    )
    for name in names:
        start = time.perf_counter()
        r = check(name)
        took = time.perf_counter() - start
        gmacs = r.total_macs / 1e9 if r.total_macs else float("nan")
        diff = (
            f"{(gmacs / r.published_gmacs - 1) * 100:+.2f}%"
            if r.published_gmacs and r.total_macs
            else ""
        )
        params = f"{r.total_params:,}" if r.total_params is not None else "-"
        flag = "" if r.params_exact and not r.outcome.startswith("error") else "  <<"
        bad += bool(flag)
        print(
            f"{name:40s} {r.task:13s} {params:>13s} {gmacs:9.3f} {r.published_gmacs or float('nan'):9.3f} {diff:>7s} {took:5.1f}s  {r.outcome[:110]}{flag}",
            flush=True,
        )
    print(f"{len(names)} models, {bad} with an error or inexact parameter count")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
