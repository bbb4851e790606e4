"""One input spec (issue 13, item 4): shape text, several inputs and dtypes are read once,
by :class:`cnninspect.engine.inputs.InputSpec`, and every entry point -- the API, the
command line, the Sphinx directives, the pytest plugin and ``verify`` -- gets the same
spec, and the same default, from the same text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from torch import nn

import cnninspect
from cnninspect.analyses.budgets import parse_limit, resolve
from cnninspect.engine.hooks import record_forward
from cnninspect.engine.inputs import InputSpec, choose_input, default_input
from cnninspect.errors import InputShapeError, InputSpecError, OptionError, UsageError
from cnninspect.integrations import pytest_plugin
from cnninspect.integrations.cli import build_parser, main
from cnninspect.integrations.commands import common
from cnninspect.integrations.commands.report import _inputs_per_model
from cnninspect.integrations.sphinx import analysis

PACKAGE = Path(cnninspect.__file__).resolve().parent


class Conv(nn.Module):
    """One input, given by keyword in the dict-input tests."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3)
        self.conv2 = nn.Conv2d(4, 2, 3, stride=2)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.conv2(torch.relu(self.conv1(image)))


class TwoIn(nn.Module):
    """Two inputs, and a default for them."""

    default_input_shape = [(2, 8), (2, 3)]

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 4)
        self.proj = nn.Linear(3, 4)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.fc(x) + self.proj(y)


