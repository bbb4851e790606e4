"""The chapter's pictures as NumPy arrays: the cat, the worked convolution, the kernel gallery.

The chapter filters its 6x7 test picture with five 3x3 kernels so that each result
has the picture's own size, extending the border by mirroring (``np.pad`` mode
``"symmetric"``: the edge pixel repeats). No SciPy needed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnninspect.chapter import facts
from cnninspect.errors import InputShapeError


def correlate_same(image: Any, kernel: Any) -> np.ndarray:
    """2-D cross-correlation (kernel not flipped) with a mirror-extended border: output size == input size."""
    img = np.asarray(image, dtype=np.float64)
    k = np.asarray(kernel, dtype=np.float64)
    if img.ndim != 2 or k.ndim != 2 or k.shape[0] % 2 == 0 or k.shape[1] % 2 == 0:
        raise InputShapeError(
            f"correlate_same takes a 2-d image and an odd-sized 2-d kernel; got {img.shape} and {k.shape}"
        )
    ph, pw = k.shape[0] // 2, k.shape[1] // 2
    padded = np.pad(img, ((ph, ph), (pw, pw)), mode="symmetric")
    windows = np.lib.stride_tricks.sliding_window_view(padded, k.shape)
    return np.einsum("ijkl,kl->ij", windows, k)


def cat() -> np.ndarray:
    """The 5x5 "cat" of section 1.1: three lit pixels on black."""
    image = np.zeros(facts.CAT_SIZE)
    for r, c in facts.CAT_ONES:
        image[r, c] = 1.0
    return image


def worked_example() -> tuple[np.ndarray, np.ndarray]:
    """The worked convolution's 5x5 image and 3x3 edge kernel (8 in the centre)."""
    return np.array(facts.CONV_IMAGE, dtype=np.float64), np.array(facts.CONV_KERNEL, dtype=np.float64)


def chapter_image() -> np.ndarray:
    """The gallery's 6x7 test picture: a 255-valued square outline on black."""
    return np.array(facts.GALLERY_IMAGE, dtype=np.float64)


def chapter_kernels() -> dict[str, np.ndarray]:
    """The gallery's five kernels by the chapter's names."""
    return {name: np.array(k, dtype=np.float64) for name, k in facts.GALLERY_KERNELS.items()}


def gallery(image: Any | None = None, kernels: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
    """``{kernel name: filtered image}`` for the chapter's picture and kernels (or your own)."""
    img = chapter_image() if image is None else image
    return {name: correlate_same(img, k) for name, k in (kernels or chapter_kernels()).items()}


__all__ = ["cat", "worked_example", "correlate_same", "chapter_image", "chapter_kernels", "gallery"]
