"""cnninspect.chapter.data: the chapter's MNIST pipeline, read once into tensors."""

from __future__ import annotations

import os

import pytest
import torch

from cnninspect.chapter.data import DataError, data_root, mnist
from cnninspect.errors import OptionError

DATA = os.environ["CNNINSPECT_DATA"]


def test_matches_torchvision_totensor_normalize():
    """Our tensors equal what the chapter's transform gives for the same samples."""
    from torchvision import datasets, transforms

    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    ref = datasets.MNIST(DATA, train=False, transform=tf)
    ours = mnist(DATA, train=False, limit=50)
    for i in (0, 7, 49):
        x_ref, y_ref = ref[i]
        x, y = ours[i]
        assert x.shape == (1, 28, 28) and x.dtype == torch.float32
        torch.testing.assert_close(x, x_ref, rtol=0, atol=1e-6)
        assert int(y) == y_ref
    xb, yb = ours.__getitems__([3, 1])
    assert xb.shape == (2, 1, 28, 28) and yb.tolist() == [ref[3][1], ref[1][1]]


def test_sizes_and_limit():
    assert len(mnist(DATA, train=False)) == 10_000  # the published test split size
    sub = mnist(DATA, train=True, limit=123)
    assert len(sub) == 123 and sub.indices.tolist() == list(range(123))
    with pytest.raises(OptionError, match="limit"):
        mnist(DATA, train=False, limit=0)


def test_root_from_env_and_from_subfolders(monkeypatch):
    monkeypatch.setenv("CNNINSPECT_DATA", DATA)
    assert len(mnist(train=False, limit=5)) == 5
    base = data_root(DATA)
    assert data_root(os.path.join(DATA, "MNIST")) == base
    assert data_root(os.path.join(DATA, "MNIST", "raw")) == base


def test_missing_data_names_folder_and_files(tmp_path):
    with pytest.raises(DataError) as err:
        mnist(tmp_path, train=True)
    msg = str(err.value)
    assert str(tmp_path / "MNIST" / "raw") in msg
    for name in ("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        assert name in msg
    assert list(tmp_path.iterdir()) == []  # nothing downloaded, nothing created


def test_no_root_anywhere(monkeypatch):
    monkeypatch.delenv("CNNINSPECT_DATA", raising=False)
    with pytest.raises(DataError, match="CNNINSPECT_DATA"):
        mnist()


def test_cli_missing_data_is_one_line_usage_error(tmp_path, capsys):
    from cnninspect.integrations.cli import main

    assert main(["train", "--data-dir", str(tmp_path), "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1
    assert str(tmp_path) in err and "train-images-idx3-ubyte" in err
