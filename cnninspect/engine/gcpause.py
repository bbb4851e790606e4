"""Garbage collection paused for the length of a summary, and only where nobody else notices.

A summary makes many short-lived objects and no garbage cycles worth a pause, but each full
collection walks every object alive -- the whole model included -- so with collection on, a
deep model's summary grows faster than linearly. ``benchmarks/gc_pause.py`` on 2026-12-01
(median of 9 alternating pairs; two runs): with collection on, first and repeat summaries of
resnet50, densenet121 and mobilenet_v3_large take 0.99-1.47x as long, and those of a
2,000-block conv stack 1.98-2.33x.

``gc.disable()`` is process-wide, so it is used only while the calling thread is the only
Python thread: another thread's allocations would otherwise go uncollected. With other
threads running, a summary simply runs with collection on. Nested summaries (verify,
receptive_field) share one pause, and the state the caller had is restored on every exit.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_depth = 0
_paused = False  # whether the outermost entry disabled collection (and so must enable it)


@contextlib.contextmanager
def collection_paused() -> Iterator[bool]:
    """Pause the cyclic collector while this thread is the only one; yields whether it did."""
    global _depth, _paused
    with _lock:
        if _depth == 0:
            _paused = gc.isenabled() and threading.active_count() == 1
            if _paused:
                gc.disable()
        _depth += 1
        paused = _paused
    try:
        yield paused
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _paused:
                _paused = False
                gc.enable()
