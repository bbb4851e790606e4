"""The chapter's SimpleCNN, layer by layer: shapes, parameters, MACs, receptive fields.

Section "A complete CNN": cnninspect.summarize on a 1x28x28 MNIST input.
SimpleCNN has 421,642 parameters (the chapter's per-tensor list sums to this).

    python examples/simplecnn_summary.py
"""

from __future__ import annotations

from cnninspect import summarize
from cnninspect.chapter.models import SimpleCNN


def main() -> None:
    summary = summarize(SimpleCNN(), (1, 1, 28, 28))
    print(summary.to_text())
    print(f"parameters: {summary.total_params:,}; MACs per image: {summary.total_macs:,}; "
          f"output: {'x'.join(map(str, summary.output_shape))}")  # fmt: skip


if __name__ == "__main__":
    main()
