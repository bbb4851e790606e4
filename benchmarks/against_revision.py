"""This tree's ``summarize`` beside another git revision's, side by side in one run.

Two worker processes, one importing cnninspect from this checkout and one from a
temporary worktree of ``--rev``, take turns: the controller asks each for one timed
summary at a time (a fresh model for a first summary, the same model again for a
repeat), so CPU drift weighs on both alike. A ratio is the median of adjacent pairs. Each timing
ends with one small allocation, so the garbage collection a summary leaves due (collection is
paused during a summary) is paid inside the timing by every revision, wherever it re-enables it.

    python benchmarks/against_revision.py --rev 743b2f5
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from summary_speed import (
    MODELS_224 as MODELS,  # the README table's models; benchmarks/ is on sys.path
)

REPO = Path(__file__).resolve().parents[1]

WORKER = r"""
import gc, json, sys, time
sys.path.insert(0, sys.argv[1])
import torch, torchvision
import cnninspect
assert cnninspect.__file__.startswith(sys.argv[1]), cnninspect.__file__
torch.set_num_threads(1)
models = {}
for line in sys.stdin:
    name, mode = line.split()
    if mode == "first" or name not in models:
        models[name] = getattr(torchvision.models, name)()
    start = time.perf_counter()
    cnninspect.summarize(models[name], (1, 3, 224, 224))
    [[]]  # a tracked allocation: the collection a summary leaves pending runs inside the timing
    print(json.dumps(time.perf_counter() - start), flush=True)
"""


def worker(tree: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(tree)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def ask(proc: subprocess.Popen, name: str, mode: str) -> float:
    proc.stdin.write(f"{name} {mode}\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", required=True, help="the git revision to compare with")
    parser.add_argument("--pairs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "old"
        subprocess.run(
            ["git", "worktree", "add", "-f", "--detach", str(old), args.rev],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        try:
            run(worker(REPO), worker(old), args.pairs, args.rev)
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(old)], cwd=REPO, check=False
            )


def run(new: subprocess.Popen, old: subprocess.Popen, pairs: int, rev: str) -> None:
    print(f"| model | summary | this tree | {rev} | this / {rev} |")
    print("| --- | --- | ---: | ---: | ---: |")
    for name in MODELS:
        for mode in ("first", "repeat"):
            ask(new, name, mode), ask(old, name, mode)  # warm both
            a, b = [], []
            for _ in range(pairs):
                a.append(ask(new, name, mode))
                b.append(ask(old, name, mode))
            ratio = statistics.median(x / y for x, y in zip(a, b))
            print(
                f"| {name} | {mode} | {statistics.median(a) * 1e3:.1f} ms | "
                f"{statistics.median(b) * 1e3:.1f} ms | {ratio:.2f} |",
                flush=True,
            )
    for proc in (new, old):
        proc.stdin.close()
        proc.wait()


if __name__ == "__main__":
    main()
