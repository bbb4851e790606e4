"""The rules by code, and selection by code or prefix (``CNN2`` is every CNN2xx rule), as in ruff."""

from __future__ import annotations

from collections.abc import Iterable

from cnninspect.analyses.lint.findings import Check, Rule
from cnninspect.errors import OptionError

RULES: dict[str, Rule] = {}


def rule(code: str, name: str, *, summary: str, why: str, reference: str, fix: str):
    """Register the decorated check under ``code``; a code is registered once."""

    def register(check: Check) -> Check:
        if code in RULES:
            raise RuntimeError(f"lint rule {code} is registered twice")
        RULES[code] = Rule(code, name, summary, why, reference, fix, check)
        return check

    return register


def all_rules() -> dict[str, Rule]:
    """Every rule, its family modules imported (they register on import)."""
    from cnninspect.analyses.lint import (  # noqa: F401 -- imported for their registrations
        alignment,
        coverage,
        hardware,
        linearity,
        order,
        params,
    )

    return dict(sorted(RULES.items()))


def matching(selector: str, where: str = "select") -> list[str]:
    """The codes a selector names: a whole code, a prefix (``CNN2``, ``CNN``) or a rule name."""
    rules = all_rules()
    wanted = selector.strip()
    codes = [c for c, r in rules.items() if c.startswith(wanted.upper()) or r.name == wanted]
    if not wanted or not codes:
        known = ", ".join(f"{c} ({r.name})" for c, r in rules.items())
        raise OptionError(
            f"{where}: {selector!r} names no lint rule; use a code or prefix such as CNN2 or CNN201. "
            f"Rules: {known}"
        )
    return codes


def select_rules(
    select: Iterable[str] | None = None, ignore: Iterable[str] | None = None
) -> list[Rule]:
    """The rules to run: everything ``select`` names (all when None) less what ``ignore`` names."""
    rules = all_rules()
    chosen = set(rules) if select is None else {c for s in select for c in matching(s, "select")}
    for s in ignore or ():
        chosen -= set(matching(s, "ignore"))
    return [rules[c] for c in sorted(chosen)]
