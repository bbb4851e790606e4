"""The Sphinx extension, built for real: each test copies a project from tests/roots/ and runs sphinx-build.

Expected numbers are worked out here from the layer formulas (a conv has
in*out*k*k + out parameters, a linear in*out + out), not read from cnninspect.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sphinx.cmd.build import build_main

ROOTS = Path(__file__).parent / "roots"


def conv_params(cin: int, cout: int, k: int) -> int:
    return cin * cout * k * k + cout


def linear_params(cin: int, cout: int) -> int:
    return cin * cout + cout


# SimpleCNN from the chapter's definition: conv 1->32 3x3, conv 32->64 3x3, fc 3136->128, fc 128->10
SIMPLE_ROWS = {
    "conv1": conv_params(1, 32, 3),
    "conv2": conv_params(32, 64, 3),
    "fc1": linear_params(64 * 7 * 7, 128),
    "fc2": linear_params(128, 10),
}
SIMPLE_TOTAL = sum(SIMPLE_ROWS.values())
CUSTOM_TOTAL = conv_params(3, 32, 3) + conv_params(32, 64, 3) + linear_params(64 * 8 * 8, 10)


def sep(n: int) -> str:
    """Thousands separators written out by hand (not with the code under test)."""
    digits = str(n)
    groups = []
    while digits:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    return ",".join(groups)


class Tables(HTMLParser):
    """Collects every <table>: its caption, classes and rows of (text, classes) cells."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self._cell: list[str] | None = None
        self._caption = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append({"classes": (attrs.get("class") or "").split(), "caption": "", "rows": []})
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
        elif tag in ("td", "th") and self.tables:
            self._cell = []
            self.tables[-1]["rows"][-1].append(("", (attrs.get("class") or "").split()))
        elif tag == "caption":
            self._caption = True

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            text, classes = self.tables[-1]["rows"][-1][-1]
            self.tables[-1]["rows"][-1][-1] = ("".join(self._cell).strip(), classes)
            self._cell = None
        elif tag == "caption":
            self._caption = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        elif self._caption and self.tables:
            self.tables[-1]["caption"] += data


def tables_of(html_file: Path) -> list[dict]:
    parser = Tables()
    parser.feed(html_file.read_text(encoding="utf-8"))
    return parser.tables


def copy_root(name: str, tmp_path: Path) -> Path:
    src = tmp_path / name
    shutil.copytree(ROOTS / name, src)
    return src


def build(src: Path, *extra: str, builder: str = "html") -> tuple[int, Path, str]:
    out = src / "_build" / builder
    warnings = src / "_build" / f"warnings-{builder}-{time.monotonic_ns()}.txt"
    warnings.parent.mkdir(parents=True, exist_ok=True)
    status = build_main(["-q", "-b", builder, "-w", str(warnings), *extra, str(src), str(out)])
    return status, out, warnings.read_text(encoding="utf-8") if warnings.exists() else ""


@pytest.fixture(autouse=True)
def _fresh_modules():
    """Test roots put their own model modules on sys.path; forget them afterwards."""
    before = set(sys.modules)
    path = list(sys.path)
    yield
    for name in set(sys.modules) - before:
        if name in ("parallel_models", "depend_model"):
            del sys.modules[name]
    sys.path[:] = path


def test_summary_table_in_html_with_separators_and_layer_rows(tmp_path):
    src = copy_root("test-summary", tmp_path)
    status, out, warnings = build(src, "-W")
    assert status == 0, warnings
    assert warnings.strip() == ""
    tables = tables_of(out / "index.html")
    layers = [t for t in tables if "cnninspect-layers" in t["classes"]]
    totals = [t for t in tables if "cnninspect-totals" in t["classes"]]
    assert len(layers) == 2 and len(totals) == 2

    simple = layers[0]
    assert "SimpleCNN" in simple["caption"]
    header = [text for text, _ in simple["rows"][0]]
    assert header[:5] == ["Layer", "Kind", "Output shape", "Params", "MACs"]
    rows = {cells[0][0]: cells for cells in simple["rows"][1:]}
    for name, params in SIMPLE_ROWS.items():
        text, classes = rows[name][3]
        assert text == sep(params), (name, text)
        assert "cnninspect-num" in classes  # right-aligned by the extension's CSS
    # every row has as many cells as the header: the table is aligned
    assert all(len(r) == len(header) for r in simple["rows"])
    # the chapter's shapes: 28x28 -> 14x14 -> 7x7 -> 3136 -> 128 -> 10
    assert rows["conv1"][2][0] == "1x32x28x28"
    assert rows["pool@2"][2][0] == "1x64x7x7"
    assert rows["view"][2][0] == "1x3136"
    assert rows["fc2"][2][0] == "1x10"
    # receptive fields are core, so the column is always there: 3, 4, 8, 10 by r += (k-1)*j, j *= s
    rf = header.index("RF")
    assert [rows[n][rf][0] for n in ("conv1", "pool", "conv2", "pool@2")] == ["3", "4", "8", "10"]
    assert rows["fc1"][rf][0] == "global"
    # conv1 MACs: 32 filters x 3x3 x 1 channel at 28x28 positions
    assert rows["conv1"][4][0] == sep(32 * 28 * 28 * 3 * 3 * 1)
    total_line = {cells[0][0]: cells[1][0] for cells in totals[0]["rows"][1:]}
    assert total_line["Total params"].startswith(sep(SIMPLE_TOTAL))
    assert sep(SIMPLE_TOTAL) == "421,642"

    custom = layers[1]
    assert custom["caption"].startswith("CustomCNN folded to depth 1")
    crow = {cells[0][0]: cells for cells in custom["rows"][1:]}
    assert crow["block1"][3][0] == sep(conv_params(3, 32, 3))
    assert crow["block1"][1][0] == "ConvBlock"
    assert crow["fc"][3][0] == sep(linear_params(64 * 8 * 8, 10))

    html = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="#simple-table"' in html  # :name: gives a cross-reference target
    assert "_static/cnninspect.css" in html
    images = list((out / "_images").glob("cnninspect-*.png"))
    assert len(images) == 1 and images[0].stat().st_size > 2000


