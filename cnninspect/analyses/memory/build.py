"""From two replays (training, inference) to a :class:`MemoryReport`."""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from cnninspect.analyses.memory.cache import remembered, setup_key
from cnninspect.analyses.memory.liveness import peaks, saved_by_row
from cnninspect.analyses.memory.replay import BUFFER, INPUT, PARAM, MemoryLog, MetaState
from cnninspect.analyses.memory.report import OPTIMIZERS, MemoryReport, RowMemory
from cnninspect.analyses.memory.run import Ready, own_forward_log, ready, replay
from cnninspect.engine.inputs import InputSpec

_STEP_TENSOR_BYTES = 4  # Adam's per-parameter ``step`` counter: a float32 scalar


def build_report(
    model: nn.Module,
    spec: InputSpec,
    optimizer: str,
    dtype: torch.dtype | None,
    amp: torch.dtype | None,
    *,
    inference: bool = True,
) -> MemoryReport:
    """The report; ``inference=False`` skips the inference replay (its peak reads 0).

    Remembered per model and setup like the replays, and by structure across models (see
    :mod:`~cnninspect.analyses.memory.cache`); handed out as a copy.
    """
    got = ready(model, spec)
    key = setup_key(got.base, "report", spec, optimizer, dtype, amp, inference)

    def make() -> MemoryReport:
        train, state = replay(got, spec, train=True, dtype=dtype, amp=amp)
        infer = own_forward_log(got, spec, train=False, dtype=dtype, amp=amp) if inference else None
        batch = spec.shapes[0][0] if spec.shapes and spec.shapes[0] else None
        return report_from(type(model).__name__, batch, train, state, infer, optimizer, dtype, amp)

    report = remembered(got.model, key, make, shared=True)
    return replace(report, rows=[replace(r) for r in report.rows], notes=list(report.notes))


def saved_total(
    model: nn.Module, spec: InputSpec, dtype: torch.dtype | None, amp: torch.dtype | None
) -> int:
    """:func:`~cnninspect.analyses.memory.saved_bytes`: remembered like the report."""
    got = ready(model, spec)
    key = setup_key(got.base, "saved", spec, dtype, amp)
    return remembered(got.model, key, lambda: _saved(got, spec, dtype, amp), shared=True)


def _saved(
    model: Ready, spec: InputSpec, dtype: torch.dtype | None, amp: torch.dtype | None
) -> int:
    log = own_forward_log(model, spec, train=True, dtype=dtype, amp=amp, backward=False)
    return sum(saved_by_row(log, len(log.rows)))


def report_from(  # noqa: PLR0913 -- the setup's parts, as the report lists them
    model_name: str,
    batch_size: int | None,
    train: MemoryLog,
    state: MetaState,
    infer: MemoryLog | None,
    optimizer: str,
    dtype: torch.dtype | None,
    amp: torch.dtype | None,
) -> MemoryReport:
    """The report read off a training replay's log (and an inference replay's, if any)."""
    base = {origin: _bytes(train, origin) for origin in (PARAM, BUFFER, INPUT)}
    trainable = [p for p in state.params() if p.requires_grad]
    grads = sum(p.numel() * p.element_size() for p in trainable)
    state_bytes = OPTIMIZERS[optimizer] * grads
    if optimizer.startswith("adam"):
        state_bytes += _STEP_TENSOR_BYTES * len(trainable)
    # the single-tensor Adam of a CPU step makes two temporaries of one parameter's size
    transient = 2 * max((p.numel() * p.element_size() for p in trainable), default=0)
    held = sum(base.values())
    train_peaks = peaks(train)
    infer_peak = held + peaks(infer).forward if infer is not None else 0
    saved = saved_by_row(train, len(train.rows))
    rows = [
        RowMemory(n, o, s) for n, o, s in zip(train.rows, train.output_bytes, saved, strict=True)
    ]
    return MemoryReport(
        model_name=model_name,
        batch_size=batch_size,
        dtype=str(dtype or _model_dtype(state)).replace("torch.", ""),
        optimizer=optimizer,
        amp=str(amp).replace("torch.", "") if amp is not None else None,
        rows=rows,
        param_bytes=base[PARAM],
        buffer_bytes=base[BUFFER],
        input_bytes=base[INPUT],
        gradient_bytes=grads,
        optimizer_bytes=state_bytes,
        activation_bytes=sum(saved),
        inference_peak=infer_peak,
        forward_peak=held + state_bytes + train_peaks.forward,
        backward_peak=held + state_bytes + train_peaks.backward,
        step_peak=held + grads + state_bytes + (transient if optimizer.startswith("adam") else 0),
    )


def _bytes(log: MemoryLog, origin: str) -> int:
    return sum(st.nbytes for st in log.storages.values() if st.origin == origin)


def _model_dtype(state: MetaState) -> torch.dtype:
    for t in state.by_id.values():
        if t.is_floating_point():
            return t.dtype
    return torch.get_default_dtype()
