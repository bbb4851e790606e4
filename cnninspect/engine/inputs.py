"""What a model is fed, decided once: :class:`InputSpec`, and its meta (and real) values.

The API, the command line, the pytest plugin, the Sphinx directives and ``verify``
all turn what the user wrote into one :class:`InputSpec` here, and the one choice of
a default input (:func:`choose_input`) lives here too, so a shape string means the
same thing, and fails with the same message, wherever it is written.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn

from cnninspect.engine.compat import tree_map
from cnninspect.errors import InputShapeError, InputSpecError, OptionError, UsageError

Shape = tuple[int, ...]


@dataclass
class Inputs:
    """The model's inputs as meta values, plus how to make real ones for the hook fallback."""

    args: tuple
    kwargs: dict
    shapes: list[Shape]
    real_args: tuple | None = None  # the user's own tensors, when given
    real_kwargs: dict | None = None

    def make_real(self, device: torch.device | str) -> tuple[tuple, dict]:
        def fake(v: Any) -> Any:
            if isinstance(v, torch.Tensor):
                if v.dtype.is_floating_point or v.dtype.is_complex:
                    g = torch.Generator().manual_seed(0)
                    return torch.randn(v.shape, generator=g, dtype=v.dtype).to(device)
                return torch.zeros(v.shape, dtype=v.dtype, device=device)
            return v

        if self.real_args is not None:  # meta tensors among them have no values: made up

            def move(v: Any) -> Any:
                if not isinstance(v, torch.Tensor):
                    return v
                return fake(v) if v.device.type == "meta" else v.to(device)

            return tree_map(move, self.real_args), tree_map(move, self.real_kwargs or {})
        return tree_map(fake, self.args), tree_map(fake, self.kwargs)


