"""What :func:`cnninspect.torchinfo_summary` returns: torchinfo's ``ModelStatistics``, our figures.

The attributes are torchinfo's (``total_params``, ``total_mult_adds``, ``summary_list``,
``total_input``, ``total_output_bytes``, ``total_param_bytes``, ``formatting`` ...), so code
written against ``torchinfo.summary`` keeps working; ``str()`` gives the familiar table.
The numbers are cnninspect's: exact MACs, each parameter counted once, sizes in bytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cnninspect.engine.records import Summary
from cnninspect.integrations.torchinfo_rows import LayerRow

if TYPE_CHECKING:
    from cnninspect.analyses.memory import MemoryReport

COLUMNS = (
    "input_size",
    "output_size",
    "num_params",
    "params_percent",
    "kernel_size",
    "mult_adds",
    "trainable",
)
TITLES = {
    "kernel_size": "Kernel Shape",
    "input_size": "Input Shape",
    "output_size": "Output Shape",
    "num_params": "Param #",
    "params_percent": "Param %",
    "mult_adds": "Mult-Adds",
    "trainable": "Trainable",
    "groups": "Groups",
}
ROW_SETTINGS = ("depth", "var_names", "ascii_only", "hide_recursive_layers")
_SCALES = {"T": 1e12, "G": 1e9, "M": 1e6, "K": 1e3, "": 1}


@dataclass
class Formatting:
    """How the table is drawn; change a field and ``print`` the result again (as in torchinfo)."""

    max_depth: int
    verbose: int
    col_names: tuple[str, ...]
    col_width: int
    row_settings: set[str]
    params_units: str = ""  # '' (none), 'K', 'M', 'G', 'T' or 'auto'
    macs_units: str = "auto"
    layer_name_width: int = 40

    @property
    def ascii_only(self) -> bool:
        return "ascii_only" in self.row_settings

    def branch(self, depth: int) -> str:
        """The tree prefix of a row at ``depth``."""
        if depth == 0:
            return ""
        tip = "+ " if self.ascii_only else "├─" if depth == 1 else "└─"
        return ("|    " if self.ascii_only else "│    ") * (depth - 1) + tip

    def fit(self, rows: list[LayerRow]) -> None:
        """Widen the name column to the longest row, in steps of 5 (never below 40)."""
        longest = max((len(self.title(r)) + 5 * r.depth + 1 for r in rows), default=0)
        self.layer_name_width = max(40, math.ceil(longest / 5) * 5)

    def title(self, row: LayerRow) -> str:
        return row.get_layer_name("var_names" in self.row_settings, "depth" in self.row_settings)

    def line(self, name: str, values: dict[str, str]) -> str:
        cells = "".join(f"{values.get(c, ''):<{self.col_width}} " for c in self.col_names)
        return f"{name:<{self.layer_name_width}} {cells}".rstrip() + "\n"

    def width(self) -> int:
        return len(self.col_names) * self.col_width + self.layer_name_width


@dataclass(eq=False)
class ModelStatistics:
    """The result: torchinfo's attributes, cnninspect's numbers; ``summary`` is the native one."""

    summary_list: list[LayerRow]
    input_size: Any
    total_input: int  # bytes of every input tensor
    formatting: Formatting
    total_params: int
    trainable_params: int
    total_param_bytes: int
    total_buffer_bytes: int
    total_mult_adds: int
    total_flops: int = 0
    summary: Summary | None = None  # None when summarised without input
    warnings: list[str] = field(default_factory=list)
    # every row's output once: the activations when the memory analysis cannot replay the model
    output_bytes_estimate: int = 0
    memory_of: Callable[[], MemoryReport] | None = field(default=None, repr=False)
    # the report's activation_bytes alone, for the table (cheaper than the whole report)
    saved_of: Callable[[], int] | None = field(default=None, repr=False)
    _memory: MemoryReport | None = field(default=None, init=False, repr=False)
    _saved: int | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.formatting.fit(self.summary_list)

    @property
    def memory(self) -> MemoryReport | None:
        """The exact memory report of one training step at this input, made on first use.

        It replays the model's forward and backward on meta tensors, which costs more than
        the summary itself, so it runs only when it is read.
        """
        if self._memory is None and self.memory_of is not None:
            make, self.memory_of = self.memory_of, None
            self._memory = self._fallible(make)
        return self._memory

    @property
    def total_output_bytes(self) -> int:
        """Activations autograd saves for backward in one training step (exact, from the memory
        analysis), else every row's output once; 0 without an input.

        Printing needs this figure only, so it comes from the training forward's replay
        alone unless the whole report has been made already.
        """
        if self._memory is None and self._saved is None:
            if self.saved_of is not None:
                make, self.saved_of = self.saved_of, None
                self._saved = self._fallible(make)
            else:
                self._memory = self.memory  # no cheaper way in: the whole report, if any
        if self._memory is not None:
            return self._memory.activation_bytes
        return self._saved if self._saved is not None else self.output_bytes_estimate

    def _fallible(self, make: Callable[[], Any]) -> Any:
        """``make()``, or None and a warning when the model cannot be replayed (the summary stands)."""
        try:
            return make()
        except Exception as exc:  # noqa: BLE001 -- the sizes fall back, the summary stands
            note = (
                f"the memory analysis could not replay the model ({type(exc).__name__}: {exc}); "
                "Forward/backward pass size counts every row's output once instead"
            )
            if note not in self.warnings:
                self.warnings.append(note)
            return None

    @property
    def has_input(self) -> bool:
        return self.summary is not None

    @staticmethod
    def float_to_megabytes(num: int) -> float:
        """A count of 4-byte floats in MB (torchinfo's helper)."""
        return num * 4 / 1e6

    @staticmethod
    def to_megabytes(num: int) -> float:
        return num / 1e6

    @staticmethod
    def format_output_num(num: int, units: str) -> str:
        """': 21,840' or ' (M): 7.69', the total lines' number as torchinfo writes it."""
        units = getattr(units, "value", units)
        if units == "auto":
            units = "T" if num >= 1e12 else "G" if num >= 1e9 else "M"
        value = num / _SCALES[units]
        text = f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}"
        return f"{' (' + units + ')' if units else ''}: {text}"

    def __str__(self) -> str:
        f = self.formatting
        rule = "=" * f.width()
        out = [rule, "\n", f.line(_header(f), TITLES), rule, "\n", *self._rows(), rule, "\n"]
        params = getattr(f.params_units, "value", f.params_units)
        out.append(f"Total params{self.format_output_num(self.total_params, params)}\n")
        out.append(f"Trainable params{self.format_output_num(self.trainable_params, params)}\n")
        frozen = self.total_params - self.trainable_params
        out.append(f"Non-trainable params{self.format_output_num(frozen, params)}\n")
        if self.has_input:
            out.append(
                f"Total mult-adds{self.format_output_num(self.total_mult_adds, f.macs_units)}\n"
            )
            out += [rule, "\n", *self._sizes()]
        out.append(rule)
        return "".join(out)

    __repr__ = __str__

    def _sizes(self) -> list[str]:
        mb = self.to_megabytes
        total = (
            self.total_input
            + self.total_output_bytes
            + self.total_param_bytes
            + self.total_buffer_bytes
        )
        lines = [
            f"Input size (MB): {mb(self.total_input):0.2f}\n",
            f"Forward/backward pass size (MB): {mb(self.total_output_bytes):0.2f}\n",
            f"Params size (MB): {mb(self.total_param_bytes):0.2f}\n",
        ]
        if self.total_buffer_bytes:
            lines.append(f"Buffers size (MB): {mb(self.total_buffer_bytes):0.2f}\n")
        return [*lines, f"Estimated Total Size (MB): {mb(total):0.2f}\n"]

    def _rows(self) -> list[str]:
        f = self.formatting
        out = []
        for row in self.summary_list:
            if row.depth > f.max_depth or (
                "hide_recursive_layers" in f.row_settings and row.is_recursive
            ):
                continue
            at_max = row.depth == f.max_depth
            out.append(f.line(f.branch(row.depth) + f.title(row), self._cells(row, at_max)))
            if f.verbose == 2:
                out += self._tensors(row)
        return out

    def _cells(self, row: LayerRow, at_max: bool) -> dict[str, str]:
        layer = row.layer
        return {
            "kernel_size": _text(row.kernel_size),
            "input_size": _text(row.input_size),
            "output_size": _text(row.output_size),
            "num_params": row.num_params_to_str(at_max),
            "params_percent": row.params_percent(self.total_params, at_max),
            "mult_adds": row.macs_to_str(at_max),
            "trainable": row.trainable,
            "groups": _text(
                layer.groups if layer is not None else getattr(row.module, "groups", None)
            ),
        }

    def _tensors(self, row: LayerRow) -> list[str]:
        """``verbose=2``: one line per tensor of the module, its shape and its count."""
        tensors = list(row.inner_layers.items())
        prefix = self.formatting.branch(row.depth + 1)
        return [
            self.formatting.line(
                prefix + name,
                {
                    "kernel_size": str(shape),
                    "num_params": ("└─" if i == len(tensors) - 1 else "├─") + f"{n:,}",
                },
            )
            for i, (name, (shape, n)) in enumerate(tensors)
        ]


def _header(f: Formatting) -> str:
    extra = (" (var_name)" if "var_names" in f.row_settings else "") + (
        ":depth-idx" if "depth" in f.row_settings else ""
    )
    return f"Layer (type{extra})"


def _text(value: Any) -> str:
    return str(value) if value not in (None, [], 0, "") else "--"
