"""MNIST as the chapter loads it, but decoded once into tensors.

The chapter reads MNIST through ``torchvision.datasets.MNIST`` with ``ToTensor()``
and ``Normalize((0.1307,), (0.3081,))``, which decodes a PIL image per sample per
epoch. We read the same files through the same class, apply the same arithmetic
to the whole uint8 array once, and serve batches by fancy indexing
(``__getitems__``), so a DataLoader needs neither workers nor collation.

The folder comes from the ``root`` argument, else ``$CNNINSPECT_DATA``; nothing is
ever downloaded unless ``download=True`` is asked for. The command line also looks
in ``../shared/data`` beside a source checkout (:func:`cli_data_dir`), where the
project keeps MNIST, so the README's commands run as written from a fresh clone.
Errors name the fix in the caller's words: ``root=``/``download=True`` from Python,
``--data-dir``/``--download`` from the command line (``words="cli"``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cnninspect.errors import OptionError

MEAN = 0.1307
STD = 0.3081
ENV_VAR = "CNNINSPECT_DATA"
RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


# How each caller names the folder and the download switch: (folder, download).
WORDS = {"api": ("root=...", "download=True"), "cli": ("--data-dir", "--download")}


class DataError(OptionError):
    """The data folder is missing, incomplete or unreadable."""


def checkout_data_dir() -> Path | None:
    """``../shared/data`` beside the source checkout this package runs from, if it holds MNIST."""
    folder = Path(__file__).resolve().parents[3] / "shared" / "data"
    return folder if (folder / "MNIST" / "raw").is_dir() else None


def cli_data_dir(given: str | os.PathLike[str] | None) -> str | os.PathLike[str] | None:
    """The command line's folder: ``--data-dir``, else ``$CNNINSPECT_DATA``, else the checkout's shared data."""
    if given is not None or os.environ.get(ENV_VAR):
        return given
    return checkout_data_dir()


def data_root(root: str | os.PathLike[str] | None = None, *, words: str = "api") -> Path:
    """The folder that holds ``MNIST/raw``: ``root`` if given, else ``$CNNINSPECT_DATA``.

    Pointing at ``.../MNIST`` or ``.../MNIST/raw`` also works, because people do.
    """
    if root is None:
        env = os.environ.get(ENV_VAR)
        if not env:
            raise DataError(
                f"no data folder given: pass {WORDS[words][0]} or set ${ENV_VAR} "
                "to the folder that holds MNIST/raw"
            )
        root = env
    path = Path(root).expanduser()
    if path.name == "raw" and path.parent.name == "MNIST":
        return path.parent.parent
    if path.name == "MNIST" and (path / "raw").is_dir():
        return path.parent
    return path


class TensorImages:
    """Images and labels held as two tensors; a map-style dataset with batched reads.

    ``indices`` keeps each row's index in the full source set, so a subset can say
    which original samples it holds.
    """

    def __init__(
        self, images: Any, labels: Any, indices: Any | None = None, name: str = ""
    ) -> None:
        import torch

        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images = images
        self.labels = labels
        self.indices = indices if indices is not None else torch.arange(len(labels))
        self.name = name

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        return self.images[index], self.labels[index]

    def __getitems__(self, indices: list[int]) -> tuple[Any, Any]:
        """One fancy-index per batch instead of ``batch_size`` item reads and a collate."""
        import torch

        idx = torch.as_tensor(indices, dtype=torch.long)
        return self.images[idx], self.labels[idx]

    def subset(self, limit: int | None) -> TensorImages:
        """The first ``limit`` samples (all of them when ``limit`` is None)."""
        if limit is None or limit >= len(self):
            return self
        if limit < 1:
            raise OptionError(f"limit must be a positive number of samples, got {limit}")
        return TensorImages(
            self.images[:limit], self.labels[:limit], self.indices[:limit], self.name
        )

    def __repr__(self) -> str:
        return f"TensorImages({self.name or 'data'}: {len(self)} x {tuple(self.images.shape[1:])})"


def batch_passthrough(batch: Any) -> Any:
    """collate_fn for datasets whose ``__getitems__`` already returns a batch."""
    return batch


def normalize(raw: Any) -> Any:
    """uint8 N x 28 x 28 -> float32 N x 1 x 28 x 28, the same ops as ToTensor + Normalize."""
    return raw.unsqueeze(1).float().div(255).sub(MEAN).div(STD)


def mnist(
    root: str | os.PathLike[str] | None = None,
    *,
    train: bool = True,
    download: bool = False,
    limit: int | None = None,
    words: str = "api",
) -> TensorImages:
    """The MNIST train (60,000) or test (10,000) split, normalised, as tensors.

    ``limit`` keeps the first N samples, for quick runs and tests. ``words="cli"``
    names ``--data-dir``/``--download`` in errors instead of the keyword arguments.
    """
    folder = data_root(root, words=words)
    where, fetch = WORDS[words]
    raw = folder / "MNIST" / "raw"
    if not download:
        missing = [f for f in RAW_FILES if not (raw / f).is_file()]
        if missing:
            raise DataError(
                f"MNIST not found in {raw} (missing {', '.join(missing)}); point {where} or ${ENV_VAR} "
                f"at the folder that holds MNIST/raw, or add {fetch} to fetch them"
            )
    from torchvision.datasets import MNIST

    try:
        source = MNIST(str(folder), train=train, download=download)
    except (RuntimeError, OSError, ValueError) as exc:
        raise DataError(f"could not read MNIST from {raw}: {exc}") from exc
    data = TensorImages(
        normalize(source.data),
        source.targets.long(),
        name="mnist-" + ("train" if train else "test"),
    )
    return data.subset(limit)


__all__ = ["mnist", "data_root", "cli_data_dir", "checkout_data_dir", "TensorImages", "DataError", "MEAN", "STD", "normalize"]
