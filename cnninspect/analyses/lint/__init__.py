"""``cnninspect lint``: static analysis of an architecture, the way ruff analyses code.

Every rule reads one summary (rows, receptive fields) and the model's modules: no
second trace. Rules have stable codes (``CNN101``), are selected by code or prefix,
and can be suppressed per layer by module path; see ``docs/lint.rst``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from torch import nn
from torch.nn.parameter import is_lazy

from cnninspect.analyses.lint.baseline import is_known, read_baseline, write_baseline
from cnninspect.analyses.lint.config import LintConfig, find_pyproject, load_config
from cnninspect.analyses.lint.context import LintContext, LintOptions
from cnninspect.analyses.lint.findings import Finding, Rule, RuleDoc
from cnninspect.analyses.lint.registry import all_rules, select_rules, unchecked
from cnninspect.analyses.lint.report import LintReport
from cnninspect.errors import ModelError


def lint(
    model: nn.Module,
    input_shape: Any = None,
    *,
    input_data: Any = None,
    dtype: Any = None,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    per_layer_ignores: dict[str, list[str]] | None = None,
    object_size: int | tuple[int, ...] | None = None,
    precision: str | None = None,
    baseline: str | Path | None = None,
    config: LintConfig | None = None,
    model_name: str | None = None,
    summary: Any = None,
) -> LintReport:
    """Lint ``model`` for an input of ``input_shape``: the findings of every selected rule.

    ``select``/``ignore`` take codes or prefixes (``"CNN2"``); ``per_layer_ignores`` maps
    an fnmatch pattern on the module path to the codes silenced there; ``baseline`` is a
    file of known findings that no longer count. ``config`` (e.g. :func:`load_config`)
    supplies any of these not given. ``summary`` reuses a summary of the same model and
    input (with receptive fields) instead of making one.
    """
    if not isinstance(model, nn.Module):
        raise ModelError(
            f"lint() needs a torch.nn.Module, got {type(model).__name__}; "
            "pass the model instance, e.g. lint(MyNet(), (1, 3, 32, 32))"
        )
    cfg = config or LintConfig()
    rules = select_rules(select if select is not None else cfg.select, [*cfg.ignore, *(ignore or ())])
    if summary is None:
        from cnninspect.engine.summary import summarize

        summary = summarize(model, input_shape, input_data=input_data, dtype=dtype)
    options = LintOptions(
        object_size=object_size if object_size is not None else cfg.object_size,
        precision=precision if precision is not None else cfg.precision,
    )
    ctx = LintContext(summary, model, options)
    if summary.source is not None and any(is_lazy(p) for _, p in ctx.parameters):
        # the copy summarize() shaped the lazy parameters of (ctx.parameters: the one walk of the
        # modules the rules read anyway; model.parameters() walked them again on every lint)
        ctx = LintContext(summary, summary.source[0], options)
    found = [finding for r in rules for finding in r.check(ctx)]
    unmet = ctx.unmet  # all None (the usual fx summary): nothing to ask each rule about
    name = model_name or summary.model_name
    kept, suppressed, baselined = _split(found, name, {**cfg.per_layer_ignores, **(per_layer_ignores or {})},
                                         baseline or cfg.baseline)  # fmt: skip
    return LintReport(
        model_name=name,
        input_shapes=list(summary.input_shapes),
        findings=_ordered(kept, summary),
        rules=rules,
        suppressed=suppressed,
        baselined=baselined,
        summary=summary,
        not_checked={r.code: parts for r in rules if (parts := unchecked(r, unmet))} if any(unmet.values()) else {},
    )


def _split(
    found: list[Finding], name: str, silenced: dict[str, list[str]], known_file: str | Path | None
) -> tuple[list[Finding], list[Finding], list[Finding]]:
    """The findings kept, those suppressed per layer and those the baseline knows."""
    suppressed = [f for f in found if _silenced(f, silenced)]
    known = read_baseline(known_file) if known_file else set()
    baselined = [f for f in found if f not in suppressed and is_known(known, name, f)]
    kept = [f for f in found if f not in suppressed and f not in baselined]
    return kept, suppressed, baselined


def _silenced(finding: Finding, patterns: dict[str, list[str]]) -> bool:
    return any(
        fnmatch.fnmatchcase(finding.path, pattern) and any(finding.code.startswith(c.upper()) for c in codes)
        for pattern, codes in patterns.items()
    )


def _ordered(findings: list[Finding], summary: Any) -> list[Finding]:
    """In model order (the row a finding names first), then by code."""
    order = {row.name: i for i, row in enumerate(summary.layers)}
    paths = {row.module_path: i for i, row in reversed(list(enumerate(summary.layers))) if row.module_path}

    def key(f: Finding) -> tuple[int, str]:
        at = order.get(f.layers[0]) if f.layers else paths.get(f.path)
        return (at if at is not None else len(order), f.code)

    return sorted(findings, key=key)


# join the catalogue and the checks now: a code with a doc but no check, or a check but no doc,
# fails on import rather than when that rule is first selected
all_rules()

__all__ = [
    "lint", "LintReport", "Finding", "Rule", "RuleDoc", "LintConfig", "LintOptions", "load_config",
    "find_pyproject", "read_baseline", "write_baseline", "all_rules", "select_rules",
]  # fmt: skip
