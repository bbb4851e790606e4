"""The memory report's speed (issue 15) and the torchinfo shim's printed table (issue 18), side by side.

Measured in one run, as ratios of adjacent pairs (this machine's CPU speed drifts within a
minute, and a pair sees the same speed):

* the memory report of resnet50 at batch 256 beside a summary of it: the same model again
  (what the targets speak of: "adds no more than 50 % to a summary's time"), a fresh
  model's first report beside its first summary ("first": reports are remembered by
  structure, so a fresh resnet50 after the warm-up's is served from that cache), and the
  same with the memory caches forgotten before the report ("unseen": an architecture no
  report has seen, so the replays run; torch's meta results stay remembered by op and shape);
* the 24GiB ``--budget`` search for resnet50: on a fresh model in a warm process, and cold
  (a fresh process each time: imports and the model build are not timed, the search is);
* ``str(torchinfo_summary(...))`` -- the table a user sees, memory sizes included -- beside
  ``str(torchinfo.summary(...))`` on a fresh model each, for the benchmark's torchvision models.

Workers run torch on one thread: on this shared machine torchinfo's real forward with
torch's default threads slows far more than anything else. With ``--rev REV`` each case also runs in a worker importing cnninspect from a temporary
worktree of REV, alternating with this tree's worker: before and after in the same run.

    python benchmarks/memory_speed.py --rev 20dc1f8 --out benchmarks/results/memory_speed.md
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from summary_speed import MODELS_224, conditions  # benchmarks/ is on sys.path

REPO = Path(__file__).resolve().parents[1]
SHAPE = (256, 3, 224, 224)

WORKER = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import torch, torchvision, torchinfo
import cnninspect
from cnninspect.analyses.memory import largest_batch
from cnninspect.analyses.memory.cache import forget
assert cnninspect.__file__.startswith(sys.argv[1]), cnninspect.__file__
torch.set_num_threads(1)  # a busy machine slows torchinfo's multi-threaded forward far more
M = torchvision.models
same = M.resnet50()

def clock(fn):
    start = time.perf_counter(); out = fn(); [[]]  # a tracked allocation: gc due is paid inside
    return time.perf_counter() - start, out

def summary_then_memory(model):
    return [clock(lambda: cnninspect.summarize(model, SHAPE))[0],
            clock(lambda: cnninspect.memory(model, SHAPE))[0]]

SHAPE = (256, 3, 224, 224)
for line in sys.stdin:
    what, *name = line.split()
    if what == "again":
        out = summary_then_memory(same)
    elif what == "first":
        out = summary_then_memory(M.resnet50())
    elif what == "unseen":  # memory caches forgotten between the summary and the report
        model = M.resnet50()
        out = [clock(lambda: cnninspect.summarize(model, SHAPE))[0]]
        forget()
        out.append(clock(lambda: cnninspect.memory(model, SHAPE))[0])
    elif what == "search":
        model = M.resnet50()
        seconds, (batch, _) = clock(lambda: largest_batch(model, (1, 3, 224, 224), "24GiB"))
        out = [seconds, batch]
    else:  # "shim NAME" or "torchinfo NAME": the printed table of a fresh model
        model = getattr(M, name[0])().eval()
        call = cnninspect.torchinfo_summary if what == "shim" else torchinfo.summary
        out = clock(lambda: str(call(model, (1, 3, 224, 224), verbose=0)))[0]
    print(json.dumps(out), flush=True)
"""

