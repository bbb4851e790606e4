"""What :func:`cnninspect.lint` returns: the findings of one model, and the rules they came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cnninspect.analyses.lint.findings import Finding, Rule

SCHEMA = "cnninspect.lint/1"


@dataclass
class LintReport:
    """The findings on one model for one input; ``ok`` when there are none."""

    model_name: str
    input_shapes: list[tuple[int, ...]]
    findings: list[Finding]
    rules: list[Rule]  # the rules that ran
    suppressed: list[Finding] = field(default_factory=list)  # by per-layer ignores
    baselined: list[Finding] = field(default_factory=list)  # known from the baseline
    summary: Any = field(default=None, repr=False)
    # code -> [(part, why)]: rules (part None) or parts of rules this summary could not run;
    # a clean report says nothing about them
    not_checked: dict[str, list[tuple[str | None, str]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings

    def rule(self, code: str) -> Rule:
        return next(r for r in self.rules if r.code == code)

    def codes(self) -> list[str]:
        """The codes found, each once, in order of first finding."""
        return list(dict.fromkeys(f.code for f in self.findings))

    def __len__(self) -> int:
        return len(self.findings)

    def __iter__(self):
        return iter(self.findings)

    def __str__(self) -> str:
        return self.to_text()

    def to_text(self) -> str:
        from cnninspect.renderers.lint_output import render_text

        return render_text(self)

    def to_dict(self) -> dict[str, Any]:
        from cnninspect.renderers.lint_output import report_dict

        return report_dict(self)

    def to_json(self, indent: int | None = 2) -> str:
        import json

        return json.dumps(self.to_dict(), indent=indent)

    def to_sarif(self) -> dict[str, Any]:
        from cnninspect.renderers.lint_output import sarif

        return sarif([self])
