"""Every timm architecture and every transformers model type, summarised and checked against torch.

    python benchmarks/zoo_sweep.py --limit 30                 # the first 30 models not yet done
    nice -n 10 python benchmarks/zoo_sweep.py --family timm   # all of timm (about an hour, one core)
    python benchmarks/zoo_sweep.py --family transformers      # every transformers model type
    python benchmarks/zoo_sweep.py --only 'vit_.*' --redo     # run these again, replacing their rows
    python benchmarks/zoo_sweep.py --report                   # only rewrite docs/zoo-sweep.{csv,md,inc}

Models are built on the meta device without weights, in eval mode: timm's ``list_models()`` up to
1 B parameters at ``pretrained_cfg['input_size']`` (batch 1, fused attention off), and each
transformers config type with an ``AutoModel`` class from its default config (eager attention,
no cache) fed inputs chosen from ``model.main_input_name``. Per model one CSV row: outcome,
cnninspect's pass and time, its parameters beside ``sum(p.numel())`` and its MACs beside
``FlopCounterMode`` FLOPs // 2 of a meta forward (or, where that forward needs real values and the
model has at most 300 M parameters, a CPU forward of the model built with real tensors).

Rows are appended to docs/zoo-sweep.csv as they come, so a stopped sweep resumes where it was.
Each model runs in a worker process; one taking longer than ``--timeout`` seconds is killed and
recorded as ``slow`` with whatever figures it had, and the worker restarts.
"""

from __future__ import annotations

import argparse
import csv
import gc
import multiprocessing as mp
import re
import sys
import time
import traceback
import warnings
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CSV_PATH = ROOT / "docs" / "zoo-sweep.csv"
MD_PATH = ROOT / "docs" / "zoo-sweep.md"
INC_PATH = ROOT / "docs" / "zoo-sweep.inc"  # included by docs/zoo-sweep.rst
MAX_PARAMS = 1_000_000_000  # timm: architectures up to 1 B parameters
CPU_REFERENCE_MAX = 300_000_000  # a real CPU forward for the reference only up to this size
TEXT_TOKENS = 128
RESTART_EVERY = 150  # a fresh worker now and then, so no model's leftovers pile up


@dataclass
class Row:
    family: str
    name: str
    input: str = ""
    outcome: str = ""  # ok | error:<Type>: <first line> | slow | skipped: <why>
    method: str = ""  # summary.method
    seconds: str = ""  # cnninspect.summarize(...) wall time
    params: str = ""  # summary.total_params
    params_ref: str = ""  # sum(p.numel() for p in model.parameters())
    macs: str = ""  # summary.total_macs
    macs_ref: str = ""  # FlopCounterMode total // 2
    macs_ratio: str = ""  # macs / macs_ref
    reference: str = ""  # meta | cpu | unavailable: <why>
    rf_unknown: str = ""  # rows whose receptive field is unknown
    rf_error: str = ""  # why the receptive-field analysis failed, if it did
    warnings: str = ""  # len(summary.warnings)
    first_warning: str = ""
    built: str = ""  # meta | cpu (a builder that does not run on meta)


COLUMNS = [f.name for f in fields(Row)]


def first_line(exc: BaseException, limit: int = 160) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:limit] if text else ''}"


# ---------------------------------------------------------------- building and inputs (worker side)


def build_timm(name: str, device: str) -> Any:
    import timm
    import torch

    with torch.device(device):
        model = timm.create_model(name, pretrained=False)
    return model.eval()


def timm_inputs(model: Any) -> tuple[Any, Any]:
    import torch

    shape = (1, *model.pretrained_cfg["input_size"])
    return shape, (torch.empty(shape, device="meta"),), {}


def hf_config(name: str) -> Any:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    cfg = CONFIG_MAPPING[name]()
    if hasattr(cfg, "use_cache"):
        cfg.use_cache = False
    return cfg


