"""pytest plugin (entry point ``pytest11``): architecture budgets and snapshots.

Installing cnninspect registers it; nothing to import. This module holds only the
pytest wiring (options, marker, fixtures, collected ``pyproject.toml`` budgets); the
checks and their messages live in :mod:`cnninspect.analyses.budgets` and
:mod:`cnninspect.analyses.snapshot`. torch and the models are imported inside the fixtures,
so merely having cnninspect installed costs a pytest run nothing.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from cnninspect.analyses.budgets import FIELDS, LIMITS, Budget, evaluate, parse_limit, resolve
from cnninspect.errors import CnnInspectError
from cnninspect.integrations.pytest_items import DeclaredModelItem

if TYPE_CHECKING:
    from cnninspect.engine.records import Summary

MARKER = (
    "arch_budget(*, input_shape=None, max_params=None, max_trainable_params=None, max_macs=None, "
    "max_param_bytes=None, min_receptive_field=None, max_receptive_field=None, output_shape=None, "
    "max_layers=None): default limits for the arch_budget fixture in this test (keywords only; "
    "sizes take ints or strings such as '25M', '4.1G', '100MB'); keywords passed to the fixture "
    "call override them one by one."
)
BUDGETS_TABLE = "tool.cnninspect.budgets"
SNAPSHOT_DIR = "__arch_snapshots__"


@dataclass
class _State:
    """What the plugin keeps per pytest run."""

    cli: dict[str, Any] = field(default_factory=dict)
    ini: dict[str, Any] = field(default_factory=dict)
    ini_origin: str = "config file"
    written: list[str] = field(default_factory=list)


_STATE = pytest.StashKey[_State]()


def _failure(message: str) -> BaseException:
    """The test's own failure with just ``message`` (no traceback, no chained cause)."""
    return pytest.fail.Exception(message, pytrace=False)


# --------------------------------------------------------------------------- options


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cnninspect", "cnninspect: architecture budgets and snapshots")
    group.addoption(
        "--arch",
        action="store_true",
        default=False,
        help="also collect the architecture budgets declared in pyproject.toml "
        '[tool.cnninspect.budgets."pkg.module:Model"], one test item per model.',
    )
    group.addoption(
        "--arch-input-shape",
        metavar="SHAPE",
        default=None,
        help="default input shape for the arch_budget fixture, e.g. 1,3,224,224 "
        "(call keywords and the arch_budget marker take precedence).",
    )
    group.addoption(
        "--arch-snapshot-update",
        action="store_true",
        default=False,
        help="write missing architecture snapshots and rewrite changed ones "
        f"({SNAPSHOT_DIR}/<module>/<test>.json) instead of failing.",
    )
    group.addoption(
        "--mnist-root",
        metavar="DIR",
        default=None,
        help="folder holding MNIST/raw/*-ubyte for the mnist_root and cnn_trainer fixtures "
        "(else $CNNINSPECT_DATA, else the mnist_root ini value).",
    )
    parser.addini(
        "arch_budget_input_shape",
        "default input shape for the arch_budget fixture, e.g. 1,3,224,224",
        default="",
    )
    for limit in LIMITS:
        parser.addini(
            f"arch_budget_{limit}",
            f"project-wide default {limit} for the arch_budget fixture (lowest precedence)",
            default="",
        )
    parser.addini(
        "mnist_root", "folder holding MNIST/raw/*-ubyte (relative to the config file)", default=""
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)
    state = _State()
    inifile = config.inipath.name if config.inipath else "the ini file"
    state.ini_origin = f"config file ({inifile})"
    try:
        shape = config.getoption("--arch-input-shape")
        if shape:
            state.cli["input_shape"] = parse_limit(
                "input_shape", shape, "command line (--arch-input-shape)"
            )
        for name in FIELDS:
            raw = str(config.getini(f"arch_budget_{name}") or "").strip()
            if raw:
                origin = f"config file (arch_budget_{name} in {inifile})"
                state.ini[name] = parse_limit(name, raw, origin)
    except CnnInspectError as exc:
        raise pytest.UsageError(f"cnninspect: {exc}") from None
    config.stash[_STATE] = state


def _state(config: pytest.Config) -> _State:
    return config.stash.get(_STATE, None) or _State()


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = []
    if config.getoption("--arch-snapshot-update"):
        lines.append("cnninspect: --arch-snapshot-update: architecture snapshots will be written")
    if config.getoption("--arch"):
        path = _pyproject(config)
        try:
            count = len(declared_budgets(path))
        except pytest.UsageError:
            count = -1  # reported when the items are collected
        if count == 0:
            lines.append(f"cnninspect: --arch: {path.name} declares no [{BUDGETS_TABLE}] to check")
        elif count > 0:
            lines.append(f"cnninspect: --arch: {count} architecture budget(s) from {path.name}")
    return lines


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    written = _state(config).written
    if written:
        terminalreporter.write_sep(
            "-", f"cnninspect: {len(written)} architecture snapshot(s) written"
        )
        for path in written:
            terminalreporter.write_line(f"  {path}")


