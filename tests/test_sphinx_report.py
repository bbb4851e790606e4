"""``cnninspect report``: write a Sphinx project for several models and build it, end to end."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import torch
from memory_reference import real_saved_bytes

from cnninspect.chapter.models import SimpleCNN
from cnninspect.integrations.cli import main


def conv_params(cin: int, cout: int, k: int) -> int:
    return cin * cout * k * k + cout


def linear_params(cin: int, cout: int) -> int:
    return cin * cout + cout


SIMPLE_TOTAL = conv_params(1, 32, 3) + conv_params(32, 64, 3) + linear_params(3136, 128) + linear_params(128, 10)
CUSTOM_TOTAL = conv_params(3, 32, 3) + conv_params(32, 64, 3) + linear_params(64 * 8 * 8, 10)


class Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.images: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse(path: Path) -> Cells:
    parser = Cells()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_report_build_end_to_end(tmp_path, capsys):
    out = tmp_path / "report"
    status = main(["report", "simple-cnn", "custom-cnn", "--output", str(out), "--build"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    index = Path(captured.out.strip().splitlines()[-1])
    assert index == out / "_build" / "html" / "index.html" and index.is_file()

    # the index compares the models side by side: one column per model
    page = parse(index)
    by_label = {row[0]: row[1:] for row in page.rows if row}
    assert by_label[""] == ["SimpleCNN", "CustomCNN"]
    assert by_label["Parameters"] == [f"{SIMPLE_TOTAL:,}", f"{CUSTOM_TOTAL:,}"]
    assert by_label["Input"] == ["1x1x28x28", "1x3x32x32"]
    assert all((index.parent / src).is_file() for src in page.images) and page.images

    # one page per model with the summary, receptive-field and FC-vs-conv sections
    simple = index.parent / "models" / "simple-cnn.html"
    text = simple.read_text(encoding="utf-8")
    for heading in ("Layers", "Receptive field", "Convolutions vs fully-connected layers"):
        assert heading in text
    cells = parse(simple)
    fc_rows = [r for r in cells.rows if r and r[0] == "conv1"]
    # conv1 sees 1x28x28 = 784 inputs and gives 32x28x28 = 25,088 outputs; an FC layer needs 784*25,088 + 25,088
    assert any(f"{784 * 25088 + 25088:,}" in r for r in fc_rows)
    assert any(r and r[0] == "Total params" and r[1].startswith(f"{SIMPLE_TOTAL:,}") for r in cells.rows)
    assert all((simple.parent / src).resolve().is_file() for src in cells.images) and len(cells.images) >= 4

    # the memory section: its totals hold what autograd really saves on a CPU forward, and its chart is drawn
    assert "Memory" in text and "saved for backward per layer of SimpleCNN" in text
    saved = real_saved_bytes(SimpleCNN(), torch.randn(1, 1, 28, 28))
    assert any(r and r[0] == "Activations saved for backward" and r[1].endswith(f"({saved:,} bytes)")
               for r in cells.rows)  # fmt: skip
    assert (out / "conf.py").read_text().count('"cnninspect.integrations.sphinx"') == 1


def test_report_without_build_writes_sources_only(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["report", "conv-block", "--input-shape", "1,3,16,16", "--output", str(out)]) == 0
    assert Path(capsys.readouterr().out.strip()) == out / "index.rst"
    page = (out / "models" / "conv-block.rst").read_text()
    assert ".. cnninspect-summary:: conv-block" in page and ":input-shape: 1,3,16,16" in page
    assert not (out / "_build").exists()


def test_report_bad_model_is_one_error_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "r"
    status = main(["report", "simple-cnn", "no_such_pkg_abc:Net", "--output", str(out)])
    err = capsys.readouterr().err
    assert status == 1
    assert "no_such_pkg_abc" in err and "Traceback" not in err
    assert not out.exists()


def test_report_shape_count_mismatch_is_a_usage_error(tmp_path, capsys):
    status = main(["report", "simple-cnn", "custom-cnn", "conv-block", "--input-shape", "1,1,28,28",
                   "--input-shape", "1,3,32,32", "--output", str(tmp_path / "r")])  # fmt: skip
    assert status == 2
    assert "3 models" in capsys.readouterr().err


def test_report_model_without_default_shape_names_the_option(tmp_path, capsys):
    status = main(["report", "torch.nn:Identity", "--output", str(tmp_path / "r")])
    assert status == 2
    err = capsys.readouterr().err
    assert "no default input shape" in err and "--input-shape" in err and ":input-shape:" not in err
