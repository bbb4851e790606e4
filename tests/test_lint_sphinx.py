"""The cnninspect-lint directive in a real ``sphinx-build -W``: findings as a table, or a clean line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_sphinx import build, tables_of

ROOTS = Path(__file__).parent / "roots"


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    src = tmp_path_factory.mktemp("lint") / "src"
    shutil.copytree(ROOTS / "test-lint", src)
    status, out, warnings = build(src, "-W")
    assert status == 0, warnings
    return (out / "index.html").read_text(encoding="utf-8"), tables_of(out / "index.html")


def test_findings_table(page):
    html, tables = page
    lint = [t for t in tables if any("code" == c for c, _ in t["rows"][0])]
    assert len(lint) == 2
    header = [c for c, _ in lint[0]["rows"][0]]
    assert header == ["code", "layer", "finding", "fix"]
    [row] = [[c for c, _ in r] for r in lint[0]["rows"][1:]]
    assert row[:2] == ["CNN102", "fc1"] and "holds 401,408 of 421,642 parameters (95 %)" in row[2]
    [row] = [[c for c, _ in r] for r in lint[1]["rows"][1:]]
    assert row[0] == "CNN203" and "smaller than the object size 12x12" in row[2]
    assert 'id="simple-lint"' in html


def test_clean_result_is_one_line(page):
    html, _ = page
    assert "SimpleCNN without CNN102: no findings from 11 rules." in html