def test_text_builder_gets_the_same_table(tmp_path):
    """Real docutils nodes, so a non-HTML builder renders the table too."""
    src = copy_root("test-summary", tmp_path)
    status, out, warnings = build(src, "-W", builder="text")
    assert status == 0, warnings
    text = (out / "index.txt").read_text(encoding="utf-8")
    assert sep(SIMPLE_TOTAL) in text
    assert sep(SIMPLE_ROWS["fc1"]) in text
    assert "<table" not in text


def test_broken_spec_warns_with_location_and_shows_a_note(tmp_path):
    src = copy_root("test-broken", tmp_path)
    lines = (src / "index.rst").read_text().splitlines()
    line = next(i for i, t in enumerate(lines, 1) if "no_such_package_xyz" in t)
    status, out, warnings = build(src)
    assert status == 0  # a warning, not a crash
    assert f"index.rst:{line}: WARNING:" in warnings
    assert "no_such_package_xyz" in warnings and "no module named" in warnings
    assert "Traceback" not in warnings
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "cnninspect-error" in html and "no_such_package_xyz" in html
    assert sep(SIMPLE_TOTAL) in html  # the good model on the same page still has its table

    status_w, _, warnings_w = build(src, "-W", "-E")
    assert status_w != 0  # -W turns the warning into a failed build
    assert "no_such_package_xyz" in warnings_w


def test_raise_config_stops_the_build_with_the_reason(tmp_path, capsys):
    src = copy_root("test-broken", tmp_path)
    status, out, _ = build(src, "-D", "cnninspect_on_error=raise")
    assert status != 0
    err = capsys.readouterr().err
    assert "no_such_package_xyz" in err and "index.rst:" in err
    assert not (out / "index.html").exists()


def test_bad_option_value_is_reported_not_crashed(tmp_path):
    src = tmp_path / "bad"
    src.mkdir()
    (src / "conf.py").write_text('extensions = ["cnninspect.integrations.sphinx"]\n')
    (src / "index.rst").write_text(
        "Bad\n===\n\n.. cnninspect-summary:: simple-cnn\n   :input-shape: 1,3,28,28\n\n"
        ".. cnninspect-summary:: simple-cnn\n   :columns: name,bogus\n"
    )
    status, out, warnings = build(src)
    assert status == 0
    assert "index.rst:4: WARNING:" in warnings and "conv1" in warnings  # wrong channels names the layer
    assert "index.rst:7: WARNING:" in warnings and "bogus" in warnings


def test_parallel_build(tmp_path, monkeypatch):
    src = copy_root("test-parallel", tmp_path)
    log = tmp_path / "pids.txt"
    monkeypatch.setenv("CNNINSPECT_TEST_PID_LOG", str(log))
    status, out, warnings = build(src, "-W", "-j", "2")
    assert status == 0, warnings
    assert "parallel" not in warnings  # no "not safe for parallel reading" downgrade
    pids = {int(p) for p in log.read_text().split()}
    assert pids and os.getpid() not in pids  # the pages were read in worker processes
    for i, ch in enumerate([4, 8, 12, 16, 20, 24]):
        tables = tables_of(out / f"page{i}.html")
        rows = {cells[0][0]: cells for cells in tables[0]["rows"][1:]}
        assert rows["conv"][3][0] == sep(conv_params(3, ch, 3))
        assert rows["conv"][2][0] == f"1x{ch}x16x16"
    assert len(list((out / "_images").glob("cnninspect-*.png"))) == 6


