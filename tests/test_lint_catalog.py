"""The lint's documentation table and its checks are joined by code, and a code with one
but not the other is refused: no rule runs undocumented, none is documented without running."""

from __future__ import annotations

import pytest

from cnninspect.analyses.lint import all_rules, registry
from cnninspect.analyses.lint.catalog import DOCS


def test_every_documented_code_has_its_check_and_no_other():
    rules = all_rules()
    assert list(rules) == sorted(doc.code for doc in DOCS)
    assert set(registry.CHECKS) == set(rules)
    assert {r.check.__module__.rsplit(".", 1)[1] for r in rules.values()} == {
        "params", "coverage", "alignment", "linearity", "order", "hardware"
    }  # fmt: skip


def test_a_check_without_documentation_is_refused():
    with pytest.raises(RuntimeError, match="CNN999 .*no entry in lint/catalog.py"):
        registry.rule("CNN999")(lambda ctx: iter(()))
    assert "CNN999" not in registry.CHECKS


def test_a_check_registered_twice_is_refused():
    with pytest.raises(RuntimeError, match="CNN101 is registered twice"):
        registry.rule("CNN101")(lambda ctx: iter(()))


def test_documentation_without_a_check_is_refused(monkeypatch):
    monkeypatch.delitem(registry.CHECKS, "CNN402")
    with pytest.raises(RuntimeError, match="documents CNN402 but no check registers"):
        all_rules()
