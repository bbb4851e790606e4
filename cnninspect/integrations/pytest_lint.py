"""The pytest side of ``cnninspect lint``: the ``arch_lint`` fixture and marker, and ``--arch-lint``.

Loaded by :mod:`cnninspect.integrations.pytest_plugin` (its ``pytest_plugins``), so
installing cnninspect is enough. Settings come from ``[tool.cnninspect.lint]`` in the
project's pyproject.toml (select, ignore, per-layer ignores, object size, precision,
baseline), then the marker, then the fixture call. ``pytest --arch-lint`` adds one test
item per model under ``[tool.cnninspect.lint.models]``; ``--arch-lint-update-baseline``
records their findings as known instead of failing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from cnninspect.errors import CnnInspectError
from cnninspect.integrations.pytest_items import DeclaredModelItem

if TYPE_CHECKING:
    from cnninspect.analyses.lint import LintConfig, LintReport

MARKER = (
    "arch_lint(*, input_shape=None, select=None, ignore=None, object_size=None, precision=None, "
    "per_layer_ignores=None): defaults for the arch_lint fixture in this test; keywords passed to "
    "the fixture call override them."
)
_KEYS = ("input_shape", "select", "ignore", "object_size", "precision", "per_layer_ignores")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cnninspect", "cnninspect: architecture budgets and snapshots")
    group.addoption(
        "--arch-lint", action="store_true", default=False,
        help="also lint the models declared in pyproject.toml [tool.cnninspect.lint.models], "
             "one test item per model, failing on findings not ignored or in the baseline.",
    )  # fmt: skip
    group.addoption(
        "--arch-lint-update-baseline", action="store_true", default=False,
        help="record the linted models' findings in the configured baseline file instead of failing.",
    )  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)


def _config(config: pytest.Config) -> LintConfig:
    from cnninspect.analyses.lint import load_config

    path = Path(config.rootpath) / "pyproject.toml"
    if config.inipath is not None and config.inipath.name == "pyproject.toml":
        path = Path(config.inipath)
    try:
        return load_config(path) if path.is_file() else _empty()
    except CnnInspectError as exc:
        raise pytest.UsageError(f"cnninspect: {exc}") from None


def _empty() -> LintConfig:
    from cnninspect.analyses.lint import LintConfig

    return LintConfig()


def _run(config: pytest.Config, model: Any, who: str, options: dict[str, Any]) -> LintReport:
    """Lint ``model`` (an nn.Module or a model spec); fail the test on findings."""
    from cnninspect.analyses.lint import lint, write_baseline

    cfg = _config(config)
    try:
        name = model if isinstance(model, str) else None
        if isinstance(model, str):
            from cnninspect.integrations.spec import load_model

            model = load_model(model).model
        shape = options.pop("input_shape", None)
        report = lint(model, shape, config=cfg, model_name=name, **options)
    except CnnInspectError as exc:
        raise pytest.fail.Exception(f"{who}: {exc}", pytrace=False) from None
    if report.findings and config.getoption("--arch-lint-update-baseline"):
        if cfg.baseline is None:
            raise pytest.UsageError("cnninspect: --arch-lint-update-baseline needs baseline = '...' in [tool.cnninspect.lint]")
        write_baseline(cfg.baseline, [(report.model_name, f) for f in report.findings])
        return report
    if report.findings:
        from cnninspect.renderers.lint_output import render_text

        pytest.fail(f"{who}: architecture lint found {len(report.findings)} problem(s)\n"
                    + render_text(report), pytrace=False)  # fmt: skip
    return report


class ArchLint:
    """``arch_lint(model, input_shape=None, **options)``: lint, failing the test on findings.

    Options are :func:`cnninspect.lint`'s (select, ignore, object_size, precision,
    per_layer_ignores); the ``arch_lint`` marker gives defaults. Returns the report.
    """

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._config = request.config
        marker = request.node.get_closest_marker("arch_lint")
        self._defaults = dict(marker.kwargs) if marker else {}
        bad = set(self._defaults) - set(_KEYS)
        if bad:
            raise pytest.UsageError(f"cnninspect: arch_lint marker: unknown keyword(s) {', '.join(sorted(bad))}; known: {', '.join(_KEYS)}")
        self._who = request.node.nodeid

    def __call__(self, model: Any, input_shape: Any = None, **options: Any) -> LintReport:
        merged = {**self._defaults, **options}
        if input_shape is not None:
            merged["input_shape"] = input_shape
        return _run(self._config, model, self._who, merged)


@pytest.fixture
def arch_lint(request: pytest.FixtureRequest) -> ArchLint:
    """Lint a model inside a test; findings fail it (see :class:`ArchLint`)."""
    return ArchLint(request)


class LintItem(DeclaredModelItem):
    """One model of ``[tool.cnninspect.lint.models]``, linted like a test; declared: its input shape."""

    what = "architecture lint of"

    def runtest(self) -> None:
        _run(self.config, self.spec, f"{self.path.name} [tool.cnninspect.lint.models] {self.spec}",
             {"input_shape": self.declared or None})  # fmt: skip


class LintFile(pytest.File):
    def collect(self) -> Iterator[LintItem]:
        for spec, shape in _config(self.config).models.items():
            yield LintItem.from_parent(self, name=f"arch_lint[{spec}]", spec=spec, declared=shape)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """With ``--arch-lint``, add one item per declared model before -k/-m select among them."""
    if not config.getoption("--arch-lint"):
        return
    cfg = _config(config)
    if not cfg.models or cfg.source is None:
        return
    items.extend(LintFile.from_parent(session, path=cfg.source).collect())
