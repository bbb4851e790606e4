"""The chapter's kernel gallery: five hand-made kernels on its 6x7 test picture, and the activations.

Section "Kernels": identity, Sobel (vertical and horizontal edges), blur and sharpen,
each applied at the picture's own size with a mirror-extended border, as the chapter
does (cnninspect.chapter.pictures, NumPy only); prints what each does to the picture and
writes kernels.png and activations.png.

    python examples/kernel_gallery.py [--out example-output]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cnninspect.chapter import viz
from cnninspect.chapter.pictures import chapter_image, chapter_kernels, gallery


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="example-output", help="folder for the PNGs")
    args = parser.parse_args(argv)
    out = Path(args.out)

    image = chapter_image()
    print(f"test picture {image.shape[0]}x{image.shape[1]}: a square outline of 255s, sum {image.sum():.0f}")
    for name, result in gallery().items():
        print(f"{name:>22}: {result.shape[0]}x{result.shape[1]}  min {result.min():8.2f}  max {result.max():8.2f}"
              f"  sum {result.sum():9.2f}")  # fmt: skip
    viz.kernel_gallery(image, chapter_kernels(), border="symmetric", path=out / "kernels.png")
    viz.activation_functions(path=out / "activations.png")
    print(f"wrote {out / 'kernels.png'} and {out / 'activations.png'}")


if __name__ == "__main__":
    main()