# --------------------------------------------------------------------------- budgets


class ArchBudget:
    """What the ``arch_budget`` fixture gives a test: call it with a model and limits."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request

    def __call__(
        self,
        model: Any,
        input_shape: Any = None,
        *,
        max_params: int | str | None = None,
        max_trainable_params: int | str | None = None,
        max_macs: int | str | None = None,
        max_param_bytes: int | str | None = None,
        min_receptive_field: int | None = None,
        max_receptive_field: int | None = None,
        output_shape: Any = None,
        max_layers: int | None = None,
        max_activation_memory: int | str | None = None,
        max_train_memory: int | str | None = None,
    ) -> Summary:
        """Summarise ``model`` and fail the test, with the layers to blame, if it breaks a limit.

        ``model`` is an ``nn.Module`` or a spec (``"pkg.module:attr"`` or a fixture name
        such as ``"simple-cnn"``). Returns the :class:`~cnninspect.Summary` so a test can
        check more.
        """
        call = {
            "input_shape": input_shape,
            "max_params": max_params,
            "max_trainable_params": max_trainable_params,
            "max_macs": max_macs,
            "max_param_bytes": max_param_bytes,
            "min_receptive_field": min_receptive_field,
            "max_receptive_field": max_receptive_field,
            "output_shape": output_shape,
            "max_layers": max_layers,
            "max_activation_memory": max_activation_memory,  # "24GiB @ batch=64, optimizer=adamw"
            "max_train_memory": max_train_memory,
        }
        config = self._request.config
        state = _state(config)
        try:
            budget = resolve(
                ("call", call),
                ("arch_budget marker", _marker_kwargs(self._request.node)),
                ("command line (--arch-input-shape)", state.cli),
                (state.ini_origin, state.ini),
            )
        except CnnInspectError as exc:
            raise _failure(str(exc)) from None
        return _run_budget(model, budget, "arch_budget")


def _marker_kwargs(node: pytest.Item) -> dict[str, Any]:
    """The arch_budget markers on the test, its class and module; the closest wins per keyword."""
    merged: dict[str, Any] = {}
    for mark in node.iter_markers("arch_budget"):
        if mark.args:
            pytest.fail(
                f"@pytest.mark.arch_budget takes keywords only, got positional {mark.args!r}; "
                "write e.g. @pytest.mark.arch_budget(max_params='25M')",
                pytrace=False,
            )
        for key, value in mark.kwargs.items():
            merged.setdefault(key, value)
    return merged


INPUT_HINT = (
    "pass input_shape (to the call, the arch_budget marker or the budget table) "
    "or --arch-input-shape, e.g. --arch-input-shape 1,3,224,224"
)


def _run_budget(model: Any, budget: Budget, who: str) -> Summary:
    from cnninspect.engine.inputs import choose_input
    from cnninspect.engine.summary import summarize

    if not budget.limits:
        pytest.fail(
            f"{who}: no limit to check; pass at least one of {', '.join(LIMITS)} "
            "(to the call, the arch_budget marker or the config file)",
            pytrace=False,
        )
    try:
        name = model if isinstance(model, str) else None
        if isinstance(model, str):
            from cnninspect.integrations.spec import load_model

            model = load_model(model).model
        inputs = choose_input(model, budget.input_shape, name=name, hint=INPUT_HINT)
        summary = summarize(model, inputs)
        message = evaluate(summary, budget)
    except CnnInspectError as exc:
        raise _failure(f"{who}: {exc}") from None
    if message:
        pytest.fail(message, pytrace=False)
    return summary


@pytest.fixture
def arch_budget(request: pytest.FixtureRequest) -> ArchBudget:
    """Check a model against an architecture budget; a broken limit fails the test.

    ``arch_budget(model, input_shape=None, *, max_params=None, max_trainable_params=None,
    max_macs=None, max_param_bytes=None, min_receptive_field=None, max_receptive_field=None,
    output_shape=None, max_layers=None)`` returns the model's cnninspect Summary.
    Sizes take ints or strings such as "25M", "4.1G", "100MB". Each keyword left out
    comes from @pytest.mark.arch_budget(...), then --arch-input-shape, then the ini
    values arch_budget_<keyword>. The receptive-field limits use the last spatial output.
    """
    return ArchBudget(request)


# --------------------------------------------------------------------------- pyproject budgets


def _pyproject(config: pytest.Config) -> Path:
    if config.inipath is not None and config.inipath.name == "pyproject.toml":
        return Path(config.inipath)
    return Path(config.rootpath) / "pyproject.toml"


def _load_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise pytest.UsageError(
                f"cnninspect: reading budgets from {path.name} needs Python 3.11 or the 'tomli' package"
            ) from None
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise pytest.UsageError(f"cnninspect: cannot read budgets from {path}: {exc}") from None


def declared_budgets(path: Path) -> dict[str, Any]:
    """``[tool.cnninspect.budgets]`` of a pyproject.toml: model spec -> its table (unchecked)."""
    if not path.is_file():
        return {}
    data = _load_toml(path)
    table: Any = data
    for key in BUDGETS_TABLE.split("."):
        if not isinstance(table, dict) or key not in table:
            return {}
        table = table[key]
    if not isinstance(table, dict):
        raise pytest.UsageError(
            f"cnninspect: {path.name}: [{BUDGETS_TABLE}] must be a table of model specs, e.g. "
            f'[{BUDGETS_TABLE}."mypkg.models:Net"], got {type(table).__name__}'
        )
    return table


class BudgetFile(pytest.File):
    """pyproject.toml as a collector of one budget item per declared model."""

    def collect(self) -> Iterator[BudgetItem]:
        for spec, table in declared_budgets(self.path).items():
            yield BudgetItem.from_parent(self, name=f"arch_budget[{spec}]", spec=spec, declared=table)


class BudgetItem(DeclaredModelItem):
    """One model's budget from pyproject.toml, run like a test; declared: its budget table."""

    what = "architecture budget for"

    def runtest(self) -> None:
        key = f'{BUDGETS_TABLE}."{self.spec}"'
        table = self.declared
        if not isinstance(table, dict):
            pytest.fail(
                f"{self.path.name}: [{key}] must be a table with input_shape and limits, "
                f"got {type(table).__name__} {table!r}",
                pytrace=False,
            )
        state = _state(self.config)
        try:
            budget = resolve(
                (f"config file ({self.path.name}, [{key}])", table),
                ("command line (--arch-input-shape)", state.cli),
                (state.ini_origin, state.ini),
            )
        except CnnInspectError as exc:
            raise _failure(str(exc)) from None
        _run_budget(self.spec, budget, f"{self.path.name} [{key}]")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """With ``--arch``, add the pyproject budgets before -k/-m select among the items."""
    if not config.getoption("--arch"):
        return
    path = _pyproject(config)
    if not declared_budgets(path):
        return
    collector = BudgetFile.from_parent(session, path=path)
    items.extend(collector.collect())


