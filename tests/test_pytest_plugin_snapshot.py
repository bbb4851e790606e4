"""The plugin's architecture snapshots and the model/data/trainer fixtures it ships.

Figures are worked out by hand: a Conv2d(3, w, 3, padding=1) on 8x8 has 27w + w
parameters and 8*8*w*27 MACs; a Linear(n, 10) has 10n + 10 parameters and 10n MACs.
"""

from __future__ import annotations

import json

# pytester's in-process runs forget the modules an inner run imported, and torch, numpy or
# torchvision imported a second time crash the interpreter: import them here, once, for good.
import numpy  # noqa: F401
import pytest
import torch
import torchvision  # noqa: F401
from plugin_runs import QUIET  # noqa: E402

import cnninspect.analyses.snapshot  # noqa: F401
import cnninspect.engine.summary  # noqa: F401
from cnninspect.chapter.models import CustomCNN, SimpleCNN

pytest_plugins = ["pytester"]



def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess(*QUIET, *args)


SNAPSHOT_TEST = """
import json
import pathlib

import cnninspect
from torch import nn

CONFIG = json.loads((pathlib.Path(__file__).parent / "net.json").read_text())
W = CONFIG["width"]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, W, 3, padding=1)
        if CONFIG["extra"]:
            self.conv2 = nn.Conv2d(W, W, 3, padding=1)
        else:
            self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(W * (64 if CONFIG["extra"] else 16), 10)

    def forward(self, x):
        x = self.conv(x)
        x = self.conv2(x) if CONFIG["extra"] else self.pool(x)
        return self.fc(x.flatten(1))


def test_net(arch_snapshot):
    assert arch_snapshot == cnninspect.summarize(Net(), (1, 3, 8, 8))
"""


def conv_params(c_in: int, c_out: int) -> int:
    return c_in * c_out * 9 + c_out


