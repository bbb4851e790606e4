"""The arch_lint fixture, marker and ``pytest --arch-lint``, run inside a pytest of their own (pytester)."""

from __future__ import annotations

import json

# pytester's in-process runs forget the modules an inner run imported, and torch, numpy or
# torchvision imported a second time crash the interpreter: import them here, once, for good.
import numpy  # noqa: F401
import pytest
import torch  # noqa: F401
import torchvision  # noqa: F401
from plugin_runs import QUIET

import cnninspect.analyses.lint  # noqa: F401
import cnninspect.engine.summary  # noqa: F401
import cnninspect.integrations.spec  # noqa: F401

pytest_plugins = ["pytester"]

TESTS = '''
import pytest
from torch import nn

from cnninspect.chapter.models import SimpleCNN


def pooled():
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))


def test_clean(arch_lint):
    report = arch_lint(pooled(), (1, 1, 28, 28))
    assert report.ok


def test_dense_head(arch_lint):
    arch_lint(SimpleCNN(), (1, 1, 28, 28))


@pytest.mark.arch_lint(input_shape=(1, 1, 28, 28), ignore=["CNN102"])
def test_marker_ignores(arch_lint):
    arch_lint(SimpleCNN())
'''


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess(*QUIET, *args)


def test_fixture_fails_on_findings_and_the_marker_sets_defaults(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_models=TESTS)
    result = run(pytester)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "*test_dense_head*architecture lint found 1 problem(s)*",
        "*CNN102 fc1 (Linear 3,136->128) holds 401,408 of 421,642 parameters*",
    ])  # fmt: skip


def test_project_config_applies_to_the_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_models=TESTS)
    pytester.makepyprojecttoml('[tool.cnninspect.lint.per-layer-ignores]\n"fc1" = ["CNN102"]\n')
    run(pytester).assert_outcomes(passed=3)


def test_arch_lint_collects_declared_models_and_baselines_them(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(
        '[tool.cnninspect.lint]\nbaseline = "lint-baseline.json"\n'
        '[tool.cnninspect.lint.models]\n"simple-cnn" = "1,1,28,28"\n'
    )
    assert run(pytester).ret == pytest.ExitCode.NO_TESTS_COLLECTED  # only with --arch-lint
    result = run(pytester, "--arch-lint")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*CNN102 fc1*", "FAILED pyproject.toml::arch_lint?simple-cnn?*"])
    run(pytester, "--arch-lint", "--arch-lint-update-baseline").assert_outcomes(passed=1)
    baseline = json.loads((pytester.path / "lint-baseline.json").read_text())
    assert baseline["findings"] == [{"model": "simple-cnn", "code": "CNN102", "path": "fc1"}]
    run(pytester, "--arch-lint").assert_outcomes(passed=1)  # known findings no longer fail
