"""A replay's log at any batch size, read off two replays, where every storage grows affinely.

In almost every model each storage a step makes is a fixed number of bytes plus a fixed
number per sample, and the ops run in the same order whatever the batch. Replays at batch
1 and 2 then give each storage's line, so the log at batch ``b`` -- and the peaks read off
it -- costs arithmetic instead of a replay. Whether a model is such a model is checked,
never assumed: two logs must agree in everything but sizes, and a prediction is only
trusted where a real replay at a third batch equals it storage for storage.
"""

from __future__ import annotations

from cnninspect.analyses.memory.replay import MemoryLog, Storage


def _shape(log: MemoryLog) -> tuple:
    """Everything in a log but its sizes, in the order the storages appeared."""
    keys = list(log.storages)
    index = {k: i for i, k in enumerate(keys)}
    events = tuple(
        (st.origin, st.row, st.saved_by, st.first_op, st.last_op) for st in log.storages.values()
    )
    pinned = frozenset(index[k] for k in log.pinned if k in index)
    return log.ops, log.backward_from, tuple(log.rows), events, pinned


def _sizes(log: MemoryLog) -> tuple[list[int], list[int]]:
    return [st.nbytes for st in log.storages.values()], list(log.output_bytes)


class Lines:
    """The logs at batches 1 and 2 of one setup, as lines: the log at any batch."""

    def __init__(self, one: MemoryLog, two: MemoryLog) -> None:
        self.shape = _shape(one)
        self.affine = self.shape == _shape(two)
        (s1, o1), (s2, o2) = _sizes(one), _sizes(two)
        self.base = (s1, o1)
        self.slope = ([b - a for a, b in zip(s1, s2)], [b - a for a, b in zip(o1, o2)])
        # a storage that shrinks with the batch would make the peak non-monotonic
        self.growing = all(d >= 0 for part in self.slope for d in part)

    def sizes(self, batch: int) -> tuple[list[int], list[int]]:
        (s, o), (ds, do) = self.base, self.slope
        k = batch - 1
        return [a + d * k for a, d in zip(s, ds)], [a + d * k for a, d in zip(o, do)]

    def at(self, batch: int) -> MemoryLog:
        """The log a replay at ``batch`` would make, if every storage lies on its line."""
        ops, backward_from, rows, events, pinned = self.shape
        storages, outputs = self.sizes(batch)
        log = MemoryLog(rows=list(rows), output_bytes=outputs, ops=ops, backward_from=backward_from)
        for i, (nbytes, (origin, row, saved_by, first, last)) in enumerate(zip(storages, events)):
            log.storages[i] = Storage(nbytes, origin, row, saved_by, first, last)
        log.pinned = set(pinned)
        return log

    def holds_at(self, batch: int, real: MemoryLog) -> bool:
        """Whether a real replay at ``batch`` is exactly what the lines predict."""
        return _shape(real) == self.shape and _sizes(real) == self.sizes(batch)
