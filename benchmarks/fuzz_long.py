"""The fuzz tests, run for longer: thousands of random graphs and random inputs.

    python benchmarks/fuzz_long.py [EXAMPLES]      # default 3000 of each, a fresh random seed

CI runs 200 seeded examples of each (tests/test_fuzz.py); this explores further.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import test_fuzz  # noqa: E402
from fuzzgraphs import graphs  # noqa: E402


def main() -> None:
    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    long = settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    agree = long(given(graphs(max_layers=10))(test_fuzz.check_graph))
    inputs = long(
        given(graphs(max_layers=6), st.lists(st.integers(-1, 20), min_size=1, max_size=5))(
            test_fuzz.check_input
        )
    )
    agree()
    print(f"trace vs real forward: {examples} random graphs agree")
    inputs()
    print(f"random inputs: {examples} cases, only cnninspect errors")


if __name__ == "__main__":
    main()
