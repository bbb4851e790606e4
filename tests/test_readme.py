"""README's snippets run as printed, and the figures its prose quotes are recomputed here.

A snippet line ``expr   # literal`` (optionally ``# literal: words``) is evaluated and compared
with the literal, so a README comment cannot drift from what the code prints.
"""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path

import pytest
import torch
import torchvision

import cnninspect
from cnninspect.chapter.models import SimpleCNN

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def python_blocks() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    return [b for b in blocks if "def test_" not in b]  # the plugin example: test_pytest_plugin_docs


def _expected(comment: str) -> object:
    """The literal a ``# ...`` comment states, or raise ValueError when it states none."""
    for end in [m.start() for m in re.finditer(r":\s", comment)] + [len(comment)]:
        try:
            return ast.literal_eval(comment[:end].strip())
        except (SyntaxError, ValueError):
            continue
    raise ValueError(comment)


@pytest.mark.parametrize("block", python_blocks(), ids=lambda b: b.splitlines()[0][:40])
def test_snippet_runs_and_its_comments_hold(block: str) -> None:
    namespace: dict[str, object] = {}
    lines = block.splitlines()
    checked = 0
    for stmt in ast.parse(block).body:
        source = "\n".join(lines[stmt.lineno - 1 : stmt.end_lineno])
        code, _, comment = lines[stmt.end_lineno - 1].partition("# ")
        try:
            want = _expected(comment) if comment else None
        except ValueError:
            want = None
        if isinstance(stmt, ast.Expr) and want is not None:
            got = eval(compile(ast.Expression(stmt.value), "README", "eval"), namespace)
            assert got == want, f"README says {source.strip()} is {want!r}; it is {got!r}"
            checked += 1
        else:
            exec(compile(ast.Module([stmt], []), "README", "exec"), namespace)
    assert checked or "# " not in block or "print(" in block


def _quoted(pattern: str) -> list[str]:
    found = re.findall(pattern, README)
    assert found, f"README no longer says {pattern!r}: update this test with it"
    return found


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def test_simple_cnn_parameter_figures() -> None:
    tensors = [p.numel() for p in SimpleCNN().parameters()]
    listed = _quoted(r"SimpleCNN's tensors as ([\d, and]+) parameters")[0]
    assert [_int(t) for t in re.findall(r"[\d,]*\d", listed)] == tensors
    (true_total,) = {_int(t) for t in _quoted(r"sums to \*\*([\d,]+)\*\*")}
    assert true_total == sum(tensors) == cnninspect.summarize(SimpleCNN(), (1, 1, 28, 28)).total_params


def _trunk(resnet: torch.nn.Module) -> torch.nn.Module:
    return torch.nn.Sequential(*list(resnet.children())[:-2])


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("VGG-16", lambda: torchvision.models.vgg16().features),
        ("AlexNet", lambda: torchvision.models.alexnet().features),
        ("ResNet-18", lambda: _trunk(torchvision.models.resnet18())),
        ("ResNet-50", lambda: _trunk(torchvision.models.resnet50())),
    ],
)
def test_quoted_receptive_fields(name: str, build) -> None:
    (quoted,) = {int(v) for v in _quoted(re.escape(name) + r" \((\d+)")}
    report = cnninspect.receptive_field(build(), (1, 3, 224, 224))
    assert report.output.size == (quoted, quoted)


def test_fc_vs_conv_figures() -> None:
    section = README.split("## FC vs conv", 1)[1].split("\n## ", 1)[0]
    c = cnninspect.chapter_comparisons()
    quoted = [_int(f) for f in re.findall(r"(\d{1,3}(?:,\d{3})+) (?:weights|with biases)", section)]
    assert quoted == [c.fc_weights, c.fc_params]
    assert _int(re.search(r"against ([\d,]+) for", section).group(1)) == c.conv_first
    assert _int(re.search(r"cost ([\d,]+), ([\d.]+) % less", section).group(1)) == c.conv_stack
    saving = float(re.search(r"cost [\d,]+, ([\d.]+) % less", section).group(1))
    assert saving == round(100 * c.stack_saving, 2)
    shift = cnninspect.position_sensitivity()
    pixels = int(re.search(r"differs in (\d+) pixels", section).group(1))
    distance = float(re.search(r"sqrt\(\d+\) = ([\d.]+)", section).group(1))
    assert pixels == shift.changed_pixels
    assert distance == round(shift.flat_distance, 2) == round(math.sqrt(pixels), 2)
