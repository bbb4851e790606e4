"""`cnninspect train` for a new user: README's torchrun line runs as written, errors speak the
CLI's language and are printed once, and every run leaves a run folder behind."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cnninspect.chapter import data
from cnninspect.chapter.train.checkpoint import load_checkpoint
from cnninspect.integrations.cli import main as cli_main

REPO = Path(__file__).resolve().parents[1]
QUICK = ["--epochs", "1", "--limit", "128", "--threads", "1", "--device", "cpu"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fresh_clone_env() -> dict[str, str]:
    """No $CNNINSPECT_DATA: what a new user has after cloning beside ../shared."""
    env = {k: v for k, v in os.environ.items() if k != data.ENV_VAR}
    env.update(OMP_NUM_THREADS="1", PET_MASTER_PORT=str(_free_port()))  # torchrun reads PET_* for its options
    return env


def _readme_torchrun() -> list[str]:
    line = next(ln for ln in (REPO / "README.md").read_text().splitlines() if ln.startswith("torchrun "))
    return shlex.split(line.split("#")[0])


def _torchrun(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    launcher = [shutil.which("torchrun")] if shutil.which("torchrun") else [sys.executable, "-m", "torch.distributed.run"]
    return subprocess.run(launcher + args, capture_output=True, text=True, timeout=400, env=_fresh_clone_env(), cwd=cwd)


def test_readme_torchrun_line_runs_as_written(tmp_path):
    """README's command, plus --limit to keep the test short, from a folder with no data in it."""
    command = _readme_torchrun()
    assert command[:3] == ["torchrun", "--nproc_per_node", "2"], command
    proc = _torchrun(command[1:] + ["--limit", "128"], tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    epochs = int(command[command.index("--epochs") + 1])
    assert [ln.split(":")[0] for ln in proc.stdout.splitlines() if ln.startswith("Epoch ")] == [
        f"Epoch {i}/{epochs}" for i in range(1, epochs + 1)
    ]  # one process prints, the other stays quiet
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert f"run folder: {Path('runs') / run_dir.name}" in proc.stdout
    records = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["world_size"] for r in records] == [2] * epochs


def test_torchrun_user_error_is_printed_once(tmp_path):
    proc = _torchrun(["--nproc_per_node", "2", "-m", "cnninspect.chapter.train", "simple-cnn",
                      "--data-dir", str(tmp_path / "nothing-here")], tmp_path)  # fmt: skip
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert out.count("cnninspect train: error:") == 1, out[-3000:]
    assert "--data-dir" in out and "--download" in out


def test_cli_errors_name_the_cli_options(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setattr(data, "checkout_data_dir", lambda: None)  # an install without the shared data
    assert cli_main(["train", *QUICK]) == 2
    err = capsys.readouterr().err
    assert "--data-dir" in err and "root=" not in err
    assert cli_main(["train", "--data-dir", str(tmp_path), *QUICK]) == 2
    err = capsys.readouterr().err
    assert "--download" in err and "download=True" not in err and err.count("\n") == 1
    with pytest.raises(data.DataError, match=r"root=\.\.\."):  # Python callers get their own words
        data.mnist()
    with pytest.raises(data.DataError, match="download=True"):
        data.mnist(tmp_path)


def test_data_defaults_to_the_shared_folder_beside_the_checkout(monkeypatch):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    shared = REPO.parent / "shared" / "data"
    assert Path(data.cli_data_dir(None)).resolve() == shared.resolve()  # the folder may be a link
    assert data.cli_data_dir("elsewhere") == "elsewhere"
    monkeypatch.setenv(data.ENV_VAR, "/from/env")
    assert data.cli_data_dir(None) is None  # mnist() then reads $CNNINSPECT_DATA


def test_a_run_writes_a_run_folder_by_default(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli_main(["train", "simple-cnn", *QUICK]) == 0
    out = capsys.readouterr().out
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert re.fullmatch(r"simple-cnn-\d{8}-\d{6}", run_dir.name)
    assert f"run folder: {Path('runs') / run_dir.name}" in out
    assert sorted(p.name for p in run_dir.iterdir()) == ["curves.png", "filters.png", "last.pt", "metrics.jsonl"]
    state = load_checkpoint(run_dir / "last.pt")
    assert state["epoch"] == 1 and state["model"]["conv1.weight"].shape == torch.Size([32, 1, 3, 3])
    for png in ("curves.png", "filters.png"):
        assert (run_dir / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert cli_main(["train", "simple-cnn", *QUICK, "--no-save"]) == 0
    assert "run folder" not in capsys.readouterr().out
    assert len(list((tmp_path / "runs").iterdir())) == 1
    assert cli_main(["train", "simple-cnn", *QUICK, "--resume"]) == 2
    assert "--resume needs --checkpoint-dir" in capsys.readouterr().err


def test_auto_threads_leaves_busy_cores_alone(monkeypatch):
    from cnninspect.chapter.train import loop

    monkeypatch.setattr(loop, "_cores", lambda: 2)
    monkeypatch.setattr(loop, "_busy_elsewhere", lambda: 8.0)  # the shared 2-core machine, others' tests running
    assert loop.auto_threads() == 1
    monkeypatch.setattr(loop, "_busy_elsewhere", lambda: 0.0)
    assert loop.auto_threads() == 2
    monkeypatch.setattr(loop, "_cores", lambda: 16)
    assert loop.auto_threads() == 16 and loop.auto_threads(world_size=2) == 8
    monkeypatch.setattr(loop, "_busy_elsewhere", lambda: 6.0)
    assert loop.auto_threads() == 10 and loop.auto_threads(world_size=2) == 5


def test_cli_trains_with_auto_threads_by_default(tmp_path, monkeypatch, capsys):
    from cnninspect.chapter.train import loop

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(loop, "auto_threads", lambda world_size=1: 1)
    seen: list[int] = []
    real_fit = loop.fit

    def spy(model, *args, **kwargs):
        model.register_forward_hook(lambda *_: seen.append(torch.get_num_threads()))
        return real_fit(model, *args, **kwargs)

    monkeypatch.setattr(loop, "fit", spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert cli_main(["train", "--epochs", "1", "--limit", "64", "--device", "cpu", "--no-save"]) == 0
        assert seen and set(seen) == {1}
        assert torch.get_num_threads() == 2  # restored after the run
    finally:
        torch.set_num_threads(before)


def test_this_process_own_worker_threads_are_not_counted_as_others_load():
    """torch's workers spin for a moment after tensor work: they showed up as another process's
    load, so on a quiet machine 'auto' took one thread where two were free (0.72x torch's default)."""
    import threading

    from cnninspect.chapter.train import loop

    stop = threading.Event()

    def spin() -> None:
        a = torch.randn(300, 300)
        while not stop.is_set():
            a @ a  # releases the GIL: this thread runs beside the caller

    worker = threading.Thread(target=spin, daemon=True)
    worker.start()
    try:
        seen = max(loop._running_here() for _ in range(200))
    finally:
        stop.set()
        worker.join()
    assert seen >= 2  # the caller and the spinning worker, both ours
