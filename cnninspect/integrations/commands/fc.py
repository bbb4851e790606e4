"""``cnninspect fc``: convolutions beside the fully-connected layers they replace."""

from __future__ import annotations

import argparse

from cnninspect.integrations.commands.common import add_model_arguments, load

HELP = "compare each conv layer with a fully-connected layer mapping the same volumes, and the chapter's figures"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # no --forward-kwarg: the comparison reads a conv's input volume off a single-input summary
    add_model_arguments(parser, forward_kwargs=False)
    parser.add_argument(
        "--no-chapter", action="store_true",
        help="leave out the chapter's standalone comparisons and the position-sensitivity demo",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from cnninspect.analyses.fc import chapter_comparisons, compare_fc, position_sensitivity

    mi = load(args)
    print(compare_fc(mi.model, mi.inputs, debug=args.debug).to_text())
    if not args.no_chapter:
        print()
        print(chapter_comparisons().to_text())
        print()
        demo = position_sensitivity()
        print("Position sensitivity (a 5x5 cat of our own, moved down one pixel):")
        print(demo.to_text())
    return 0
