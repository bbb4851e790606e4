"""Branch-reach counting for property tests: a generator must produce what its test claims to test.

A property test wraps its hypothesis function, records the branch each example reached with
:meth:`Reach.hit` (also a hypothesis ``event``, shown by ``pytest --hypothesis-show-statistics``),
runs it, then asserts minimum counts per branch with :meth:`Reach.require`.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import event


class Reach:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def hit(self, *branches: str) -> None:
        for branch in branches:
            self.counts[branch] += 1
            event(branch)

    def require(self, **minimums: int) -> None:
        """Fail naming every branch reached fewer times than asked (hypothesis replays count too)."""
        short = {b: (self.counts[b], n) for b, n in minimums.items() if self.counts[b] < n}
        assert not short, f"branches reached too rarely (reached, required): {short}; all: {dict(self.counts)}"
