"""FC vs conv: the chapter's first lesson, on any model and in its own figures.

A convolution maps an input volume to an output volume with a few small shared
filters; a fully-connected layer doing the same mapping needs a weight for every
(input value, output value) pair. :func:`compare_fc` puts the two side by side
for every conv layer of a model; :func:`chapter_comparisons` and
:func:`position_sensitivity` reproduce the chapter's standalone arguments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from cnninspect.analyses import reference as ref
from cnninspect.engine.records import Summary
from cnninspect.units import fmt_shape

Shape = tuple[int, ...]

_CONV_KINDS = ("Conv1d", "Conv2d", "Conv3d")


class _Versus:
    """``ratio`` and ``saving`` from ``conv_params`` and ``fc_params``, for a row and for totals alike."""

    if TYPE_CHECKING:

        @property
        def conv_params(self) -> int: ...

        @property
        def fc_params(self) -> int: ...

    @property
    def ratio(self) -> float:
        """How many times more parameters the dense layer needs."""
        return self.fc_params / self.conv_params if self.conv_params else math.inf

    @property
    def saving(self) -> float:
        """The fraction of the dense layer's parameters the conv does without (0.9995 = 99.95 %)."""
        return 1 - self.conv_params / self.fc_params if self.fc_params else 0.0


@dataclass
class FcRow(_Versus):
    """One conv layer beside the dense layer that would map the same volumes."""

    name: str
    kind: str
    input_shape: Shape  # one sample, without the batch dimension
    output_shape: Shape
    conv_params: int
    fc_params: int


@dataclass
class FcComparison(_Versus):
    """What :func:`compare_fc` returns; ``str()`` of it is the table."""

    model_name: str
    rows: list[FcRow]
    summary: Any = field(default=None, repr=False)

    @property
    def conv_params(self) -> int:
        return sum(r.conv_params for r in self.rows)

    @property
    def fc_params(self) -> int:
        return sum(r.fc_params for r in self.rows)

    def to_text(self) -> str:
        from tabulate import tabulate

        if not self.rows:  # no ratio to print: 0 conv parameters would make it infinite
            return (
                f"{self.model_name} has no convolution layer, so there is nothing to compare with a "
                "dense layer"
            )
        table = [
            [r.name, r.kind, fmt_shape(r.input_shape), fmt_shape(r.output_shape), f"{r.conv_params:,}",
             f"{r.fc_params:,}", f"{r.ratio:,.0f}x", f"{r.saving:.4%}"]
            for r in self.rows
        ]  # fmt: skip
        table.append(["total", "", "", "", f"{self.conv_params:,}", f"{self.fc_params:,}", f"{self.ratio:,.0f}x", f"{self.saving:.4%}"])
        headers = ["Layer", "Kind", "Input", "Output", "Conv params", "FC params", "FC/conv", "Saving"]
        align = ["left", "left", "left", "left", "right", "right", "right", "right"]
        body = tabulate(table, headers=headers, tablefmt="simple", colalign=align, disable_numparse=True)
        return f"{self.model_name}: each conv layer vs a dense layer mapping the same volumes\n{body}"

    def __str__(self) -> str:
        return self.to_text()


def compare_fc(model: Any, input_shape: Any = None, **summarize_kwargs: Any) -> FcComparison:
    """Per conv layer of ``model``: its parameters vs a dense layer's for the same volumes.

    The dense layer gets a bias exactly when the conv has one. The summary used
    is kept on the result, and its conv rows carry ``fc_params`` for the
    ``fc_params`` column (see :func:`annotate`).
    """
    from cnninspect.engine.summary import summarize

    summary = summarize(model, input_shape, **summarize_kwargs)
    rows = annotate(summary)
    return FcComparison(summary.model_name, rows, with_fc_params(summary, rows))


