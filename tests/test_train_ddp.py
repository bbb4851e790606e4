"""Two CPU processes under torchrun (gloo): disjoint shards, identical weights, one writer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import torch

DATA = os.environ["CNNINSPECT_DATA"]
N = 256

WORKER = textwrap.dedent(
    """
    import os, sys
    import torch
    from cnninspect.chapter.data import TensorImages, mnist
    from cnninspect.chapter.models import SimpleCNN
    from cnninspect.chapter.train import fit, seed_everything

    class Spy(TensorImages):
        seen = []
        def __getitems__(self, indices):
            Spy.seen.extend(int(self.indices[i]) for i in indices)
            return super().__getitems__(indices)

    out = sys.argv[1]
    rank = int(os.environ["RANK"])
    base = mnist(os.environ["CNNINSPECT_DATA"], train=True, limit=int(sys.argv[2]))
    train = Spy(base.images, base.labels, base.indices)
    test = mnist(os.environ["CNNINSPECT_DATA"], train=False, limit=100)
    seed_everything(100 + rank)  # a different init per rank: DDP must make them agree
    model = SimpleCNN()
    hist = fit(model, train, test, epochs=2, batch_size=32, device="cpu", seed=0, progress=False,
               checkpoint_dir=os.path.join(out, "ckpt"), metrics_path=os.path.join(out, "metrics.jsonl"))
    torch.save({"seen": Spy.seen, "state": model.state_dict(), "acc": [h.test_acc for h in hist],
                "world": torch.distributed.is_initialized()}, os.path.join(out, f"rank{rank}.pt"))
    """
)


def _torchrun(args, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", CNNINSPECT_DATA=DATA)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=400, env=env, cwd=tmp_path)


def test_two_gloo_ranks_disjoint_data_identical_weights(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    proc = _torchrun([str(script), str(tmp_path), str(N)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]

    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    half = N // 2
    for epoch in range(2):
        a = r0["seen"][epoch * half:(epoch + 1) * half]
        b = r1["seen"][epoch * half:(epoch + 1) * half]
        assert len(a) == len(b) == half
        assert not set(a) & set(b)  # disjoint shards
        assert set(a) | set(b) == set(range(N))  # together: every sample once
    assert r0["seen"][:half] != r0["seen"][half:]  # reshuffled each epoch
    for name, p in r0["state"].items():
        assert torch.equal(p, r1["state"][name]), name
    assert r0["acc"] == r1["acc"]  # metrics are reduced over both ranks

    # only rank 0 printed and wrote: one line per epoch, not two
    assert proc.stdout.count("Epoch 1/2:") == 1 and proc.stdout.count("Epoch 2/2:") == 1
    records = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    assert all(r["world_size"] == 2 and r["train_images"] == N for r in records)
    assert (tmp_path / "ckpt" / "last.pt").is_file()


def test_torchrun_module_entry_point(tmp_path):
    """`torchrun -m cnninspect.chapter.train` works and prints once."""
    proc = _torchrun(["-m", "cnninspect.chapter.train", "simple-cnn", "--epochs", "1", "--limit", "128",
                      "--device", "cpu", "--data-dir", DATA], tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("Epoch 1/1:") == 1
    assert proc.stdout.count("Final test accuracy") == 1
