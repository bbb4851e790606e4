"""cnninspect-rf, cnninspect-fc and cnninspect-compare in a real build; expectations worked out by hand."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sphinx.cmd.build import build_main
from test_sphinx import CUSTOM_TOTAL, SIMPLE_TOTAL, sep, tables_of

ROOT = Path(__file__).parent / "roots" / "test-directives"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    src = tmp_path_factory.mktemp("directives") / "src"
    shutil.copytree(ROOT, src)
    out = src / "_build" / "html"
    warnings = src / "warnings.txt"
    status = build_main(["-q", "-W", "-b", "html", "-w", str(warnings), str(src), str(out)])
    assert status == 0, warnings.read_text()
    return src, out, tables_of(out / "index.html")


def by_class(tables, cls):
    return [t for t in tables if cls in t["classes"]]


def test_rf_table_true_vs_stride_one_formula(built):
    _, _, tables = built
    (rf,) = by_class(tables, "cnninspect-rf-table")
    header = [c for c, _ in rf["rows"][0]]
    rows = {cells[0][0]: [c for c, _ in cells] for cells in rf["rows"][1:]}
    size, jump, naive = header.index("RF"), header.index("Jump"), header.index("Stride-1 formula")
    # r += (k-1)*j, j *= s: conv3 -> 3, pool2/2 -> 4 (j 2), conv3 -> 8, pool2/2 -> 10 (j 4)
    assert [rows[n][size] for n in ("conv1", "pool", "conv2", "pool@2")] == ["3", "4", "8", "10"]
    assert [rows[n][jump] for n in ("conv1", "pool", "conv2", "pool@2")] == ["1", "2", "2", "4"]
    # the stride-1 formula adds K - 1 each time: 3, 4, 6, 7
    assert [rows[n][naive] for n in ("conv1", "pool", "conv2", "pool@2")] == ["3", "4", "6", "7"]
    assert rows["fc1"][size] == "global"


def test_fc_table_against_the_dense_layer_arithmetic(built):
    _, _, tables = built
    (fc,) = by_class(tables, "cnninspect-fc-table")
    rows = {cells[0][0]: [c for c, _ in cells] for cells in fc["rows"][1:]}
    conv1_fc = 28 * 28 * 1 * (32 * 28 * 28) + 32 * 28 * 28
    conv2_fc = 32 * 14 * 14 * (64 * 14 * 14) + 64 * 14 * 14
    assert rows["conv1"][3:5] == [sep(1 * 32 * 9 + 32), sep(conv1_fc)]
    assert rows["conv2"][3:5] == [sep(32 * 64 * 9 + 64), sep(conv2_fc)]
    assert rows["all convs"][4] == sep(conv1_fc + conv2_fc)
    saving = 1 - (320 + 18496) / (conv1_fc + conv2_fc)
    assert rows["all convs"][6] == f"{100 * saving:.2f} %"


def test_compare_table_puts_models_side_by_side(built):
    _, _, tables = built
    (cmp,) = by_class(tables, "cnninspect-compare-table")
    rows = {cells[0][0]: [c for c, _ in cells[1:]] for cells in cmp["rows"]}
    assert rows[""] == ["SimpleCNN", "CustomCNN"]
    assert rows["Parameters"] == [sep(SIMPLE_TOTAL), sep(CUSTOM_TOTAL)]
    assert rows["Input"] == ["1x1x28x28", "1x3x32x32"]


def test_charts_in_every_requested_format(built):
    src, out, _ = built
    charts = sorted((src / "_cnninspect").iterdir())
    svg = {p.stem for p in charts if p.suffix == ".svg"}
    png = {p.stem for p in charts if p.suffix == ".png"}
    # our own charts come in both configured formats; receptive-field pictures drawn by
    # cnninspect.renderers.receptive_plot (when installed) are PNG only
    assert svg and svg <= png
    html = (out / "index.html").read_text(encoding="utf-8")
    assert html.count('class="cnninspect-plot"') == 4
    assert ".svg" in html  # the HTML builder picks SVG over PNG where both exist
    images = [p for p in (out / "_images").iterdir() if p.name.startswith("cnninspect-")]
    # the rf directive's growth chart and the summary's ':plot: rf' are the same picture: one file
    assert len({p.stem for p in images}) == 3 and all(p.stat().st_size > 1000 for p in images)


def test_unit_region_by_hand():
    """pool@2 of SimpleCNN: size 10, jump 4, start 3/2 -> unit 3 centred at 13.5 covers 9..18."""
    from cnninspect.errors import OptionError
    from cnninspect.integrations.sphinx import analysis

    a = analysis.analyse("simple-cnn", None, None, {}, None)
    layer = a.summary.layer("pool@2")
    assert analysis.region(a, layer, (3, 3)) == [(9, 18), (9, 18)]
    # the corner unit is centred at 1.5: -3..6, clipped to 0..6
    assert analysis.region(a, layer, (0, 0)) == [(0, 6), (0, 6)]
    with pytest.raises(OptionError, match="is global"):
        analysis.region(a, a.summary.layer("fc1"), (0,))