def with_fc_params(summary: Summary, rows: list[FcRow] | None = None) -> Summary:
    """A copy of ``summary`` whose conv rows carry ``fc_params`` (the ``fc_params`` column).

    The summary given is left as it is: it may be cached and shared (the Sphinx
    extension keeps one per model), so the annotation goes on new rows.
    """
    fc = {row.name: row.fc_params for row in (annotate(summary) if rows is None else rows)}
    layers = [
        replace(layer, fc_params=fc[layer.name], notes=list(layer.notes)) if layer.name in fc else layer
        for layer in summary.layers
    ]
    return replace(summary, layers=layers, warnings=list(summary.warnings))


def annotate(summary: Summary) -> list[FcRow]:
    """The FC comparison of every conv row of ``summary``, read off it without changing it."""
    shapes: dict[str, Shape] = {}
    for layer in summary.layers:
        if isinstance(layer.output_shape, tuple):
            shapes[layer.name] = layer.output_shape
    rows = []
    for layer in summary.layers:
        if layer.kind not in _CONV_KINDS or len(layer.inputs) != 1 or not isinstance(layer.output_shape, tuple):
            continue
        source = layer.inputs[0]
        if source.startswith("input:"):
            in_shape = tuple(summary.input_shapes[0]) if len(summary.input_shapes) == 1 else None
        else:
            in_shape = shapes.get(source)
        if in_shape is None:
            continue
        dims = len(layer.kernel_size) if layer.kernel_size else len(layer.output_shape) - 2
        sample_in = in_shape[1:] if len(in_shape) == dims + 2 else in_shape
        sample_out = layer.output_shape[1:] if len(layer.output_shape) == dims + 2 else layer.output_shape
        if layer.num_params == 0:  # a second call of a shared conv: its weights are counted once
            continue
        groups = layer.groups or 1
        bias = layer.num_params != ref.conv_params(
            sample_in[0], sample_out[0], tuple(layer.kernel_size or (1,) * dims), groups, False, dims
        )
        fc = int(ref.fc_equivalent_params(math.prod(sample_in), math.prod(sample_out), bias))
        rows.append(FcRow(layer.name, layer.kind, tuple(sample_in), tuple(sample_out), layer.num_params, fc))
    return rows


# --- the chapter's standalone figures -------------------------------------------------------


@dataclass(frozen=True)
class ChapterComparisons:
    """The chapter's FC-vs-conv arithmetic, computed from the formulas."""

    fc_weights: int  # 224x224x3 -> 1,000 units, weights only
    fc_params: int  # ... with biases
    conv_first: int  # conv 3->64, 3x3, with bias
    conv_stack: int  # convs 3->64, 64->64, 64->64, 3x3
    stack_saving: float  # 1 - conv_stack / fc_params
    parameter_table: tuple[tuple[str, int], ...]

    def to_text(self) -> str:
        lines = [
            "A dense layer from a 224x224x3 image to 1,000 units:",
            f"  weights            {self.fc_weights:>15,}",
            f"  with biases        {self.fc_params:>15,}",
            f"One conv layer 3->64, 3x3:     {self.conv_first:>9,}",
            f"Three conv layers 3->64->64->64, 3x3: {self.conv_stack:,} ({self.stack_saving:.2%} fewer than the dense layer)",
            "",
            "Conv layer parameters, (kernel*kernel*in + 1) * out:",
        ]
        width = max(len(label) for label, _ in self.parameter_table)
        lines += [f"  {label:<{width}}  {count:>11,}" for label, count in self.parameter_table]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


_TABLE = (
    ("3x3, 3 -> 32", 3, 32, 3),
    ("3x3, 32 -> 64", 32, 64, 3),
    ("3x3, 64 -> 128", 64, 128, 3),
    ("3x3, 128 -> 256", 128, 256, 3),
    ("7x7, 3 -> 64", 3, 64, 7),
    ("3x3, 512 -> 512", 512, 512, 3),
)


