"""Typed row identity, receptive fields as core, and no process-wide side effects (issue 13, 5-7).

Row identity is checked against what torch itself reports (forward hooks on a real forward
count each module's calls); fields and FC figures against independent counts; the compat
module against torch's own modules.
"""

from __future__ import annotations

import gc
import importlib
import random
import re
import threading
from pathlib import Path

import pytest
import torch
from torch import nn

import cnninspect
from cnninspect.analyses import fc
from cnninspect.chapter.models import SimpleCNN
from cnninspect.engine import compat
from cnninspect.engine.receptive import ReceptiveField, attach
from cnninspect.engine.records import AnalysisFailure
from cnninspect.engine.summary import summarize
from cnninspect.errors import ModelError


def _real_calls(model: nn.Module, x: torch.Tensor) -> list[str]:
    """The module path of every leaf-module call of a real forward, in order (torch's view)."""
    order: list[str] = []
    handles = [
        m.register_forward_hook(lambda mod, a, out, _n=name: order.append(_n))
        for name, m in model.named_modules()
        if name and not list(m.children())
    ]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return order


def _module_rows(summary) -> list[tuple[str, int]]:
    return [(row.module_path, row.call_index) for row in summary.layers if row.module_path is not None]


def _expected(calls: list[str]) -> list[tuple[str, int]]:
    seen: dict[str, int] = {}
    out = []
    for path in calls:
        seen[path] = seen.get(path, 0) + 1
        out.append((path, seen[path]))
    return out


# --- typed row identity -------------------------------------------------------------------


def test_a_module_called_twice_has_two_rows_with_its_path_and_call_index():
    model = SimpleCNN().eval()  # its pool is called after each conv
    s = summarize(model, (1, 1, 28, 28))
    assert _module_rows(s) == _expected(_real_calls(model, torch.randn(1, 1, 28, 28)))
    second = s.layer("pool@2")
    assert (second.module_path, second.call_index, second.path) == ("pool", 2, "pool")
    assert s.layer("pool").call_index == 1


def test_functional_rows_have_no_module_path():
    s = summarize(SimpleCNN(), (1, 1, 28, 28))
    relu = s.layer("relu_1")
    assert relu.module_path is None and relu.call_index == 1 and not relu.is_module_call
    assert s.layer("conv1").is_module_call


class _Shared(nn.Module):
    """A nested block called three times, so ``path`` has dots and the index reaches 3."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU())
        self.stem = nn.Conv2d(3, 4, 1)

    def forward(self, x):
        x = self.stem(x)
        for _ in range(3):
            x = self.body(x) * 0.5  # a root-level op between calls: folding gives three groups
        return x


class _DataDependent(_Shared):
    """fx cannot trace a branch on tensor data: the summary falls back to forward hooks."""

    def forward(self, x):
        x = self.stem(x)
        for _ in range(3):
            x = self.body(x)
        if x.sum() > 0:  # data-dependent: needs a real forward
            x = x * 2
        return x


@pytest.mark.parametrize("cls, method", [(_Shared, "fx"), (_DataDependent, "hooks")])
def test_rows_match_torchs_own_calls_on_the_fx_and_the_hook_paths(cls, method):
    model = cls().eval()
    s = summarize(model, (1, 3, 8, 8))
    assert s.method.startswith(method)
    assert _module_rows(s) == _expected(_real_calls(model, torch.randn(1, 3, 8, 8)))
    third = [row for row in s.layers if row.module_path == "body.0"][-1]
    assert (third.name, third.call_index, third.parent, third.depth) == ("body.0@3", 3, "body", 2)
    if method == "hooks":
        # the JSON contract keeps a row's origin: module calls seen by hooks, and the torch
        # calls the forward made itself (x.sum(), its comparison with 0, x * 2), recorded as they ran
        assert {row.op for row in s.layers if row.module_path is not None} == {"hook"}
        functional = [(row.name, row.op) for row in s.layers if row.module_path is None]
        assert functional == [("sum", "call_method"), ("gt", "call_method"), ("mul", "call_method")]


def test_folded_groups_carry_their_path_and_call_index():
    s = summarize(_Shared(), (1, 3, 8, 8))
    from cnninspect.renderers.text import fold

    folded = [row for row in fold(s.layers, 1) if row.op == "group"]
    assert [(g.name, g.module_path, g.call_index) for g in folded] == [
        ("body", "body", 1), ("body@2", "body", 2), ("body@3", "body", 3)
    ]  # fmt: skip


def test_torchscript_rows_name_the_module_whose_parameters_they_read():
    model = torch.jit.script(_Shared().eval())
    s = summarize(model, (1, 3, 8, 8))
    convs = [(row.module_path, row.call_index) for row in s.layers if row.kind == "Conv2d"]
    assert convs == [("stem", 1), ("body.0", 1), ("body.0", 2), ("body.0", 3)]


def test_json_rows_carry_module_path_and_call_index():
    rows = {row["name"]: row for row in summarize(SimpleCNN(), (1, 1, 28, 28)).to_dict()["layers"]}
    assert (rows["pool@2"]["module_path"], rows["pool@2"]["call_index"]) == ("pool", 2)
    assert (rows["relu"]["module_path"], rows["relu"]["call_index"]) == (None, 1)


# --- receptive fields are core -------------------------------------------------------------


def _records_and_rows(model, shape):
    """The summary's records beside its rows, through the same steps summarize() takes."""
    from cnninspect.engine.inputs import InputSpec
    from cnninspect.engine.inventory import inventory
    from cnninspect.engine.summary import _assemble, _records

    tree = inventory(model)
    records, output, method, warnings, opaque, inputs = _records(model, tree, InputSpec.of(shape), tree.device)
    return _assemble(model, tree, records, output, method, warnings, opaque, inputs.shapes)


