"""In-process pytest runs for the plugin tests, shared by their three modules."""

from __future__ import annotations

# Each in-process run forgets the modules it imported, so plugins that import heavy modules
# (hypothesis, benchmark) would be imported and assert-rewritten again every run, and
# unraisableexception's gc.collect() calls over torch's heap cost seconds: leave them out.
QUIET = (
    "-p",
    "no:cacheprovider",
    "-p",
    "no:unraisableexception",
    "-p",
    "no:hypothesispytest",
    "-p",
    "no:benchmark",
)