@dataclass(frozen=True, eq=False)
class InputSpec:
    """The model's inputs: shapes and dtypes, or the user's own values (``input_data``).

    Frozen, and equal to another spec with the same shapes and dtypes (and the very
    same data objects), so the same text gives the same spec from every entry point.
    ``dtypes`` is None for torch's default dtype, read when the inputs are built.
    """

    shapes: tuple[Shape, ...]
    dtypes: tuple[torch.dtype, ...] | None = None
    data: tuple | None = None  # the user's positional values, when given as input_data
    kwargs: Mapping[str, Any] = field(default_factory=dict)  # the user's keyword values

    @classmethod
    def parse(
        cls,
        text: str | Sequence[str],
        dtypes: Any = None,
        where: str = "input_shape",
        dtype_where: str = "dtype",
    ) -> InputSpec:
        """From text: ``"1,3,224,224"``, ``"1x3x32x32;1x10"`` (one shape per input), or
        several such strings (a repeated option); ``dtypes`` as for :meth:`with_dtypes`.
        ``where`` and ``dtype_where`` name the options in errors (``--input-shape``)."""
        parts = [text] if isinstance(text, str) else list(text)
        if not parts or not all(isinstance(p, str) for p in parts):
            raise InputSpecError(f"{where} {text!r} is not shape text; write N,C,H,W, e.g. {_example(where)}")
        pieces = [piece for p in parts for piece in p.split(";") if piece.strip()]
        if not pieces:
            raise InputSpecError(f"{where} {text!r} holds no shape; write N,C,H,W, e.g. {_example(where)}")
        return cls(tuple(parse_shape(piece, where) for piece in pieces)).with_dtypes(dtypes, dtype_where)

    @classmethod
    def of(
        cls,
        input_shape: Any = None,
        input_data: Any = None,
        dtype: Any = None,
        where: str = "input_shape",
        *,
        batch_dim: int | None = None,
        forward_kwargs: Mapping[str, Any] | None = None,
    ) -> InputSpec | None:
        """From the API's arguments (None when neither is given); an InputSpec passes through.

        ``batch_dim`` inserts a batch of 1 into every shape of ``input_shape`` (given
        without its batch); ``forward_kwargs`` are more keyword arguments of ``forward``."""
        spec = cls._of(input_shape, input_data, dtype, where)
        if spec is None:
            if batch_dim is not None or forward_kwargs:
                given = "batch_dim" if batch_dim is not None else "forward_kwargs"
                raise OptionError(f"{given} needs an input_shape or input_data as well")
            return None
        if batch_dim is not None:
            spec = spec.with_batch_dim(batch_dim)
        return spec.with_forward_kwargs(forward_kwargs) if forward_kwargs else spec

    @classmethod
    def _of(cls, input_shape: Any, input_data: Any, dtype: Any, where: str) -> InputSpec | None:
        if input_shape is not None and input_data is not None:
            raise OptionError("pass input_shape or input_data, not both")
        if isinstance(input_shape, InputSpec):
            if dtype is not None:
                raise OptionError("pass dtype inside the InputSpec, not beside it")
            return input_shape
        if input_data is not None:
            return cls.from_data(input_data)
        if input_shape is None:
            return None
        if isinstance(input_shape, str):
            return cls.parse(input_shape, where=where)._with_dtypes(dtype)
        shapes = (
            tuple(parse_shape(s, f"{where}[{i}]") for i, s in enumerate(input_shape))
            if _is_shape_list(input_shape)
            else (parse_shape(input_shape, where),)
        )
        return cls(shapes)._with_dtypes(dtype)

    @classmethod
    def from_data(cls, data: Any) -> InputSpec:
        """The user's own values: one tensor, a tuple/list of positional values or a dict of keywords."""
        args, kwargs = split_data(data)
        shapes = tuple(tuple(t.shape) for t in _tensors((args, kwargs)))
        if not shapes:
            raise InputShapeError(f"input_data holds no tensor (got {type(data).__name__})")
        return cls(shapes, None, args, kwargs)

    def _with_dtypes(self, dtype: Any) -> InputSpec:
        return replace(self, dtypes=api_dtypes(dtype, len(self.shapes)))

    def with_dtypes(self, value: Any, where: str = "dtype") -> InputSpec:
        """These shapes with dtypes from text (``float32``, ``float32;int64``: one for
        all inputs or one per input) or torch dtypes; None keeps them as they are."""
        if value is None or value == "":
            return self
        if self.has_data:
            raise OptionError(f"{where} sets the dtype of shapes; input_data has dtypes of its own")
        return replace(self, dtypes=_dtypes(value, len(self.shapes), where))

    @property
    def has_data(self) -> bool:
        return self.data is not None

    @property
    def input_shape(self) -> Shape | list[Shape]:
        """One shape, or a list of them: the form ``summarize`` has always taken."""
        return self.shapes[0] if len(self.shapes) == 1 else list(self.shapes)

    def with_batch(self, batch: int) -> InputSpec:
        """The same shapes with batch size ``batch`` (user data keeps its own batch)."""
        if self.has_data:
            return self
        return replace(self, shapes=tuple((batch, *s[1:]) for s in self.shapes))

    def with_batch_dim(self, batch_dim: int) -> InputSpec:
        """Every shape with a batch of 1 inserted at ``batch_dim`` (negative counts from the
        end, as ``unsqueeze``): for shapes written without their batch, as torchinfo's."""
        if self.has_data:
            raise OptionError(
                "batch_dim inserts a batch into input_shape; input_data keeps its own, so drop batch_dim"
            )
        if isinstance(batch_dim, bool) or not isinstance(batch_dim, int):
            raise OptionError(f"batch_dim must be an int (where to insert the batch), got {batch_dim!r}")
        shapes = []
        for shape in self.shapes:
            if not -len(shape) - 1 <= batch_dim <= len(shape):
                raise OptionError(
                    f"batch_dim {batch_dim} is outside shape {shape} "
                    f"(valid: {-len(shape) - 1}..{len(shape)})"
                )
            at = batch_dim if batch_dim >= 0 else len(shape) + 1 + batch_dim
            shapes.append((*shape[:at], 1, *shape[at:]))
        return replace(self, shapes=tuple(shapes))

    def with_forward_kwargs(self, forward_kwargs: Mapping[str, Any]) -> InputSpec:
        """These inputs and more keyword arguments of ``forward`` (tensors or any values)."""
        if not isinstance(forward_kwargs, Mapping) or not all(isinstance(k, str) for k in forward_kwargs):
            raise OptionError(
                f"forward_kwargs must be a dict of forward's argument names to values, got {forward_kwargs!r}"
            )
        clash = sorted(set(self.kwargs) & set(forward_kwargs))
        if clash:
            raise OptionError(f"forward argument(s) {clash} given both in input_data and in forward_kwargs")
        return replace(self, kwargs={**self.kwargs, **forward_kwargs})

    @property
    def keyword_shapes(self) -> tuple[Shape, ...]:
        """Shapes of the tensors among the keyword values of a shape spec (a data spec has
        them in ``shapes`` already)."""
        return () if self.has_data else tuple(tuple(t.shape) for t in _tensors(dict(self.kwargs)))

    def text(self) -> str:
        """``1,3,224,224;1,10``: what :meth:`parse` reads back."""
        return ";".join(",".join(str(d) for d in s) for s in self.shapes)

    def build(self) -> Inputs:
        """Meta values for the trace, keeping the user's own data for a real forward."""
        if self.has_data:
            args, kwargs = tuple(self.data or ()), dict(self.kwargs)
            return Inputs(tree_map(_meta, args), tree_map(_meta, kwargs), list(self.shapes), args, kwargs)
        dtypes = self.dtypes or (torch.get_default_dtype(),) * len(self.shapes)
        args = tuple(torch.empty(s, dtype=d, device="meta") for s, d in zip(self.shapes, dtypes))
        if not self.kwargs:
            return Inputs(args, {}, list(self.shapes))
        kwargs = dict(self.kwargs)  # forward_kwargs beside shapes: meta for the trace, kept for a forward
        shapes = [*self.shapes, *self.keyword_shapes]
        return Inputs(args, tree_map(_meta, kwargs), shapes, args, kwargs)

    def _key(self) -> tuple:
        data = None if self.data is None else tuple(map(id, self.data))
        return (self.shapes, self.dtypes, data, tuple((k, id(v)) for k, v in self.kwargs.items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InputSpec) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


def _meta(value: Any) -> Any:
    """A meta stand-in for a tensor (same shape, dtype and strides); any other value as is."""
    if isinstance(value, torch.Tensor):
        return torch.empty_like(value, device="meta", memory_format=torch.preserve_format)
    return value


API_HINT = (
    "pass input_shape, e.g. summarize(model, (1, 3, 224, 224)), or input_data; "
    "cnninspect.summarize_tree(model) lists the module tree without an input"
)


def split_data(data: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A forward's (args, kwargs) from what a user passes as its data.

    A mapping is keywords, a list or tuple is the positional values, anything else is the one
    positional value: the convention ``InputSpec.from_data`` and the torchinfo shim both keep.
    """
    if isinstance(data, Mapping):
        return (), dict(data)
    if isinstance(data, (list, tuple)):
        return tuple(data), {}
    return (data,), {}


def choose_input(
    model: nn.Module,
    given: InputSpec | None = None,
    fallback: InputSpec | None = None,
    *,
    name: str | None = None,
    hint: str | None = None,
) -> InputSpec:
    """The one place a default input is chosen: what the caller gave, else the entry
    point's configured default (``fallback``: a Sphinx or pytest setting), else the
    model's own ``default_input_shape``. ``hint`` is the fix to name when there is
    none (an option of the caller's); without one the API's own advice is given."""
    chosen = given or fallback or default_input(model)
    if chosen is not None:
        return chosen
    if hint is None:
        raise InputShapeError(f"no input given: {API_HINT}")
    raise UsageError(f"model {name or type(model).__name__!r} has no default input shape; {hint}")


def default_input(model: Any) -> InputSpec | None:
    """The model's own ``default_input_shape`` (one shape or a list) as a spec, or None."""
    default = getattr(model, "default_input_shape", None)
    if default is None:
        return None
    return InputSpec.of(default, where=f"{type(model).__name__}.default_input_shape")


def parse_shape(value: Any, where: str = "input_shape") -> Shape:
    """A shape from a tuple/list of ints or a string like ``1,3,224,224`` or ``1x3x224x224``."""
    if isinstance(value, str):
        value = _shape_from_text(value, where)
    if isinstance(value, torch.Size):
        value = tuple(value)
    if not isinstance(value, (tuple, list)) or not value:
        raise InputSpecError(
            f"{where} must be a non-empty tuple of positive ints such as (1, 3, 224, 224), got {value!r}"
        )
    for dim in value:
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise InputSpecError(
                f"{where} {tuple(value)!r} holds {dim!r} ({type(dim).__name__}); every size must be an int"
            )
        if dim <= 0:
            raise InputSpecError(
                f"{where} {tuple(value)!r} has a size of {dim}; every size must be a positive int"
            )
    return tuple(value)


def _shape_from_text(text: str, where: str) -> list[int]:
    body = text.strip().strip("[]()").strip()
    sep = "," if "," in body else "x"
    tokens = [p.strip() for p in body.split(sep)]
    if tokens and tokens[-1] == "" and sep == ",":  # "(1, 3)," or a trailing comma
        tokens.pop()
    for token in tokens:
        if not token.isdigit():
            shown = f"{token!r} is not a positive integer" if token else "a size is missing"
            raise InputSpecError(
                f"{where} {text!r} is not a list of integers ({shown}); "
                f"write it as N,C,H,W, e.g. {_example(where)}"
            )
    return [int(t) for t in tokens]


def _example(where: str) -> str:
    if where.startswith("--"):
        return f"{where} 1,3,224,224"
    if where.startswith(":"):
        return f"{where} 1,3,224,224"
    return "1,3,224,224"


def _is_shape_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, (tuple, list, torch.Size, str)) for v in value)
    )


