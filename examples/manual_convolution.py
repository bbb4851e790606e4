"""The chapter's worked convolution, by hand: slide, multiply, add -- then check against torch.

Section "How convolution works": the chapter's 5x5 image and its 3x3 edge kernel
(8 in the centre, -1 around), no padding, stride 1, so the output is
(5 - 3)/1 + 1 = 3 by 3. Each output value is the sum of the element-wise product
of the kernel and the window under it (cross-correlation: deep-learning
"convolution" does not flip the kernel). The chapter prints the right products
for output [0,0] but a wrong sum (-13) and a wrong output; the real values follow.

    python examples/manual_convolution.py
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from cnninspect.analyses.reference import conv2d, conv_output_size
from cnninspect.chapter import facts
from cnninspect.chapter.pictures import worked_example

IMAGE, KERNEL = worked_example()


def by_hand(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    k = kernel.shape[0]
    n = image.shape[0] - k + 1
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            out[i, j] = float((image[i:i + k, j:j + k] * kernel).sum())
    return out


def main() -> None:
    size = int(conv_output_size(5, kernel=3, stride=1, padding=0))
    print(f"output size: (5 - 3 + 2*0)/1 + 1 = {size}")
    window = IMAGE[0:3, 0:3]
    terms = " + ".join(f"{int(a)}*{int(b)}" for a, b in zip(window.ravel(), KERNEL.ravel()))
    print(f"output[0,0] = {terms} = {int((window * KERNEL).sum())}")
    manual = by_hand(IMAGE, KERNEL)
    print("by hand:")
    print(manual.astype(int))
    reference = conv2d(IMAGE, KERNEL)
    torch_out = F.conv2d(torch.tensor(IMAGE)[None, None], torch.tensor(KERNEL)[None, None])[0, 0].numpy()
    print(f"cnninspect.analyses.reference.conv2d agrees: {np.array_equal(manual, reference)}")
    print(f"torch.nn.functional.conv2d agrees: {np.array_equal(manual, torch_out)}")
    print(f"the chapter prints output[0,0] = {facts.PRINTED_SUM_00} and {[list(r) for r in facts.PRINTED_CONV_OUTPUT]}: "
          "an erratum (`cnninspect chapter --errata` lists it)")  # fmt: skip


if __name__ == "__main__":
    main()