def build_hf(name: str, device: str) -> Any:
    import torch
    from transformers import AutoModel

    cfg = hf_config(name)
    # eager attention and eager mixture-of-experts (grouped_mm wants bf16 on the CPU): the plain ops
    with torch.device(device):
        try:
            model = AutoModel.from_config(
                cfg, attn_implementation="eager", experts_implementation="eager"
            )
        except (ValueError, TypeError) as exc:
            if "implementation" not in str(exc).lower() and "attention" not in str(exc).lower():
                raise
            model = AutoModel.from_config(hf_config(name))
    return model.eval()


def _image_size(cfg: Any) -> int:
    size = getattr(cfg, "image_size", None) or 224
    if isinstance(size, (list, tuple)):
        size = size[0]
    if isinstance(size, dict):
        size = size.get("height", 224)
    return int(size)


def _text_config(cfg: Any) -> Any:
    return getattr(cfg, "text_config", None) or cfg


def _tokens(cfg: Any, seed: int) -> Any:
    """(1, 128) token ids below min(vocab, 1000), or fewer tokens if the positions table is shorter."""
    import torch

    vocab = getattr(cfg, "vocab_size", None) or getattr(_text_config(cfg), "vocab_size", None)
    if not vocab:
        raise LookupError("input_ids but no vocab_size in the config")
    positions = getattr(cfg, "max_position_embeddings", None) or getattr(
        _text_config(cfg), "max_position_embeddings", None
    )
    n = (
        min(TEXT_TOKENS, int(positions))
        if isinstance(positions, int) and positions > 0
        else TEXT_TOKENS
    )
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(3, max(4, min(int(vocab), 1000)), (1, n), generator=gen)


