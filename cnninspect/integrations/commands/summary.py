"""``cnninspect summary``: the per-layer table of a model."""

from __future__ import annotations

import argparse

from cnninspect.integrations.commands.common import add_model_arguments, load

HELP = "print a model's layers with output shapes, parameters, MACs and receptive fields"
FORMATS = ("text", "markdown", "rst", "html", "csv", "json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument(
        "--format", choices=FORMATS, default="text", help="output format (default: text)"
    )
    parser.add_argument(
        "--depth", type=int, default=None, help="fold rows deeper than N into their parent module"
    )
    parser.add_argument(
        "--columns",
        default=None,
        help="comma-separated columns, e.g. name,kind,output_shape,num_params,macs,rf",
    )


def run(args: argparse.Namespace) -> int:
    from cnninspect.engine.summary import summarize

    mi = load(args)
    summary = summarize(mi.model, mi.inputs, device=args.device, debug=args.debug)
    if args.columns and "fc_params" in args.columns:
        from cnninspect.analyses.fc import with_fc_params

        summary = with_fc_params(summary)  # an analysis of its own, run on request
    if args.columns and ("output_bytes" in args.columns or "saved_bytes" in args.columns):
        from cnninspect.analyses.memory import with_memory

        summary = with_memory(summary)[0]  # the same: rows' bytes for one training step at this input
    if args.format == "json":
        text = summary.to_json()
    else:
        render = {
            "text": summary.to_text,
            "markdown": summary.to_markdown,
            "rst": summary.to_rst,
            "html": summary.to_html,
            "csv": summary.to_csv,
        }[args.format]
        text = render(columns=args.columns, depth=args.depth)
    print(text)
    return 0
