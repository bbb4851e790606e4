"""``cnninspect verify``: check a model's summary against formulas, a real forward and torch's counter."""

from __future__ import annotations

import argparse

from cnninspect.integrations.commands.common import add_model_arguments, load

HELP = "check every shape, parameter count, MAC count and receptive field against independent sources"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument(
        "--mode", choices=("eval", "train", "as-is"), default="eval",
        help="train/eval mode for the trace and the real forward (default: eval; the model is restored)",
    )  # fmt: skip
    parser.add_argument(
        "--gradient", choices=("last", "all", "none"), default="last",
        help="module rows whose receptive field is measured by back-propagation (default: last)",
    )  # fmt: skip
    parser.add_argument("--no-flop-counter", action="store_true", help="skip torch.utils.flop_counter")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")


def run(args: argparse.Namespace) -> int:
    import json

    from cnninspect.analyses.verification import verify

    mi = load(args)
    report = verify(
        mi.model,
        mi.inputs,
        device=args.device or "cpu",
        mode=None if args.mode == "as-is" else args.mode,
        flop_counter=not args.no_flop_counter,
        gradient_layers=args.gradient,
    )
    print(json.dumps(report.to_dict(), indent=2) if args.format == "json" else report.to_text())
    return 0 if report.ok else 1