def test_fields_attach_to_their_own_rows_whatever_the_order():
    model = SimpleCNN()
    summary, rows = _records_and_rows(model, (1, 1, 28, 28))
    random.Random(0).shuffle(summary.layers)  # rows no longer sit where their records do
    assert [layer for _, layer in rows] != summary.layers
    attach(summary, rows, summary.input_shapes)
    for layer in summary.layers:
        assert isinstance(layer.receptive_field, ReceptiveField)
        assert layer.receptive_field.name == layer.name
    # and the figures are the textbook ones for SimpleCNN (3x3 convs, 2x2 pools)
    assert summary.layer("pool@2").receptive_field.size == (10, 10)
    assert summary.layer("conv2").receptive_field.jump == (2, 2)


def test_a_failed_analysis_is_a_typed_rf_error(monkeypatch):
    import cnninspect.engine.receptive as receptive

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a rule divided by zero")

    monkeypatch.setattr(receptive, "analyse", broken)
    s = summarize(SimpleCNN(), (1, 1, 28, 28))
    assert s.rf_error == AnalysisFailure("ZeroDivisionError", "a rule divided by zero")
    assert s.receptive_field is None and all(row.receptive_field is None for row in s.layers)
    assert s.total_params == sum(p.numel() for p in SimpleCNN().parameters())  # the rest stands
    assert s.to_dict()["rf_error"] == {"type": "ZeroDivisionError", "message": "a rule divided by zero"}
    with pytest.raises(ModelError, match="ZeroDivisionError: a rule divided by zero"):
        cnninspect.receptive_field(SimpleCNN(), (1, 1, 28, 28))


def test_no_rf_error_when_the_analysis_runs():
    s = summarize(SimpleCNN(), (1, 1, 28, 28))
    assert s.rf_error is None and s.to_dict()["rf_error"] is None


def test_no_import_error_guards_around_receptive_fields():
    root = Path(cnninspect.__file__).parent
    guarded = []
    for path in root.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"try:\n(?:[^\n]*\n){1,3}?\s*except ImportError", text):
            if "receptive" in match.group(0):
                guarded.append(str(path.relative_to(root)))
    assert not guarded, f"receptive fields are core, yet an ImportError guard wraps them in {guarded}"


# --- no process-wide side effects ------------------------------------------------------------


def test_annotate_leaves_the_summary_as_it_was():
    s = summarize(SimpleCNN(), (1, 1, 28, 28))
    before = s.to_dict()
    rows = fc.annotate(s)
    assert s.to_dict() == before and all(layer.fc_params is None for layer in s.layers)
    annotated = fc.with_fc_params(s, rows)
    assert s.to_dict() == before and annotated is not s
    conv2 = annotated.layer("conv2")
    # a dense layer from conv2's input volume (32x14x14) to its output (64x14x14), with bias
    assert conv2.fc_params == nn.Linear(32 * 14 * 14, 64 * 14 * 14, device="meta").weight.numel() + 64 * 14 * 14
    assert annotated.layer("fc1").fc_params is None  # not a conv


def test_the_sphinx_cache_keeps_an_unannotated_summary():
    from cnninspect.integrations.sphinx import analysis

    s = summarize(SimpleCNN(), (1, 1, 28, 28))
    cached = analysis.Analysed.__new__(analysis.Analysed)
    cached.summary = s
    cmp = analysis.fc_comparison(cached)
    assert cmp.summary is not s and all(layer.fc_params is None for layer in s.layers)
    assert cmp.summary.layer("conv1").fc_params == cmp.rows[0].fc_params


