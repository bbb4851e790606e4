"""cnninspect.chapter.train: determinism, exact resume, checkpoint safety, metrics, CLI."""

from __future__ import annotations

import json
import os
from dataclasses import asdict

import pytest
import torch

from cnninspect.chapter.data import mnist
from cnninspect.chapter.models import SimpleCNN
from cnninspect.chapter.train import (
    CheckpointError,
    Trainer,
    fit,
    load_checkpoint,
    read_jsonl,
    seed_everything,
)
from cnninspect.chapter.train.checkpoint import checkpoint_path, save_checkpoint
from cnninspect.errors import ModelError, OptionError
from cnninspect.integrations.cli import main as cli_main

DATA = os.environ["CNNINSPECT_DATA"]
OPTS = dict(lr=1e-3, batch_size=32, device="cpu", log=None, progress=False, threads=1)


@pytest.fixture(scope="module")
def tiny():
    return mnist(DATA, train=True, limit=192), mnist(DATA, train=False, limit=100)


def _model(seed=0):
    seed_everything(seed)
    return SimpleCNN()


def _outcome(history):
    """Everything but wall-clock figures."""
    return [{k: v for k, v in asdict(h).items() if k not in ("seconds", "images_per_s")} for h in history]


def test_same_seed_same_metrics_different_seed_differs(tiny):
    train, test = tiny
    a = fit(_model(0), train, test, epochs=1, seed=0, **OPTS)
    b = fit(_model(0), train, test, epochs=1, seed=0, **OPTS)
    c = fit(_model(0), train, test, epochs=1, seed=1, **OPTS)  # other shuffle and dropout
    assert _outcome(a) == _outcome(b)
    assert _outcome(a) != _outcome(c)
    rec = a[0]
    assert rec.epoch == 1 and rec.train_images == 192
    assert 0 <= rec.test_acc <= 100 and rec.images_per_s > 0


def test_fit_leaves_caller_rng_alone(tiny):
    train, _ = tiny
    model = _model(0)
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    fit(model, train.subset(64), None, epochs=1, seed=5, **{**OPTS, "threads": threads + 1})
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads  # restored after the run


def test_resume_is_bit_for_bit(tiny, tmp_path):
    train, test = tiny
    straight = _model(0)
    full = fit(straight, train, test, epochs=2, seed=3, **OPTS)

    split = _model(0)
    fit(split, train, test, epochs=1, seed=3, checkpoint_dir=tmp_path, **OPTS)
    resumed_model = _model(99)  # different init: everything must come from the checkpoint
    resumed = fit(resumed_model, train, test, epochs=2, seed=3, checkpoint_dir=tmp_path, resume=True,
                  metrics_path=tmp_path / "m.jsonl", **OPTS)  # fmt: skip

    for (name, p), q in zip(straight.state_dict().items(), resumed_model.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    assert _outcome(full) == _outcome(resumed)
    assert len(read_jsonl(tmp_path / "m.jsonl")) == 1  # only the epoch actually run is appended
    state = load_checkpoint(checkpoint_path(tmp_path))
    assert state["epoch"] == 2 and len(state["history"]) == 2


def test_resume_with_other_seed_or_without_checkpoint_is_refused(tiny, tmp_path):
    train, _ = tiny
    small = train.subset(64)
    with pytest.raises(CheckpointError, match="nothing to resume"):
        fit(_model(), small, None, epochs=1, checkpoint_dir=tmp_path, resume=True, **OPTS)
    fit(_model(), small, None, epochs=1, seed=0, checkpoint_dir=tmp_path, **OPTS)
    with pytest.raises(CheckpointError, match="seed=0"):
        fit(_model(), small, None, epochs=2, seed=1, checkpoint_dir=tmp_path, resume=True, **OPTS)


def test_corrupt_truncated_and_foreign_checkpoints_are_clear_errors(tiny, tmp_path):
    train, _ = tiny
    small = train.subset(64)
    good = tmp_path / "good"
    fit(_model(), small, None, epochs=1, checkpoint_dir=good, **OPTS)
    blob = checkpoint_path(good).read_bytes()

    cases = {
        "garbage": (b"this is not a checkpoint" * 10, "corrupt"),
        "truncated": (blob[: len(blob) // 2], "corrupt"),
    }
    for name, (payload, phrase) in cases.items():
        d = tmp_path / name
        d.mkdir()
        checkpoint_path(d).write_bytes(payload)
        with pytest.raises(CheckpointError, match=phrase) as err:
            fit(_model(), small, None, epochs=2, checkpoint_dir=d, resume=True, **OPTS)
        assert str(checkpoint_path(d)) in str(err.value)
        assert checkpoint_path(d).read_bytes() == payload  # never overwritten by a fresh start

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    torch.save({"state_dict": SimpleCNN().state_dict(), "epoch": 3}, checkpoint_path(foreign))
    with pytest.raises(CheckpointError, match="not written by cnninspect"):
        load_checkpoint(checkpoint_path(foreign))

    pickled = tmp_path / "pickled"
    pickled.mkdir()
    torch.save(OptionError("an arbitrary object"), checkpoint_path(pickled))
    with pytest.raises(CheckpointError, match="weights_only"):
        load_checkpoint(checkpoint_path(pickled))

    other = tmp_path / "other"
    save_checkpoint(checkpoint_path(other), {"model": {"w": torch.zeros(2)}, "optimizer": {}, "epoch": 1})
    with pytest.raises(CheckpointError, match="does not fit this model"):
        fit(_model(), small, None, epochs=2, checkpoint_dir=other, resume=True, **OPTS)


def test_save_is_atomic_when_the_write_fails(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"model": {"w": torch.ones(2)}, "optimizer": {}, "epoch": 1})
    before = path.read_bytes()

    def broken_save(obj, fh, *a, **k):
        fh.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"model": {"w": torch.zeros(2)}, "optimizer": {}, "epoch": 2})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]  # no temp file left


