"""``cnninspect summary``: the per-layer table of a model (or its module tree, without an input)."""

from __future__ import annotations

import argparse

from cnninspect.errors import OptionError
from cnninspect.integrations.commands.common import CLI_HINT, add_model_arguments, load

HELP = "print a model's layers with output shapes, parameters, MACs and receptive fields"
FORMATS = ("text", "markdown", "rst", "html", "csv", "json")
TREE_HINT = f"{CLI_HINT}, or --tree for the module tree without an input"


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
        help="comma-separated columns, e.g. name,kind,input_shape,output_shape,num_params,"
        "params_percent,kernel_size,macs,rf (a wrong name lists them all)",
    )
    parser.add_argument(
        "--mode",
        choices=("same", "eval", "train"),
        default="same",
        help="trace the model in eval or train mode (Dropout, BatchNorm, training-only branches); "
        "default: the mode the model is built in",
    )
    parser.add_argument(
        "--tree",
        action="store_true",
        help="list the module tree with parameters per module, without an input "
        "(shapes and MACs are then unknown)",
    )


def run(args: argparse.Namespace) -> int:
    summary = _tree(args) if args.tree else _traced(args)
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


def _traced(args: argparse.Namespace):  # -> Summary (torch loads inside the command)
    from cnninspect.engine.summary import summarize

    mi = load(args, hint=TREE_HINT)
    summary = summarize(mi.model, mi.inputs, device=args.device, mode=args.mode, debug=args.debug)
    if args.columns and "fc_params" in args.columns:
        from cnninspect.analyses.fc import with_fc_params

        summary = with_fc_params(summary)  # an analysis of its own, run on request
    if args.columns and ("output_bytes" in args.columns or "saved_bytes" in args.columns):
        from cnninspect.analyses.memory import with_memory

        summary = with_memory(summary)[0]  # the same: rows' bytes for one training step at this input
    return summary


def _tree(args: argparse.Namespace):  # -> TreeSummary
    from cnninspect.engine.tree_summary import summarize_tree
    from cnninspect.integrations.spec import load_model, parse_kwargs

    options = (
        ("--input-shape", args.input_shape), ("--dtype", args.dtype),
        ("--batch-dim", args.batch_dim is not None), ("--forward-kwarg", args.forward_kwarg),
    )  # fmt: skip
    given = [flag for flag, value in options if value]
    if args.mode != "same":
        given.append("--mode")
    if given:
        raise OptionError(f"--tree lists the module tree without an input; drop {' and '.join(given)}")
    return summarize_tree(load_model(args.model, parse_kwargs(args.kwargs)).model)
