"""``cnninspect memory``: what a training step and an inference forward need, and the batch that fits."""

from __future__ import annotations

import argparse

from cnninspect.integrations.commands.common import add_model_arguments, load

HELP = "memory of a training step and an inference forward (per layer, totals, peaks); --budget finds the largest batch"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument(
        "--batch-size", type=int, default=None, help="batch size (default: the input's)"
    )
    parser.add_argument(
        "--optimizer", default="adamw", help="sgd, sgd-momentum, adam or adamw (default: adamw)"
    )
    parser.add_argument(
        "--amp", default=None, help="bf16 or fp16: autocast over fp32 master weights"
    )
    parser.add_argument(
        "--budget",
        default=None,
        help="a memory budget, e.g. 24GiB: print the largest batch that fits",
    )
    parser.add_argument(
        "--top", type=int, default=None, help="show only the N rows that save the most"
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    import json

    from cnninspect.analyses.memory import largest_batch, memory, parse_bytes

    mi = load(args)
    _batch_first(args.batch_dim, mi.inputs.shapes)
    options = {"optimizer": args.optimizer, "amp": args.amp}
    budget = parse_bytes(args.budget, "--budget") if args.budget else None
    report = memory(mi.model, mi.inputs, batch_size=args.batch_size, **options)
    best = None
    if budget is not None:
        best, _ = largest_batch(mi.model, mi.inputs, budget, **options)
    if args.format == "json":
        out = report.to_dict()
        if budget is not None:
            out["budget"], out["largest_batch"] = budget, best
        print(json.dumps(out, indent=2))
        return 0
    print(report.to_text(top=args.top))
    if budget is not None:
        print(f"largest batch that fits {args.budget} for training: {best}")
    return 0


def _batch_first(batch_dim: int | None, shapes: tuple[tuple[int, ...], ...]) -> None:
    """Memory takes dimension 0 as the batch (--batch-size, --budget, the report's batch)."""
    from cnninspect.errors import OptionError

    if batch_dim is None or all(batch_dim in (0, -len(s)) for s in shapes):  # shapes hold the batch
        return
    raise OptionError(
        f"--batch-dim {batch_dim} puts the batch at dimension {batch_dim % len(shapes[0])}, but "
        "cnninspect memory takes dimension 0 as the batch (--batch-size, --budget); "
        "use --batch-dim 0, or put the batch first in --input-shape"
    )