def test_summarize_pauses_gc_only_when_no_other_thread_runs():
    seen: list[bool] = []

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 1)

        def forward(self, x):
            seen.append(gc.isenabled())  # runs while fx traces, inside summarize
            return self.conv(x)

    assert gc.isenabled()
    alone = threading.active_count() == 1  # True in a plain pytest run
    summarize(Probe(), (1, 1, 4, 4))
    assert seen == [not alone] and gc.isenabled()

    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        summarize(Probe(), (1, 1, 4, 4))
    finally:
        stop.set()
        other.join()
    assert seen[1] is True and gc.isenabled()  # another thread: collection left on


def test_gc_is_restored_when_a_summary_fails():
    with pytest.raises(cnninspect.InputShapeError):
        summarize(SimpleCNN(), (1, 3, 28, 28))  # SimpleCNN takes one channel
    assert gc.isenabled()
    gc.disable()
    try:
        summarize(SimpleCNN(), (1, 1, 28, 28))
        assert not gc.isenabled()  # a caller's own choice is left alone
    finally:
        gc.enable()


def test_the_fx_attribute_index_skip_is_invisible_to_other_threads():
    st = importlib.import_module("torch.fx._symbolic_trace")
    original = st._constant_attribute_types
    tensor = torch.zeros(1)
    answers: list[bool] = []

    def other_thread():
        answers.append(isinstance(tensor, st._constant_attribute_types))

    stop = threading.Event()
    running = threading.Thread(target=stop.wait)  # another thread that could be using fx
    running.start()
    try:
        with compat.fx_attribute_index_skipped():
            assert not isinstance(tensor, st._constant_attribute_types)  # this thread skips the index
            t = threading.Thread(target=other_thread)
            t.start()
            t.join()
    finally:
        stop.set()
        running.join()
    assert answers == [True]  # fx in another thread still sees a tensor as a constant
    assert st._constant_attribute_types is original
    with compat.fx_attribute_index_skipped():  # alone: the cheap stand-in, still restored after
        assert not isinstance(tensor, st._constant_attribute_types)
    assert st._constant_attribute_types is original


# --- compat: every torch-private name, checked against torch itself ----------------------------

_PRIVATE = [
    ("torch.utils._pytree", "tree_flatten"),
    ("torch.utils._pytree", "tree_map"),
    ("torch.utils._pytree", "tree_unflatten"),
    ("torch.utils._python_dispatch", "TorchDispatchMode"),
    ("torch.fx._symbolic_trace", "_constant_attribute_types"),
    ("torch.fx.graph", "_Namespace"),
    ("torch.fx.graph.Graph", "_target_to_str"),
    ("torch._C", "parse_schema"),
    ("torch._C", "TensorBase"),
    ("torch.nn.modules.batchnorm", "_NormBase"),
    ("torch", "_assert"),
    ("torch", "_fused_sdp_choice"),
]


def _resolve(where: str, name: str):
    parts = where.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return getattr(obj, name)
    raise ImportError(where)


def test_every_private_torch_name_cnninspect_uses_still_exists():
    gone = []
    for where, name in _PRIVATE:
        try:
            _resolve(where, name)
        except (ImportError, AttributeError) as exc:
            gone.append(f"{where}.{name} ({type(exc).__name__}: {exc})")
    module = nn.Linear(1, 1)
    gone += [f"nn.Module.{a}" for a in compat.MODULE_ATTRIBUTES if not hasattr(module, a)]
    assert not gone, f"torch {torch.__version__} changed private names cnninspect.engine.compat uses: {gone}"
    st = importlib.import_module("torch.fx._symbolic_trace")
    assert torch.Tensor in st._constant_attribute_types, "fx's constant attribute types no longer hold Tensor"


def test_compat_hands_out_torchs_own_objects():
    from torch.fx.graph import Graph, _Namespace
    from torch.utils import _pytree

    assert compat.tree_flatten is _pytree.tree_flatten and compat.tree_map is _pytree.tree_map
    assert compat.Namespace is _Namespace and compat.parse_schema is torch._C.parse_schema
    assert compat.torch_assert is torch._assert and compat.TensorBase is torch._C.TensorBase
    assert compat.target_to_str(Graph(), torch.add) == "add"
    compiled_attr = compat.COMPILED_ORIGINAL
    wrapped = torch.compile(nn.Linear(1, 1))  # compiles lazily: building the wrapper is cheap
    assert isinstance(getattr(wrapped, compiled_attr), nn.Linear)


def test_no_module_but_compat_uses_a_torch_private_name():
    root = Path(cnninspect.__file__).parent
    private = re.compile(
        r"torch\._[A-Za-z]|torch\.utils\._|torch\.fx\._|from torch[\w.]* import _|_target_to_str|_Namespace\b"
    )
    found = [
        f"{path.relative_to(root)}:{n}: {line.strip()}"
        for path in sorted(root.rglob("*.py"))
        if path.name != "compat.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if private.search(line)
    ]
    assert not found, "torch-private names belong in cnninspect/engine/compat.py:\n" + "\n".join(found)