class Tagger(nn.Module):
    """Features (float) and token ids (int64): a model that needs a dtype per input."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 4)
        self.emb = nn.Embedding(10, 4)

    def forward(self, x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        return self.fc(x) + self.emb(ids)


class NoDefault(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2


SPEC = f"{__name__}:TwoIn"
TEXT = "2,8;2,3"


# ------------------------------------------------------------------ verify with a dict input


def test_verify_takes_a_dict_input():
    """Issue 13: verify(model, input_data={...}) raised AttributeError ('dict' has no 'shape')."""
    model = Conv()
    data = {"image": torch.randn(1, 1, 12, 12)}
    report = cnninspect.verify(model, input_data=data)
    assert report.input_shapes == [(1, 1, 12, 12)]
    assert report.summary.output_shapes == [tuple(model(**data).shape)]  # a real forward
    assert report.ok, report.to_text()
    # the receptive field was measured by back-propagation through the keyword input
    gradient = [c for c in report.checks if c.quantity == "rf_region"]
    assert gradient and "gradient" in gradient[0].values
    # conv2's centre unit (2, 2) reads conv1 rows 4..6 (3x3, stride 2); each conv1 row r
    # reads input rows r..r+2, so the unit sees input rows and columns 4..8
    assert gradient[0].values["gradient"][(2, 2)] == ((4, 8), (4, 8))


def test_verify_with_two_keyword_tensors_skips_only_the_gradient_check():
    model = Tagger()
    data = {"x": torch.randn(2, 8), "ids": torch.tensor([1, 7])}
    report = cnninspect.verify(model, input_data=data)
    assert report.input_shapes == [(2, 8), (2,)]
    assert report.summary.output_shapes == [tuple(model(**data).shape)]
    assert report.ok, report.to_text()


# ------------------------------------------------------------------ parsing


def test_several_inputs_and_per_input_dtypes():
    spec = InputSpec.parse("1,3,8,8; 1x10", dtypes="float32;int64")
    assert spec.shapes == ((1, 3, 8, 8), (1, 10))
    assert spec.dtypes == (torch.float32, torch.int64)
    assert spec == InputSpec.parse(["1,3,8,8", "1,10"], dtypes=[torch.float32, torch.int64])
    assert spec == InputSpec.of([(1, 3, 8, 8), (1, 10)], dtype=[torch.float32, torch.int64])
    assert InputSpec.parse("[1, 3, 8, 8]") == InputSpec.of((1, 3, 8, 8))
    assert InputSpec.parse(TEXT, dtypes="bfloat16").dtypes == (torch.bfloat16,) * 2
    assert InputSpec.parse(spec.text()).shapes == spec.shapes
    meta = spec.build()  # the meta tensors the trace runs on
    assert [(a.shape, a.dtype, a.device.type) for a in meta.args] == [
        (torch.Size([1, 3, 8, 8]), torch.float32, "meta"),
        (torch.Size([1, 10]), torch.int64, "meta"),
    ]


@pytest.mark.parametrize(
    "text, where, fragments",
    [
        ("1,3,x", "--input-shape", ["--input-shape '1,3,x'", "'x' is not a positive integer", "--input-shape 1,3,224,224"]),
        ("1,,3", "--input-shape", ["a size is missing", "--input-shape 1,3,224,224"]),
        ("1,3,-8,8", ":input-shape:", ["'-8' is not a positive integer", ":input-shape: 1,3,224,224"]),
        ("1,3,8,8;1,3,8,8x", "input_shape", ["'8x'", "e.g. 1,3,224,224"]),
        (" ; ", "--input-shape", ["holds no shape"]),
        ("1,0,8", "--input-shape", ["has a size of 0"]),
    ],
)  # fmt: skip
def test_bad_shape_text_names_the_token_and_the_fix(text, where, fragments):
    with pytest.raises(InputSpecError) as info:
        InputSpec.parse(text, where=where)
    message = str(info.value)
    assert all(f in message for f in fragments), message
    assert "\n" not in message


@pytest.mark.parametrize(
    "dtypes, fragments",
    [
        ("float99", ["--dtype 'float99' is not a torch dtype", "float32"]),
        ("float32;int64;int8", ["--dtype 'float32;int64;int8' names 3 dtypes for 2 inputs", "one per input"]),
    ],
)
def test_bad_dtype_text_names_the_option(dtypes, fragments):
    with pytest.raises(InputSpecError) as info:
        InputSpec.parse(TEXT, dtypes, "--input-shape", "--dtype")
    assert all(f in str(info.value) for f in fragments)


def test_dtype_text_reaches_the_trace_and_the_forward():
    """Token ids must be int64: from text, the spec gives each input its own dtype."""
    model = Tagger()
    spec = InputSpec.parse("3,8;3", dtypes="float32;int64")
    real = model(torch.zeros(3, 8), torch.zeros(3, dtype=torch.long))
    assert cnninspect.summarize(model, spec).output_shapes == [tuple(real.shape)]
    report = cnninspect.verify(model, spec)
    assert report.ok and report.input_shapes == [(3, 8), (3,)]
    with pytest.raises(InputShapeError, match="'emb' \\(Embedding\\)"):
        cnninspect.summarize(model, "3,8;3")  # float ids: the model's own refusal


@pytest.mark.parametrize("command", ["summary", "fc", "verify"])
def test_cli_dtype_goes_down_with_the_shapes(capsys, command):
    spec = f"{__name__}:Tagger"
    assert main([command, spec, "--input-shape", "3,8;3", "--dtype", "float32;int64"]) == 0
    capsys.readouterr()
    assert main([command, spec, "--input-shape", "3,8;3"]) == 1  # float ids: Embedding refuses them
    assert "Embedding" in capsys.readouterr().err


def test_usage_errors_have_their_own_class():
    assert issubclass(InputSpecError, UsageError) and issubclass(InputSpecError, InputShapeError)
    assert issubclass(OptionError, UsageError)
    assert not issubclass(InputShapeError, UsageError)  # a shape that does not fit the model is not
    tacked = [p for p in PACKAGE.rglob("*.py") if "from_option" in p.read_text(encoding="utf-8")]
    assert tacked == []


@pytest.mark.parametrize(
    "argv, code, fragments",
    [
        (["summary", "--input-shape", "1,3,x"], 2, ["'x' is not a positive integer", "--input-shape 1,3,224,224"]),
        (["summary", SPEC, "--input-shape", TEXT, "--dtype", "float32;bad"], 2, ["--dtype 'bad' is not a torch dtype"]),
        (["report", "simple-cnn", "--input-shape", "1;x", "--output", "unused"], 2, ["--input-shape 'x' is not a list"]),
        (["summary", SPEC, "--input-shape", "2,8;2,5"], 1, ["'proj' (Linear)"]),  # parses; the model refuses it
    ],
)  # fmt: skip
def test_cli_input_errors_exit_with_usage_status(capsys, argv, code, fragments):
    assert main(argv) == code
    err = capsys.readouterr().err
    assert all(f in err for f in fragments), err
    assert len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------ one spec from every entry point


def _cli_spec(*argv: str) -> InputSpec:
    return common.load(build_parser().parse_args(["summary", SPEC, *argv])).inputs


def _plugin_summary(**fields: object):
    budget = resolve(
        ("call", {"max_params": "1M", **fields}),
        ("command line (--arch-input-shape)", {}),
    )
    return pytest_plugin._run_budget(SPEC, budget, "arch_budget")


def test_every_entry_point_reads_the_same_text_as_the_same_spec():
    api = InputSpec.of([(2, 8), (2, 3)])
    from_text = {
        "api text": InputSpec.of(TEXT),
        "cli": _cli_spec("--input-shape", TEXT),
        "cli repeated": _cli_spec("--input-shape", "2,8", "--input-shape", "2x3"),
        "report": _inputs_per_model(["a", "b"], [TEXT])[1],
        "sphinx directive": analysis.parse_shapes(TEXT, ":input-shape:"),
        "sphinx conf.py": analysis.parse_shapes([(2, 8), (2, 3)], "cnninspect_input_shape"),
        "pytest plugin": parse_limit("input_shape", TEXT, "command line (--arch-input-shape)"),
        "pyproject list": parse_limit("input_shape", [[2, 8], [2, 3]], "config file"),
    }
    assert {name: spec for name, spec in from_text.items() if spec != api} == {}


def test_every_entry_point_summarises_the_same_input(capsys):
    model = TwoIn()
    inputs = (torch.zeros(3, 8), torch.zeros(3, 3))
    expected = [tuple(t.shape) for t in inputs]
    real = model(*inputs)
    text = "3,8;3,3"
    assert cnninspect.summarize(model, text).input_shapes == expected
    assert cnninspect.summarize(model, text).output_shapes == [tuple(real.shape)]
    assert main(["summary", SPEC, "--input-shape", text, "--format", "json"]) == 0
    assert [tuple(s) for s in json.loads(capsys.readouterr().out)["input_shapes"]] == expected
    given = analysis.parse_shapes(text, ":input-shape:")
    assert analysis.analyse(SPEC, given, None, {}, None).summary.input_shapes == expected
    assert _plugin_summary(input_shape=text).input_shapes == expected
    assert cnninspect.verify(model, text).input_shapes == expected
    assert [r.input_shapes for r in record_forward(model, text).records if r.name == "fc"] == [[(3, 8)]]


# ------------------------------------------------------------------ the one default


def test_the_default_input_is_the_same_everywhere():
    default = default_input(TwoIn())
    assert default == InputSpec.of([(2, 8), (2, 3)])
    assert choose_input(TwoIn()) == default
    assert _cli_spec() == default
    assert analysis.analyse(SPEC, None, None, {}, None).inputs == default
    shapes = list(default.shapes)
    assert _plugin_summary().input_shapes == shapes
    assert cnninspect.summarize(TwoIn()).input_shapes == shapes
    assert cnninspect.verify(TwoIn()).input_shapes == shapes
    assert [r.input_shapes for r in record_forward(TwoIn()).records if r.name == "fc"] == [[(2, 8)]]


def test_a_configured_default_wins_over_the_model_and_loses_to_the_call():
    conf = analysis.parse_shapes("4,8;4,3", "cnninspect_input_shape")
    given = analysis.parse_shapes("5,8;5,3", ":input-shape:")
    assert analysis.analyse(SPEC, None, conf, {}, None).input_shapes == [(4, 8), (4, 3)]
    assert analysis.analyse(SPEC, given, conf, {}, None).input_shapes == [(5, 8), (5, 3)]


@pytest.mark.parametrize(
    "entry, error, fix",
    [
        ("api", InputShapeError, "summarize(model, (1, 3, 224, 224))"),
        ("cli", UsageError, "--input-shape 1,3,224,224"),
        ("sphinx", UsageError, ":input-shape: 1,3,224,224"),
        ("plugin", pytest.fail.Exception, "--arch-input-shape 1,3,224,224"),
    ],
)
def test_no_default_names_each_entry_points_own_fix(entry, error, fix):
    spec = f"{__name__}:NoDefault"
    run = {
        "api": lambda: cnninspect.summarize(NoDefault()),
        "cli": lambda: common.load(build_parser().parse_args(["summary", spec])),
        "sphinx": lambda: analysis.analyse(spec, None, None, {}, None),
        "plugin": lambda: pytest_plugin._run_budget(spec, resolve(("call", {"max_params": 1})), "arch_budget"),
    }[entry]
    with pytest.raises(error) as info:
        run()
    assert fix in str(info.value)


def test_the_default_is_read_and_refused_in_one_place():
    """No entry point reads a model's default_input_shape or words its absence itself."""
    readers, refusers = [], []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if re.search(r"getattr\([^)]*[\"']default_input_shape[\"']", text) or "loaded.default_input_shape" in text:
            readers.append(path.relative_to(PACKAGE).as_posix())
        if "no default input shape" in text:
            refusers.append(path.relative_to(PACKAGE).as_posix())
    assert readers == ["engine/inputs.py"]
    assert refusers == ["engine/inputs.py"]
