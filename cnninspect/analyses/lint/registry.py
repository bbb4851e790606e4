"""The rules by code, and selection by code or prefix (``CNN2`` is every CNN2xx rule), as in ruff.

A check registers under its code alone; its documentation lives in
:data:`cnninspect.analyses.lint.catalog.DOCS`. :func:`all_rules` joins the two and refuses a
code that has one without the other, so a rule can neither run undocumented nor be
documented without running.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict

from cnninspect.analyses.lint.catalog import DOCS
from cnninspect.analyses.lint.findings import Check, Rule
from cnninspect.errors import OptionError

CHECKS: dict[str, Check] = {}
# requirements a check may name (LintContext.unmet says when one is not met, and why)
GRAPH = "graph"  # rows name the rows that feed them (fx, TorchScript)
FIELDS = "fields"  # the summary carries receptive fields
CALLS = "calls"  # rows record every module call (fx, forward hooks)
READS = "reads"  # the fx trace's attribute reads (parameters and buffers read by name)
KNOWN = "known"  # every row's receptive field is known (an op without a rule leaves it unknown)
HALF_GRAPH = "half-graph"  # the graph, needed only when the model runs in float16/bfloat16
# what each check reads beyond rows and modules, and which part of it goes unchecked without it:
# code -> ((requirement, part), ...); part None is the whole rule (see LintContext.unmet)
NEEDS: dict[str, tuple[tuple[str, str | None], ...]] = {}
_DOCUMENTED = {doc.code for doc in DOCS}
if len(_DOCUMENTED) != len(DOCS):
    raise RuntimeError("lint/catalog.py documents a code twice")


def rule(code: str, needs: tuple[tuple[str, str | None], ...] = ()):
    """Register the decorated check under ``code``, which the catalogue must document, once.

    ``needs`` names what the check reads beyond rows and modules (``"graph"``, ``"fields"``,
    ``"calls"``, ``"reads"``) with the part of the rule that goes unchecked without it (None: all
    of it), so a report can say what it did not check instead of staying silent.
    """

    def register(check: Check) -> Check:
        if code not in _DOCUMENTED:
            raise RuntimeError(f"lint rule {code} ({check.__name__}) has no entry in lint/catalog.py")
        if code in CHECKS:
            raise RuntimeError(f"lint rule {code} is registered twice")
        CHECKS[code] = check
        NEEDS[code] = needs
        return check

    return register


def unchecked(rule_: Rule, met: dict[str, str | None]) -> list[tuple[str | None, str]]:
    """(part, why) for each part of ``rule_`` that cannot run: ``met`` maps a requirement to
    None when it is met, else to why it is not."""
    gaps: list[tuple[str | None, str]] = [
        (part, why) for need, part in NEEDS.get(rule_.code, ()) if (why := met.get(need))
    ]
    whole = [gap for gap in gaps if gap[0] is None]
    return whole[:1] or gaps


def all_rules() -> dict[str, Rule]:
    """Every rule by code: each catalogue entry with its check (the family modules register on import)."""
    from cnninspect.analyses.lint import (  # noqa: F401 -- imported for their registrations
        alignment,
        coverage,
        hardware,
        linearity,
        order,
        params,
    )

    key = tuple(CHECKS.items())
    if _JOINED and _JOINED[0] == key:
        return dict(_JOINED[1])  # every lint asks; asdict() on 13 entries cost a small model's summary 10 %
    missing = sorted(doc.code for doc in DOCS if doc.code not in CHECKS)
    if missing:
        raise RuntimeError(f"lint/catalog.py documents {', '.join(missing)} but no check registers under that code")
    joined = {d.code: Rule(**asdict(d), check=CHECKS[d.code]) for d in sorted(DOCS, key=lambda d: d.code)}
    _JOINED[:] = [key, joined]
    return dict(joined)


# (the CHECKS it was joined from, the rules): rules are frozen, so one join serves every lint
# until a check is registered or removed (a test removing one must see the error again)
_JOINED: list = []


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
