"""The command line's input options (issue 18): ``--batch-dim N`` and ``--forward-kwarg``, and the
mode a summary records it was traced in.

Every figure is held to an independent source: ``Tensor.unsqueeze`` for where the batch goes, a
real forward with the same keyword arguments (its output shapes, torch's FlopCounterMode on it,
``saved_tensors_hooks`` for what it saves), a real forward in the mode the summary claims; never
to cnninspect's own output.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from oracles import counted_macs
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import cnninspect
from cnninspect.integrations.cli import main

sys.path.insert(0, str(Path(__file__).parent))
from memory_reference import real_saved_bytes  # noqa: E402

MODELS = '''
import torch
from torch import nn


class MaskNet(nn.Module):
    """An optional tensor keyword that adds a gate, and a plain-value keyword."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.gate = nn.Linear(6, 8)
        self.proj = nn.Linear(8, 5)

    def forward(self, x, scale=None, extra: int = 0):
        h = torch.relu(self.conv(x)).mean((2, 3))
        if scale is not None:
            h = h * torch.sigmoid(self.gate(scale))
        return self.proj(h) + extra


class KwNet(nn.Module):
    """A required keyword-only integer input: without it, or as floats, no forward runs."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 4)
        self.emb = nn.Embedding(10, 4)

    def forward(self, x, *, ids, mask=None):
        h = self.fc(x) + self.emb(ids).sum(1)
        return h if mask is None else h * mask


class ShiftNet(nn.Module):
    """A conv whose output is shifted by a required keyword tensor (one value per channel)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)

    def forward(self, x, *, shift):
        return self.conv(x) + shift.view(1, -1, 1, 1)