def test_bad_options_and_mismatched_model(tiny):
    train, _ = tiny
    with pytest.raises(OptionError, match="epochs"):
        fit(_model(), train, None, epochs=0, **OPTS)
    with pytest.raises(OptionError, match="optimizer"):
        fit(_model(), train, None, epochs=1, optimizer="lion", lr=1e-3, batch_size=32, device="cpu", log=None)
    with pytest.raises(OptionError, match="checkpoint_dir"):
        fit(_model(), train, None, epochs=1, resume=True, **OPTS)
    from cnninspect.chapter.models import CustomCNN  # 3x32x32 inputs, cannot take MNIST

    with pytest.raises(ModelError, match=r"\(2, 1, 28, 28\)"):
        fit(CustomCNN(), train, None, epochs=1, **OPTS)
    with pytest.raises(ModelError, match="without channels_last"):  # SimpleCNN flattens with .view
        fit(_model(), train, None, epochs=1, channels_last=True, **OPTS)


def test_trainer_helper_learns_something():
    """The fixture-sized trainer moves test accuracy well above chance (10 %)."""
    history = Trainer(limit=1000, test_limit=500, extra={"threads": 1}).fit(_model(0))
    assert len(history) == 1 and history[0].train_images == 1000
    assert history[0].test_acc > 60.0


def test_cli_train_prints_epoch_lines_and_writes_metrics(tmp_path, capsys):
    run_dir = tmp_path / "run"
    args = ["train", "simple-cnn", "--epochs", "2", "--limit", "256", "--batch-size", "64", "--device", "cpu",
            "--threads", "1", "--checkpoint-dir", str(run_dir), "--data-dir", DATA]  # fmt: skip
    assert cli_main(args) == 0
    out, err = capsys.readouterr()
    lines = [ln for ln in out.splitlines() if ln.startswith("Epoch ")]
    assert [ln.split(":")[0] for ln in lines] == ["Epoch 1/2", "Epoch 2/2"]
    for ln in lines:
        assert "Train Loss:" in ln and "Test Acc:" in ln and "img/s" in ln
    assert "it/s" not in err and "\r" not in err  # no progress bar when stderr is not a TTY
    records = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    assert f"Test Acc: {records[1]['test_acc']:.2f}%" in lines[1]
    assert f"Final test accuracy: {records[1]['test_acc']:.2f}%" in out
    assert (run_dir / "last.pt").is_file()

    assert cli_main(args[:3] + ["3"] + args[4:] + ["--resume"]) == 0
    out, _ = capsys.readouterr()
    assert "resumed from" in out and "Epoch 3/3" in out and "Epoch 1/3" not in out
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 3

    (run_dir / "last.pt").write_bytes(b"\x00" * 100)
    assert cli_main(args + ["--resume"]) == 1
    _, err = capsys.readouterr()
    assert "Traceback" not in err and "corrupt" in err and err.count("\n") == 1


@pytest.mark.parametrize("amp", [False, True])
def test_amp_runs_the_forward_in_bfloat16_and_keeps_float32_weights(tiny, amp):
    """CPU autocast can run amp=True: the convs compute in bf16 only then, the weights stay fp32."""
    train, _ = tiny
    model = _model(0)
    seen: list[tuple[bool, torch.dtype]] = []
    model.conv1.register_forward_hook(lambda module, args, out: seen.append((module.training, out.dtype)))
    history = fit(model, train.subset(64), None, epochs=1, amp=amp, **OPTS)
    # the two training batches of 32 (the eval-mode call before them is fit's shape preflight)
    assert [dtype for training, dtype in seen if training] == [torch.bfloat16 if amp else torch.float32] * 2
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert history[0].train_images == 64 and torch.isfinite(torch.tensor(history[0].train_loss))


def test_cli_amp_flag_reaches_autocast(tmp_path, capsys, monkeypatch):
    calls = []
    autocast = torch.autocast

    def recording(device_type, *args, **kwargs):
        calls.append((device_type, kwargs.get("dtype"), kwargs.get("enabled", True)))
        return autocast(device_type, *args, **kwargs)

    monkeypatch.setattr(torch, "autocast", recording)
    args = ["train", "simple-cnn", "--epochs", "1", "--limit", "64", "--batch-size", "32", "--device", "cpu",
            "--threads", "1", "--checkpoint-dir", str(tmp_path / "run"), "--data-dir", DATA]  # fmt: skip
    assert cli_main(args + ["--amp"]) == 0
    assert "Epoch 1/1" in capsys.readouterr().out
    assert calls and set(calls) == {("cpu", torch.bfloat16, True)}
    calls.clear()
    assert cli_main(args[:-4] + ["--checkpoint-dir", str(tmp_path / "plain"), "--data-dir", DATA]) == 0
    assert calls and {enabled for _, _, enabled in calls} == {False}
