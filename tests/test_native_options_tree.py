"""The module tree without an input (``summarize_tree``), the new text columns, and their CLI flags.

Figures are held to ``sum(p.numel())`` over the model's own modules; what a tree cannot know
(shapes, MACs) must read "unknown" in text and null in JSON, never 0.
"""

from __future__ import annotations

import json
import textwrap

import pytest
import torch
import torchvision
from torch import nn

import cnninspect
from cnninspect.errors import InputShapeError, OptionError
from cnninspect.integrations.cli import main


class Shared(nn.Module):
    """A parameter of the container itself, a module placed twice and a lazy layer."""

    def __init__(self, lazy: bool = False) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(3))
        self.block = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU())
        self.again = self.block[0]  # the same Conv2d at a second place
        self.head = nn.LazyLinear(4) if lazy else nn.Linear(8, 4)


def numel(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_the_tree_counts_every_parameter_once() -> None:
    model = torchvision.models.resnet18()
    tree = cnninspect.summarize_tree(model)
    assert tree.total_params == numel(model) == sum(layer.num_params for layer in tree.layers)
    folded = {row.name: row.num_params for row in _rows_at_depth(tree, 1)}
    assert folded == {name: numel(child) for name, child in model.named_children()}


def _rows_at_depth(summary, depth: int):
    from cnninspect.renderers.text import fold

    return fold(summary.layers, depth)


def test_shared_container_and_repeated_modules() -> None:
    model = Shared()
    tree = cnninspect.summarize_tree(model)
    rows = {layer.name: layer for layer in tree.layers}
    assert rows["scale"].num_params == 3 and rows["scale"].kind == "Parameter"
    assert rows["block.0"].num_params == 3 * 8 * 9 + 8
    assert rows["again"].num_params == 0 and "its parameters count there" in rows["again"].notes[0]
    assert tree.total_params == numel(model) == sum(layer.num_params for layer in tree.layers)
    assert rows["block.0"].kernel_size == model.block[0].kernel_size


def test_a_lazy_parameter_is_named_not_counted() -> None:
    tree = cnninspect.summarize_tree(Shared(lazy=True))
    assert tree.total_params == 3 + 3 * 8 * 9 + 8
    assert any("lazy" in w and "head.weight" in w for w in tree.warnings)


def test_what_needs_an_input_is_said_unknown_never_zero() -> None:
    model = Shared()
    tree = cnninspect.summarize_tree(model)
    assert not tree.macs_complete and "no input given" in tree.macs_incomplete_reasons[0]
    text = tree.to_text(columns="name,output_shape,input_shape,macs,num_params")
    assert "Total MACs:           unknown (no input given)" in text
    assert "Input shape:          unknown (no input given)" in text
    body = text.split("=" * 10)[2]
    assert all(line.split()[1:4] == ["unknown"] * 3 for line in body.strip().splitlines()[2:])
    data = json.loads(tree.to_json())
    assert data["traced"] is False and data["total_macs"] is None and data["total_flops"] is None
    assert data["input_shapes"] is None and data["output_shapes"] is None
    assert {(r["macs"], r["output_shape"], r["input_shapes"]) for r in data["layers"]} == {(None, None, None)}
    assert data["total_params"] == numel(model)
    traced = json.loads(cnninspect.summarize(nn.Sequential(nn.Linear(3, 2)), (1, 3)).to_json())
    assert traced["traced"] is True and traced["layers"][0]["input_shapes"] == [[1, 3]]


def test_a_tree_refuses_what_needs_an_input() -> None:
    tree = cnninspect.summarize_tree(Shared())
    with pytest.raises(InputShapeError, match="has no input shape"):
        tree.input_shape  # noqa: B018
    with pytest.raises(InputShapeError, match="memory needs an input"):
        tree.memory()


def test_summarize_without_an_input_still_refuses_and_names_the_tree() -> None:
    with pytest.raises(InputShapeError, match=r"no input given: .*summarize_tree\(model\)"):
        cnninspect.summarize(nn.ModuleList())
    empty = cnninspect.summarize_tree(nn.ModuleList())
    assert empty.total_params == 0 and "ModuleList" in str(empty)


def test_params_percent_is_the_share_of_sum_numel() -> None:
    model = nn.Sequential(nn.Conv2d(1, 10, 5), nn.Flatten(), nn.Linear(10 * 24 * 24, 10))
    s = cnninspect.summarize(model, (1, 1, 28, 28))
    total = numel(model)
    cells = {row[0]: row[1] for row in _table(s, ["name", "params_percent"])}
    assert cells["0"] == f"{100 * numel(model[0]) / total:.2f}%"
    assert cells["2"] == f"{100 * numel(model[2]) / total:.2f}%"
    assert cells["1"] == "0.00%"


def _table(summary, columns):
    from cnninspect.renderers.text import rows_for

    return rows_for(summary, columns, None)[1]


@pytest.mark.parametrize(
    "columns, match",
    [
        ("name,bogus", r"unknown column\(s\) bogus; choose from name, kind, input_shape"),
        ({"name"}, "columns must be a list of column names or one comma-separated string"),
        ([], "no column named"),
    ],
)
def test_a_bad_column_is_one_error(columns, match) -> None:
    with pytest.raises(OptionError, match=match):
        cnninspect.summarize(nn.Linear(2, 2), (1, 2)).to_text(columns=columns)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_tree_of_a_model_without_a_default_input(capsys) -> None:
    code, out, err = run(capsys, "summary", "torchvision.models:resnet18", "--tree", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["total_params"] == numel(torchvision.models.resnet18())
    assert data["total_macs"] is None and data["traced"] is False
    code, out, err = run(capsys, "summary", "torch.nn:Linear", "--kwargs", '{"in_features": 3, "out_features": 2}')
    assert code == 2 and "--tree for the module tree" in err
    code, out, err = run(capsys, "summary", "simple-cnn", "--tree", "--input-shape", "1,1,28,28")
    assert code == 2 and "drop --input-shape" in err


AUX = textwrap.dedent(
    """
    import torch
    from torch import nn

    class AuxNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.head, self.aux = nn.Conv2d(3, 4, 3), nn.Linear(4, 2), nn.Linear(4, 5)

        def forward(self, x):
            h = self.conv(x).mean((2, 3))
            return (self.head(h), self.aux(h)) if self.training else self.head(h)
    """
)


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_cli_mode(capsys, tmp_path, mode: str) -> None:
    (tmp_path / "auxnet.py").write_text(AUX)
    spec = f"{tmp_path / 'auxnet.py'}:AuxNet"
    code, out, _ = run(capsys, "summary", spec, "--input-shape", "1,3,8,8", "--mode", mode, "--format", "json")
    real = cnninspect.load_model(spec).model.train(mode == "train")
    with torch.no_grad():
        expected = real(torch.rand(1, 3, 8, 8))
    expected = expected if isinstance(expected, tuple) else (expected,)
    assert code == 0 and json.loads(out)["output_shapes"] == [list(t.shape) for t in expected]


def test_cli_columns(capsys) -> None:
    code, out, _ = run(capsys, "summary", "simple-cnn", "--columns", "name,input_shape,params_percent,kernel_size")
    header = out.splitlines()[3]
    assert code == 0 and header.split() == ["Layer", "Input", "shape", "Params", "%", "Kernel"]


def test_report_columns_are_checked_before_anything_is_written(capsys, tmp_path) -> None:
    code, _, err = run(capsys, "report", "simple-cnn", "-o", str(tmp_path / "r"), "--columns", "name,bogus")
    assert code == 2 and "unknown column(s) bogus; choose from" in err and not (tmp_path / "r").exists()
    code, out, _ = run(capsys, "report", "simple-cnn", "-o", str(tmp_path / "r"), "--columns", "name, input_shape")
    page = (tmp_path / "r" / "models" / "simple-cnn.rst").read_text()
    assert code == 0 and ":columns: name,input_shape\n" in page.split("Cost per layer")[0]
