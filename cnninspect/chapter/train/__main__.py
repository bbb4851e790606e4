"""``python -m cnninspect.chapter.train ...`` and ``torchrun --nproc_per_node N -m cnninspect.chapter.train ...``.

Same arguments as ``cnninspect train``; torchrun's environment turns on DDP.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from cnninspect.integrations.cli import main as cli_main

    return cli_main(["train", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
