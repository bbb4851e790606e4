"""Memory budgets through the pytest plugin, run the way a user runs them (pytester)."""

from __future__ import annotations

# pytester's in-process runs forget the modules an inner run imported, and torch imported a
# second time crashes the interpreter: import what the inner run needs here, once.
import numpy  # noqa: F401
import pytest
import torch  # noqa: F401
import torchvision  # noqa: F401
from plugin_runs import QUIET

import cnninspect.analyses.memory  # noqa: F401
import cnninspect.engine.summary  # noqa: F401
import cnninspect.integrations.spec  # noqa: F401

pytest_plugins = ["pytester"]


def test_memory_budgets_from_pyproject_and_the_call(pytester: pytest.Pytester) -> None:
    from cnninspect.analyses.memory import memory
    from cnninspect.chapter.models import SimpleCNN

    peak = memory(SimpleCNN(), (64, 1, 28, 28), optimizer="adam").train_peak
    pytester.makepyprojecttoml(
        """
        [tool.pytest.ini_options]
        arch_budget_max_train_memory = "20MiB @ batch=64, optimizer=adam"
        """
    )
    pytester.makepyfile(
        """
        def test_from_pyproject(arch_budget, simple_cnn):
            arch_budget(simple_cnn, (1, 1, 28, 28))

        def test_call_overrides(arch_budget, simple_cnn):
            arch_budget(simple_cnn, (1, 1, 28, 28), max_train_memory="1GiB @ batch=64, optimizer=adam",
                        max_activation_memory="40MiB @ batch=64")
        """
    )
    result = pytester.runpytest_inprocess(*QUIET)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_from_pyproject _*",
            f"Architecture budget exceeded for SimpleCNN @ 1x1x28x28: training-step peak "
            f"{peak / 2**20:.2f} MiB > max 20.00 MiB (batch 64, adam)",
            "",
            "Top 10 layers by share of memory saved for backward (bytes):",
            "  relu     relu            6,422,528   37.4%",  # 64x32x28x28 float32: its output
        ]
    )
