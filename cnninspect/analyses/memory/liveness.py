"""Peaks from a replay's log: each storage is alive from the op that makes it to the last
op that touches it; saved storages live on until the backward; outputs and gradients to
the end. The sweep is over aten ops, so transients inside a layer count too."""

from __future__ import annotations

from dataclasses import dataclass

from cnninspect.analyses.memory.replay import BACKWARD, FORWARD, MemoryLog

HELD = (FORWARD, BACKWARD)  # storages made during the step (the rest exist before it)


@dataclass(frozen=True)
class Peaks:
    """The largest bytes alive at once on top of what existed before the step."""

    forward: int  # during the forward
    backward: int  # during the backward (saved tensors, gradients, transients)


def peaks(log: MemoryLog) -> Peaks:
    """Sweep the op log once, adding each storage where it appears and dropping it after its end."""
    n = log.ops + 1
    delta = [0] * (n + 2)
    bwd = log.backward_from if log.backward_from >= 0 else n
    for key, st in log.storages.items():
        if st.origin not in HELD:
            continue
        if key in log.pinned:
            end = n
        elif st.saved_by is not None and st.origin == FORWARD:
            end = max(st.last_op, bwd)
        else:
            end = st.last_op
        delta[st.first_op] += st.nbytes
        delta[end + 1] -= st.nbytes
    live = forward = backward = 0
    for i in range(n):
        live += delta[i]
        if i < bwd:
            forward = max(forward, live)
        else:
            backward = max(backward, live)
    return Peaks(forward, backward)


def saved_by_row(log: MemoryLog, n_rows: int) -> list[int]:
    """Bytes each row saves for backward, storage-deduplicated, parameters and buffers excluded."""
    out = [0] * n_rows
    for st in log.storages.values():
        if st.saved_by is not None and st.origin in ("input", FORWARD):
            out[min(st.saved_by, n_rows - 1)] += st.nbytes
    return out