COLD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import torchvision
from cnninspect.analyses.memory import largest_batch
model = torchvision.models.resnet50()
start = time.perf_counter()
batch, _ = largest_batch(model, (1, 3, 224, 224), "24GiB")
print(json.dumps([time.perf_counter() - start, batch]))
"""


class Worker:
    """A Python process importing cnninspect from ``tree``, answering one case per line."""

    def __init__(self, tree: Path) -> None:
        self.tree = tree
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(tree)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, case: str):
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(case + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def cold_search(self) -> list:
        out = subprocess.run(
            [sys.executable, "-c", COLD, str(self.tree)], capture_output=True, text=True, check=True
        )
        return json.loads(out.stdout)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()


def med(values) -> float:
    return statistics.median(values)


def memory_rows(workers: dict[str, Worker], pairs: int) -> list[str]:
    """Memory report / summary, per tree: again and first (each a median of pair ratios)."""
    lines = ["| tree | case | summary | memory report | memory / summary |", "| --- | --- | ---: | ---: | ---: |"]  # fmt: skip
    for case in ("again", "first", "unseen"):
        runs: dict[str, list] = {tree: [] for tree in workers}
        for w in workers.values():
            w.ask(case)  # warm: imports, caches, the op cache's shapes
        for _ in range(pairs):
            for tree, w in workers.items():
                runs[tree].append(w.ask(case))
        for tree, got in runs.items():
            s, m = med(r[0] for r in got), med(r[1] for r in got)
            ratio = med(r[1] / r[0] for r in got)
            lines.append(
                f"| {tree} | {case} | {s * 1e3:.1f} ms | {m * 1e3:.1f} ms | {ratio:.2f}x |"
            )
    return lines


def search_rows(workers: dict[str, Worker], pairs: int) -> list[str]:
    """The 24GiB search on resnet50, fresh model in a warm process, and cold."""
    lines = ["| tree | search | seconds | batch |", "| --- | --- | ---: | ---: |"]
    for case in ("warm process", "cold process"):
        runs: dict[str, list] = {tree: [] for tree in workers}
        for _ in range(pairs):
            for tree, w in workers.items():
                runs[tree].append(w.ask("search") if case == "warm process" else w.cold_search())
        for tree, got in runs.items():
            lines.append(f"| {tree} | {case} | {med(r[0] for r in got):.2f} s | {got[0][1]} |")
    if len(workers) == 2:
        (a, b) = list(runs)
        lines.append("")
        lines.append(f"cold search, {a} / {b}: {med(x[0] / y[0] for x, y in zip(runs[a], runs[b])):.2f}")  # fmt: skip
    return lines


def shim_rows(workers: dict[str, Worker], pairs: int, models: list[str]) -> list[str]:
    """Printed table: each tree's shim beside torchinfo, alternating (shim, torchinfo, ...)."""
    trees = list(workers)
    head = " | ".join(f"{t} | torchinfo / {t}" for t in trees)
    lines = [f"| model | torchinfo | {head} |", "| --- | ---: |" + " ---: | ---: |" * len(trees)]
    first = workers[trees[0]]
    for name in models:
        for w in workers.values():
            w.ask(f"shim {name}")
        first.ask(f"torchinfo {name}")
        ours: dict[str, list[float]] = {t: [] for t in trees}
        theirs: list[float] = []
        for _ in range(pairs):
            for tree, w in workers.items():
                ours[tree].append(w.ask(f"shim {name}"))
            theirs.append(first.ask(f"torchinfo {name}"))
        cells = " | ".join(
            f"{med(ours[t]):.3f} s | {med(y / x for x, y in zip(ours[t], theirs)):.1f}x"
            for t in trees
        )
        lines.append(f"| {name} | {med(theirs):.3f} s | {cells} |")
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", help="also time this git revision, alternating with this tree")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--models", default=",".join(MODELS_224), help="the shim's models")
    parser.add_argument("--out", type=Path, help="also write the tables here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"this tree": REPO}
        if args.rev:
            old = Path(tmp) / "old"
            subprocess.run(["git", "worktree", "add", "-f", "--detach", str(old), args.rev],
                           cwd=REPO, check=True, capture_output=True)  # fmt: skip
            trees[args.rev] = old
        workers = {name: Worker(tree) for name, tree in trees.items()}
        try:
            report = run(workers, args.pairs, args.models.split(","))
        finally:
            for w in workers.values():
                w.close()
            if args.rev:
                subprocess.run(["git", "worktree", "remove", "--force", str(trees[args.rev])],
                               cwd=REPO, check=False)  # fmt: skip
    if args.out:
        args.out.write_text(report + "\n")


def run(workers: dict[str, Worker], pairs: int, models: list[str]) -> str:
    import torch

    torch.set_num_threads(1)  # as in the workers, so that conditions() says so
    parts = [
        f"{conditions()}", "",
        "Memory report of resnet50 at batch 256 beside a summary (median of pairs):", "",
        *memory_rows(workers, pairs), "",
        "Largest batch under 24GiB for resnet50 (AdamW, fp32):", "",
        *search_rows(workers, pairs), "",
        "Printed torchinfo table of a fresh model, 1x3x224x224 (median of pairs):", "",
        *shim_rows(workers, pairs, models),
    ]  # fmt: skip
    for line in parts:
        print(line, flush=True)
    return "\n".join(parts)


if __name__ == "__main__":
    main()
