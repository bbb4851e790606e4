"""``cnninspect lint`` over every torchvision model and issue 14's timm panel (if timm is installed).

    python benchmarks/lint_zoo.py                    # everything; writes docs/lint-zoo.rst
    python benchmarks/lint_zoo.py resnet vit_b       # names containing any of these; prints only
    python benchmarks/lint_zoo.py --only timm        # one source (torchvision or timm); prints only
    python benchmarks/lint_zoo.py --findings         # also print every finding's message

Torchvision models are built on the meta device without weights (cnninspect.analyses.zoo.build), in
eval mode, at the input size torchvision publishes. The timm panel is the one tests/test_zoo_timm.py
holds every model to (``PANEL``, 75 models, one per special layer family), built the way that test
builds it (on meta, ``pretrained=False``, eager attention) at its default input size. Per model the table gives the findings per rule
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

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "lint-zoo.rst"


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
    unchecked: list[str] = field(default_factory=list)  # rules (or "CODE (part)") the summary could not run
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
        # a hook-fallback summary is a real forward (seconds on a detector): timed once, not thrice
        runs = 1 if summary.method.startswith("hooks") else 3
        row.repeat, _ = best(lambda: summarize(model, **kwargs), runs)
        # the rules read the first summary, as `cnninspect lint` does (a repeat summary reuses the
        # trace, and on models with opaque modules its receptive fields can differ: see the report)
        row.rules, report = best(lambda: lint(model, summary=summary))
    except Exception as exc:  # a model the summary cannot take is reported, not fatal
        row.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:90]}"
        return row
    row.method = summary.method
    row.counts = Counter(f.code for f in report.findings)
    row.messages = [f"{f.code} {f.message}" for f in report.findings]
    row.unchecked = [c if all(part is None for part, _ in parts) else f"{c} (in part)"
                     for c, parts in report.not_checked.items()]  # fmt: skip
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
    """Issue 14's panel, imported from the test that defines it (tests/ on sys.path, as the
    other benchmarks that share a test's models do), so the two cannot drift apart."""
    try:
        import timm
    except ImportError:
        print("timm is not installed: no timm panel", file=sys.stderr)
        return []
    sys.path.insert(0, str(ROOT / "tests"))
    import test_zoo_timm as panel

    fused = timm.layers.use_fused_attn()
    timm.layers.set_fused_attn(False)  # eager attention, as the panel's tests measure it
    rows = []
    try:
        for name in panel.PANEL:
            if patterns and not any(p in name for p in patterns):
                continue
            model = panel.meta_model(name)
            rows.append(measure(name, "timm", model, {"input_shape": panel.default_shape(model)}))
            panel.meta_model.cache_clear()
            print(_line(rows[-1]), flush=True)
    finally:
        timm.layers.set_fused_attn(fused)
    return rows


def _line(row: Row) -> str:
    found = ", ".join(f"{c} x{n}" for c, n in sorted(row.counts.items())) or ("error: " + row.error if row.error else "clean")
    gaps = f"  (not checked: {', '.join(row.unchecked)})" if row.unchecked else ""
    return f"{row.name:34s} {row.shape:22s} {row.rules * 1e3:6.1f} ms / {row.repeat * 1e3:6.1f} ms  {found}{gaps}"


def overhead(rows: list[Row]) -> tuple[float, float, float, float]:
    ok = [r for r in rows if not r.error and r.repeat]
    vs_first = [r.rules / r.first for r in ok]
    vs_repeat = [r.rules / r.repeat for r in ok]
    return statistics.median(vs_first), max(vs_first), statistics.median(vs_repeat), max(vs_repeat)


def _per_rule(rows: list[Row], codes: list[str]) -> str:
    totals: Counter = Counter()
    for r in rows:
        totals.update(r.counts)
    return ", ".join(f"{c} {totals.get(c, 0)}" for c in codes)


