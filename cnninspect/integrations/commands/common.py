"""Arguments and steps that several commands share: the model spec and its input."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cnninspect.errors import OptionError

if TYPE_CHECKING:  # torch loads inside the commands, so `cnninspect --help` stays fast
    from cnninspect.engine.inputs import InputSpec


def add_model_arguments(
    parser: argparse.ArgumentParser, many: bool = False, forward_kwargs: bool = True
) -> None:
    """MODEL (a fixture name or package.module:attr), --input-shape, --batch-dim, --forward-kwarg
    (unless ``forward_kwargs`` is False), --kwargs, --device, --dtype, --debug."""
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
        "--batch-dim", type=int, metavar="N",
        help="--input-shape is written without its batch: insert a batch of 1 at dimension N "
        "(0 first, -1 last), e.g. --input-shape 3,224,224 --batch-dim 0",
    )  # fmt: skip
    if forward_kwargs:
        parser.add_argument(
            "--forward-kwarg", action="append", metavar="NAME=SHAPE[:DTYPE]",
            help="a keyword argument of forward: a tensor (mask=1,16:int64; DTYPE as --dtype, "
            "default float32) or, with :=, a JSON value (use_cache:=false); repeat for more",
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
    """``--input-shape`` (repeated: one per input), ``--dtype`` and ``--batch-dim`` as one spec;
    None when no shape."""
    from cnninspect.engine.inputs import InputSpec

    given = None
    if args.input_shape:
        given = InputSpec.parse(args.input_shape, args.dtype, "--input-shape", "--dtype")
    return insert_batch(given, getattr(args, "batch_dim", None))


def insert_batch(spec: InputSpec | None, batch_dim: int | None) -> InputSpec | None:
    """``--batch-dim``: a batch of 1 inserted into every --input-shape, checked against each
    shape here so the error names the flag (the range is unsqueeze's)."""
    if batch_dim is None:
        return spec
    if spec is None:
        raise OptionError(
            f"--batch-dim {batch_dim} inserts a batch into --input-shape, and none was given; "
            "pass the shape without its batch, e.g. --input-shape 3,224,224 --batch-dim 0"
        )
    for shape in spec.shapes:
        rank = len(shape)
        if not -rank - 1 <= batch_dim <= rank:
            raise OptionError(
                f"--batch-dim {batch_dim} is out of range for a {rank}-d shape "
                f"({','.join(map(str, shape))}); use {-rank - 1}..{rank}"
            )
    return spec.with_batch_dim(batch_dim)


def parse_forward_kwargs(values: list[str] | None) -> dict[str, Any]:
    """``--forward-kwarg NAME=SHAPE[:DTYPE]`` as a meta tensor (read by the one shape parser,
    ``InputSpec.parse``; a real forward fills it as it fills --input-shape's), ``NAME:=JSON`` as
    that value."""
    import json

    from cnninspect.engine.inputs import InputSpec
    from cnninspect.errors import InputSpecError

    out: dict[str, Any] = {}
    for text in values or ():
        name, sep, value = text.partition("=")
        as_json = name.endswith(":")
        name = name.removesuffix(":").strip()
        if not sep or not name.isidentifier() or not value.strip():
            raise OptionError(
                f"--forward-kwarg {text!r} is not NAME=SHAPE[:DTYPE] or NAME:=JSON; "
                "write e.g. --forward-kwarg mask=1,16:int64 or --forward-kwarg use_cache:=false"
            )
        if name in out:
            raise OptionError(f"--forward-kwarg {name} is given twice; give each keyword once")
        where = f"--forward-kwarg {name}"
        if as_json:
            try:
                out[name] = json.loads(value)
            except json.JSONDecodeError as exc:
                raise OptionError(
                    f"{where}:={value!r} is not valid JSON ({exc.msg}); write e.g. "
                    f"{name}:=false, {name}:=3 or {name}:='\"text\"'"
                ) from None
            continue
        shape, _, dtype = value.partition(":")
        try:
            spec = InputSpec.parse(shape, dtype or None, where, where)
        except InputSpecError as exc:  # the parser's example is --input-shape's spelling; give ours
            fixed = str(exc).replace(f"e.g. {where} 1,3,224,224", f"e.g. {where}=1,16")
            raise InputSpecError(fixed) from None
        if len(spec.shapes) != 1:
            raise OptionError(f"{where}={value!r} names {len(spec.shapes)} shapes; a keyword takes one tensor")
        out[name] = spec.build().args[0]
    return out


def load(args: argparse.Namespace, spec: str | None = None, hint: str = CLI_HINT) -> ModelInput:
    """Build the model named on the command line and the input it is summarised for;
    ``hint`` is the fix named when there is no input (a command may offer more than one)."""
    from cnninspect.engine.inputs import choose_input
    from cnninspect.integrations.spec import load_model, parse_kwargs

    spec = spec or args.model
    given = parse_input(args)  # a malformed option fails before the model is built
    keywords = parse_forward_kwargs(getattr(args, "forward_kwarg", None))
    loaded = load_model(spec, parse_kwargs(args.kwargs))
    inputs = choose_input(loaded.model, given, name=spec, hint=hint)
    if given is None:
        inputs = inputs.with_dtypes(args.dtype, "--dtype")
    if keywords:
        inputs = inputs.with_forward_kwargs(keywords)
    if not inputs.has_data:
        check_call(loaded.model, inputs)
    return ModelInput(spec, loaded.model, inputs, loaded.source_file)


def check_call(model: Any, inputs: InputSpec) -> None:
    """forward takes what the command line gives (one --input-shape per positional input, each
    --forward-kwarg by name), checked here so a mismatch is said in flags, not parameters."""
    import inspect

    from cnninspect.errors import InputShapeError

    try:
        sig = inspect.signature(model.forward)
    except (TypeError, ValueError):
        return  # a forward without a signature (a builtin or TorchScript method): cannot tell
    params = sig.parameters.values()
    named = [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.POSITIONAL_ONLY)]
    unknown = [k for k in inputs.kwargs if k not in named]
    if unknown and not any(p.kind is p.VAR_KEYWORD for p in params):
        raise OptionError(
            f"--forward-kwarg {', '.join(unknown)}: {type(model).__name__}.forward takes no such keyword; "
            f"choose from {', '.join(named) or 'none'}"
        )
    try:
        sig.bind(*([None] * len(inputs.shapes)), **dict.fromkeys(inputs.kwargs))
    except TypeError as exc:
        given = f"{len(inputs.shapes)} --input-shape input(s)" + "".join(
            f", --forward-kwarg {k}" for k in inputs.kwargs
        )
        raise InputShapeError(
            f"{type(model).__name__}.forward{sig} cannot take {given}: {exc}; give one --input-shape "
            "per positional input and --forward-kwarg NAME=SHAPE[:DTYPE] (or NAME:=JSON) per keyword"
        ) from None