def test_plot_written_once_and_reused(tmp_path):
    src = copy_root("test-summary", tmp_path)
    assert build(src, "-W")[0] == 0
    charts = sorted((src / "_cnninspect").glob("*.png"))
    assert len(charts) == 1
    stamp = charts[0].stat().st_mtime_ns
    time.sleep(0.05)
    status, out, warnings = build(src, "-W", "-E")  # -E: every directive runs again
    assert status == 0, warnings
    again = sorted((src / "_cnninspect").glob("*.png"))
    assert again == charts and again[0].stat().st_mtime_ns == stamp
    assert (out / "_images" / charts[0].name).exists()


def test_editing_the_model_rebuilds_the_page(tmp_path):
    src = copy_root("test-depend", tmp_path)
    status, out, warnings = build(src, "-W")
    assert status == 0, warnings
    first = tables_of(out / "index.html")[0]
    assert first["rows"][1][3][0] == sep(conv_params(3, 5, 3))
    charts = set((src / "_cnninspect").glob("*.png"))

    model = src / "depend_model.py"
    model.write_text(model.read_text().replace("nn.Conv2d(3, 5,", "nn.Conv2d(3, 7,"))
    later = time.time() + 5
    os.utime(model, (later, later))
    sys.modules.pop("depend_model", None)  # a fresh interpreter would import the edited file
    status, out, warnings = build(src, "-W")  # no -E: only the recorded dependency triggers a re-read
    assert status == 0, warnings
    second = tables_of(out / "index.html")[0]
    assert second["rows"][1][3][0] == sep(conv_params(3, 7, 3))
    assert len(set((src / "_cnninspect").glob("*.png")) - charts) == 1  # new numbers, new chart


def test_setup_metadata():
    import cnninspect
    from cnninspect.integrations.sphinx import setup

    class App:
        def __init__(self):
            self.calls = []

        def __getattr__(self, name):
            return lambda *a, **k: self.calls.append((name, a))

    app = App()
    meta = setup(app)
    assert meta == {"version": cnninspect.__version__, "parallel_read_safe": True, "parallel_write_safe": True}
    names = {a[0] for n, a in app.calls if n == "add_directive"}
    assert {"cnninspect-summary", "cnninspect-rf"} <= names
    configs = {a[0]: a[1] for n, a in app.calls if n == "add_config_value"}
    assert configs["cnninspect_on_error"] == "warn"
    assert {"cnninspect_input_shape", "cnninspect_device", "cnninspect_image_formats"} <= set(configs)


def test_fixing_a_broken_model_rebuilds_the_page(tmp_path):
    """The file of a model that failed to import is watched too: fixing it clears the warning."""
    src = copy_root("test-depend", tmp_path)
    model = src / "depend_model.py"
    good = model.read_text()
    model.write_text('raise RuntimeError("half-edited model")\n' + good)
    status, out, warnings = build(src)
    assert status == 0 and "half-edited model" in warnings
    assert "cnninspect-error" in (out / "index.html").read_text(encoding="utf-8")

    model.write_text(good)
    later = time.time() + 5
    os.utime(model, (later, later))
    sys.modules.pop("depend_model", None)
    status, out, warnings = build(src, "-W")  # no -E
    assert status == 0, warnings
    assert tables_of(out / "index.html")[0]["rows"][1][3][0] == sep(conv_params(3, 5, 3))


def test_doctree_holds_real_table_nodes(tmp_path):
    """sphinx.testing's app: the directive's output is docutils table structure, not raw HTML."""
    from io import StringIO

    from docutils import nodes
    from sphinx.testing.util import SphinxTestApp

    src = copy_root("test-summary", tmp_path)
    warnings = StringIO()
    app = SphinxTestApp("html", srcdir=src, builddir=src / "_build", warning=warnings, freshenv=True)
    try:
        app.build()
        doctree = app.env.get_doctree("index")
    finally:
        app.cleanup()
    assert warnings.getvalue() == ""
    assert not list(doctree.findall(nodes.raw))
    table = next(t for t in doctree.findall(nodes.table) if "cnninspect-layers" in t["classes"])
    (tgroup,) = [c for c in table.children if isinstance(c, nodes.tgroup)]
    colspecs = [c for c in tgroup.children if isinstance(c, nodes.colspec)]
    (thead,) = [c for c in tgroup.children if isinstance(c, nodes.thead)]
    (tbody,) = [c for c in tgroup.children if isinstance(c, nodes.tbody)]
    assert len(colspecs) == tgroup["cols"]
    rows = list(tbody.findall(nodes.row))
    assert all(len(r.children) == tgroup["cols"] for r in [*thead.findall(nodes.row), *rows])
    texts = {r.children[0].astext(): [e.astext() for e in r.children] for r in rows}
    assert texts["fc1"][3] == sep(SIMPLE_ROWS["fc1"])