def api_dtypes(dtype: Any, n: int, where: str = "dtype") -> tuple[torch.dtype, ...] | None:
    """``dtype=`` of the API: one for every input, or one per input; each a torch.dtype or a
    tensor type such as ``torch.LongTensor`` (its ``dtype``), as torchinfo's ``dtypes`` take."""
    if dtype is None:
        return None
    given = list(dtype) if isinstance(dtype, (list, tuple)) else [dtype]
    wanted = f"{where} must be a torch.dtype or a list of {n} of them (one per input)"
    found = []
    for d in given:
        value = d if isinstance(d, torch.dtype) else getattr(d, "dtype", None)
        if not isinstance(value, torch.dtype) or isinstance(d, torch.Tensor):
            raise OptionError(f"{wanted}; {d!r} is neither a torch.dtype nor a tensor type such as torch.LongTensor")
        found.append(value)
    spread = per_input(found, n)
    if spread is None:
        raise OptionError(f"{wanted}; got {len(found)} for {n} inputs")
    return spread


def _dtypes(value: Any, n: int, where: str) -> tuple[torch.dtype, ...] | None:
    """Dtypes from text (``float32`` or ``float32;int64``) or torch dtypes."""
    if not isinstance(value, str):
        return api_dtypes(value, n, where)
    names = [v.strip() for v in value.replace(",", ";").split(";") if v.strip()]
    dtypes = [_dtype(name, where) for name in names]
    spread = per_input(dtypes, n)
    if spread is None:
        raise InputSpecError(
            f"{where} {value!r} names {len(dtypes)} dtypes for {n} inputs; give one for all or one per input"
        )
    return spread


