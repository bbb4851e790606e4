"""Modules moved into the layered packages still import by their old paths, as the same objects."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from cnninspect import _moved


@pytest.mark.parametrize("old", sorted(_moved.MOVED))
def test_an_old_path_gives_the_new_module_itself(old: str) -> None:
    new = _moved.new_name(f"cnninspect.{old}")
    assert importlib.import_module(f"cnninspect.{old}") is importlib.import_module(new)


def test_a_submodule_of_an_old_package_is_not_loaded_twice() -> None:
    # a second copy would hold a second rule table: a rule registered in one would not reach the other
    from cnninspect.ops import shapes as old_shapes

    from cnninspect.engine.ops import shapes

    assert old_shapes is shapes


def test_python_dash_m_on_an_old_package_runs_the_moved_main() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cnninspect.train", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "--epochs" in done.stdout


def test_names_outside_the_moved_ones_are_left_alone() -> None:
    assert _moved.new_name("cnninspect.errors") is None
    assert _moved.new_name("torch.nn") is None
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("cnninspect.no_such_module")


@pytest.mark.parametrize(
    "module",
    [
        "cnninspect.engine.trace",
        "cnninspect.engine.ops.catalogue",
        "cnninspect.engine.propagate",
        "cnninspect.engine.receptive.analyse",
        "cnninspect.engine.hookpass",
    ],
)
def test_an_engine_module_imports_first_on_its_own(module):
    """Imported before anything else of cnninspect (no circular import hides behind the package)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
