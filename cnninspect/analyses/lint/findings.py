"""The lint's records: a :class:`Rule` (what is checked, why, the fix) and a :class:`Finding`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnninspect.analyses.lint.context import LintContext


@dataclass(frozen=True)
class Finding:
    """One thing a rule found: its code, the layer it names and a one-line message.

    ``path`` is where the finding lives in the module tree (the module path, or the
    row name of a functional op): suppression patterns and baselines match it.
    ``data`` holds the figures behind the message, for JSON output.
    """

    code: str
    path: str
    message: str
    layers: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "path": self.path,
            "message": self.message,
            "layers": list(self.layers),
            "data": self.data,
        }


Check = Callable[["LintContext"], Iterable[Finding]]


@dataclass(frozen=True)
class RuleDoc:
    """What a rule finds, why it matters, where the why comes from and the fix: one entry of
    :data:`cnninspect.analyses.lint.catalog.DOCS`, like a ruff rule's documentation."""

    code: str  # stable, e.g. "CNN101"
    name: str  # kebab-case, e.g. "bias-before-norm"
    summary: str  # what it finds, one line
    why: str  # why it matters
    reference: str  # where the why comes from
    fix: str  # what to do


@dataclass(frozen=True)
class Rule(RuleDoc):
    """A rule's documentation joined with the check that registered under its code."""

    check: Check = field(compare=False, repr=False)

    def to_dict(self) -> dict[str, str]:
        """Every field but the check itself, in declaration order: the rules of the JSON report."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "check"}
