"""Arguments and steps that several commands share: the model spec and its input."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from cnninspect.errors import InputShapeError, OptionError


def add_model_arguments(parser: argparse.ArgumentParser, many: bool = False) -> None:
    """MODEL (a fixture name or package.module:attr), --input-shape, --kwargs, --device, --dtype, --debug."""
    if many:
        parser.add_argument(
            "model",
            nargs="+",
            metavar="MODEL",
            help="fixture name (simple-cnn, custom-cnn) or package.module:attr",
        )
    else:
        parser.add_argument(
            "model", nargs="?", default="simple-cnn", metavar="MODEL",
            help="fixture name (simple-cnn, custom-cnn) or package.module:attr (default: simple-cnn)",
        )  # fmt: skip
    parser.add_argument(
        "--input-shape", action="append", metavar="N,C,H,W",
        help="input shape, e.g. 1,3,224,224; repeat for models with several inputs (default: the model's own)",
    )  # fmt: skip
    parser.add_argument(
        "--kwargs", metavar="JSON", help="keyword arguments for a class or factory, as JSON"
    )
    parser.add_argument(
        "--device",
        default=None,
        help="device for a real forward, if one is needed (default: the model's)",
    )
    parser.add_argument(
        "--dtype", default=None, help="input dtype, e.g. float32, float16, bfloat16, int64"
    )
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")


@dataclass
class ModelInput:
    spec: str
    model: Any
    input_shape: Any  # one shape or a list of shapes
    dtype: Any
    source_file: str | None


def resolve_dtype(name: str | None) -> Any:
    if name is None:
        return None
    import torch

    value = getattr(torch, name.removeprefix("torch."), None)
    if not isinstance(value, torch.dtype):
        raise OptionError(
            f"--dtype {name!r} is not a torch dtype; use e.g. float32, float16, bfloat16, int64"
        )
    return value


def load(args: argparse.Namespace, spec: str | None = None) -> ModelInput:
    """Build the model named on the command line and the input shape(s) to use."""
    from cnninspect.engine.inputs import parse_shape
    from cnninspect.integrations.spec import load_model, parse_kwargs

    spec = spec or args.model
    shapes = None
    if args.input_shape:
        try:
            shapes = [parse_shape(s, "--input-shape") for s in args.input_shape]
        except InputShapeError as exc:
            exc.from_option = True  # a malformed option is a usage error (exit 2)
            raise
    loaded = load_model(spec, parse_kwargs(args.kwargs))
    if shapes is None:
        if loaded.default_input_shape is None:
            raise OptionError(
                f"model {spec!r} has no default input shape; pass --input-shape N,C,H,W, e.g. --input-shape 1,3,224,224"
            )
        shapes = [loaded.default_input_shape]
    return ModelInput(
        spec,
        loaded.model,
        shapes[0] if len(shapes) == 1 else shapes,
        resolve_dtype(args.dtype),
        loaded.source_file,
    )