def _summary_lines(rows: list[Row], codes: list[str]) -> list[str]:
    ok = [r for r in rows if not r.error]
    med_f, max_f, med_r, max_r = overhead(rows)
    hooks = [r for r in ok if r.method.startswith("hooks")]
    gaps = sorted({tuple(r.unchecked) for r in hooks})
    unchecked = "; ".join(", ".join(g) for g in gaps) or "none"
    other = [r for r in ok if r.unchecked and r not in hooks]
    return [
        f"``python benchmarks/lint_zoo.py`` lints {len(rows)} models ({len(ok)} summarised; "
        f"{sum(1 for r in ok if not r.counts)} of them clean): every torchvision model, built without "
        "weights in eval mode at its published input size, and the 75 timm models of issue 14's panel "
        "(``tests/test_zoo_timm.py``), on meta at their default input size. Every finding is explained "
        "in :doc:`lint` (section *On the model zoo* of each rule).",
        "",
        f"{len(hooks)} models ({', '.join(f'``{r.name}``' for r in hooks)}) are summarised through "
        "the forward-hook fallback, which records calls but not which layer feeds which; their reports "
        f"say which rules were not checked ({unchecked}), so their *clean* covers only the rest. "
        + (f"Rules not checked in part on other models: {'; '.join(f'``{r.name}`` ' + ', '.join(r.unchecked) for r in other)}"
           " (rows whose receptive field is unknown; see :doc:`lint`, *Limits*)." if other else ""),
        "",
        "Cost: the rules' time on top of the model's summary, the fastest of three runs (one for a "
        f"hook-fallback summary); median {100 * med_f:.0f} % (max {100 * max_f:.0f} %) of a first "
        f"summary, median {100 * med_r:.0f} % (max {100 * max_r:.0f} %) of a repeat summary that "
        "reuses the trace.",
        "",
        "Findings per rule on torchvision: " + _per_rule([r for r in ok if r.source != "timm"], codes) + ".",
        "",
        "Findings per rule on the timm panel: " + _per_rule([r for r in ok if r.source == "timm"], codes) + ".",
    ]


def write_docs(rows: list[Row]) -> None:
    codes = list(all_rules())
    header = ["model", "source", "input", *codes, "not checked", "rules ms", "summary ms", "overhead"]
    lines = [
        ".. This file is written by benchmarks/lint_zoo.py; do not edit it by hand.",
        "",
        "The linter on the model zoo",
        "===========================",
        "",
        *_summary_lines(rows, codes),
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - " + "\n     - ".join(header),
    ]
    for r in rows:
        cells = [f"``{r.name}``", r.source + (" (hooks)" if r.method.startswith("hooks") else ""), r.shape]
        if r.error:
            cells += ["" for _ in codes] + ["", "", "", f"not summarised: {r.error}"]
        else:
            cells += [str(r.counts.get(c, "")) for c in codes] + [", ".join(r.unchecked)]
            cells += [f"{r.rules * 1e3:.1f}", f"{r.first * 1e3:.0f} / {r.repeat * 1e3:.0f}", f"{100 * r.rules / r.repeat:.0f} %"]
        lines.append("   * - " + "\n     - ".join(c if c else "\\" for c in cells))
    DOCS.write_text("\n".join(lines) + "\n")
    print(f"wrote {DOCS}")


def main(argv: list[str]) -> int:
    show = "--findings" in argv
    only = argv[argv.index("--only") + 1] if "--only" in argv else None
    if only not in (None, "torchvision", "timm"):
        print(f"--only takes torchvision or timm, not {only!r}", file=sys.stderr)
        return 2
    patterns = [a for a in argv if not a.startswith("--") and a != only]
    warnings.simplefilter("ignore")
    rows = (torchvision_rows(patterns) if only != "timm" else []) + (timm_rows(patterns) if only != "torchvision" else [])
    if show:
        for r in rows:
            for m in r.messages:
                print(f"{r.name}: {m}")
    med_f, max_f, med_r, max_r = overhead(rows)
    print(f"rules on top of the summary: median {100 * med_f:.0f} % (max {100 * max_f:.0f} %) of a first "
          f"summary, median {100 * med_r:.0f} % (max {100 * max_r:.0f} %) of a repeat one")  # fmt: skip
    if not patterns and only is None:
        write_docs(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