def hf_inputs(model: Any) -> dict[str, Any]:
    """The main input; decoder_input_ids where the forward takes them and the model is an
    encoder-decoder; and any of input_ids / pixel_values the forward requires (no default),
    pixel_values from vision_config where there is one (a text+image model led by input_ids)."""
    import inspect

    import torch

    data = hf_main_input(model)
    cfg = model.config
    takes = inspect.signature(model.forward).parameters
    if getattr(cfg, "is_encoder_decoder", False) and "decoder_input_ids" in takes:
        data["decoder_input_ids"] = _tokens(cfg, seed=1)
    vision = getattr(cfg, "vision_config", None)
    if "pixel_values" in takes and "pixel_values" not in data and vision is not None:
        data["pixel_values"] = _pixels(vision)
    required = [
        n
        for n, p in takes.items()
        if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    for name in required:
        if name == "input_ids" and name not in data:
            data["input_ids"] = _tokens(cfg, seed=0)
            data.setdefault("attention_mask", torch.ones_like(data["input_ids"]))
        elif name == "pixel_values" and name not in data:
            data["pixel_values"] = _pixels(vision if vision is not None else cfg)
    return data


def _pixels(cfg: Any) -> Any:
    import torch

    channels, size = getattr(cfg, "num_channels", None) or 3, _image_size(cfg)
    return torch.randn(1, int(channels), size, size, generator=torch.Generator().manual_seed(0))


def hf_main_input(model: Any) -> dict[str, Any]:
    """Real CPU tensors for the model's main input (cnninspect makes meta copies itself).

    Raises LookupError when the input cannot be guessed; the row then says why.
    """
    import torch

    cfg = model.config
    main = getattr(model, "main_input_name", None)
    gen = torch.Generator().manual_seed(0)
    if main == "input_ids":
        ids = _tokens(cfg, seed=0)
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    if main == "pixel_values":
        return {"pixel_values": _pixels(cfg)}
    if main == "input_values":
        return {"input_values": torch.randn(1, 16000, generator=gen)}
    if main == "input_features":
        if getattr(cfg, "num_mel_bins", None):
            return {"input_features": torch.randn(1, int(cfg.num_mel_bins), 3000, generator=gen)}
        feats = getattr(cfg, "input_feat_per_channel", None) or getattr(cfg, "feature_size", None)
        if feats:
            channels = getattr(cfg, "input_channels", 1) or 1
            return {
                "input_features": torch.randn(1, 500, int(feats) * int(channels), generator=gen)
            }
        raise LookupError("input_features but neither num_mel_bins nor feature_size in the config")
    raise LookupError(f"main_input_name {main!r} has no rule in this sweep")


def shape_text(data: Any) -> str:
    if isinstance(data, dict):
        return " ".join(f"{k}={'x'.join(map(str, v.shape))}" for k, v in data.items())
    return "x".join(map(str, data))


# ---------------------------------------------------------------- one model (worker side)


def count_macs(model: Any, args: tuple, kwargs: dict) -> int:
    """FLOPs // 2 as torch counts them. Parameters are frozen first: the counter's module tracker
    asserts on a leaf that requires grad fed straight into a module (cait's class token)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    model.requires_grad_(False)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(*args, **kwargs)
    return counter.get_total_flops() // 2


def reference_macs(row: Row, family: str, model: Any, args: tuple, kwargs: dict) -> None:
    """FlopCounterMode on a meta forward; a CPU forward with real values if that raises."""
    import torch
    from torch.utils._pytree import tree_map

    to_meta = lambda v: v.to("meta") if isinstance(v, torch.Tensor) else v  # noqa: E731
    try:
        row.macs_ref = str(count_macs(model, tree_map(to_meta, args), tree_map(to_meta, kwargs)))
        row.reference = "meta"
        return
    except Exception as exc:  # noqa: BLE001 - any failure of the meta forward sends us to the CPU
        why = first_line(exc, 100)
    if int(row.params_ref) > CPU_REFERENCE_MAX:
        row.reference = f"unavailable: meta forward failed ({why}); too big for a CPU forward"
        return
    del model
    gc.collect()
    try:
        cpu = (build_timm if family == "timm" else build_hf)(row.name, "cpu")
        real = tuple(torch.randn(a.shape) for a in args) if family == "timm" else args
        row.macs_ref = str(count_macs(cpu, real, kwargs))
        row.reference = f"cpu (meta forward failed: {why})"
    except Exception as exc:  # noqa: BLE001
        row.reference = (
            f"unavailable: meta forward failed ({why}); cpu forward failed ({first_line(exc, 100)})"
        )


def build(row: Row, family: str) -> Any:
    """The model on meta, or on the CPU when its builder cannot run on meta."""
    builder = build_timm if family == "timm" else build_hf
    try:
        model = builder(row.name, "meta")
        row.built = "meta"
    except Exception as exc:  # noqa: BLE001
        why = first_line(exc, 100)
        model = builder(row.name, "cpu")
        row.built = f"cpu (meta build failed: {why})"
    return model


def inputs_for(row: Row, family: str, model: Any) -> tuple[Any, tuple, dict]:
    if family == "timm":
        shape, args, kwargs = timm_inputs(model)
        return shape, args, kwargs
    data = hf_inputs(model)
    return data, (), data


def run_one(
    family: str, name: str, send: Any
) -> Row:  # long: one model's whole story, step by step
    import torch

    import cnninspect

    row = Row(family, name)
    try:
        model = build(row, family)
    except Exception as exc:  # noqa: BLE001
        row.outcome = f"skipped: build failed: {first_line(exc)}"
        return row
    row.params_ref = str(sum(p.numel() for p in model.parameters()))
    if family == "timm" and int(row.params_ref) > MAX_PARAMS:
        row.outcome = f"skipped: {int(row.params_ref) / 1e9:.2f} B parameters, over the 1 B limit"
        return row
    try:
        given, args, kwargs = inputs_for(row, family, model)
    except Exception as exc:  # noqa: BLE001
        row.outcome = f"skipped: inputs unknown: {first_line(exc)}"
        return row
    row.input = shape_text(given)
    send(("partial", asdict(row)))
    start = time.perf_counter()
    try:
        if family == "timm":
            summary = cnninspect.summarize(model, given)
        else:
            summary = cnninspect.summarize(model, input_data=given)
        row.seconds = f"{time.perf_counter() - start:.2f}"
        row.outcome = "ok"
        row.method = summary.method
        row.params = str(summary.total_params)
        row.macs = str(summary.total_macs)
        row.rf_unknown = str(
            sum(
                1
                for layer in summary.layers
                if layer.receptive_field is not None and layer.receptive_field.unknown
            )
        )
        row.rf_error = str(summary.rf_error or "")
        row.warnings = str(len(summary.warnings))
        row.first_warning = summary.warnings[0][:200] if summary.warnings else ""
        del summary
    except Exception as exc:  # noqa: BLE001
        row.seconds = f"{time.perf_counter() - start:.2f}"
        row.outcome = f"error:{first_line(exc)}"
    send(("partial", asdict(row)))
    with torch.no_grad():
        reference_macs(row, family, model, args, kwargs)
    if row.macs and row.macs_ref and int(row.macs_ref):
        row.macs_ratio = f"{int(row.macs) / int(row.macs_ref):.4f}"
    return row


def worker(conn: Any) -> None:
    """Receive (family, name), send back ("partial", row)* then ("done", row), until None."""
    import torch

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    try:
        import timm.layers

        timm.layers.set_fused_attn(False)
    except ImportError:
        pass
    import transformers

    transformers.logging.set_verbosity_error()
    while (task := conn.recv()) is not None:
        family, name = task
        try:
            row = run_one(family, name, conn.send)
        except BaseException as exc:  # noqa: BLE001 - the sweep must go on
            row = Row(
                family,
                name,
                outcome=f"error:{first_line(exc)}",
                first_warning=traceback.format_exc()[-200:],
            )
        conn.send(("done", asdict(row)))
        gc.collect()


# ---------------------------------------------------------------- the sweep (parent side)


class Pool:
    """One worker process at a time; killed and replaced when a model overruns or kills it."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.proc: Any = None
        self.conn: Any = None
        self.served = 0

    def _start(self) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=worker, args=(child,), daemon=True)
        self.proc.start()
        self.served = 0

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.is_alive():
                self.proc.kill()
            self.proc.join(5)
        self.proc = None

    def run(self, family: str, name: str) -> Row:
        if self.proc is None or self.served >= RESTART_EVERY:
            self.stop()
            self._start()
        self.served += 1
        self.conn.send((family, name))
        row, deadline = Row(family, name), time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            try:
                ready = left > 0 and self.conn.poll(left)
                if not ready:
                    self.stop()
                    row.outcome = f"slow (over {self.timeout:.0f} s; killed)"
                    return row
                kind, data = self.conn.recv()
            except (EOFError, OSError):
                self.stop()
                row.outcome = (
                    "error:WorkerDied: the worker process exited (out of memory or a crash)"
                )
                return row
            row = Row(**data)
            if kind == "done":
                return row


