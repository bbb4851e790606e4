"""Classic hand-made kernels applied to a test image, and the activation functions.

Section "Kernels": identity, Sobel x/y, blur and sharpen, each applied with
padding 1 (same size) by cnninspect.renderers.viz; prints what each does to the image and
writes kernels.png and activations.png.

    python examples/kernel_gallery.py [--out example-output]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cnninspect import viz


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="example-output", help="folder for the PNGs")
    args = parser.parse_args(argv)
    out = Path(args.out)

    image = viz.test_image(28)
    print(f"test image {tuple(image.shape)}: sum {float(image.sum()):.1f}")
    for name, result in viz.apply_kernels(image).items():
        print(f"{name:>8}: min {float(result.min()):6.2f}  max {float(result.max()):6.2f}  sum {float(result.sum()):7.2f}")
    viz.kernel_gallery(image, path=out / "kernels.png")
    viz.activation_functions(path=out / "activations.png")
    print(f"wrote {out / 'kernels.png'} and {out / 'activations.png'}")


if __name__ == "__main__":
    main()
