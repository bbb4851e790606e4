"""Old module paths, kept importable for one release after the move into layered packages.

``import cnninspect.receptive`` still works and gives the very module object now at
``cnninspect.engine.receptive`` (not a second copy, so rule registries stay single).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from types import CodeType, ModuleType

MOVED = {
    "trace": "engine.trace", "propagate": "engine.propagate", "inventory": "engine.inventory",
    "guard": "engine.guard", "hookpass": "engine.hookpass", "scriptpass": "engine.scriptpass",
    "hooks": "engine.hooks", "inputs": "engine.inputs", "summary": "engine.summary",
    "records": "engine.records", "ops": "engine.ops",
    "receptive.plot": "renderers.receptive_plot", "receptive.gradcheck": "analyses.gradcheck", "receptive": "engine.receptive",
    "fc": "analyses.fc", "verification": "analyses.verification",
    "reference": "analyses.reference", "snapshot": "analyses.snapshot",
    "budgets": "analyses.budgets", "zoo": "analyses.zoo",
    "render": "renderers.text", "viz": "chapter.viz",
    "cli": "integrations.cli", "commands": "integrations.commands",
    "pytest_plugin": "integrations.pytest_plugin", "sphinx": "integrations.sphinx",
    "spec": "integrations.spec",
    "models": "chapter.models", "data": "chapter.data", "train": "chapter.train",
}  # fmt: skip


def new_name(old: str) -> str | None:
    """``cnninspect.receptive.gradcheck`` -> ``cnninspect.analyses.gradcheck``."""
    if not old.startswith("cnninspect."):
        return None
    rest = old[len("cnninspect.") :]
    for moved in sorted(MOVED, key=len, reverse=True):
        if rest == moved or rest.startswith(moved + "."):
            return "cnninspect." + MOVED[moved] + rest[len(moved) :]
    return None


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        new = new_name(fullname)
        if new is None:
            return None
        real = importlib.util.find_spec(new)
        if real is None:
            return None
        return importlib.machinery.ModuleSpec(
            fullname, self, is_package=real.submodule_search_locations is not None
        )

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        target = new_name(spec.name)
        assert target is not None
        return importlib.import_module(target)

    def exec_module(self, module: ModuleType) -> None:
        """The module was executed under its new name already."""

    def get_code(self, fullname: str) -> CodeType | None:
        """For ``python -m cnninspect.train``: runpy runs the moved module's code."""
        target = new_name(fullname)
        spec = importlib.util.find_spec(target) if target else None
        loader = getattr(spec, "loader", None)
        return loader.get_code(target) if loader is not None else None


def install() -> None:
    if not any(isinstance(f, _Alias) for f in sys.meta_path):
        sys.meta_path.insert(0, _Alias())  # before the path finder, which would load a copy