def timm_names() -> list[str]:
    """timm's models, round-robin over the source modules (resnet, vision_transformer...): the
    first model of every module, then the second of each... so a partial sweep covers every
    architecture family before it repeats one."""
    import timm
    from timm.models import _registry

    by_module: dict[str, list[str]] = defaultdict(list)
    for name in timm.list_models():
        by_module[_registry._model_to_module.get(name, "")].append(name)
    queues = [by_module[m] for m in sorted(by_module)]
    out: list[str] = []
    for i in range(max(map(len, queues), default=0)):
        out += [q[i] for q in queues if i < len(q)]
    return out


def hf_names() -> list[str]:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    return sorted(CONFIG_MAPPING_NAMES)


def hf_without_automodel(names: list[str]) -> dict[str, str]:
    from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES

    return {
        n: "skipped: no AutoModel class for this config type"
        for n in names
        if n not in MODEL_MAPPING_NAMES
    }


def read_rows(path: Path = CSV_PATH) -> list[Row]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return [Row(**{k: r.get(k, "") or "" for k in COLUMNS}) for r in csv.DictReader(f)]


def write_rows(rows: list[Row], path: Path = CSV_PATH) -> None:
    with path.open("w", newline="") as f:
        out = csv.DictWriter(f, COLUMNS)
        out.writeheader()
        out.writerows(asdict(r) for r in rows)


