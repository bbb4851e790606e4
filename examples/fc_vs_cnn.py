"""Why convolutions: the parameter cost of a dense layer vs a conv, and position sensitivity.

Section "FC vs CNN" of the chapter, computed by cnninspect.analyses.fc:
a 224x224x3 image into 1,000 dense units costs 150,529,000 parameters; a 3->64
3x3 conv costs 1,792. Moving the chapter's 5x5 "cat" one pixel to the right changes
its flattened vector (a dense layer sees a new input) but only moves a conv's feature map.

    python examples/fc_vs_cnn.py
"""

from __future__ import annotations

from cnninspect.analyses.fc import chapter_comparisons, compare_fc, position_sensitivity
from cnninspect.chapter import facts
from cnninspect.chapter.models import SimpleCNN
from cnninspect.chapter.pictures import cat


def main() -> None:
    print(chapter_comparisons().to_text())
    print()
    dy, dx = facts.CAT_SHIFT
    moved = position_sensitivity(cat(), dy=dy, dx=dx)
    print("Position sensitivity (the chapter's 5x5 cat moved one pixel to the right):")
    print(moved.to_text())
    print()
    comparison = compare_fc(SimpleCNN(), (1, 1, 28, 28))
    print(comparison.to_text())
    print(f"SimpleCNN's convs: {comparison.conv_params:,} parameters; dense layers mapping the same volumes: "
          f"{comparison.fc_params:,} ({comparison.ratio:,.0f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
