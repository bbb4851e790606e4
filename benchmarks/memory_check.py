"""Memory figures beside what really happens: the table in docs/memory-table.inc.

For each model at its published input size: the bytes autograd saves (cnninspect's
meta replay against ``saved_tensors_hooks`` on a real CPU forward), the inference and
training-step peaks against the CPU allocator's events under ``torch.profiler``
(tests/memory_reference.py), torchinfo's estimate beside them, and, when a GPU is
present, ``torch.cuda.max_memory_allocated`` for the same steps. Then the speed: the
memory report of resnet50 at batch 256 against a summary's time (median of alternating
pairs), and the ``--budget`` search.

    python benchmarks/memory_check.py            # writes docs/memory-table.inc
    python benchmarks/memory_check.py --quick    # fewer models, prints only
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision.models as M

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from memory_reference import (  # noqa: E402
    measured_inference_peak,
    measured_train_peak,
    real_saved_bytes,
)

import cnninspect  # noqa: E402
from cnninspect.units import human_bytes  # noqa: E402

DOCS = ROOT / "docs" / "memory-table.inc"  # included by docs/memory.rst
CASES = {  # model -> input; batch 2 at the published size
    "resnet18": (M.resnet18, (2, 3, 224, 224)),
    "resnet50": (M.resnet50, (2, 3, 224, 224)),
    "mobilenet_v3_large": (M.mobilenet_v3_large, (2, 3, 224, 224)),
    "efficientnet_b0": (M.efficientnet_b0, (2, 3, 224, 224)),
    "densenet121": (M.densenet121, (2, 3, 224, 224)),
    "convnext_tiny": (M.convnext_tiny, (2, 3, 224, 224)),
    "vit_b_16": (M.vit_b_16, (2, 3, 224, 224)),
    "swin_t": (M.swin_t, (2, 3, 224, 224)),
}
TORCHINFO = ("resnet18", "resnet50", "mobilenet_v3_large", "efficientnet_b0", "densenet121")


@dataclass
class Row:
    name: str
    shape: tuple
    saved: int
    saved_real: int
    inference: int
    inference_real: int
    train: int
    train_real: int
    torchinfo_total: int | None = None
    torchinfo_pass: int | None = None
    cuda_inference: int | None = None
    cuda_train: int | None = None


def measure(name: str) -> Row:
    factory, shape = CASES[name]
    torch.manual_seed(0)
    model = factory()
    report = cnninspect.memory(model, shape, optimizer="sgd")
    x = torch.randn(shape)
    row = Row(
        name, shape, report.activation_bytes, real_saved_bytes(model, x),
        report.inference_peak, measured_inference_peak(model, x),
        report.train_peak, measured_train_peak(model, x, "sgd"),
    )  # fmt: skip
    if name in TORCHINFO:
        import torchinfo

        stats = torchinfo.summary(model, input_size=shape, verbose=0)
        row.torchinfo_pass = stats.total_output_bytes
        row.torchinfo_total = stats.total_input + stats.total_output_bytes + stats.total_param_bytes
    if torch.cuda.is_available():
        row.cuda_inference, row.cuda_train = cuda_peaks(model, x)
    print(f"{name}: {row}", flush=True)
    return row


def cuda_peaks(model, x) -> tuple[int, int]:
    """``max_memory_allocated`` over an eval forward and a steady SGD step, on the GPU."""
    model, x = model.cuda(), x.cuda()
    model.eval()
    with torch.no_grad():
        torch.cuda.reset_peak_memory_stats()
        model(x)
        inference = torch.cuda.max_memory_allocated()
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    model(x).float().sum().backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    train = torch.cuda.max_memory_allocated()
    model.cpu()
    return inference, train


def speed(pairs: int = 5) -> dict[str, float]:
    """Median seconds of a summary and of the memory report (resnet50, batch 256), taken
    alternately: on the same model again, each the first of a fresh model, and the same with
    the memory caches forgotten ("unseen": no report has seen the architecture); and of a
    --budget 24GiB search, the first of this process and again on a fresh model."""
    from cnninspect.analyses.memory import largest_batch
    from cnninspect.analyses.memory.cache import forget

    shape = (256, 3, 224, 224)
    timing: dict[str, float] = {}
    for case in ("again", "first", "unseen"):
        model = M.resnet50()
        summary_times, memory_times, ratios = [], [], []
        for _ in range(pairs):
            if case != "again":
                model = M.resnet50()
            start = time.perf_counter()
            cnninspect.summarize(model, shape)
            if case == "unseen":
                forget()  # not timed
            mid = time.perf_counter()
            cnninspect.memory(model, shape)
            end = time.perf_counter()
            summary_times.append(mid - start)
            memory_times.append(end - mid)
            ratios.append((end - mid) / (mid - start))
        timing[f"summary_{case}"] = statistics.median(summary_times)
        timing[f"memory_{case}"] = statistics.median(memory_times)
        timing[f"ratio_{case}"] = statistics.median(ratios)
    searches = []
    for _ in range(3):
        model = M.resnet50()
        start = time.perf_counter()
        batch, _ = largest_batch(model, (1, 3, 224, 224), "24GiB")
        searches.append(time.perf_counter() - start)
    timing.update(
        search_first=searches[0], search_again=statistics.median(searches[1:]), batch=batch
    )
    return timing


def pct(ours: int, real: int) -> str:
    return f"{(ours / real - 1) * 100:+.1f} %"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for cells in [header, *rows]:
        lines.append(f"   * - {cells[0]}")
        lines += [f"     - {c}" for c in cells[1:]]
    return lines + [""]


def write_docs(rows: list[Row], timing: dict[str, float]) -> None:
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    lines = [
        ".. This file is written by benchmarks/memory_check.py; do not edit it by hand.",
        "",
        f"Measured on {time.strftime('%Y-%m-%d')}: CPU only, torch {torch.__version__}, "
        f"{'GPU ' + gpu if gpu else 'no GPU'}; training steps are plain SGD, batch 2 at 224x224.",
        "",
        "Saved for backward, and the peaks (cnninspect, then measured):",
        "",
    ]
    lines += table(
        ["model", "saved (cnninspect)", "saved (real forward)", "inference peak", "measured",
         "diff", "training peak", "measured", "diff"],
        [[r.name, f"{r.saved:,}", f"{r.saved_real:,}", human_bytes(r.inference),
          human_bytes(r.inference_real), pct(r.inference, r.inference_real), human_bytes(r.train),
          human_bytes(r.train_real), pct(r.train, r.train_real)] for r in rows],
    )  # fmt: skip
    lines += ["torchinfo's estimate beside cnninspect's and the measured training step:", ""]
    lines += table(
        ["model", "torchinfo forward/backward pass", "cnninspect saved for backward",
         "torchinfo estimated total", "cnninspect training peak", "measured training peak"],
        [[r.name, human_bytes(r.torchinfo_pass), human_bytes(r.saved), human_bytes(r.torchinfo_total),
          human_bytes(r.train), human_bytes(r.train_real)] for r in rows if r.torchinfo_total],
    )  # fmt: skip
    if gpu:
        lines += table(
            ["model", "inference (cnninspect)", "max_memory_allocated", "training (cnninspect)",
             "max_memory_allocated"],
            [[r.name, human_bytes(r.inference), human_bytes(r.cuda_inference), human_bytes(r.train),
              human_bytes(r.cuda_train)] for r in rows],
        )  # fmt: skip
    else:
        lines += ["The CUDA comparison (``torch.cuda.max_memory_allocated``) has **not been run on a "
                  "GPU**: this machine has none. Run this benchmark where one is to add its table.", ""]  # fmt: skip
    lines += [
        f"Speed (resnet50, batch 256, median of alternating pairs): on the same model again, a "
        f"summary {timing['summary_again']:.3f} s and the memory report {timing['memory_again']:.3f} s "
        f"({timing['ratio_again']:.2f}x a summary's time: reports are remembered per model and "
        f"setup, and by structure across models); a fresh model's first report "
        f"{timing['memory_first']:.3f} s beside its first summary's {timing['summary_first']:.3f} s "
        f"({timing['ratio_first']:.2f}x: served by structure); with the memory caches forgotten "
        f"(an architecture no report has seen: the replays run) {timing['memory_unseen']:.3f} s "
        f"beside {timing['summary_unseen']:.3f} s ({timing['ratio_unseen']:.1f}x). The 24GiB "
        f"budget search (AdamW, fp32) answers batch {timing['batch']} in "
        f"{timing['search_first']:.2f} s the first time in this process and "
        f"{timing['search_again']:.2f} s on a fresh model again. "
        "``python benchmarks/memory_speed.py --rev REV`` puts these beside another revision's.",
        "",
    ]
    DOCS.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="three models, no docs")
    args = parser.parse_args()
    names = list(CASES)[:3] if args.quick else list(CASES)
    rows = [measure(n) for n in names]
    timing = speed(pairs=3 if args.quick else 5)
    print(timing)
    if not args.quick:
        write_docs(rows, timing)
        print(f"wrote {DOCS}")


if __name__ == "__main__":
    main()
