"""The plugin examples in the README and docs/pytest_plugin.rst run as printed (copy, paste, pytest)."""

from __future__ import annotations

import re
from pathlib import Path

# pytester's in-process runs forget the modules an inner run imported, and torch, numpy or
# torchvision imported a second time crash the interpreter: import them here, once, for good.
import numpy  # noqa: F401
import pytest
import torch  # noqa: F401
import torchvision  # noqa: F401
from plugin_runs import QUIET  # noqa: E402

import cnninspect.analyses.snapshot  # noqa: F401
import cnninspect.engine.summary  # noqa: F401

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]


def rst_example() -> str:
    text = (REPO / "docs" / "pytest_plugin.rst").read_text()
    block = text.split("A complete example", 1)[1].split(".. code-block:: python", 1)[1]
    lines = []
    for line in block.splitlines()[1:]:
        if line and not line.startswith("   "):
            break
        lines.append(line[3:])
    return "\n".join(lines)


def readme_example() -> str:
    text = (REPO / "README.md").read_text()
    section = text.split("## pytest plugin", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.parametrize("source", [rst_example, readme_example], ids=["docs", "readme"])
def test_documented_example_runs_as_printed(pytester: pytest.Pytester, source) -> None:
    pytester.makepyfile(test_architecture=source())
    result = pytester.runpytest_inprocess(*QUIET)
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines_random(
        [
            "Architecture budget exceeded for SimpleCNN @ 1x1x28x28: params 421.64 K > max 400.00 K",
            "no architecture snapshot for test_architecture.py::test_resnet18_architecture at "
            "__arch_snapshots__/test_architecture/test_resnet18_architecture.json*",
        ]
    )
    result = pytester.runpytest_inprocess(*QUIET, "--arch-snapshot-update", "-k", "resnet18")
    result.assert_outcomes(passed=1, deselected=2)
    result = pytester.runpytest_inprocess(*QUIET, "-k", "resnet18")
    result.assert_outcomes(passed=1, deselected=2)
