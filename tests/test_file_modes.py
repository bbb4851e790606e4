"""Files cnninspect writes follow the user's umask, like any other tool's output (not mkstemp's 0600)."""

from __future__ import annotations

import os
import stat

import pytest
import torch

from cnninspect.analyses import snapshot
from cnninspect.chapter import viz
from cnninspect.chapter.train.checkpoint import save_checkpoint
from cnninspect.files import atomic_write, current_umask
from cnninspect.integrations.cli import main as cli_main
from cnninspect.integrations.sphinx.plots import save_once


@pytest.fixture(params=[0o022, 0o027])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_current_umask_reads_without_changing(umask):
    assert current_umask() == umask
    assert os.umask(umask) == umask  # still what the fixture set


def test_every_writer_respects_the_umask(umask, tmp_path):
    expected = 0o666 & ~umask  # what open(path, "w") gives: 0644 under 022, 0640 under 027
    fig = viz.activation_functions(["relu"])
    written = [
        viz.save_figure(fig, tmp_path / "plot.png"),
        save_checkpoint(tmp_path / "run" / "last.pt", {"model": {"w": torch.ones(1)}, "optimizer": {}, "epoch": 1}),
        atomic_write(tmp_path / "any.txt", lambda fh: fh.write("x"), text=True),
    ]
    snapshot.write(tmp_path / "snap.json", {"schema": "x", "layers": []})
    written.append(tmp_path / "snap.json")
    written += save_once(lambda: fig, tmp_path / "sphinx", "chart", ("png",))
    with open(tmp_path / "reference.txt", "w") as fh:
        fh.write("a file written the ordinary way")
    assert mode(tmp_path / "reference.txt") == expected
    for path in written:
        assert mode(path) == expected, (path, oct(mode(path)))


def test_report_conf_py_and_saved_weights(umask, tmp_path, capsys):
    expected = 0o666 & ~umask
    assert cli_main(["report", "conv-block", "--output", str(tmp_path / "report")]) == 0
    files = [p for p in (tmp_path / "report").rglob("*") if p.is_file()]
    assert tmp_path / "report" / "conf.py" in files
    for path in files:
        assert mode(path) == expected, (path, oct(mode(path)))
