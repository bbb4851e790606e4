"""docs/lint.rst documents every rule: a section per code with what, why, example, fix and the zoo,
citing the reference the rule itself gives; docs/lint-zoo.rst counts only rules that exist."""

from __future__ import annotations

import re
from pathlib import Path

from cnninspect.analyses.lint import all_rules

DOCS = Path(__file__).resolve().parents[1] / "docs"


def sections() -> dict[str, str]:
    text = (DOCS / "lint.rst").read_text()
    parts = re.split(r"^(CNN\d{3}) ([a-z-]+)\n~+\n", text, flags=re.M)
    return {parts[i]: (parts[i + 1], parts[i + 2]) for i in range(1, len(parts) - 1, 3)}


def test_every_rule_has_its_section():
    found = sections()
    rules = all_rules()
    assert sorted(found) == sorted(rules)
    for code, rule in rules.items():
        name, body = found[code]
        assert name == rule.name
        for part in ("**What.**", "**Why.**", "**Example.**", "**Fix.**", "**On the model zoo.**"):
            assert part in body, f"{code} lacks {part}"
        first_author = re.match(r"[A-Z][A-Za-z]+", rule.reference).group(0)
        assert first_author in body, f"{code}'s section does not cite {rule.reference}"


def test_zoo_table_names_the_rules():
    zoo = (DOCS / "lint-zoo.rst").read_text()
    for source in ("torchvision", "the timm panel"):
        counted = re.search(rf"Findings per rule on {source}: (.*)\.", zoo).group(1)
        assert [c.split()[0] for c in counted.split(", ")] == list(all_rules())
