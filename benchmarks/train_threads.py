"""CPU threads for training: torch's default thread count against alternatives, quiet and busy.

Each measurement trains SimpleCNN with the chapter's recipe (Adam 1e-3, batch 64) on
``--steps`` batches of MNIST-shaped data through ``cnninspect.chapter.train.fit`` with
one thread setting (``fit`` sets it and restores torch's afterwards) and takes images
per second of the training loop, after one warm-up batch. Settings: fixed counts (1, 2,
half and all cores: all cores is torch's default) and ``auto``, the trainer's default.

Conditions: *quiet* adds nothing; *busy* starts one busy-looping process per core for
the measurement, as other jobs would on a shared machine. Rounds interleave every
setting so drift hits all alike; the table shows each setting's median img/s and its
ratio to torch's default. The 1-minute load average is printed beside each condition
(on a shared machine "quiet" is only as quiet as the neighbours).

    python benchmarks/train_threads.py [--rounds 3] [--steps 20]

Two runs on 2026-12-01, the project's 2-core machine (torch 2.14.1, CPU), ``--rounds 3 --steps 15``.
First, while other engineers' test runs kept the load average at 9-11 (so "quiet" added nothing of
ours to a machine that was already busy, and "busy" two spinning processes on top):

| threads | quiet img/s | vs default | busy img/s | vs default |
| --- | ---: | ---: | ---: | ---: |
| 1 | 484 | 8.10x | 182 | 4.41x |
| 2 (torch's default) | 60 | 1.00x | 41 | 1.00x |
| auto | 479 | 8.02x | 203 | 4.94x |

Then on the machine alone (load average 0.5-0.7; ``benchmarks/results/train_threads-2026-12-01-quiet.txt``),
after ``auto`` stopped counting its own process's spinning worker threads as another's load (before
that fix it took one thread on this quiet machine: 1,376 img/s, 0.72x torch's default):

| threads | quiet img/s | vs default | busy img/s | vs default |
| --- | ---: | ---: | ---: | ---: |
| 1 | 1,319 | 0.62x | 742 | 1.18x |
| 2 (torch's default) | 2,112 | 1.00x | 630 | 1.00x |
| auto | 2,329 | 1.10x | 874 | 1.39x |

torch's default of one thread per core spin-waits for cores it does not get; ``auto`` (the
trainer's default, ``cnninspect.chapter.train.loop.auto_threads``) counts the cores others keep
busy and leaves them alone, and on an idle machine takes every core, as torch does.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time


def measure(threads: str, steps: int) -> float:
    """Images per second of ``steps`` training batches with ``threads`` ('auto' or a count)."""
    import torch

    from cnninspect.chapter.data import TensorImages
    from cnninspect.chapter.models import SimpleCNN
    from cnninspect.chapter.train import fit

    torch.manual_seed(0)
    n = 64 * (steps + 1)
    data = TensorImages(torch.randn(n, 1, 28, 28), torch.randint(0, 10, (n,)))
    model = SimpleCNN()
    chosen = threads if threads == "auto" else int(threads)
    fit(model, data.subset(64), None, epochs=1, device="cpu", threads=chosen, log=None, progress=False)  # warm-up
    (record,) = fit(model, data, None, epochs=1, device="cpu", threads=chosen, log=None, progress=False)
    return record.images_per_s


def _spinners(count: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def _condition(name: str, settings: list[str], rounds: int, steps: int) -> dict[str, float]:
    cores = os.cpu_count() or 1
    spinners = _spinners(cores) if name == "busy" else []
    try:
        time.sleep(1.0 if spinners else 0.0)
        load = os.getloadavg()[0]
        results: dict[str, list[float]] = {s: [] for s in settings}
        for r in range(rounds):
            for setting in settings:
                results[setting].append(measure(setting, steps))
                print(f"  {name} round {r + 1}: threads {setting}: {results[setting][-1]:,.0f} img/s", flush=True)
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    print(f"{name}: load average {load:.1f} on {cores} cores at the start", flush=True)
    return {s: statistics.median(v) for s, v in results.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20, help="training batches of 64 per measurement")
    parser.add_argument("--conditions", default="quiet,busy")
    args = parser.parse_args(argv)
    if "OMP_NUM_THREADS" in os.environ:
        print("note: OMP_NUM_THREADS is set, so 'auto' keeps torch's count", file=sys.stderr)
    import torch

    cores = os.cpu_count() or 1
    default = torch.get_num_threads()
    settings = [str(n) for n in sorted({1, 2, max(1, cores // 2), default}) if n <= cores] + ["auto"]
    print(f"torch {torch.__version__}, {cores} cores, torch's default {default} threads; "
          f"{args.steps} batches of 64 per measurement, median of {args.rounds} rounds")  # fmt: skip
    table = {c: _condition(c, settings, args.rounds, args.steps) for c in args.conditions.split(",")}
    print()
    print("| threads | " + " | ".join(f"{c} img/s | vs default" for c in table) + " |")
    print("| --- | " + " | ".join("---: | ---:" for _ in table) + " |")
    for s in settings:
        label = f"{s} (torch's default)" if s == str(default) else s
        cells = [f"{table[c][s]:,.0f} | {table[c][s] / table[c][str(default)]:.2f}x" for c in table]
        print(f"| {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
