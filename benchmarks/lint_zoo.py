"""``cnninspect lint`` over every torchvision model (and the timm panel, if timm is installed).

    python benchmarks/lint_zoo.py                    # everything; writes docs/lint-zoo.rst
    python benchmarks/lint_zoo.py resnet vit_b       # names containing any of these; prints only
    python benchmarks/lint_zoo.py --findings         # also print every finding's message

Models are built on the meta device without weights (cnninspect.analyses.zoo.build), in eval
mode, at the input size torchvision publishes. Per model the table gives the findings per rule
and the cost: the rules' time on top of the model's summary, against its first summary (fresh
trace) and a repeat summary (trace reused). Each time is the fastest of three runs, because this
machine's CPU is shared and its speed drifts.
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torchvision

from cnninspect.analyses.lint import all_rules, lint
from cnninspect.analyses.zoo import build, input_for, published, task_of
from cnninspect.engine.summary import summarize

DOCS = Path(__file__).resolve().parent.parent / "docs" / "lint-zoo.rst"
TIMM_PANEL = [
    "resnet50d", "efficientnet_b0", "convnext_tiny", "vit_small_patch16_224", "deit_small_patch16_224",
    "regnety_016", "mobilenetv3_large_100", "densenet121", "inception_v3", "swin_tiny_patch4_window7_224",
    "cspdarknet53", "dla34", "hrnet_w18_small", "xception41", "res2net50_26w_4s", "rexnet_100",
]  # fmt: skip


@dataclass
class Row:
    name: str
    source: str
    shape: str
    counts: Counter = field(default_factory=Counter)
    messages: list[str] = field(default_factory=list)
    first: float = 0.0  # first summary, seconds
    repeat: float = 0.0  # repeat summary
    rules: float = 0.0  # the lint rules on top of a summary
    method: str = ""  # how the summary was made: fx, or the forward-hook fallback
    error: str = ""


def best(fn, n: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(n):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def measure(name: str, source: str, model, kwargs: dict) -> Row:
    shape = kwargs.get("input_shape")
    text = ";".join("x".join(map(str, s)) for s in (shape if isinstance(shape, list) else [shape])) if shape else "data"
    row = Row(name, source, text)
    try:
        start = time.perf_counter()
        summary = summarize(model, **kwargs)
        row.first = time.perf_counter() - start
        row.repeat, summary = best(lambda: summarize(model, **kwargs))
        row.rules, report = best(lambda: lint(model, summary=summary))
    except Exception as exc:  # a model the summary cannot take is reported, not fatal
        row.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:90]}"
        return row
    row.method = summary.method
    row.counts = Counter(f.code for f in report.findings)
    row.messages = [f"{f.code} {f.message}" for f in report.findings]
    return row


def torchvision_rows(patterns: list[str]) -> list[Row]:
    rows = []
    for name in torchvision.models.list_models():
        if patterns and not any(p in name for p in patterns):
            continue
        task = task_of(name)
        model = build(name)
        if not next(model.parameters()).is_meta:
            # built on the CPU without init (regnet): BatchNorm weights would be garbage and its
            # statistics fresh, which CNN104 rightly reports; build it as a user would instead
            model = build(name, device="cpu")
        rows.append(measure(name, f"torchvision {task}", model, input_for(name, task, model, published(name)[2])))
        print(_line(rows[-1]), flush=True)
    return rows


def timm_rows(patterns: list[str]) -> list[Row]:
    try:
        import timm
        import torch
    except ImportError:
        print("timm is not installed: no timm panel", file=sys.stderr)
        return []
    rows = []
    for name in TIMM_PANEL:
        if patterns and not any(p in name for p in patterns):
            continue
        with torch.device("meta"):
            model = timm.create_model(name, pretrained=False).eval()
        size = model.pretrained_cfg.get("input_size", (3, 224, 224))
        rows.append(measure(name, "timm", model, {"input_shape": (1, *size)}))
        print(_line(rows[-1]), flush=True)
    return rows


def _line(row: Row) -> str:
    found = ", ".join(f"{c} x{n}" for c, n in sorted(row.counts.items())) or ("error: " + row.error if row.error else "clean")
    return f"{row.name:34s} {row.shape:22s} {row.rules * 1e3:6.1f} ms / {row.repeat * 1e3:6.1f} ms  {found}"


def overhead(rows: list[Row]) -> tuple[float, float, float, float]:
    ok = [r for r in rows if not r.error and r.repeat]
    vs_first = [r.rules / r.first for r in ok]
    vs_repeat = [r.rules / r.repeat for r in ok]
    return statistics.median(vs_first), max(vs_first), statistics.median(vs_repeat), max(vs_repeat)


def _has_graph(row: Row) -> bool:
    """As cnninspect.analyses.lint.context.LintContext.has_graph: fx or TorchScript rows name their inputs."""
    return row.method.startswith(("fx", "torchscript"))


def write_docs(rows: list[Row]) -> None:
    codes = list(all_rules())
    ok = [r for r in rows if not r.error]
    med_f, max_f, med_r, max_r = overhead(rows)
    totals = Counter()
    for r in ok:
        totals.update(r.counts)
    header = ["model", "source", "input", *codes, "rules ms", "summary ms", "overhead"]
    hooks = [f"``{r.name}``" for r in ok if not _has_graph(r)]
    lines = [
        ".. This file is written by benchmarks/lint_zoo.py; do not edit it by hand.",
        "",
        "The linter on the model zoo",
        "===========================",
        "",
        f"``python benchmarks/lint_zoo.py`` lints {len(rows)} models ({len(ok)} summarised; "
        f"{sum(1 for r in ok if not r.counts)} of them clean) built without weights in eval mode at their "
        "published input size. Every finding is explained in :doc:`lint` (section *On the model zoo* "
        f"of each rule). {len(hooks)} models ({', '.join(hooks)}) are summarised through the forward-hook "
        "fallback, which records no graph edges, so the rules that follow edges or receptive fields "
        "(all but CNN103, CNN104, CNN302 and CNN501) stay silent on them: their *clean* means less. "
        "Cost: the rules' time on top of the model's summary, the fastest of three runs; "
        f"median {100 * med_f:.0f} % (max {100 * max_f:.0f} %) of a first summary, median {100 * med_r:.0f} % "
        f"(max {100 * max_r:.0f} %) of a repeat summary that reuses the trace.",
        "",
        "Findings per rule, all models: " + ", ".join(f"{c} {totals.get(c, 0)}" for c in codes) + ".",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - " + "\n     - ".join(header),
    ]
    for r in rows:
        cells = [f"``{r.name}``", r.source + ("" if _has_graph(r) else " (hooks)"), r.shape]
        if r.error:
            cells += ["" for _ in codes] + ["", "", f"not summarised: {r.error}"]
        else:
            cells += [str(r.counts.get(c, "")) for c in codes]
            cells += [f"{r.rules * 1e3:.1f}", f"{r.first * 1e3:.0f} / {r.repeat * 1e3:.0f}", f"{100 * r.rules / r.repeat:.0f} %"]
        lines.append("   * - " + "\n     - ".join(c if c else "\\" for c in cells))
    DOCS.write_text("\n".join(lines) + "\n")
    print(f"wrote {DOCS}")


def main(argv: list[str]) -> int:
    show = "--findings" in argv
    patterns = [a for a in argv if not a.startswith("--")]
    warnings.simplefilter("ignore")
    rows = torchvision_rows(patterns) + timm_rows(patterns)
    if show:
        for r in rows:
            for m in r.messages:
                print(f"{r.name}: {m}")
    med_f, max_f, med_r, max_r = overhead(rows)
    print(f"rules on top of the summary: median {100 * med_f:.0f} % (max {100 * max_f:.0f} %) of a first "
          f"summary, median {100 * med_r:.0f} % (max {100 * max_r:.0f} %) of a repeat one")  # fmt: skip
    if not patterns:
        write_docs(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