def append_row(row: Row, path: Path = CSV_PATH) -> None:
    new = not path.exists()
    with path.open("a", newline="") as f:
        out = csv.DictWriter(f, COLUMNS)
        if new:
            out.writeheader()
        out.writerow(asdict(row))


def sweep(args: argparse.Namespace) -> None:
    families = [args.family] if args.family else ["timm", "transformers"]
    pattern = re.compile(args.only) if args.only else None
    rows = read_rows(args.rows)
    if args.redo and pattern:
        rows = [r for r in rows if not (r.family in families and pattern.search(r.name))]
        write_rows(rows, args.rows)
    done = {(r.family, r.name) for r in rows}
    todo: list[tuple[str, str]] = []
    for family in families:
        names = timm_names() if family == "timm" else hf_names()
        todo += [
            (family, n)
            for n in names
            if (family, n) not in done and (not pattern or pattern.search(n))
        ]
    if args.limit:
        todo = todo[: args.limit]
    no_auto = hf_without_automodel([n for f, n in todo if f == "transformers"])
    pool = Pool(args.timeout)
    try:
        for i, (family, name) in enumerate(todo, 1):
            start = time.perf_counter()
            row = (
                Row(family, name, outcome=no_auto[name])
                if name in no_auto and family != "timm"
                else pool.run(family, name)
            )
            append_row(row, args.rows)
            print(
                f"[{i}/{len(todo)}] {family:12s} {name:50s} {row.outcome[:70]:70s} "
                f"ratio={row.macs_ratio or '-':8s} {time.perf_counter() - start:6.1f}s",
                flush=True,
            )
    finally:
        pool.stop()


# ---------------------------------------------------------------- the report


def latest(rows: list[Row]) -> list[Row]:
    """One row per (family, name): the last one written wins; sorted by family, then name."""
    by_key = {(r.family, r.name): r for r in rows}
    return [by_key[k] for k in sorted(by_key)]


def ratio(row: Row) -> float | None:
    return float(row.macs_ratio) if row.macs_ratio else None


def is_flagged(row: Row) -> bool:
    """Outside 1 % of the reference MACs, parameters not exact, a partial summary, or none."""
    if row.outcome.startswith("skipped"):
        return False
    if row.outcome != "ok":
        return True
    r = ratio(row)
    return (
        (r is not None and abs(r - 1) > 0.01)
        or row.params != row.params_ref
        or "partial" in row.method
    )


def plain_fails(row: Row) -> bool:
    """The model's own forward fails with these inputs too (meta and CPU): the inputs or the model."""
    return "cpu forward failed" in row.reference


def counts(rows: list[Row]) -> list[tuple[str, str]]:
    ran = [r for r in rows if not r.outcome.startswith("skipped")]
    ok = [r for r in ran if r.outcome == "ok"]
    compared = [r for r in ok if ratio(r) is not None]
    pct = lambda n, d: f"{n} / {d} ({100 * n / d:.1f} %)" if d else "0 / 0"  # noqa: E731
    refs = Counter(
        "cpu" if r.reference.startswith("cpu") else r.reference.split(":")[0] or "none" for r in ok
    )
    outcomes = Counter(r.outcome.split(":")[0] if r.outcome != "ok" else "ok" for r in ran)
    return [
        ("models listed", str(len(rows))),
        (
            "skipped (build failed, over 1 B, no AutoModel, inputs unknown)",
            str(len(rows) - len(ran)),
        ),
        ("summarised", pct(len(ok), len(ran))),
        ("crashed (error)", str(outcomes.get("error", 0))),
        (
            "... of them where the plain forward fails too",
            str(sum(1 for r in ran if r.outcome.startswith("error") and plain_fails(r))),
        ),
        ("slow (over the time limit)", str(sum(1 for r in ran if r.outcome.startswith("slow")))),
        ("parameters exact", pct(sum(1 for r in ok if r.params == r.params_ref), len(ok))),
        (
            "MACs within 1 % of the reference",
            pct(sum(1 for r in compared if abs(ratio(r) - 1) <= 0.01), len(compared)),
        ),
        (
            "MACs within 5 % of the reference",
            pct(sum(1 for r in compared if abs(ratio(r) - 1) <= 0.05), len(compared)),
        ),
        (
            "reference: meta forward / CPU forward / unavailable",
            f"{refs['meta']} / {refs['cpu']} / {refs['unavailable']}",
        ),
        (
            "models with unknown receptive-field rows",
            str(sum(1 for r in ok if r.rf_unknown not in ("", "0"))),
        ),
        ("models with a failed receptive-field analysis", str(sum(1 for r in ok if r.rf_error))),
        ("hook fallback used", str(sum(1 for r in ok if "hook" in r.method))),
        (
            "partial summaries (the hook pass lost part of the forward)",
            str(sum(1 for r in ok if "partial" in r.method)),
        ),
    ]