def test_snapshot_workflow_in_five_steps(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_arch=SNAPSHOT_TEST)
    config = pytester.path / "net.json"
    config.write_text(json.dumps({"width": 8, "extra": False}))
    snap = pytester.path / "__arch_snapshots__" / "test_arch" / "test_net.json"

    # 1. no snapshot yet: fail and say how to create it
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "no architecture snapshot for test_arch.py::test_net at "
            "__arch_snapshots__/test_arch/test_net.json; create it with "
            "`pytest --arch-snapshot-update test_arch.py::test_net`*"
        ]
    )
    assert not snap.exists()

    # 2. --arch-snapshot-update writes it and passes
    result = run(pytester, "--arch-snapshot-update")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*cnninspect: 1 architecture snapshot(s) written*",
            "  __arch_snapshots__/test_arch/test_net.json",
        ]
    )
    text = snap.read_text()
    lines = text.splitlines()
    assert lines[1] == '  "schema": "cnninspect.arch-snapshot/1",'
    data = json.loads(text)
    layers = {layer["name"]: layer for layer in data["layers"]}
    assert list(layers) == ["conv", "pool", "flatten", "fc"]
    # one layer per line, so a diff shows the layer that changed
    assert sum(1 for line in lines if line.lstrip().startswith('{"name": ')) == 4
    assert layers["conv"]["kind"] == "Conv2d"
    assert layers["conv"]["output_shape"] == [1, 8, 8, 8]
    assert layers["conv"]["params"] == conv_params(3, 8)
    assert layers["conv"]["macs"] == 8 * 8 * 8 * 27
    assert layers["pool"]["output_shape"] == [1, 8, 4, 4]
    assert layers["fc"]["params"] == 8 * 16 * 10 + 10
    assert layers["fc"]["macs"] == 8 * 16 * 10
    assert set(layers["conv"]) == {
        "name",
        "kind",
        "output_shape",
        "params",
        "macs",
        "receptive_field",
    }
    assert data["totals"]["params"] == conv_params(3, 8) + 8 * 16 * 10 + 10
    # nothing that changes from machine to machine
    assert str(pytester.path) not in text and "/tmp" not in text and "\\\\" not in text
    assert not any(key in text for key in ("time", "date", "version", "host", "user"))
    assert [p.name for p in snap.parent.iterdir()] == ["test_net.json"]  # no temp file left

    # 3. unchanged: passes without touching the file
    before = snap.stat().st_mtime_ns
    result = run(pytester)
    result.assert_outcomes(passed=1)
    assert snap.stat().st_mtime_ns == before

    # 4. the model changes: fail with a per-layer diff, not a wall of JSON
    config.write_text(json.dumps({"width": 16, "extra": True}))
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "Architecture of Net differs from snapshot __arch_snapshots__/test_arch/test_net.json"
            "  [[]- snapshot[]] [[]+ now[]]:",
            f"  ~ conv (Conv2d) output shape: - 1x8x8x8  + 1x16x8x8; params: - {conv_params(3, 8)}  "
            f"+ {conv_params(3, 16)}; MACs: - {8 * 8 * 8 * 27:,}  + {8 * 8 * 16 * 27:,}",
            "  - pool (MaxPool2d) vanished: out 1x8x4x4, params 0, MACs 0*",
            f"  + conv2 (Conv2d) appeared: out 1x16x8x8, params {conv_params(16, 16):,}, "
            f"MACs {8 * 8 * 16 * 16 * 9:,}*",
            "  ~ flatten (flatten) output shape: - 1x128  + 1x1024",
            f"  ~ fc (Linear) params: - {8 * 16 * 10 + 10:,}  + {16 * 64 * 10 + 10:,}; "
            f"MACs: - {8 * 16 * 10:,}  + {16 * 64 * 10:,}",
            "  ~ totals macs: *; params: *",
            "If the change is intended, update the snapshot: "
            "pytest --arch-snapshot-update test_arch.py::test_net",
        ]
    )
    result.stdout.no_fnmatch_line('*"layers"*')
    assert json.loads(snap.read_text()) == data  # a failing run never rewrites the snapshot

    # 5. accept the change: update passes, and the new snapshot then holds
    result = run(pytester, "--arch-snapshot-update")
    result.assert_outcomes(passed=1)
    assert [layer["name"] for layer in json.loads(snap.read_text())["layers"]] == [
        "conv",
        "conv2",
        "flatten",
        "fc",
    ]
    result = run(pytester)
    result.assert_outcomes(passed=1)


def test_corrupt_snapshot_and_several_per_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_two="""
        import pytest
        import cnninspect
        from torch import nn

        def test_two(arch_snapshot):
            assert arch_snapshot == cnninspect.summarize(nn.Conv2d(1, 2, 3), (1, 1, 5, 5))
            assert arch_snapshot == cnninspect.summarize(nn.Conv2d(1, 4, 3), (1, 1, 5, 5))

        @pytest.mark.parametrize("c", [2, 3])
        def test_param(arch_snapshot, c):
            assert arch_snapshot == cnninspect.summarize(nn.Conv2d(1, c, 3), (1, 1, 5, 5))

        def test_not_a_summary(arch_snapshot):
            assert arch_snapshot == nn.Conv2d(1, 2, 3)
        """
    )
    result = run(pytester, "--arch-snapshot-update", "-k", "not a_summary")
    result.assert_outcomes(passed=3)
    folder = pytester.path / "__arch_snapshots__" / "test_two"
    assert sorted(p.name for p in folder.iterdir()) == [
        "test_param[2].json",
        "test_param[3].json",
        "test_two.2.json",
        "test_two.json",
    ]
    assert json.loads((folder / "test_two.2.json").read_text())["totals"]["params"] == 4 * 9 + 4
    (folder / "test_two.json").write_text('{"schema": "cnninspect.arch-snapshot/1", "layers": [')
    (folder / "test_param[2].json").write_text('{"schema": "something/else", "layers": []}')
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=3)
    result.stdout.fnmatch_lines_random(
        [
            "snapshot __arch_snapshots__/test_two/test_two.json is not valid JSON (*); "
            "rerun pytest with --arch-snapshot-update to rewrite it",
            "snapshot __arch_snapshots__/test_two/test_param[[]2[]].json is not a "
            "cnninspect.arch-snapshot/1 file (schema: 'something/else'); rerun pytest*",
            "arch_snapshot compares with a cnninspect Summary, got Conv2d; write: "
            "assert arch_snapshot == cnninspect.summarize(model, input_shape)",
        ]
    )