# --------------------------------------------------------------------------- snapshots


class ArchSnapshot:
    """Compares equal to a Summary whose architecture matches the stored snapshot.

    ``assert arch_snapshot == cnninspect.summarize(model, shape)``; a second comparison
    in the same test uses ``<test>.2.json``, a third ``<test>.3.json`` and so on.
    """

    __hash__ = None  # type: ignore[assignment]

    def __init__(self, request: pytest.FixtureRequest) -> None:
        node = request.node
        self._config = request.config
        self._update = bool(request.config.getoption("--arch-snapshot-update"))
        self.directory = Path(node.path).parent / SNAPSHOT_DIR / Path(node.path).stem
        name = node.name if request.cls is None else f"{request.cls.__name__}.{node.name}"
        self.name = re.sub(r"[^\w.\[\]=,+-]", "_", name)
        self._count = 0
        self._nodeid = node.nodeid

    def path(self, index: int = 1) -> Path:
        return self.directory / (f"{self.name}.json" if index == 1 else f"{self.name}.{index}.json")

    def _shown(self, path: Path) -> str:
        try:
            return str(path.relative_to(self._config.rootpath))
        except ValueError:
            return str(path)

    def __eq__(self, other: object) -> bool:
        from cnninspect import snapshot
        from cnninspect.engine.records import Summary

        if not isinstance(other, Summary):
            pytest.fail(
                f"arch_snapshot compares with a cnninspect Summary, got {type(other).__name__}; "
                "write: assert arch_snapshot == cnninspect.summarize(model, input_shape)",
                pytrace=False,
            )
        self._count += 1
        path = self.path(self._count)
        shown = self._shown(path)
        now = snapshot.snapshot_data(other)
        if self._update:
            stale = True
            if path.is_file():
                try:
                    stale = bool(snapshot.diff(snapshot.read(path, shown), now))
                except CnnInspectError:
                    stale = True
            if stale:
                snapshot.write(path, now)
                _state(self._config).written.append(shown)
            return True
        if not path.is_file():
            pytest.fail(
                f"no architecture snapshot for {self._nodeid} at {shown}; create it with "
                f"`pytest --arch-snapshot-update {self._nodeid}`, check the file and commit it",
                pytrace=False,
            )
        try:
            old = snapshot.read(path, shown)
        except CnnInspectError as exc:
            raise _failure(str(exc)) from None
        changes = snapshot.diff(old, now)
        if changes:
            lines = [
                f"Architecture of {other.model_name} differs from snapshot {shown}  [- snapshot] [+ now]:"
            ]
            lines += [f"  {change}" for change in changes]
            lines.append(
                f"If the change is intended, update the snapshot: pytest --arch-snapshot-update {self._nodeid}"
            )
            pytest.fail("\n".join(lines), pytrace=False)
        return True

    def __repr__(self) -> str:
        return f"<arch_snapshot {self.name}>"


