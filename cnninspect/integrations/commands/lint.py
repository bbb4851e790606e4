"""``cnninspect lint``: report architecture mistakes by rule code, like ruff; exit 1 on findings."""

from __future__ import annotations

import argparse
from pathlib import Path

from cnninspect.integrations.commands.common import add_model_arguments, load

HELP = "report architecture mistakes (rules CNN101...), ruff-style; exit 1 on findings"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--select", action="append", metavar="CODES",
                        help="rule codes or prefixes to run, comma-separated (default: all, or the config's)")
    parser.add_argument("--ignore", action="append", metavar="CODES",
                        help="rule codes or prefixes to skip, comma-separated")
    parser.add_argument("--object-size", metavar="PX", help="smallest object to see whole, e.g. 64 or 64,96")
    parser.add_argument("--precision", metavar="DTYPE", help="dtype the model will run in: bfloat16, float16")
    parser.add_argument("--mode", choices=("eval", "train", "as-is"), default="eval",
                        help="train/eval mode to lint the model in (default: eval)")
    parser.add_argument("--format", choices=("text", "json", "sarif"), default="text",
                        help="output format (default: text)")
    parser.add_argument("--output", metavar="FILE", help="write the report to FILE instead of stdout")
    parser.add_argument("--config", metavar="PYPROJECT",
                        help="pyproject.toml to read [tool.cnninspect.lint] from (default: the nearest)")
    parser.add_argument("--no-config", action="store_true", help="ignore pyproject.toml")
    parser.add_argument("--baseline", metavar="FILE", help="known findings that do not count (JSON)")
    parser.add_argument("--write-baseline", metavar="FILE",
                        help="record this model's findings in FILE as known, and exit 0")
    parser.add_argument("--list-rules", action="store_true", help="print every rule and exit")
    parser.add_argument("--no-fix", action="store_true", help="text output without the fix lines")


def _codes(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [c.strip() for v in values for c in v.split(",") if c.strip()]


def _object_size(text: str | None) -> int | tuple[int, ...] | None:
    from cnninspect.errors import OptionError

    if text is None:
        return None
    try:
        sizes = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise OptionError(f"--object-size {text!r}: give pixels, e.g. 64 or 64,96") from None
    if any(s < 1 for s in sizes):
        raise OptionError(f"--object-size {text!r}: sizes must be positive")
    return sizes[0] if len(sizes) == 1 else sizes


def _list_rules() -> int:
    from cnninspect.analyses.lint import all_rules

    for code, rule in all_rules().items():
        print(f"{code}  {rule.name:30s} {rule.summary}")
    return 0


def run(args: argparse.Namespace) -> int:
    import json

    from cnninspect.analyses.lint import LintConfig, lint, load_config, write_baseline
    from cnninspect.renderers.lint_output import render_text, sarif

    if args.list_rules:
        return _list_rules()
    config = LintConfig() if args.no_config else load_config(Path(args.config) if args.config else None)
    mi = load(args)
    if args.mode != "as-is":
        mi.model.train(args.mode == "train")
    report = lint(
        mi.model, mi.inputs,
        select=_codes(args.select), ignore=_codes(args.ignore),
        object_size=_object_size(args.object_size), precision=args.precision,
        baseline=None if args.write_baseline else args.baseline, config=config, model_name=mi.spec,
    )  # fmt: skip
    if args.write_baseline:
        count = write_baseline(args.write_baseline, [(report.model_name, f) for f in report.findings])
        print(f"wrote {len(report.findings)} finding(s) of {mi.spec} to {args.write_baseline} ({count} in all)")
        return 0
    if args.format == "json":
        text = report.to_json()
    elif args.format == "sarif":
        sources = {report.model_name: mi.source_file} if mi.source_file else None
        text = json.dumps(sarif([report], sources), indent=2)
    else:
        text = render_text(report, fixes=not args.no_fix)
    if args.output:
        Path(args.output).write_text(text + "\n")
    else:
        print(text)
    return 0 if report.ok else 1
