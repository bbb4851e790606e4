"""Turn a model spec (``package.module:attr``, ``path/to/file.py:attr`` or a fixture name) into an ``nn.Module``.

The CLI, the Sphinx directive and the pytest plugin all take the same spec, so the
rules and the error messages live here once.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnninspect.errors import ModelSpecError


@dataclass(frozen=True)
class LoadedModel:
    """A model built from a spec, with the input shape its spec suggests (if any)."""

    spec: str
    model: Any  # torch.nn.Module; kept loose so importing this module stays cheap
    default_input_shape: tuple[int, ...] | None
    source_file: str | None


def parse_kwargs(text: str | None) -> dict[str, Any]:
    """Parse ``--kwargs`` JSON into a dict, with an error that shows the bad text."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelSpecError(
            f"--kwargs is not valid JSON ({exc.msg} at column {exc.colno}): {text!r}; "
            "write e.g. --kwargs '{\"num_classes\": 10}'"
        ) from None
    if not isinstance(value, dict):
        raise ModelSpecError(
            f"--kwargs must be a JSON object, got {type(value).__name__}: {text!r}"
        )
    return value


def load_model(spec: str, kwargs: dict[str, Any] | None = None) -> LoadedModel:
    """Build the model a spec names.

    ``spec`` is a fixture name (``simple-cnn``), ``package.module:attr`` or
    ``path/to/file.py:attr`` (absolute, or relative to the current directory, else
    to a ``sys.path`` entry such as a docs ``conf.py`` adds), where ``attr``
    (dotted for nested attributes) is an ``nn.Module`` instance, an ``nn.Module``
    subclass or a factory callable.
    """
    from torch import nn

    from cnninspect.chapter.models import FIXTURES

    kwargs = dict(kwargs or {})
    if spec in FIXTURES:
        fixture = FIXTURES[spec]
        model = _call(fixture.factory, spec, kwargs)
        return LoadedModel(spec, model, _default_shape(model), inspect.getsourcefile(type(model)))
    module_name, attr_path = _split(spec, ", ".join(FIXTURES))
    module = _import_file(module_name, spec) if _is_path(module_name) else _import(module_name, spec)
    obj: Any = module
    walked = module_name
    for part in attr_path.split("."):
        if not hasattr(obj, part):
            raise ModelSpecError(
                f"model spec {spec!r}: {walked!r} has no attribute {part!r}; "
                "check the name after ':'"
            )
        obj = getattr(obj, part)
        walked = f"{walked}:{part}" if walked == module_name else f"{walked}.{part}"
    if isinstance(obj, nn.Module):
        if kwargs:
            raise ModelSpecError(
                f"model spec {spec!r} names a module instance; --kwargs only apply to classes and factories"
            )
        model = obj
    elif callable(obj):
        model = _call(obj, spec, kwargs)
    else:
        raise ModelSpecError(
            f"model spec {spec!r} names a {type(obj).__name__}, not an nn.Module, a class or a factory"
        )
    if not isinstance(model, nn.Module):
        raise ModelSpecError(
            f"model spec {spec!r}: calling it returned a {type(model).__name__}, not an nn.Module"
        )
    try:
        source = inspect.getsourcefile(type(model))
    except TypeError:
        source = None
    return LoadedModel(spec, model, _default_shape(model), source)


def _default_shape(model: Any) -> Any:
    """The model's default input (read in one place: ``engine.inputs.default_input``)."""
    from cnninspect.engine.inputs import default_input

    found = default_input(model)
    return None if found is None else found.input_shape


def _is_path(module_part: str) -> bool:
    return module_part.endswith(".py") or "/" in module_part or os.sep in module_part


def _split(spec: str, known: str) -> tuple[str, str]:
    """``(module or file, attr)``; a file path splits at its last ':' (so ``C:\\m.py:Net`` works)."""
    if ":" not in spec:
        if spec.endswith(".py"):
            raise ModelSpecError(
                f"model spec {spec!r} names a file but not the model in it; add ':' and its name, "
                f"e.g. '{spec}:Net'"
            )
        raise ModelSpecError(
            f"model spec {spec!r} is neither a fixture ({known}) nor of the form "
            "'package.module:attr' or 'path/to/file.py:attr' (e.g. 'torchvision.models:resnet18')"
        )
    head, _, attr_path = spec.rpartition(":") if ".py:" in spec else spec.partition(":")
    if not head or not attr_path:
        raise ModelSpecError(
            f"model spec {spec!r} needs both parts: 'package.module:attr' or 'path/to/file.py:attr', "
            "e.g. 'torchvision.models:resnet18'"
        )
    return head, attr_path


def _find_file(path_text: str, spec: str) -> Path:
    path = Path(path_text).expanduser()
    bases = [Path.cwd()] + [Path(p) for p in sys.path if p and not path.is_absolute()]
    for candidate in [path] if path.is_absolute() else [base / path for base in bases]:
        if candidate.is_file():
            return candidate.resolve()
    raise ModelSpecError(
        f"model spec {spec!r}: no file {path_text!r} (looked in {Path.cwd()} and on sys.path); "
        "check the path before ':' (relative paths start from the current directory)"
    )


def _import_file(path_text: str, spec: str) -> Any:
    """Import a model file by path, with its folder on ``sys.path`` so its own imports work."""
    path = _find_file(path_text, spec)
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:8]
    name = f"{path.stem}_{digest}" if path.stem.isidentifier() else f"model_{digest}"
    mtime = path.stat().st_mtime_ns
    known = sys.modules.get(name)
    if known is not None and getattr(known, "_cnninspect_mtime", None) == mtime:
        return known  # unchanged since it was loaded; an edited file (a docs rebuild) loads afresh
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise ModelSpecError(f"model spec {spec!r}: {path} is not an importable Python file")
    module = importlib.util.module_from_spec(module_spec)
    module._cnninspect_mtime = mtime  # type: ignore[attr-defined]
    sys.modules[name] = module
    sys.path.insert(0, str(path.parent))
    try:
        module_spec.loader.exec_module(module)
    except BaseException as exc:
        sys.modules.pop(name, None)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise ModelSpecError(f"model spec {spec!r}: running {path} raised {type(exc).__name__}: {exc}") from exc
    finally:
        sys.path.remove(str(path.parent))
    return module


def _import(module_name: str, spec: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or module_name
        if missing == module_name or module_name.startswith(missing + "."):
            raise ModelSpecError(
                f"model spec {spec!r}: no module named {missing!r}; "
                "check the part before ':' and that its package is installed"
            ) from None
        raise ModelSpecError(
            f"model spec {spec!r}: importing {module_name!r} failed because it needs {missing!r}, "
            "which is not installed"
        ) from exc
    except Exception as exc:  # the user's module raised while importing
        raise ModelSpecError(
            f"model spec {spec!r}: importing {module_name!r} raised {type(exc).__name__}: {exc}"
        ) from exc


def _call(factory: Any, spec: str, kwargs: dict[str, Any]) -> Any:
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        signature = None
    if signature is not None:
        try:
            signature.bind(**kwargs)
        except TypeError as exc:
            raise ModelSpecError(
                f"model spec {spec!r} cannot be called with {sorted(kwargs) or 'no arguments'}: {exc}; "
                "pass its arguments with --kwargs '{\"name\": value}'"
            ) from None
    try:
        return factory(**kwargs)
    except Exception as exc:
        raise ModelSpecError(
            f"model spec {spec!r}: building the model raised {type(exc).__name__}: {exc}"
        ) from exc
