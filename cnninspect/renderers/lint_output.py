"""The lint report as text grouped by layer, as JSON, and as SARIF 2.1.0 for CI annotations."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnninspect.analyses.lint.report import LintReport

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
DOCS = "https://cnninspect.readthedocs.io/en/latest/lint.html"


def _shape(report: LintReport) -> str:
    return ";".join("x".join(map(str, s)) for s in report.input_shapes)


def render_text(report: LintReport, fixes: bool = True) -> str:
    """Findings grouped under the layer (module path) they name, then one line of counts."""
    lines = [f"{report.model_name} @ {_shape(report)}"]
    groups: dict[str, list] = {}
    for f in report.findings:
        groups.setdefault(f.path, []).append(f)
    for path, findings in groups.items():
        lines.append("")
        lines.append(path)
        for f in findings:
            lines.append(f"  {f.code} {f.message}")
            if fixes:
                lines.append(f"         fix: {report.rule(f.code).fix}")
    lines.append("")
    lines.append(_tally(report))
    lines.extend(not_checked_lines(report))
    return "\n".join(lines)


def not_checked_lines(report: LintReport) -> list[str]:
    """One ``not checked: CODES: why`` line per reason a rule (or part of one) could not run on
    this summary, so a clean report never hides a rule that stayed silent."""
    by_why: dict[str, list[str]] = {}
    for code, parts in report.not_checked.items():
        for part, why in parts:
            by_why.setdefault(why, []).append(code if part is None else f"{code} ({part})")
    return [f"not checked: {', '.join(codes)}: {why}" for why, codes in by_why.items()]


def _tally(report: LintReport) -> str:
    counts = Counter(f.code for f in report.findings)
    n = len(report.findings)
    text = (
        f"{n} finding{'s' if n != 1 else ''} ({', '.join(f'{c} x{k}' for c, k in sorted(counts.items()))})"
        if n else "no findings"
    )  # fmt: skip
    text += f" from {len(report.rules)} rules"
    extra = []
    if report.suppressed:
        extra.append(f"{len(report.suppressed)} suppressed per layer")
    if report.baselined:
        extra.append(f"{len(report.baselined)} in the baseline")
    if report.not_checked:
        whole = sum(1 for parts in report.not_checked.values() if any(p is None for p, _ in parts))
        extra.append(f"{whole} not checked, {len(report.not_checked) - whole} in part (below)")
    return text + (f"; {', '.join(extra)}" if extra else "")


def report_dict(report: LintReport) -> dict[str, Any]:
    from cnninspect.analyses.lint.report import SCHEMA
    from cnninspect.units import jsonable

    return jsonable({
        "schema": SCHEMA,
        "model": report.model_name,
        "input_shapes": [list(s) for s in report.input_shapes],
        "ok": report.ok,
        "findings": [f.to_dict() for f in report.findings],
        "suppressed": [f.to_dict() for f in report.suppressed],
        "baselined": [f.to_dict() for f in report.baselined],
        "rules": [r.to_dict() for r in report.rules],
        "not_checked": [
            {"code": code, "part": part, "why": why}
            for code, parts in report.not_checked.items() for part, why in parts
        ],
    })  # fmt: skip


def sarif(reports: Sequence[LintReport], sources: dict[str, str] | None = None) -> dict[str, Any]:
    """One SARIF 2.1.0 run over several models' reports.

    A result's logical location is ``model.module.path``; ``sources`` maps a model name
    to the file that defines it, which becomes the physical location CI annotates.
    """
    from cnninspect import __version__

    rules = {r.code: r for rep in reports for r in rep.rules}
    codes = sorted(rules)
    results = []
    for rep in reports:
        for f in rep.findings:
            location: dict[str, Any] = {
                "logicalLocations": [
                    {"name": f.path, "fullyQualifiedName": f"{rep.model_name}.{f.path}", "kind": "module"}
                ]
            }
            source = (sources or {}).get(rep.model_name)
            if source:
                location["physicalLocation"] = {"artifactLocation": {"uri": source}}
            results.append({
                "ruleId": f.code,
                "ruleIndex": codes.index(f.code),
                "level": "warning",
                "message": {"text": f"{rep.model_name} @ {_shape(rep)}: {f.message}"},
                "locations": [location],
                "partialFingerprints": {"cnninspect/v1": f"{rep.model_name}:{f.code}:{f.path}"},
            })  # fmt: skip
    driver_rules = [
        {
            "id": code,
            "name": rules[code].name,
            "shortDescription": {"text": rules[code].summary},
            "fullDescription": {"text": rules[code].why},
            "help": {"text": f"{rules[code].fix}. Reference: {rules[code].reference}"},
            "helpUri": f"{DOCS}#{code.lower()}",
            "defaultConfiguration": {"level": "warning"},
        }
        for code in codes
    ]
    notes = [
        {"level": "note", "descriptor": {"id": code},
         "message": {"text": f"{rep.model_name}: {code}{f' ({part})' if part else ''} not checked: {why}"}}
        for rep in reports for code, parts in rep.not_checked.items() for part, why in parts
    ]  # fmt: skip
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "cnninspect", "version": __version__,
                "informationUri": DOCS, "rules": driver_rules,
            }},
            "results": results,
            "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notes}],
        }],
    }  # fmt: skip
