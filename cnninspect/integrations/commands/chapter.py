"""``cnninspect chapter``: replay the chapter's printed figures from its own inputs, errata named."""

from __future__ import annotations

import argparse

HELP = "recompute every figure the CNN chapter prints from its own inputs; name each erratum, its true value and why"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    parser.add_argument("--errata", action="store_true", help="show only the errata (and any mismatch)")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")


def run(args: argparse.Namespace) -> int:
    """Exit 0 when every figure is equal or a known, explained erratum; 1 on any mismatch."""
    import json

    from cnninspect.chapter.replay import ChapterReplay, replay

    result = replay()
    if args.errata:
        result = ChapterReplay([f for f in result.figures if f.status != "equal"])
    if args.format == "json":
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(result.to_text())
    return 0 if result.ok else 1