class AuxNet(nn.Module):
    """Train mode differs: Dropout, BatchNorm's batch statistics and an auxiliary head."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.bn = nn.BatchNorm2d(8)
        self.drop = nn.Dropout(0.5)
        self.head = nn.Linear(8, 4)
        self.aux = nn.Linear(8 * 6 * 6, 10)

    def forward(self, x):
        h = self.drop(torch.relu(self.bn(self.conv(x))))
        out = self.head(h.mean((2, 3)))
        if self.training:
            return out, self.aux(h.flatten(1))
        return out
'''


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> tuple[str, dict]:
    """The models' file (for the command line) and its namespace (for the real forwards)."""
    path = tmp_path_factory.mktemp("models") / "cli_input_models.py"
    path.write_text(MODELS)
    namespace: dict = {}
    exec(compile(MODELS, str(path), "exec"), namespace)
    return str(path), namespace


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def real(model: nn.Module, *args, **kwargs) -> tuple[list[list[int]], int]:
    """Output shapes and FlopCounterMode MACs of one real forward with these arguments."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(*args, **kwargs)
    outs = out if isinstance(out, tuple) else (out,)
    return [list(t.shape) for t in outs], counter.get_total_flops() // 2


# --- --batch-dim ------------------------------------------------------------------------------


LINEAR = ("torch.nn:Linear", '{"in_features": 6, "out_features": 3}', lambda: nn.Linear(6, 3))
RELU = ("torch.nn:ReLU", "{}", nn.ReLU)


@pytest.mark.parametrize(
    "model, batch_dim", [(LINEAR, 0), (LINEAR, 1), (LINEAR, -2), (LINEAR, -3), (RELU, -1), (RELU, 2)]
)
def test_batch_dim_puts_the_batch_where_unsqueeze_does(capsys, model, batch_dim: int) -> None:
    spec, kwargs, build = model
    argv = ("summary", spec, "--kwargs", kwargs, "--input-shape", "4,6", "--batch-dim", str(batch_dim))
    code, out, err = run(capsys, *argv, "--format", "json")
    assert code == 0, err
    x = torch.rand(4, 6).unsqueeze(batch_dim)
    shapes, macs = real(build(), x)
    data = json.loads(out)
    assert data["input_shapes"] == [list(x.shape)]
    assert data["output_shapes"] == shapes and data["total_macs"] == macs


def test_batch_dim_with_a_conv_model_equals_the_full_shape(capsys) -> None:
    code, out, _ = run(capsys, "summary", "custom-cnn", "--input-shape", "3,32,32", "--batch-dim", "0", "--format", "json")
    from cnninspect.chapter.models import CustomCNN

    x = torch.rand(3, 32, 32).unsqueeze(0)
    shapes, macs = real(CustomCNN().eval(), x)
    data = json.loads(out)
    assert code == 0 and data["input_shapes"] == [[1, 3, 32, 32]]
    assert data["output_shapes"] == shapes and data["total_macs"] == macs


# --- --forward-kwarg --------------------------------------------------------------------------


def test_forward_kwargs_reach_the_trace(capsys, models) -> None:
    path, ns = models
    code, out, err = run(
        capsys, "summary", f"{path}:MaskNet", "--input-shape", "3,16,16", "--batch-dim", "0",
        "--forward-kwarg", "scale=1,6", "--forward-kwarg", "extra:=2", "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    model = ns["MaskNet"]().eval()
    x, scale = torch.rand(1, 3, 16, 16), torch.rand(1, 6)
    shapes, macs = real(model, x, scale=scale, extra=2)
    _, macs_without = real(model, x)
    data = json.loads(out)
    assert data["input_shapes"] == [[1, 3, 16, 16], [1, 6]]
    assert data["output_shapes"] == shapes and data["total_macs"] == macs
    assert macs != macs_without  # the gate runs only with scale: a dropped keyword would show
    assert "gate" in [row["name"] for row in data["layers"]]


def test_forward_kwarg_dtype(capsys, models) -> None:
    path, ns = models
    argv = ("summary", f"{path}:KwNet", "--input-shape", "6", "--batch-dim", "0", "--format", "json")
    code, out, err = run(capsys, *argv, "--forward-kwarg", "ids=1,5:int64")
    assert code == 0, err
    shapes, macs = real(ns["KwNet"](), torch.rand(1, 6), ids=torch.zeros(1, 5, dtype=torch.int64))
    data = json.loads(out)
    assert data["output_shapes"] == shapes and data["total_macs"] == macs
    code, _, err = run(capsys, *argv, "--forward-kwarg", "ids=1,5")  # float32 indices: Embedding refuses
    assert code == 1 and "'emb' (Embedding)" in err and "Long" in err


KWNET = ("--input-shape", "6", "--batch-dim", "0")
IDS = ("--forward-kwarg", "ids=1,5:int64")
SHIFTNET = ("--input-shape", "3,8,8", "--batch-dim", "0")


@pytest.mark.parametrize(
    "command, model, argv, keyword",
    [
        ("summary", "KwNet", KWNET, IDS),
        ("verify", "KwNet", KWNET, IDS),
        ("lint", "KwNet", (*KWNET, "--no-config"), IDS),
        ("memory", "KwNet", KWNET, IDS),
        ("rf", "ShiftNet", SHIFTNET, ("--forward-kwarg", "shift=8")),
    ],
)
def test_every_command_that_takes_an_input_passes_them_on(capsys, models, command, model, argv, keyword) -> None:
    """These forwards cannot run without their keyword: each command succeeds with the flag and
    names the flag without it."""
    spec = f"{models[0]}:{model}"
    code, _, err = run(capsys, command, spec, *argv)
    assert code == 1 and "--forward-kwarg NAME=SHAPE[:DTYPE]" in err and "missing a required argument" in err
    code, out, err = run(capsys, command, spec, *argv, *keyword)
    assert code == 0, err


def test_rf_with_a_keyword_is_the_real_forwards_field(capsys, models) -> None:
    """The field of ShiftNet's output is its conv's 3x3: the gradient of one output unit of a
    real forward (with the keyword) reaches exactly 3x3 input pixels."""
    code, out, err = run(capsys, "rf", f"{models[0]}:ShiftNet", *SHIFTNET, "--forward-kwarg", "shift=8", "--format", "json")
    assert code == 0, err
    x = torch.rand(1, 3, 8, 8, requires_grad=True)
    models[1]["ShiftNet"]()(x, shift=torch.rand(8))[0, 0, 2, 2].backward()
    reached = (x.grad[0].abs().sum(0) > 0).nonzero()
    size = [int(reached[:, i].max() - reached[:, i].min()) + 1 for i in range(2)]
    assert json.loads(out)["output"]["size"] == size


def test_verify_agrees_with_the_flop_counter_on_the_keywords(capsys, models) -> None:
    path, ns = models
    code, out, err = run(capsys, "verify", f"{path}:KwNet", *KWNET, *IDS, "--forward-kwarg", "mask=1,4", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    ids = torch.zeros(1, 5, dtype=torch.int64)
    _, macs = real(ns["KwNet"](), torch.rand(1, 6), ids=ids, mask=torch.rand(1, 4))
    total = next(c for c in data["checks"] if c["layer"] == "<total>" and c["quantity"] == "macs")
    assert data["ok"] and data["input_shapes"] == [[1, 6], [1, 5], [1, 4]]
    assert total["values"]["trace"] == macs


def test_memory_counts_what_the_keywords_make_a_real_forward_save(capsys, models) -> None:
    path, ns = models
    code, out, err = run(
        capsys, "memory", f"{path}:MaskNet", "--input-shape", "3,16,16", "--batch-dim", "0",
        "--forward-kwarg", "scale=1,6", "--forward-kwarg", "extra:=2", "--format", "json",
    )  # fmt: skip
    assert code == 0, err

    class Bound(nn.Module):  # the same forward with the same keywords, for the reference
        def __init__(self) -> None:
            super().__init__()
            self.inner = ns["MaskNet"]()

        def forward(self, x):
            return self.inner(x, scale=torch.rand(1, 6), extra=2)

    data = json.loads(out)
    assert data["input_bytes"] == 4 * (3 * 16 * 16 + 6)  # both float32 tensors
    assert data["activation_bytes"] == real_saved_bytes(Bound(), torch.rand(1, 3, 16, 16))


def test_lint_reads_the_batched_shape_and_keywords(capsys, models) -> None:
    code, out, err = run(capsys, "lint", f"{models[0]}:KwNet", *KWNET, *IDS, "--no-config", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["input_shapes"] == [list(torch.zeros(6).unsqueeze(0).shape), [1, 5]]


def test_report_pages_hold_the_batched_shape(capsys, tmp_path) -> None:
    out_dir = tmp_path / "r"
    code, _, err = run(capsys, "report", "simple-cnn", "--input-shape", "1,28,28", "--batch-dim", "0", "-o", str(out_dir))
    assert code == 0, err
    page = (out_dir / "models" / "simple-cnn.rst").read_text()
    expected = ",".join(map(str, torch.zeros(1, 28, 28).unsqueeze(0).shape))
    assert f":input-shape: {expected}" in page and ":input-shape: 1,28,28\n" not in page


# --- errors: one line, naming the flag and the fix ------------------------------------------


@pytest.mark.parametrize(
    "argv, code, fragment",
    [
        (["summary", "--input-shape", "1,28,28", "--batch-dim", "5"], 2,
         "--batch-dim 5 is out of range for a 3-d shape (1,28,28); use -4..3"),
        (["summary", "--batch-dim", "0"], 2,
         "--batch-dim 0 inserts a batch into --input-shape, and none was given; pass the shape without its batch"),
        (["summary", "--tree", "--batch-dim", "0"], 2, "--tree lists the module tree without an input; drop --batch-dim"),
        (["summary", "--tree", "--forward-kwarg", "a=1"], 2, "drop --forward-kwarg"),
        (["summary", "--forward-kwarg", "mask"], 2,
         "--forward-kwarg 'mask' is not NAME=SHAPE[:DTYPE] or NAME:=JSON; write e.g. --forward-kwarg mask=1,16:int64"),
        (["summary", "--forward-kwarg", "m=1,x"], 2, "--forward-kwarg m '1,x' is not a list of integers"),
        (["summary", "--forward-kwarg", "m=1,2:float99"], 2, "--forward-kwarg m 'float99' is not a torch dtype; use e.g. float32"),
        (["summary", "--forward-kwarg", "m:=tru"], 2, "--forward-kwarg m:='tru' is not valid JSON"),
        (["summary", "--forward-kwarg", "m=1", "--forward-kwarg", "m:=1"], 2, "--forward-kwarg m is given twice"),
        (["summary", "--forward-kwarg", "m=1,2;3"], 2, "names 2 shapes; a keyword takes one tensor"),
        (["summary", "--forward-kwarg", "bogus=1,6"], 2,
         "--forward-kwarg bogus: SimpleCNN.forward takes no such keyword; choose from x"),
        (["memory", "--input-shape", "1,28,28", "--batch-dim", "1"], 2,
         "--batch-dim 1 puts the batch at dimension 1, but cnninspect memory takes dimension 0 as the batch"),
    ],
)  # fmt: skip
def test_errors_name_the_flag_and_the_fix(capsys, argv: list[str], code: int, fragment: str) -> None:
    got, out, err = run(capsys, *argv)
    assert got == code, err
    line = err.strip()
    assert "\n" not in line and "Traceback" not in err
    assert fragment in line
    for python_name in ("batch_dim", "forward_kwargs", "input_shape=", "input_data"):
        assert python_name not in line


def test_rf_check_refuses_keywords(capsys, models) -> None:
    spec = f"{models[0]}:MaskNet"
    code, _, err = run(capsys, "rf", spec, "--input-shape", "1,3,16,16", "--forward-kwarg", "scale=1,6", "--check")
    assert code == 2 and "--check feeds the model its one input alone; drop --forward-kwarg" in err


@pytest.mark.parametrize("command", ["report", "fc"])
def test_commands_without_forward_kwargs_do_not_offer_them(capsys, command: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "simple-cnn", "--forward-kwarg", "a=1", *(["-o", "x"] if command == "report" else [])])
    assert exit_info.value.code == 2 and "unrecognized arguments: --forward-kwarg a=1" in capsys.readouterr().err


# --- the mode a summary was traced in ----------------------------------------------------------


@pytest.mark.parametrize("built", ["train", "eval"])
@pytest.mark.parametrize("mode", ["same", "eval", "train"])
def test_summary_mode_is_the_mode_a_real_forward_agrees_with(models, built: str, mode: str) -> None:
    """Put a twin in the mode the summary claims: its real forward must give the summary's
    outputs and MACs (train mode adds the aux head: another output and more MACs)."""
    aux = models[1]["AuxNet"]
    model = aux().train(built == "train")
    s = cnninspect.summarize(model, (2, 3, 8, 8), mode=mode)
    assert s.mode == (built if mode == "same" else mode)
    twin = aux()
    twin.load_state_dict(model.state_dict())
    twin.train(s.mode == "train")
    x = torch.rand(2, 3, 8, 8)
    shapes, _ = real(twin, x)
    assert [list(t) for t in s.output_shapes] == shapes
    assert s.total_macs == counted_macs(twin, x)
    assert model.training is (built == "train")  # the caller's mode given back


def test_mixed_modes_are_said_to_be_mixed(models) -> None:
    model = models[1]["AuxNet"]().eval()
    model.bn.train()
    s = cnninspect.summarize(model, (2, 3, 8, 8))
    flags = {m.training for m in model.modules()}
    assert flags == {True, False} and s.mode == "mixed"
    assert "traced in mixed mode" in s.to_text().splitlines()[1]
    assert cnninspect.summarize(model, (2, 3, 8, 8), mode="eval").mode == "eval"


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_cli_json_and_text_say_the_mode(capsys, models, mode: str) -> None:
    spec = f"{models[0]}:AuxNet"
    argv = ("summary", spec, "--input-shape", "3,8,8", "--batch-dim", "0", "--mode", mode)
    code, out, _ = run(capsys, *argv, "--format", "json")
    data = json.loads(out)
    twin = models[1]["AuxNet"]().train(data["mode"] == "train")
    shapes, macs = real(twin, torch.rand(1, 3, 8, 8))
    assert code == 0 and data["mode"] == mode
    assert data["output_shapes"] == shapes and data["total_macs"] == macs
    code, out, _ = run(capsys, *argv)
    title = out.splitlines()[1]
    assert title.startswith("AuxNet") and ("traced in train mode" in title) is (mode == "train")


def test_a_module_tree_has_no_traced_mode(capsys) -> None:
    code, out, _ = run(capsys, "summary", "simple-cnn", "--tree", "--format", "json")
    assert code == 0 and json.loads(out)["mode"] is None
