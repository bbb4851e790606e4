"""A model file path works wherever a model spec does: CLI, Sphinx directive, pytest options.

``cnninspect summary path/to/my_model.py:Net`` used to say "no module named '/.../my_model'"
and ``./my_model.py:Net`` "the 'package' argument is required".
"""

from __future__ import annotations

import json
import os

import numpy  # noqa: F401  # pytester's in-process run must not import these a second time
import pytest
import torch  # noqa: F401
import torchvision  # noqa: F401
from plugin_runs import QUIET

import cnninspect.engine.summary  # noqa: F401
from cnninspect.errors import ModelSpecError
from cnninspect.integrations.cli import main as cli_main
from cnninspect.integrations.spec import load_model

pytest_plugins = ["pytester"]

# 4 filters of 3x3 on one channel: 4 * 9 + 4 = 40 parameters; its width comes from a sibling module
MODEL = """
from torch import nn
from helper import WIDTH

class Net(nn.Module):
    default_input_shape = (1, 1, 8, 8)

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, WIDTH, 3)

    def forward(self, x):
        return self.conv(x)
"""


def write_model(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "my_model.py").write_text(MODEL)
    (folder / "helper.py").write_text("WIDTH = 4\n")
    return folder / "my_model.py"


@pytest.mark.parametrize("spec", ["path/to/my_model.py:Net", "./path/to/my_model.py:Net", "ABS:Net"])
def test_cli_summary_of_a_model_file(spec, tmp_path, monkeypatch, capsys):
    path = write_model(tmp_path / "path" / "to")
    monkeypatch.chdir(tmp_path)
    spec = spec.replace("ABS", str(path))
    assert cli_main(["summary", spec, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total_params"] == 40
    assert [layer["output_shape"] for layer in data["layers"]] == [[1, 4, 6, 6]]


def test_cli_file_in_the_current_folder(tmp_path, monkeypatch, capsys):
    write_model(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert cli_main(["summary", "./my_model.py:Net"]) == 0
    assert cli_main(["summary", "my_model.py:Net"]) == 0


@pytest.mark.parametrize(
    "spec, words",
    [
        ("missing/my_model.py:Net", "no file 'missing/my_model.py'"),
        ("path/to/my_model.py", "add ':' and its name, e.g. 'path/to/my_model.py:Net'"),
        ("path/to/my_model.py:Nett", "has no attribute 'Nett'"),
    ],
)
def test_file_spec_errors_name_the_fix(spec, words, tmp_path, monkeypatch, capsys):
    write_model(tmp_path / "path" / "to")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelSpecError, match=words.replace("(", r"\(")):
        load_model(spec)
    assert cli_main(["summary", spec]) == 1
    assert words in capsys.readouterr().err


def test_a_file_that_raises_is_one_clear_error(tmp_path, monkeypatch):
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom')\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelSpecError, match=r"running .*broken.py raised RuntimeError: boom"):
        load_model("broken.py:Net")


def test_sphinx_directive_with_a_model_file(tmp_path):
    from sphinx.cmd.build import build_main

    write_model(tmp_path / "src" / "models")
    (tmp_path / "src" / "conf.py").write_text(
        "import os, sys\nsys.path.insert(0, os.path.abspath('.'))\n"
        "extensions = ['cnninspect.integrations.sphinx']\n"
    )
    (tmp_path / "src" / "index.rst").write_text(
        "Model\n=====\n\n.. cnninspect-summary:: models/my_model.py:Net\n   :columns: name,output_shape,num_params\n"
    )
    out = tmp_path / "out"
    warnings = tmp_path / "warnings.txt"
    status = build_main(["-q", "-W", "-b", "html", "-w", str(warnings), str(tmp_path / "src"), str(out)])
    assert status == 0, warnings.read_text()
    html = (out / "index.html").read_text()
    assert "(1, 4, 6, 6)" in html or "1x4x6x6" in html or "1 × 4 × 6 × 6" in html, html[-3000:]


def test_pytest_budgets_with_a_model_file(pytester):
    write_model(pytester.path / "models")
    pytester.makefile(
        ".toml",
        pyproject='[tool.cnninspect.budgets."models/my_model.py:Net"]\nmax_params = 40\noutput_shape = [1, 4, 6, 6]\n',
    )
    result = pytester.runpytest_inprocess(*QUIET, "--arch")
    result.assert_outcomes(passed=1)
    pytester.makefile(
        ".toml", pyproject='[tool.cnninspect.budgets."models/my_model.py:Net"]\nmax_params = 39\n'
    )
    result = pytester.runpytest_inprocess(*QUIET, "--arch")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*params 40 > max 39*"])


def test_an_edited_file_is_loaded_afresh(tmp_path, monkeypatch):
    path = write_model(tmp_path)
    monkeypatch.chdir(tmp_path)
    first = load_model("my_model.py:Net")
    assert load_model("my_model.py:Net").model.__class__ is first.model.__class__  # unchanged: reused
    path.write_text(MODEL.replace("nn.Conv2d(1, WIDTH, 3)", "nn.Conv2d(1, WIDTH, 5)"))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))
    assert load_model("my_model.py:Net").model.conv.kernel_size == (5, 5)
