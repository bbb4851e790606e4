"""Shared test set-up: where the real MNIST lies (never copied into the repo)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The data folder: $CNNINSPECT_DATA, else ../shared/data beside the checkout (read-only).
os.environ.setdefault("CNNINSPECT_DATA", str((REPO.parent / "shared" / "data").resolve()))


@pytest.fixture(scope="module")
def one_torch_thread():
    """For modules of tiny tensors: a second OpenMP thread only adds spin-waiting
    (100x slower on a busy 2-core machine). Restores the thread count afterwards."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
