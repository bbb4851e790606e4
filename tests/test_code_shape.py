"""The package's shape, held as tests: short functions, one-way layers, rules in one catalogue."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cnninspect"
MAX_LINES = 60
# engine -> analyses -> renderers -> integrations: a layer imports only from layers before it.
LAYERS = ["engine", "analyses", "renderers", "integrations"]
# Records whose methods are the user's shortcut to a later layer (``summary.to_json()``,
# ``summary.memory()``, ``report.to_sarif()``): those methods may import it when called;
# the module itself may not.
FACADES = {"engine/records.py", "analyses/lint/report.py"}


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _long_functions(path: Path) -> list[str]:
    """Functions over MAX_LINES lines with no ``# long: <reason>`` comment just above them."""
    lines = path.read_text().splitlines()
    found = []
    for node in ast.walk(ast.parse("\n".join(lines))):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if node.end_lineno - node.lineno + 1 <= MAX_LINES:
            continue
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        above = lines[first - 2].strip() if first >= 2 else ""
        if not above.startswith("# long:") or len(above) < len("# long: ") + 10:
            found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name}")
    return found


def test_no_function_is_longer_than_sixty_lines_without_a_reason() -> None:
    offenders = [f for path in _modules() for f in _long_functions(path)]
    assert not offenders, f"split these, or write '# long: <why>' above them: {offenders}"


def _imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    facade = path.relative_to(PACKAGE).as_posix() in FACADES
    nodes = tree.body if facade else ast.walk(tree)
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("layer", LAYERS[:-1])
def test_a_layer_never_imports_from_a_later_one(layer: str) -> None:
    later = LAYERS[LAYERS.index(layer) + 1 :] + ["chapter"]
    offenders = [
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in sorted((PACKAGE / layer).rglob("*.py"))
        for name in _imported(path)
        if any(name.startswith(f"cnninspect.{other}") for other in later)
    ]
    assert not offenders, offenders


def test_the_long_function_check_can_fail(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    (tmp_path / "m.py").write_text(f"def f():\n{body}\n\n\n# long: one table, read top to bottom\ndef g():\n{body}\n")
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path
    try:
        assert [s.split()[-1] for s in _long_functions(tmp_path / "m.py")] == ["f"]
    finally:
        PACKAGE = saved
