"""Turn a model spec (``package.module:attr`` or a fixture name) into an ``nn.Module``.

The CLI, the Sphinx directive and the pytest plugin all take the same spec, so the
rules and the error messages live here once.
"""

from __future__ import annotations

import importlib
import inspect
import json
from dataclasses import dataclass
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

    ``spec`` is a fixture name (``simple-cnn``) or ``package.module:attr`` where
    ``attr`` (dotted for nested attributes) is an ``nn.Module`` instance, an
    ``nn.Module`` subclass or a factory callable.
    """
    from torch import nn

    from cnninspect.chapter.models import FIXTURES

    kwargs = dict(kwargs or {})
    if spec in FIXTURES:
        fixture = FIXTURES[spec]
        model = _call(fixture.factory, spec, kwargs)
        return LoadedModel(spec, model, fixture.input_shape, inspect.getsourcefile(type(model)))
    if ":" not in spec:
        known = ", ".join(FIXTURES)
        raise ModelSpecError(
            f"model spec {spec!r} is neither a fixture ({known}) nor of the form "
            "'package.module:attr' (e.g. 'torchvision.models:resnet18')"
        )
    module_name, _, attr_path = spec.partition(":")
    if not module_name or not attr_path:
        raise ModelSpecError(
            f"model spec {spec!r} needs both parts: 'package.module:attr', e.g. 'torchvision.models:resnet18'"
        )
    module = _import(module_name, spec)
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
    default_shape = getattr(model, "default_input_shape", None)
    try:
        source = inspect.getsourcefile(type(model))
    except TypeError:
        source = None
    return LoadedModel(spec, model, tuple(default_shape) if default_shape else None, source)


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
