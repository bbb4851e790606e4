"""The items ``--arch`` and ``--arch-lint`` add per model of pyproject.toml: their failure
headers name what they check and the model, and a budget that is not a table fails its item."""

from __future__ import annotations

# pytester's in-process runs forget the modules an inner run imported, and torch, numpy or
# torchvision imported a second time crash the interpreter: import them here, once, for good.
import numpy  # noqa: F401
import pytest
import torch  # noqa: F401
import torchvision  # noqa: F401
from plugin_runs import QUIET

import cnninspect.engine.summary  # noqa: F401
import cnninspect.integrations.spec  # noqa: F401

pytest_plugins = ["pytester"]

PYPROJECT = """
[tool.cnninspect.budgets]
"simple-cnn" = "1,1,28,28"

[tool.cnninspect.lint.models]
"simple-cnn" = "1,1,28,28"
"""


def test_failure_headers_and_a_budget_that_is_not_a_table(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", pyproject=PYPROJECT)
    result = pytester.runpytest_inprocess(*QUIET, "--arch", "--arch-lint", "-rN")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines_random([
        "*_ architecture budget for simple-cnn _*",
        "*_ architecture lint of simple-cnn _*",
        '*[[]tool.cnninspect.budgets."simple-cnn"[]] must be a table with input_shape and limits, '
        "got str '1,1,28,28'",
        "*CNN102*fc1*",
    ])  # fmt: skip
