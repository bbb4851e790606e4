"""Parameter counts: (k*k*C_in + 1) * C_out per conv, in_features*out + out per linear.

Section "Counting parameters": the chapter's table from cnninspect.analyses.fc and
cnninspect.analyses.reference, then SimpleCNN tensor by tensor against torch's numel().

    python examples/parameter_counts.py
"""

from __future__ import annotations

from cnninspect.analyses.fc import chapter_comparisons
from cnninspect.analyses.reference import conv_params, linear_params
from cnninspect.chapter.models import SimpleCNN


def main() -> None:
    table = chapter_comparisons().parameter_table
    width = max(len(label) for label, _ in table)
    for label, count in table:
        print(f"{label:<{width}}  {count:>11,}")
    print()
    model = SimpleCNN()
    formulas = {
        "conv1": int(conv_params(1, 32, 3)),
        "conv2": int(conv_params(32, 64, 3)),
        "fc1": int(linear_params(64 * 7 * 7, 128)),
        "fc2": int(linear_params(128, 10)),
    }
    for name, param in model.named_parameters():
        print(f"{name:<12} {str(tuple(param.shape)):<16} {param.numel():>9,}")
    total = sum(p.numel() for p in model.parameters())
    print(f"SimpleCNN total parameters: {total:,} (formulas: {sum(formulas.values()):,})")
    for name, count in formulas.items():
        print(f"  {name}: {count:,}")


if __name__ == "__main__":
    main()
