"""``[tool.cnninspect.lint]`` in pyproject.toml: what the command line and pytest read.

.. code-block:: toml

    [tool.cnninspect.lint]
    select = ["CNN"]                       # codes or prefixes; default: every rule
    ignore = ["CNN203"]
    object-size = 64                       # or [64, 96]
    precision = "bfloat16"
    baseline = "lint-baseline.json"        # known findings, relative to pyproject.toml
    [tool.cnninspect.lint.per-layer-ignores]
    "layer*.0.downsample.0" = ["CNN201"]   # fnmatch pattern on the module path -> codes
    [tool.cnninspect.lint.models]          # what `pytest --arch-lint` lints
    "torchvision.models:resnet18" = "1,3,224,224"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnninspect.errors import OptionError

_KEYS = {"select", "ignore", "object-size", "precision", "baseline", "per-layer-ignores", "models"}


@dataclass
class LintConfig:
    """The lint settings of one project (all optional)."""

    select: list[str] | None = None
    ignore: list[str] = field(default_factory=list)
    per_layer_ignores: dict[str, list[str]] = field(default_factory=dict)
    object_size: int | tuple[int, ...] | None = None
    precision: str | None = None
    baseline: Path | None = None
    models: dict[str, str] = field(default_factory=dict)  # model spec -> input shape text
    source: Path | None = None  # the pyproject.toml it came from

    @classmethod
    def from_table(cls, table: dict[str, Any], source: Path | None = None) -> LintConfig:
        where = f"[tool.cnninspect.lint] in {source}" if source else "[tool.cnninspect.lint]"
        unknown = set(table) - _KEYS
        if unknown:
            raise OptionError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(_KEYS))}")
        size = table.get("object-size")
        if size is not None and not (
            isinstance(size, int) or (isinstance(size, list) and all(isinstance(s, int) for s in size))
        ):
            raise OptionError(f"{where}: object-size must be an int or a list of ints, e.g. 64 or [64, 96]")
        baseline = table.get("baseline")
        base_dir = source.parent if source is not None else Path.cwd()
        return cls(
            select=_codes(table.get("select"), where, "select"),
            ignore=_codes(table.get("ignore"), where, "ignore") or [],
            per_layer_ignores={
                str(k): _codes(v, where, f"per-layer-ignores.{k}") or []
                for k, v in _table(table.get("per-layer-ignores"), where).items()
            },
            object_size=tuple(size) if isinstance(size, list) else size,
            precision=table.get("precision"),
            baseline=(base_dir / baseline) if baseline else None,
            models={str(k): str(v) for k, v in _table(table.get("models"), where).items()},
            source=source,
        )


def _codes(value: Any, where: str, key: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise OptionError(f'{where}: {key} must be a list of rule codes, e.g. ["CNN101", "CNN2"]')
    return list(value)


def _table(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise OptionError(f"{where}: expected a table, got {type(value).__name__}")
    return value


def find_pyproject(start: Path | None = None) -> Path | None:
    """The nearest pyproject.toml at or above ``start`` (the working directory by default)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_config(path: Path | None = None) -> LintConfig:
    """The ``[tool.cnninspect.lint]`` table of ``path`` (or the nearest pyproject.toml)."""
    path = path if path is not None else find_pyproject()
    if path is None:
        return LintConfig()
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ImportError:
            raise OptionError(f"reading {path} needs Python 3.11 or the 'tomli' package") from None
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise OptionError(f"cannot read {path}: {exc}") from None
    table = data.get("tool", {}).get("cnninspect", {}).get("lint", {})
    return LintConfig.from_table(table, source=path)
