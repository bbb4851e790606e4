"""Arguments and steps that several commands share: the model spec and its input."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch loads inside the commands, so `cnninspect --help` stays fast
    from cnninspect.engine.inputs import InputSpec


def add_model_arguments(parser: argparse.ArgumentParser, many: bool = False) -> None:
    """MODEL (a fixture name or package.module:attr), --input-shape, --kwargs, --device, --dtype, --debug."""
    if many:
        parser.add_argument(
            "model",
            nargs="+",
            metavar="MODEL",
            help="fixture name (simple-cnn, custom-cnn, overview-cnn), package.module:attr or path/to/file.py:attr",
        )
    else:
        parser.add_argument(
            "model", nargs="?", default="simple-cnn", metavar="MODEL",
            help="fixture name (simple-cnn, custom-cnn, overview-cnn), package.module:attr or path/to/file.py:attr (default: simple-cnn)",
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


CLI_HINT = "pass --input-shape N,C,H,W, e.g. --input-shape 1,3,224,224"


@dataclass
class ModelInput:
    """A model named on the command line and the one input spec to summarise it with."""

    spec: str
    model: Any
    inputs: InputSpec
    source_file: str | None

    @property
    def input_shape(self) -> Any:
        """One shape or a list of shapes, for callers that take the pre-InputSpec form."""
        return self.inputs.input_shape


def parse_input(args: argparse.Namespace) -> InputSpec | None:
    """``--input-shape`` (repeated: one per input) and ``--dtype`` as one spec; None when no shape."""
    from cnninspect.engine.inputs import InputSpec

    if not args.input_shape:
        return None
    return InputSpec.parse(args.input_shape, args.dtype, "--input-shape", "--dtype")


def load(args: argparse.Namespace, spec: str | None = None, hint: str = CLI_HINT) -> ModelInput:
    """Build the model named on the command line and the input it is summarised for;
    ``hint`` is the fix named when there is no input (a command may offer more than one)."""
    from cnninspect.engine.inputs import choose_input
    from cnninspect.integrations.spec import load_model, parse_kwargs

    spec = spec or args.model
    given = parse_input(args)  # a malformed option fails before the model is built
    loaded = load_model(spec, parse_kwargs(args.kwargs))
    inputs = choose_input(loaded.model, given, name=spec, hint=hint)
    if given is None:
        inputs = inputs.with_dtypes(args.dtype, "--dtype")
    return ModelInput(spec, loaded.model, inputs, loaded.source_file)
