"""``cnninspect rf``: receptive field of every layer, one unit's input region, plots, the gradient check."""

from __future__ import annotations

import argparse

from cnninspect.integrations.commands.common import add_model_arguments, load

HELP = "print each layer's receptive field (size, jump, start per axis), optionally plot and prove it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    parser.add_argument("--naive", action="store_true", help="also show the stride-1 formula R += K-1")
    parser.add_argument("--node", default=None, help="the layer whose unit --unit names (default: the last spatial one)")
    parser.add_argument("--unit", default=None, metavar="I,J", help="print the input region this unit reads, e.g. 3,3 or -1,-1")
    parser.add_argument("--plot-sizes", default=None, metavar="PNG", help="write a plot of the size per layer")
    parser.add_argument("--plot-region", default=None, metavar="PNG", help="write --unit's region drawn over the input")
    parser.add_argument("--image", default=None, metavar="FILE", help="image to draw the region over (input-sized)")
    parser.add_argument(
        "--check", action="store_true",
        help="prove the output's fields by gradients (float64 copy; centre and corner units)",
    )  # fmt: skip


def _unit(text: str | None):
    from cnninspect.errors import OptionError

    if text is None:
        return None
    try:
        values = tuple(int(v) for v in text.replace("x", ",").split(",") if v.strip())
    except ValueError:
        raise OptionError(f"--unit {text!r} is not a list of integers; write it as I,J, e.g. 3,3") from None
    if not values:
        raise OptionError("--unit needs at least one index, e.g. --unit 3,3")
    return values[0] if len(values) == 1 else values


def run(args: argparse.Namespace) -> int:
    import json

    from cnninspect.engine.receptive import receptive_field
    from cnninspect.errors import OptionError
    from cnninspect.units import fmt_axes, jsonable

    mi = load(args)
    report = receptive_field(mi.model, mi.inputs, device=args.device)
    unit = _unit(args.unit)
    node = args.node or (report.output.name if report.output is not None else None)
    if args.node is not None and args.node not in report.fields:
        raise OptionError(f"--node {args.node!r} is not a layer with a receptive field; choose from {', '.join(report.fields)}")
    extra: dict = {}
    if unit is not None:
        if node is None:
            raise OptionError("--unit needs a layer with a receptive field, and this model has none")
        extra["region"] = {"node": node, "unit": unit, "region": [list(r) for r in report.region(node, unit)]}
    if args.plot_sizes:
        from cnninspect.renderers.receptive_plot import plot_sizes

        extra["plot_sizes"] = str(plot_sizes(report, args.plot_sizes, naive=True))
    if args.plot_region:
        from cnninspect.renderers.receptive_plot import plot_region

        extra["plot_region"] = str(plot_region(report, args.plot_region, unit if unit is not None else 0, node, args.image))
    if args.check:
        extra["check"] = _check(mi, report)
    if args.format == "json":
        print(json.dumps(jsonable({**report.to_dict(), **extra}), indent=2))
    else:
        print(report.to_text(naive=args.naive))
        if "region" in extra:
            labels = {1: "L", 2: "HW", 3: "DHW"}.get(len(extra["region"]["region"]), "?" * 4)
            spans = ", ".join(f"{lab} {a}-{b}" for lab, (a, b) in zip(labels, extra["region"]["region"]))
            print(f"unit {extra['region']['unit']} of {node} reads input indices {spans} (per axis, clipped)")
        for key in ("plot_sizes", "plot_region"):
            if key in extra:
                print(f"wrote {extra[key]}")
        for c in extra.get("check", []):
            print(f"gradient check unit {fmt_axes(c['unit'])}: analytic {c['analytic']} measured {c['measured']} -> {'ok' if c['ok'] else 'MISMATCH'}")
    return 0 if all(c["ok"] for c in extra.get("check", [])) else 1


def _check(mi, report) -> list[dict]:
    from cnninspect.analyses.gradcheck import check
    from cnninspect.errors import OptionError

    if mi.inputs.kwargs:
        raise OptionError("--check feeds the model its one input alone; drop --forward-kwarg to use it")
    last = list(report.fields)[-1]
    if report[last].is_global or report[last].unknown:
        raise OptionError(
            f"--check measures the model's output, and {last!r} is {'global' if report[last].is_global else 'unknown'}; "
            "pass a fully convolutional model (e.g. a feature trunk)"
        )
    shape = mi.input_shape if isinstance(mi.input_shape, tuple) else tuple(mi.input_shape)
    sizes = report.nodes[last].sizes
    units = [tuple(n // 2 for n in sizes), (0,) * len(sizes), (-1,) * len(sizes)]
    return [
        {"unit": list(c.unit), "analytic": [list(r) for r in c.analytic],
         "measured": None if c.measured is None else [list(r) for r in c.measured], "ok": c.ok}
        for c in check(mi.model, shape, units)
    ]  # fmt: skip
