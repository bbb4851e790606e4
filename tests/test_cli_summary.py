"""``cnninspect summary`` as a user types it: output, formats, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cnninspect.integrations.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_default_is_simple_cnn_on_1x1x28x28(capsys):
    code, out, err = run(capsys, "summary")
    assert code == 0 and err == ""
    assert "SimpleCNN" in out and "421,642" in out
    for shape in ("1x32x28x28", "1x32x14x14", "1x64x7x7", "1x3136", "1x128", "1x10"):
        assert shape in out
    assert "Input shape:          1x1x28x28" in out


def test_torchvision_model_as_json(capsys):
    code, out, _ = run(capsys, "summary", "torchvision.models:resnet18", "--input-shape", "1,3,224,224", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["schema"] == "cnninspect.summary/1"
    assert data["total_params"] == 11_689_512  # torchvision's published num_params for resnet18
    assert data["input_shapes"] == [[1, 3, 224, 224]]


@pytest.mark.parametrize("fmt, marker", [("markdown", "|---"), ("rst", "===="), ("html", "<table"), ("csv", "name,kind")])
def test_formats(capsys, fmt, marker):
    code, out, _ = run(capsys, "summary", "custom-cnn", "--format", fmt)
    assert code == 0 and marker in out
    assert ("40970" if fmt == "csv" else "40,970") in out  # fc: 4096*10 + 10


def test_depth_and_columns(capsys):
    code, out, _ = run(capsys, "summary", "custom-cnn", "--depth", "1", "--columns", "name,num_params")
    assert code == 0 and "block1" in out and "block1.conv" not in out and "Output shape" not in out.split("=")[3]


def test_kwargs_for_a_factory(capsys):
    code, out, _ = run(capsys, "summary", "torchvision.models:resnet18", "--kwargs", '{"num_classes": 10}', "--input-shape", "1x3x64x64")
    assert code == 0 and "1x10" in out


@pytest.mark.parametrize(
    "argv, code, fragment",
    [
        (["summary", "--input-shape", "1,3,x"], 2, "--input-shape '1,3,x' is not a list of integers"),
        (["summary", "--format", "yaml"], 2, "invalid choice"),
        (["summary", "--columns", "name,bogus"], 2, "unknown column(s) bogus"),
        (["summary", "--input-shape", "1,3,28,28"], 1, "'conv1' (Conv2d): expects 1 input channels"),
        (["summary", "nosuchpkg.mod:Net"], 1, "no module named 'nosuchpkg'"),
        (["summary", "torchvision.models:resnet18", "--kwargs", "{bad"], 1, "--kwargs is not valid JSON"),
        (["summary", "torchvision.models:ResNet"], 1, "cannot be called with no arguments"),
        (["summary", "torch.nn:Linear", "--kwargs", '{"in_features": 3, "out_features": 2}'], 2, "no default input shape"),
        (["summary", "--dtype", "float99"], 2, "--dtype 'float99' is not a torch dtype"),
    ],
)
def test_errors_are_one_line_with_exit_status(capsys, argv, code, fragment):
    got, out, err = run(capsys, *argv) if code != 2 or argv[1:2] != ["--format"] else (None, "", "")
    if got is None:
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        got, err = exit_info.value.code, capsys.readouterr().err
    assert got == code
    assert fragment in err
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("cnninspect")]) == 1


def test_python_dash_m_entry_point():
    proc = subprocess.run([sys.executable, "-m", "cnninspect", "summary", "custom-cnn"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "60,362" in proc.stdout


def test_fc_params_column_on_request(capsys):
    code, out, _ = run(capsys, "summary", "--columns", "name,num_params,fc_params")
    inputs, outputs = 1 * 28 * 28, 32 * 28 * 28  # conv1 maps a 1x28x28 volume to 32x28x28
    assert code == 0 and f"{inputs * outputs + outputs:,}" in out
