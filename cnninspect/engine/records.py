"""The summary's records: plain dataclasses that every analysis and renderer reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # the analysis fills these; the records only name their type
    from cnninspect.engine.receptive.report import ReceptiveField, ReceptiveFieldReport

Shape = tuple[int, ...]
SCHEMA = "cnninspect.summary/1"


@dataclass
class Layer:
    """One row: a module call or a functional op.

    ``name`` is for display only (``pool@2``, ``relu_1``). What the row *is* lives in
    typed fields set once when the row is made: ``module_path`` (the called module's
    path, None for a functional op) and ``call_index`` (1 for its first call, 2 for the
    second...), so nothing has to parse a name back apart.
    """

    name: str
    kind: str
    output_shape: Shape | list[Shape] | None
    num_params: int = 0
    trainable_params: int = 0
    macs: int = 0
    flops: int = 0
    parent: str = ""
    depth: int = 1
    op: str = "call_module"
    inputs: list[str] = field(default_factory=list)
    kernel_size: tuple[int, ...] | None = None
    stride: tuple[int, ...] | None = None
    padding: tuple[int, ...] | str | None = None
    dilation: tuple[int, ...] | None = None
    groups: int | None = None
    receptive_field: ReceptiveField | None = None  # None where it does not apply
    fc_params: int | None = None  # set on the copy cnninspect.analyses.fc.with_fc_params returns
    # set on the copy cnninspect.analyses.memory.with_memory returns: this row's output tensors,
    # and what autograd keeps for backward because of it (storage-deduplicated)
    output_bytes: int | None = None
    saved_bytes: int | None = None
    notes: list[str] = field(default_factory=list)
    module_path: str | None = None  # the module this row calls; None for a functional op
    call_index: int = 1  # which call of that module this row is (a module called twice: 1, 2)
    # the ops in this row no rule prices (their cost is missing from macs/flops); empty when exact
    cost_unknown: list[str] = field(default_factory=list)
    # the shapes of the tensors the call received (its inputs, and a functional op's weights)
    input_shapes: list[Shape] = field(default_factory=list)

    @property
    def macs_complete(self) -> bool:
        """Whether ``macs`` and ``flops`` are the row's whole cost (no op in it went unpriced)."""
        return not self.cost_unknown

    @property
    def trainable(self) -> bool | None:
        """True when every parameter the row owns is trainable; None when it owns none."""
        if not self.num_params:
            return None
        return self.trainable_params == self.num_params

    @property
    def is_module_call(self) -> bool:
        """Whether the row is a call of a module (traced, hooked or scripted), not a functional op."""
        return self.module_path is not None

    @property
    def path(self) -> str:
        """The row's place in the module tree, for folding to a depth."""
        if self.module_path is not None:
            return self.module_path
        return f"{self.parent}.{self.name}" if self.parent else self.name


@dataclass(frozen=True)
class AnalysisFailure:
    """An analysis that failed on a summary whose other figures still stand."""

    error_type: str  # the exception's class name
    message: str

    def __str__(self) -> str:
        return f"{self.error_type}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return {"type": self.error_type, "message": self.message}


@dataclass
class Summary:
    """What :func:`cnninspect.summarize` returns; ``str()`` of it is the table."""

    model_name: str
    input_shapes: list[Shape]
    output_shapes: list[Shape]
    layers: list[Layer]
    total_params: int
    trainable_params: int
    param_bytes: int
    total_buffers: int
    buffer_bytes: int
    method: str
    warnings: list[str] = field(default_factory=list)
    opaque: dict[str, str] = field(default_factory=dict)
    module_kinds: dict[str, str] = field(default_factory=dict)  # module path -> class name, for folding
    receptive_field: ReceptiveFieldReport | None = None  # when computed
    rf_error: AnalysisFailure | None = None  # why the receptive-field analysis failed, if it did
    # the train/eval mode the trace saw: "train" or "eval" for every module, "mixed" when the
    # modules differ (Dropout, BatchNorm and `if self.training` branches follow it); None: no trace
    mode: str | None = None
    # the model and InputSpec it was made from, for summary.memory(); not rendered or compared
    source: Any = field(default=None, repr=False, compare=False)
    # False for a module-tree summary made without an input (engine.tree_summary.TreeSummary)
    traced: ClassVar[bool] = True

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    @property
    def total_macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def total_flops(self) -> int:
        return sum(layer.flops for layer in self.layers)

    @property
    def macs_complete(self) -> bool:
        """Whether ``total_macs`` is the whole forward's: every op priced, every row recorded."""
        return not self.macs_incomplete_reasons

    @property
    def macs_incomplete_reasons(self) -> list[str]:
        """Why ``total_macs`` is a lower bound, one line a cause; empty when it is exact."""
        reasons = []
        unpriced = [op for layer in self.layers for op in layer.cost_unknown]
        if unpriced:
            shown = ", ".join(unpriced[:5]) + (", ..." if len(unpriced) > 5 else "")
            reasons.append(f"{len(unpriced)} op(s) without a MAC rule are counted as 0: {shown}")
        if self.method.endswith("partial)"):
            reasons.append("the forward stopped before its end: rows after that point are missing")
        return reasons

    @property
    def input_shape(self) -> Shape:
        return self.input_shapes[0]

    @property
    def output_shape(self) -> Shape | None:
        return self.output_shapes[0] if self.output_shapes else None

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(
            f"no layer named {name!r}; layers are: {', '.join(layer.name for layer in self.layers)}"
        )

    def memory(
        self,
        batch_size: int | None = None,
        optimizer: str = "adamw",
        dtype: Any = None,
        amp: str | None = None,
    ) -> Any:
        """The model's :class:`~cnninspect.analyses.memory.MemoryReport` for a training setup."""
        from cnninspect.analyses.memory import memory_of_summary

        return memory_of_summary(self, batch_size=batch_size, optimizer=optimizer, dtype=dtype, amp=amp)

    # Renderers live in cnninspect.renderers.text; these are the user's handles on them.
    def __str__(self) -> str:
        return self.to_text()

    def to_text(self, columns: list[str] | None = None, depth: int | None = None) -> str:
        from cnninspect.renderers.text import render_text

        return render_text(self, columns=columns, depth=depth)

    def to_markdown(self, columns: list[str] | None = None, depth: int | None = None) -> str:
        from cnninspect.renderers.text import render_table

        return render_table(self, "github", columns=columns, depth=depth)

    def to_rst(self, columns: list[str] | None = None, depth: int | None = None) -> str:
        from cnninspect.renderers.text import render_table

        return render_table(self, "rst", columns=columns, depth=depth)

    def to_html(self, columns: list[str] | None = None, depth: int | None = None) -> str:
        from cnninspect.renderers.text import render_table

        return render_table(self, "html", columns=columns, depth=depth)

    def to_csv(self, columns: list[str] | None = None, depth: int | None = None) -> str:
        from cnninspect.renderers.text import render_csv

        return render_csv(self, columns=columns, depth=depth)

    def to_dict(self) -> dict[str, Any]:
        from cnninspect.renderers.text import summary_dict

        return summary_dict(self)

    def to_json(self, indent: int | None = 2) -> str:
        import json

        return json.dumps(self.to_dict(), indent=indent)