def per_input(dtypes: list[torch.dtype], n: int) -> tuple[torch.dtype, ...] | None:
    """One dtype for each of ``n`` inputs from one for all or one each; None for any other count.

    The caller raises, as only it knows the option the user wrote.
    """
    if len(dtypes) == 1:
        return (dtypes[0],) * n
    return tuple(dtypes) if len(dtypes) == n else None


def _dtype(name: str, where: str) -> torch.dtype:
    value = getattr(torch, name.removeprefix("torch."), None)
    if not isinstance(value, torch.dtype):
        raise InputSpecError(
            f"{where} {name!r} is not a torch dtype; use e.g. float32, float16, bfloat16, int64"
        )
    return value


def _tensors(value: Any) -> list[torch.Tensor]:
    out: list[torch.Tensor] = []
    tree_map(lambda v: out.append(v) if isinstance(v, torch.Tensor) else None, value)
    return out


def concrete_defaults(model: nn.Module, n_args: int, kwargs: dict) -> dict[str, Any]:
    """Forward parameters the caller leaves at their defaults, pinned for tracing.

    Without this fx would trace ``if mask is not None`` with a Proxy for ``mask``.
    """
    try:
        params = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        return {}
    out = {}
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    for p in positional[n_args:]:
        if p.name not in kwargs and p.default is not inspect.Parameter.empty:
            out[p.name] = p.default
    for p in params:
        if (
            p.kind == p.KEYWORD_ONLY
            and p.name not in kwargs
            and p.default is not inspect.Parameter.empty
        ):
            out[p.name] = p.default
    return out


def check_arity(model: nn.Module, n_args: int, kwargs: dict) -> None:
    """A forward that needs more inputs than given is the user's input error, said plainly."""
    try:
        sig = inspect.signature(model.forward)
    except (TypeError, ValueError):
        return
    try:
        sig.bind(*([None] * n_args), **{k: None for k in kwargs})
    except TypeError as exc:
        raise InputShapeError(
            f"{type(model).__name__}.forward{sig} cannot take {n_args} positional input(s)"
            f"{' and ' + ', '.join(kwargs) if kwargs else ''}: {exc}; pass one shape per input, "
            "e.g. input_shape=[(1, 3, 32, 32), (1, 10)]"
        ) from None


def check_device(device: Any) -> torch.device | None:
    """The device a fallback's real forward may use, checked before anything runs.

    A summary runs on meta tensors, so a bad ``device`` would otherwise surface only
    when a fallback needs it, as an error that seems to blame the model.
    """
    if device is None:
        return None
    try:
        target = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise OptionError(
            f"device {device!r} is not a torch device; use e.g. 'cpu' or 'cuda:0', "
            "or leave it unset (the summary itself runs on the meta device)"
        ) from None
    backend: Any = getattr(torch, target.type, None)
    available = getattr(backend, "is_available", None)
    if target.type in ("cpu", "meta") or not callable(available):
        return target
    count = backend.device_count() if available() else 0
    if count == 0 or (target.index is not None and target.index >= count):
        raise OptionError(
            f"device {device!r} is not available here ({count} {target.type} device(s)); "
            "use 'cpu' or leave it unset (the summary itself runs on the meta device)"
        )
    return target