@pytest.fixture
def arch_snapshot(request: pytest.FixtureRequest) -> ArchSnapshot:
    """Architecture regression test: ``assert arch_snapshot == cnninspect.summarize(model, shape)``.

    Compares every layer's name, kind, output shape, params, MACs and receptive field with
    __arch_snapshots__/<module>/<test>.json beside the test file. A missing or different
    snapshot fails with a per-layer diff; run pytest --arch-snapshot-update to write it.
    """
    return ArchSnapshot(request)


# --------------------------------------------------------------------------- models and data


def _seeded(factory: Any, seed: int = 0) -> Any:
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory()


@pytest.fixture
def simple_cnn() -> Any:
    """A fresh SimpleCNN (the chapter's MNIST classifier), weights seeded with 0; input 1x1x28x28."""
    from cnninspect.chapter.models import SimpleCNN

    return _seeded(SimpleCNN)


@pytest.fixture
def custom_cnn() -> Any:
    """A fresh CustomCNN (the chapter's exercise 4), weights seeded with 0; input 1x3x32x32."""
    from cnninspect.chapter.models import CustomCNN

    return _seeded(CustomCNN)


MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def find_mnist_root(config: pytest.Config) -> tuple[Path | None, str]:
    """The data folder and where it came from: --mnist-root, $CNNINSPECT_DATA, then the ini value."""
    option = config.getoption("--mnist-root")
    if option:
        return Path(option).expanduser(), "--mnist-root"
    env = os.environ.get("CNNINSPECT_DATA")
    if env:
        return Path(env).expanduser(), "$CNNINSPECT_DATA"
    ini = str(config.getini("mnist_root") or "").strip()
    if ini:
        base = Path(config.inipath).parent if config.inipath else Path(config.rootpath)
        return (base / Path(ini).expanduser()).resolve(), "the mnist_root ini value"
    return None, ""


def _missing_mnist(root: Path) -> list[str]:
    raw = root / "MNIST" / "raw"
    return [n for n in MNIST_FILES if not (raw / n).is_file()]


@pytest.fixture
def mnist_root(request: pytest.FixtureRequest) -> Path:
    """The MNIST data folder (holding MNIST/raw/*-ubyte), from --mnist-root, $CNNINSPECT_DATA
    or the mnist_root ini value; the test is skipped, saying where it looked, when absent."""
    root, origin = find_mnist_root(request.config)
    if root is None:
        pytest.skip(
            "MNIST not configured: pass --mnist-root DIR, set CNNINSPECT_DATA or the mnist_root ini value"
        )
    missing = _missing_mnist(root)
    if missing:
        pytest.skip(
            f"MNIST not found in {root}/MNIST/raw (from {origin}): missing {', '.join(missing)}"
        )
    return root


@pytest.fixture
def cnn_trainer(request: pytest.FixtureRequest) -> Any:
    """The cnninspect trainer (cnninspect.chapter.train.fit) on the best device, with a small budget.

    Call it as ``cnn_trainer(model, **overrides)``: it trains on MNIST from the
    mnist_root fixture for one epoch over a few hundred batches and returns the
    per-epoch metrics. Skipped when the data or the trainer is absent.
    """
    root = request.getfixturevalue("mnist_root")
    try:
        from cnninspect.chapter.train import Trainer, pick_device
    except ImportError as exc:  # a trimmed install without the trainer
        pytest.skip(f"cnninspect.chapter.train cannot be imported here ({exc})")
    return Trainer(device=str(pick_device("auto")), data_dir=root)


# --------------------------------------------------------------------------- architecture lint
# The arch_lint fixture and marker and --arch-lint live in a module of their own; pytest
# loads it with this plugin (cnninspect lint, issue 17).
pytest_plugins = ["cnninspect.integrations.pytest_lint"]
