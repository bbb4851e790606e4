"""The convolution worked out by hand: slide, multiply, add -- then check against torch.

Section "How convolution works": a 5x5 input, a 3x3 vertical-edge kernel, no
padding, stride 1, so the output is (5 - 3)/1 + 1 = 3 by 3. Each output value is
the sum of the element-wise product of the kernel and the window under it
(cross-correlation: deep-learning "convolution" does not flip the kernel).

    python examples/manual_convolution.py
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from cnninspect.analyses.fc import EDGE_KERNEL as KERNEL  # the vertical-edge (Prewitt) kernel
from cnninspect.analyses.reference import conv2d, conv_output_size

IMAGE = np.array(
    [
        [3, 3, 2, 1, 0],
        [0, 0, 1, 3, 1],
        [3, 1, 2, 2, 3],
        [2, 0, 0, 2, 2],
        [2, 0, 0, 0, 1],
    ],
    dtype=np.float64,
)


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


if __name__ == "__main__":
    main()
