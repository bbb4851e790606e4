"""Every example of docs/coming-from-torchinfo.rst runs, and prints the table the page shows.

The page's python blocks run in order in one namespace (their asserts are checked); a text
block right after a python block is the output that block must print, line for line.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[1] / "docs" / "coming-from-torchinfo.rst"
_BLOCK = re.compile(r"^\.\. code-block:: (\w+)\n\n((?:(?:   .*)?\n)+)", re.MULTILINE)


def blocks() -> list[tuple[str, str]]:
    """(language, dedented code) of every code block, in page order."""
    out = []
    for lang, body in _BLOCK.findall(PAGE.read_text()):
        lines = [line[3:] for line in body.rstrip("\n").split("\n")]
        out.append((lang, "\n".join(lines)))
    return out


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_every_example_runs_and_prints_what_the_page_shows() -> None:
    page = blocks()
    assert sum(lang == "python" for lang, _ in page) >= 5
    namespace: dict = {"__name__": "coming_from_torchinfo"}
    checked = 0
    for i, (lang, code) in enumerate(page):
        if lang != "python":
            continue
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, f"{PAGE.name} block {i}", "exec"), namespace)
        following = page[i + 1] if i + 1 < len(page) else None
        if following and following[0] == "text":
            shown = [line.rstrip() for line in following[1].strip().splitlines()]
            assert [line.rstrip() for line in printed.getvalue().strip().splitlines()] == shown
            checked += 1
    assert checked == 2


def test_the_page_is_in_the_toctree() -> None:
    index = (PAGE.parent / "index.rst").read_text()
    assert re.search(r"^\s+coming-from-torchinfo$", index, re.MULTILINE)