# --------------------------------------------------------------------------- fixtures


def test_model_fixtures_are_fresh_seeded_instances(simple_cnn, custom_cnn) -> None:
    # 288 + 32 + 18,432 + 64 + 401,408 + 128 + 1,280 + 10 and 864 + 32 + 18,432 + 64 + 40,960 + 10
    assert sum(p.numel() for p in simple_cnn.parameters()) == 421_642
    assert sum(p.numel() for p in custom_cnn.parameters()) == 60_362
    torch.manual_seed(0)
    reference = SimpleCNN()
    for (name, mine), (_, theirs) in zip(
        simple_cnn.named_parameters(), reference.named_parameters()
    ):
        assert torch.equal(mine, theirs), name
    torch.manual_seed(0)
    reference = CustomCNN()
    assert torch.equal(custom_cnn.fc.weight, reference.fc.weight)


def test_model_fixtures_leave_the_global_rng_alone(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import torch

        def test_rng(request):
            torch.manual_seed(123)
            expected = torch.rand(3)
            torch.manual_seed(123)
            request.getfixturevalue("simple_cnn")
            request.getfixturevalue("custom_cnn")
            assert torch.equal(torch.rand(3), expected)

        def test_fresh(simple_cnn, request):
            simple_cnn.fc2.weight.data.zero_()
            assert request.getfixturevalue("custom_cnn").fc.weight.abs().sum() > 0
        """
    )
    run(pytester).assert_outcomes(passed=2)


def test_mnist_root_from_option_env_or_ini(
    pytester: pytest.Pytester, monkeypatch, tmp_path
) -> None:
    import os

    real = os.environ.get("CNNINSPECT_DATA")
    pytester.makepyfile(
        """
        def test_root(mnist_root):
            print("ROOT=" + str(mnist_root))
        """
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    # --mnist-root wins over the environment; an empty folder skips, naming what is missing
    monkeypatch.setenv("CNNINSPECT_DATA", str(tmp_path))
    result = run(pytester, "-rs", f"--mnist-root={empty}")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        [
            f"SKIPPED*MNIST not found in {empty}/MNIST/raw (from --mnist-root): missing train-images-idx3-ubyte*"
        ]
    )
    # nothing configured at all
    monkeypatch.delenv("CNNINSPECT_DATA")
    result = run(pytester, "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED*MNIST not configured: pass --mnist-root DIR*"])
    if real and os.path.isfile(os.path.join(real, "MNIST", "raw", "train-images-idx3-ubyte")):
        # the environment variable, then the ini value (relative to the config file)
        monkeypatch.setenv("CNNINSPECT_DATA", real)
        result = run(pytester, "-s")
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines([f"*ROOT={real}"])
        monkeypatch.delenv("CNNINSPECT_DATA")
        pytester.makeini(f"[pytest]\nmnist_root = {os.path.relpath(real, pytester.path)}\n")
        result = run(pytester, "-s")
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines([f"*ROOT={os.path.realpath(real)}"])


def test_cnn_trainer_trains_simple_cnn_a_little(cnn_trainer, mnist_root, simple_cnn) -> None:
    expected_device = "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available() and torch.backends.mps.is_available():
        expected_device = "mps"
    assert cnn_trainer.device == expected_device
    assert cnn_trainer.data_dir == mnist_root
    # 640 images in batches of 64: ten Adam steps take SimpleCNN well above chance (10 %)
    before = [p.detach().clone() for p in simple_cnn.parameters()]
    metrics = cnn_trainer.with_options(limit=640, test_limit=256).fit(simple_cnn)
    assert len(metrics) == 1
    assert metrics[0].train_images == 640
    assert metrics[0].test_acc is not None and metrics[0].test_acc > 30.0
    assert all(not torch.equal(a, b.to(a.device)) for a, b in zip(before, simple_cnn.parameters()))
