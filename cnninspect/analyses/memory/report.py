"""The memory report: per-row bytes, totals for one training setup, and the two peaks."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from cnninspect.units import human_bytes

# optimizer -> tensors of state kept per parameter (steady state, after the first step)
OPTIMIZERS = {"sgd": 0, "sgd-momentum": 1, "adam": 2, "adamw": 2}
AMP_DTYPES = ("bf16", "fp16")


@dataclass
class RowMemory:
    """One row: the bytes of its outputs and what autograd keeps for backward because of it."""

    name: str
    output_bytes: int
    saved_bytes: int


@dataclass
class MemoryReport:
    """What one training step and one inference forward need, in bytes.

    ``activation_bytes`` is what autograd saves for backward (storage-deduplicated,
    parameters excluded); the peaks include parameters, buffers and inputs, and
    ``train_peak`` the gradients and the optimizer state of a steady-state step.
    """

    model_name: str
    batch_size: int | None
    dtype: str
    optimizer: str
    amp: str | None
    rows: list[RowMemory]
    param_bytes: int
    buffer_bytes: int
    input_bytes: int
    gradient_bytes: int
    optimizer_bytes: int
    activation_bytes: int
    inference_peak: int
    forward_peak: int  # the training forward's peak, everything included
    backward_peak: int
    step_peak: int  # during optimizer.step
    notes: list[str] = field(default_factory=list)

    @property
    def train_peak(self) -> int:
        return max(self.forward_peak, self.backward_peak, self.step_peak)

    def row(self, name: str) -> RowMemory:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(f"no row named {name!r}")

    def totals(self) -> dict[str, int]:
        return {
            "parameters": self.param_bytes,
            "buffers": self.buffer_bytes,
            "inputs": self.input_bytes,
            "gradients": self.gradient_bytes,
            "optimizer state": self.optimizer_bytes,
            "activations saved for backward": self.activation_bytes,
            "inference peak": self.inference_peak,
            "training-step peak": self.train_peak,
        }

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["train_peak"] = self.train_peak
        out["schema"] = "cnninspect.memory/1"
        return out

    def to_text(self, top: int | None = None) -> str:
        setup = f"batch {self.batch_size}, {self.dtype}, {self.optimizer}"
        if self.amp:
            setup += f", amp {self.amp} (fp32 master weights)"
        lines = [f"Memory of {self.model_name} ({setup})", ""]
        rows = self.rows if top is None else sorted(self.rows, key=lambda r: -r.saved_bytes)[:top]
        width = max([len("layer")] + [len(r.name) for r in rows])
        lines.append(f"{'layer':<{width}}  {'output':>11}  {'saved for backward':>18}")
        for r in rows:
            lines.append(
                f"{r.name:<{width}}  {human_bytes(r.output_bytes):>11}  {human_bytes(r.saved_bytes):>18}"
            )
        lines.append("")
        label = max(len(k) for k in self.totals())
        for key, value in self.totals().items():
            lines.append(f"{key:<{label}}  {human_bytes(value):>11}  ({value:,} bytes)")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()