def chapter_comparisons() -> ChapterComparisons:
    """The chapter's numbers: 150,528,000 / 150,529,000 vs 1,792; 75,648 (99.95 %); its table."""
    pixels = 224 * 224 * 3
    fc_weights = int(ref.fc_equivalent_params(pixels, 1000, bias=False))
    fc_params = int(ref.fc_equivalent_params(pixels, 1000))
    stack = int(np.sum(ref.conv_params([3, 64, 64], 64, 3)))
    table = ref.conv_params(
        [r[1] for r in _TABLE], [r[2] for r in _TABLE], np.array([r[3] for r in _TABLE])
    )
    return ChapterComparisons(
        fc_weights=fc_weights,
        fc_params=fc_params,
        conv_first=int(ref.conv_params(3, 64, 3)),
        conv_stack=stack,
        stack_saving=1 - stack / fc_params,
        parameter_table=tuple((r[0], int(n)) for r, n in zip(_TABLE, table)),
    )


# --- position sensitivity --------------------------------------------------------------------

# A 5x5 binary "cat" of our own design (ears, head, face with a dark nose, chin, front
# legs); the chapter's own picture is not reproduced. Moved down by one pixel, 6 of its
# pixels change, so the flattened vectors are sqrt(6) = 2.45 apart -- the chapter's figure.
CAT = np.array(
    [
        [0, 1, 0, 1, 0],
        [0, 1, 1, 1, 0],
        [0, 1, 0, 1, 0],
        [0, 1, 1, 1, 0],
        [0, 1, 0, 1, 0],
    ],
    dtype=np.float64,
)

# A classic vertical-edge detector (Prewitt).
EDGE_KERNEL = np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]], dtype=np.float64)


def shift(image: np.ndarray, dy: int = 1, dx: int = 0) -> np.ndarray:
    """Move ``image`` by ``(dy, dx)`` pixels, filling with zeros (what falls off is lost)."""
    out = np.zeros_like(image)
    h, w = image.shape[-2:]
    src = image[..., max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)]
    out[..., max(0, dy) : h - max(0, -dy), max(0, dx) : w - max(0, -dx)] = src
    return out


@dataclass
class PositionSensitivity:
    """A dense layer sees a moved object as a different input; a conv sees it moved."""

    image: np.ndarray
    shifted: np.ndarray
    flat_distance: float  # Euclidean distance of the flattened images
    changed_pixels: int
    feature_map: np.ndarray  # conv of the image (zero-padded canvas, 'same' padding)
    shifted_feature_map: np.ndarray  # conv of the shifted image
    equivariant: bool  # conv(shift(x)) == shift(conv(x)) everywhere

    def to_text(self) -> str:
        return "\n".join(
            [
                f"flattened image vs the image moved by one pixel: {self.changed_pixels} pixels differ, "
                f"distance {self.flat_distance:.2f}",
                "conv feature map of the moved image == the moved feature map: "
                + ("yes" if self.equivariant else "no"),
            ]
        )

    def __str__(self) -> str:
        return self.to_text()


def position_sensitivity(
    image: np.ndarray | None = None, kernel: np.ndarray | None = None, dy: int = 1, dx: int = 0
) -> PositionSensitivity:
    """The chapter's argument, computed: distance of flattened images vs conv equivariance.

    The image is first placed on a canvas with a zero border as wide as the shift
    plus the kernel's reach, so the move loses nothing and the comparison is exact
    everywhere.
    """
    image = CAT if image is None else np.asarray(image, dtype=np.float64)
    kernel = EDGE_KERNEL if kernel is None else np.asarray(kernel, dtype=np.float64)
    moved = shift(image, dy, dx)
    distance = float(np.linalg.norm(image.ravel() - moved.ravel()))
    m = max(abs(dy), abs(dx)) + max(kernel.shape) // 2  # the shift, and the kernel's reach
    canvas = np.pad(image, m)
    canvas_moved = shift(canvas, dy, dx)
    fmap = ref.conv2d(canvas, kernel, padding="same")
    fmap_moved = ref.conv2d(canvas_moved, kernel, padding="same")
    return PositionSensitivity(
        image=image,
        shifted=moved,
        flat_distance=distance,
        changed_pixels=int(np.count_nonzero(image != moved)),
        feature_map=fmap,
        shifted_feature_map=fmap_moved,
        equivariant=bool(np.allclose(fmap_moved, shift(fmap, dy, dx))),
    )
