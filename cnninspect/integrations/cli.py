"""Layer 5: the command line. ``cnninspect <command>``; each command is one module.

A command module in :mod:`cnninspect.integrations.commands` defines ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``; it imports heavy things
inside ``run`` so ``cnninspect --help`` stays fast. Exit status: 0 success,
1 a model error, 2 a usage error.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn

from cnninspect.errors import CnnInspectError, UsageError

# command name -> module; the order is the order of ``--help``
COMMANDS: dict[str, str] = {
    "summary": "cnninspect.integrations.commands.summary",
    "rf": "cnninspect.integrations.commands.rf",
    "train": "cnninspect.integrations.commands.train",
    "report": "cnninspect.integrations.commands.report",
    "verify": "cnninspect.integrations.commands.verify",
    "fc": "cnninspect.integrations.commands.fc",
    "lint": "cnninspect.integrations.commands.lint",
    "chapter": "cnninspect.integrations.commands.chapter",
    "memory": "cnninspect.integrations.commands.memory",
}

USAGE_ERROR = 2
MODEL_ERROR = 1


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2, like argparse but prefixed
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(USAGE_ERROR)


def build_parser() -> argparse.ArgumentParser:
    from cnninspect import __version__

    parser = _Parser(
        prog="cnninspect",
        description="Look inside PyTorch models: shapes, parameters, MACs, receptive fields.",
    )
    parser.add_argument("--version", action="version", version=f"cnninspect {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return USAGE_ERROR
    try:
        return int(args._run(args) or 0)
    except CnnInspectError as exc:
        if getattr(args, "debug", False):
            raise
        print(f"cnninspect {args.command}: error: {exc}", file=sys.stderr)
        return USAGE_ERROR if isinstance(exc, UsageError) else MODEL_ERROR
    except BrokenPipeError:  # `cnninspect summary | head` is fine
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
