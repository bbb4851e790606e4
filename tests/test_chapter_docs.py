"""The docs' chapter page is `cnninspect chapter`'s output, produced by the docs build itself."""

from __future__ import annotations

import html
import sys
from pathlib import Path

from cnninspect.chapter.replay import replay

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_chapter_directive_prints_the_replay(tmp_path, capsys):
    from sphinx.cmd.build import build_main

    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(f"import sys\nsys.path.insert(0, {str(DOCS / '_ext')!r})\nextensions = ['chapter_replay']\n")
    (src / "index.rst").write_text("Chapter\n=======\n\n.. cnninspect-chapter::\n   :errata:\n\n.. cnninspect-chapter::\n")
    warnings = tmp_path / "warnings.txt"
    try:
        status = build_main(["-q", "-W", "-b", "html", "-w", str(warnings), str(src), str(tmp_path / "out")])
    finally:
        sys.path[:] = [p for p in sys.path if p != str(DOCS / "_ext")]
    assert status == 0, warnings.read_text()
    page = html.unescape((tmp_path / "out" / "index.html").read_text())
    full = replay().to_text()
    assert "$ cnninspect chapter --errata" in page
    for line in full.splitlines():
        assert line in page, line
    assert page.count("printed:    421,066") == 4  # the two SimpleCNN errata, in both blocks


def test_the_guide_uses_the_directive_and_the_cli_reference_lists_the_command():
    page = (DOCS / "guide" / "chapter-replay.rst").read_text()
    assert ".. cnninspect-chapter::" in page
    assert "chapter-replay" in (DOCS / "guide" / "index.rst").read_text()
    assert '"chapter_replay"' in (DOCS / "conf.py").read_text()
    from cnninspect.integrations.cli import COMMANDS

    assert "chapter" in COMMANDS  # docs/cli.rst's cnninspect-cli directive documents every command