def md_table(rows: list[Row], columns: list[str]) -> list[str]:
    esc = lambda v: str(v).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(esc(getattr(r, c)) for c in columns) + " |" for r in rows]
    return out


FLAG_COLUMNS = ["family", "name", "outcome", "method", "params", "params_ref", "macs", "macs_ref", "macs_ratio", "reference", "rf_unknown", "warnings"]  # fmt: skip
FULL_COLUMNS = ["family", "name", "input", "outcome", "method", "seconds", "params", "params_ref", "macs", "macs_ref", "macs_ratio", "rf_unknown", "warnings"]  # fmt: skip


def report(rows: list[Row]) -> str:
    rows = latest(rows)
    lines = [
        "# The zoo sweep",
        "",
        "Written by `benchmarks/zoo_sweep.py`; do not edit by hand.",
        "",
    ]
    for family in ("timm", "transformers"):
        part = [r for r in rows if r.family == family]
        if not part:
            continue
        lines += [f"## Summary: {family}", "", "| figure | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in counts(part)]
        lines.append("")
    flagged = [r for r in rows if is_flagged(r)]
    lines += [
        f"## Every model outside 1 % of the reference MACs, with inexact parameters, a partial summary, crashing or slow ({len(flagged)})",
        "",
    ]
    lines += md_table(flagged, FLAG_COLUMNS) + ["", f"## All models ({len(rows)})", ""]
    lines += md_table(rows, FULL_COLUMNS)
    return "\n".join(lines) + "\n"


def rst_table(rows: list[list[str]]) -> list[str]:
    """A list-table, first row the header; empty cells as a backslash so the table stays square."""
    out = [".. list-table::", "   :header-rows: 1", ""]
    for row in rows:
        cells = [
            str(c).replace("\n", " ").replace("*", "\\*").replace("`", "'") or "\\" for c in row
        ]
        out.append(f"   * - {cells[0]}")
        out += [f"     - {c}" for c in cells[1:]]
    return out + [""]


def rst_report(rows: list[Row]) -> str:
    """The summary per family and the flagged models, for docs/zoo-sweep.rst to include."""
    lines = [".. This file is written by benchmarks/zoo_sweep.py; do not edit it by hand.", ""]
    for family in ("timm", "transformers"):
        part = [r for r in rows if r.family == family]
        if part:
            lines += [f"**{family}**", ""] + rst_table(
                [["figure", "value"], *map(list, counts(part))]
            )
    flagged = [r for r in rows if is_flagged(r)]
    lines += [
        f"Every model outside 1 % of the reference MACs, with inexact parameters, a partial summary, crashing or slow ({len(flagged)}):",
        "",
    ]
    body = [[getattr(r, c) for c in FLAG_COLUMNS] for r in flagged]
    lines += rst_table([FLAG_COLUMNS, *body]) if flagged else ["None.", ""]
    return "\n".join(lines)


def write_report(merge: Path | None = None) -> None:
    rows = latest(read_rows() + (read_rows(merge) if merge else []))
    write_rows(rows)
    MD_PATH.write_text(report(rows))
    INC_PATH.write_text(rst_report(rows))
    print(f"wrote docs/zoo-sweep.csv, .md and .inc: {len(rows)} models")


def clusters(rows: list[Row]) -> dict[str, list[Row]]:
    """Failures grouped by a cause key, for the engine's to-do list (printed with --clusters)."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for r in latest(rows):
        if r.outcome.startswith("skipped"):
            key = "skipped: " + re.sub(r"\d[\d.]*", "N", r.outcome.split(":", 2)[-1].strip())[:90]
        elif r.outcome != "ok":
            key = r.outcome.replace("the model's forward raised ", "")
            key = re.sub(r"in '[^']*' \((\w+)\)", r"in \1", key)  # the module path, not its class
            key = re.sub(r"\d+", "N", key)[:120]
            key = ("[plain forward fails too] " if plain_fails(r) else "") + key
        elif r.params != r.params_ref:
            key = "params differ"
        elif "partial" in r.method:
            key = f"partial summary ({r.method}); reference {r.reference.split(' (')[0][:40]}"
        elif ratio(r) is not None and abs(ratio(r) - 1) > 0.01:
            key = f"MACs {'over' if ratio(r) > 1 else 'under'} reference by >1 %"
        elif r.rf_unknown not in ("", "0") or r.rf_error:
            bad = "rf analysis failed: " + r.rf_error[:60] if r.rf_error else "unknown RF rows"
            key = f"{bad}; {warning_kind(r)}"
        else:
            continue
        groups[key].append(r)
    return dict(sorted(groups.items(), key=lambda kv: -len(kv[1])))


def warning_kind(row: Row) -> str:
    """The first warning cut to its cause: an opaque module's class, or its opening words."""
    found = re.search(
        r"opaque module '[^']*': fx cannot trace it \((\w+): (\w+)", row.first_warning
    )
    if found:
        return f"first warning: opaque {found.group(1)} ({found.group(2)})"
    if not row.first_warning:
        return "no warning"
    return f"first warning: {re.sub(r'[0-9]+', 'N', row.first_warning[:45])}"


def print_clusters(path: Path = CSV_PATH) -> None:
    rows = latest(read_rows(path))
    for family in sorted({r.family for r in rows}):
        print(
            f"{family}: "
            + "; ".join(f"{k} {v}" for k, v in counts([r for r in rows if r.family == family]))
        )
    for key, members in clusters(rows).items():
        names = ", ".join(
            f"{m.family}:{m.name}" + (f" ({m.macs_ratio})" if m.macs_ratio else "")
            for m in members[:8]
        )
        print(f"- {len(members):4d}  {key}\n        e.g. {names}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--family", choices=["timm", "transformers"], help="one family only (default both)"
    )
    p.add_argument(
        "--only", metavar="PATTERN", help="model names matching this regular expression (re.search)"
    )
    p.add_argument("--limit", type=int, default=0, help="at most N models not yet done")
    p.add_argument("--redo", action="store_true", help="with --only: run the matching models again")
    p.add_argument(
        "--timeout", type=float, default=120.0, help="seconds per model before it is 'slow'"
    )
    p.add_argument(
        "--report", action="store_true", help="only write docs/zoo-sweep.{csv,md} from the rows"
    )
    p.add_argument(
        "--clusters", action="store_true", help="only print the failures grouped by cause"
    )
    p.add_argument(
        "--rows",
        type=Path,
        default=CSV_PATH,
        help="append rows here instead (a second sweep beside a running one)",
    )
    p.add_argument(
        "--merge",
        type=Path,
        help="with --report: first take in the rows of this file (later rows win)",
    )
    args = p.parse_args(argv)
    if args.redo and not args.only:
        p.error("--redo needs --only PATTERN (it replaces the rows of the models that match)")
    if args.clusters:
        print_clusters(args.rows)
        return 0
    if not args.report:
        sweep(args)
        if args.rows != CSV_PATH:
            print(f"rows in {args.rows}; fold them in with --report --merge {args.rows}")
            return 0
    write_report(args.merge)
    return 0


if __name__ == "__main__":
    sys.exit(main())
