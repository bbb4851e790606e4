"""Proof by agreement: every figure of the summary checked against independent sources.

Per layer, per quantity, up to five sources give a value:

- ``trace``: what :func:`cnninspect.summarize` says (meta tensors, rule tables);
- ``reference``: the chapter's formulas in :mod:`cnninspect.analyses.reference` (NumPy,
  no torch), fed the module's configuration and the input shape the layer really
  received;
- ``hooks``: one real forward (:mod:`cnninspect.engine.hooks`);
- ``flop_counter``: ``torch.utils.flop_counter`` counting the same forward's
  aten ops (its FLOPs are 2 x MACs for the matmul-like ops it knows);
- ``gradient``: the receptive field measured by back-propagation, when
  :mod:`cnninspect.analyses.gradcheck` offers that check.

A value agrees when every source that could judge it gives the same number. A
quantity that only the trace can speak for is *not checked* -- never "passed".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

import torch
from torch import nn
from torch.nn.parameter import is_lazy
from torch.nn.utils import parametrize

from cnninspect.analyses import reference as ref
from cnninspect.analyses.formulas import Formula, Seen, resolve
from cnninspect.engine.hooks import ForwardRecording, HookRecord, record_forward
from cnninspect.engine.inputs import InputSpec, choose_input
from cnninspect.engine.lazy import initialised_copy
from cnninspect.engine.ops.catalogue import CATALOGUE, entry_for_module
from cnninspect.engine.ops.receptive import keep
from cnninspect.engine.records import Layer, Summary
from cnninspect.units import fmt_number as _fmt_num
from cnninspect.units import fmt_shape as _fmt_shape

SOURCES = ("trace", "reference", "hooks", "flop_counter", "gradient")
QUANTITIES = ("output_shape", "params", "macs", "receptive_field", "rf_region")
_ABBREV = {"trace": "T", "reference": "R", "hooks": "H", "flop_counter": "F", "gradient": "G"}
OK, MISMATCH, NOT_CHECKED = "ok", "mismatch", "not checked"

Shape = tuple[int, ...]


@dataclass
class Check:
    """One quantity of one layer, as each source that could judge it sees it."""

    layer: str
    kind: str
    quantity: str
    values: dict[str, Any]  # source -> value; a source that cannot judge is absent

    @property
    def status(self) -> str:
        if len(self.values) < 2 or self.trivially_zero:
            return NOT_CHECKED
        first, *rest = self.values.values()
        return OK if all(v == first for v in rest) else MISMATCH

    @property
    def trivially_zero(self) -> bool:
        """Every source counts 0 params or MACs (a ReLU, a pool): agreeing on nothing proves nothing."""
        return self.quantity in ("params", "macs") and all(v == 0 for v in self.values.values())

    @property
    def sources(self) -> list[str]:
        return list(self.values)


@dataclass
class Mismatch:
    """Sources disagree: which layer, which quantity, and every source's value."""

    layer: str
    kind: str
    quantity: str
    values: dict[str, Any]

    def __str__(self) -> str:
        shown = ", ".join(f"{source}={_fmt_value(self.quantity, v)}" for source, v in self.values.items())
        return f"layer {self.layer!r} ({self.kind}): {self.quantity} disagrees: {shown}"


@dataclass
class VerifyReport:
    """What :func:`verify` returns; ``str()`` of it is the comparison table."""

    model_name: str
    input_shapes: list[Shape]
    checks: list[Check]
    summary: Summary
    recording: ForwardRecording
    notes: list[str] = field(default_factory=list)

    @property
    def mismatches(self) -> list[Mismatch]:
        return [
            Mismatch(c.layer, c.kind, c.quantity, dict(c.values)) for c in self.checks if c.status == MISMATCH
        ]

    @property
    def ok(self) -> bool:
        """True when no two sources disagree anywhere."""
        return not any(c.status == MISMATCH for c in self.checks)

    def counts(self) -> dict[str, int]:
        out = {OK: 0, MISMATCH: 0, NOT_CHECKED: 0}
        for c in self.checks:
            out[c.status] += 1
        return out

    def check(self, layer: str, quantity: str) -> Check | None:
        for c in self.checks:
            if c.layer == layer and c.quantity == quantity:
                return c
        return None

    def rows(self) -> list[list[str]]:
        """One row per layer: name, kind, then a cell per quantity."""
        order: dict[str, tuple[str, dict[str, Check]]] = {}
        for c in self.checks:
            order.setdefault(c.layer, (c.kind, {}))[1][c.quantity] = c
        return [
            [name, kind, *(_cell(cells.get(q)) for q in QUANTITIES)] for name, (kind, cells) in order.items()
        ]

    def to_text(self) -> str:
        from tabulate import tabulate

        headers = ["Layer", "Kind", "Output shape", "Params", "MACs", "Receptive field", "RF region"]
        body = tabulate(self.rows(), headers=headers, tablefmt="simple", disable_numparse=True)
        width = max((len(line) for line in body.splitlines()), default=40)
        rule = "=" * width
        n = self.counts()
        verdict = "OK: every checked value agrees" if self.ok else f"FAILED: {n[MISMATCH]} mismatch(es)"
        legend = ", ".join(f"{a}={s}" for s, a in _ABBREV.items())
        out = [rule, f"verify {self.model_name}  input {', '.join(_fmt_shape(s) for s in self.input_shapes)}", rule, body, rule]
        out.append(f"sources: {legend}; a cell lists the sources that agree on its value")
        out.append(f"{n[OK]} values agree, {n[MISMATCH]} disagree, {n[NOT_CHECKED]} not checked (one source only, or all zero)")
        out += [f"note: {note}" for note in self.notes]
        out += [f"MISMATCH {m}" for m in self.mismatches]
        out += [verdict, rule]
        return "\n".join(out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model_name,
            "ok": self.ok,
            "input_shapes": [list(s) for s in self.input_shapes],
            "counts": self.counts(),
            "notes": list(self.notes),
            "mismatches": [
                {"layer": m.layer, "kind": m.kind, "quantity": m.quantity, "values": _jsonable(m.values)}
                for m in self.mismatches
            ],
            "checks": [
                {"layer": c.layer, "kind": c.kind, "quantity": c.quantity, "status": c.status, "values": _jsonable(c.values)}
                for c in self.checks
            ],
        }

    def __str__(self) -> str:
        return self.to_text()


def verify(
    model: nn.Module,
    input_shape: Any = None,
    *,
    input_data: Any = None,
    dtype: torch.dtype | list[torch.dtype] | None = None,
    device: str | torch.device = "cpu",
    mode: str | None = None,
    flop_counter: bool = True,
    receptive_field: bool = True,
    gradient_layers: str = "last",
) -> VerifyReport:
    """Check the summary of ``model`` against formulas, a real forward and torch's flop counter.

    ``mode`` (``None``, ``"eval"`` or ``"train"``) applies to both the trace and
    the forward and is undone afterwards; ``None`` keeps the model's own modes.
    The real forward runs on ``device`` (CPU by default) with the batch size of
    ``input_shape``. ``gradient_layers`` picks the module rows whose receptive
    field is measured by back-propagation: ``"last"`` (the last one with a
    finite field), ``"all"`` or ``"none"``.
    """
    from cnninspect.engine.summary import summarize
    from cnninspect.errors import ModelError, OptionError

    if not isinstance(model, nn.Module):
        raise ModelError(f"verify() needs a torch.nn.Module, got {type(model).__name__}")
    if mode not in (None, "eval", "train"):
        raise OptionError(f"mode must be None, 'eval' or 'train', got {mode!r}")
    if gradient_layers not in ("last", "all", "none"):
        raise OptionError(f"gradient_layers must be 'last', 'all' or 'none', got {gradient_layers!r}")
    spec = choose_input(model, InputSpec.of(input_shape, input_data, dtype))  # one spec for every source
    if any(is_lazy(p) for p in model.parameters()):  # the real forward needs shaped weights
        model = initialised_copy(model, spec, device)
    modes = [(m, m.training) for m in model.modules()]
    try:
        if mode is not None:
            model.train(mode == "train")
        summary = summarize(model, spec, receptive_field=receptive_field)
        recording = record_forward(model, spec, device=device, count_flops=flop_counter)
    finally:
        for m, training in modes:
            m.training = training
    modules = dict(model.named_modules())
    checks, notes = _compare(summary, recording, modules, flop_counter)
    if isinstance(model, torch.jit.ScriptModule):
        notes.insert(0, "TorchScript modules take no forward hooks: only the model's output and totals meet the real forward")
    if receptive_field:
        notes += _receptive_field_checks(summary, checks, modules, model, spec, gradient_layers)
    return VerifyReport(summary.model_name, list(summary.input_shapes), checks, summary, recording, notes)


# --- joining the sources -------------------------------------------------------------------


@dataclass
class _Join:
    """The real forward, indexed for joining to the trace's rows, and what the join collects.

    Module rows meet the hooks by label and the flop counter by module path; the
    counter sums every call of a path, hence the per-path sums of the trace.
    """

    recording: ForwardRecording
    modules: dict[str, nn.Module]
    with_flops: bool
    by_label: dict[str, HookRecord]
    first_use: dict[str, int]
    macs_by_path: dict[str, int] = field(default_factory=dict)
    calls_by_path: dict[str, int] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # module rows the forward never called
    blind: dict[str, int] = field(default_factory=dict)  # module path -> MACs the flop counter cannot see


def _join(summary: Summary, recording: ForwardRecording, modules: dict[str, nn.Module], with_flops: bool) -> _Join:
    module_rows = [layer for layer in summary.layers if layer.is_module_call]
    join = _Join(
        recording, modules, with_flops,
        by_label={rec.label: rec for rec in recording.records},
        first_use=recording.first_use({layer.name for layer in module_rows}),
    )  # fmt: skip
    for layer in module_rows:
        path = layer.module_path
        if path is not None:
            join.macs_by_path[path] = join.macs_by_path.get(path, 0) + layer.macs
            join.calls_by_path[path] = join.calls_by_path.get(path, 0) + 1
    return join


def _compare(
    summary: Summary, recording: ForwardRecording, modules: dict[str, nn.Module], with_flops: bool
) -> tuple[list[Check], list[str]]:
    join = _join(summary, recording, modules, with_flops)
    shapes_by_name = {layer.name: _shape_list(layer.output_shape) for layer in summary.layers}
    checks = [check for layer in summary.layers for check in _layer_checks(layer, join, shapes_by_name, summary)]
    notes: list[str] = []
    if join.missing:
        shown = ", ".join(join.missing[:5]) + (", ..." if len(join.missing) > 5 else "")
        notes.append(f"the real forward made no call matching {len(join.missing)} traced row(s): {shown}")
    model_checks, model_notes = _model_checks(summary, recording, join.blind)
    return checks + model_checks, notes + model_notes


def _layer_checks(layer: Layer, join: _Join, shapes_by_name: dict[str, list[Shape]], summary: Summary) -> list[Check]:
    """A row's output shape, params and MACs from every source that can judge them, then any sums."""
    # a functional formula's fields go in as they are, None included
    shape: dict[str, list[Shape] | None] = {"trace": _shape_list(layer.output_shape)}
    params: dict[str, int | None] = {"trace": layer.num_params}
    macs: dict[str, float | None] = {"trace": layer.macs}
    extra: list[Check] = []
    if layer.module_path is not None:
        extra = _module_sources(layer, layer.module_path, join, shape, params, macs)
    else:
        formula = _functional_reference(layer, shapes_by_name, summary)
        if formula is not None:
            shape["reference"] = formula.shape
            params["reference"] = formula.params
            macs["reference"] = formula.macs
    return [
        Check(layer.name, layer.kind, "output_shape", shape),
        Check(layer.name, layer.kind, "params", params),
        Check(layer.name, layer.kind, "macs", _normalise(macs)),
        *extra,
    ]


def _module_sources(
    layer: Layer,
    path: str,
    join: _Join,
    shape: dict[str, list[Shape] | None],
    params: dict[str, int | None],
    macs: dict[str, float | None],
) -> list[Check]:
    """Adds the hooks', the formula's and the flop counter's values for a module row.

    Returns the check of a module's summed calls, which the counter can only judge whole.
    """
    rec = join.by_label.get(layer.name)
    if rec is None or rec.output_shapes is None:
        join.missing.append(layer.name)
        return []
    module = join.modules.get(path)
    shape["hooks"] = rec.output_shapes
    params["hooks"] = first_use = join.first_use.get(layer.name, 0)
    formula = _reference(module, rec) if module is not None else None
    if formula is not None:
        if formula.shape is not None:
            shape["reference"] = formula.shape
        if formula.params is not None and first_use == rec.num_params:
            # the formula counts what the layer owns; a weight first used by an
            # earlier row (tied, or a second call) is counted there instead
            params["reference"] = formula.params
        if formula.macs is not None:
            macs["reference"] = formula.macs
    flops = join.recording.flops
    if not join.with_flops or rec.call != 1 or flops is None:
        return []
    counted = flops.get(path, 0)
    if not counted and not _counted_by_torch(module):
        join.blind[path] = join.macs_by_path[path]
        return []
    calls = join.calls_by_path[path]
    if calls == 1:
        macs["flop_counter"] = counted / 2
        return []
    # the counter sums every call of a module: compare sums
    summed = _normalise({"trace": join.macs_by_path[path], "flop_counter": counted / 2})
    return [Check(f"{path} (all {calls} calls)", layer.kind, "macs", summed)]


def _model_checks(
    summary: Summary, recording: ForwardRecording, blind: dict[str, int]
) -> tuple[list[Check], list[str]]:
    """Whole-model figures: the output, total params and total MACs (less what the counter cannot see)."""
    notes: list[str] = []
    checks = [
        Check("<output>", summary.model_name, "output_shape", {"trace": list(summary.output_shapes), "hooks": recording.output_shapes})
    ]
    root = recording.get("")
    total_params: dict[str, Any] = {"trace": summary.total_params}
    if root is not None:
        total_params["hooks"] = root.num_params
    checks.append(Check("<total>", summary.model_name, "params", total_params))
    total_macs: dict[str, Any] = {"trace": summary.total_macs}
    if recording.total_flops is not None:
        # layers whose kernels the counter cannot cost (fused recurrent ops, custom
        # extensions) leave the comparison, and the note says so
        unseen = {path: n for path, n in blind.items() if n}
        total_macs["trace"] -= sum(unseen.values())
        total_macs["flop_counter"] = _whole(recording.total_flops / 2)
        if unseen:
            shown = ", ".join(f"{p} ({n:,})" for p, n in list(unseen.items())[:5])
            notes.append(
                f"total MACs compared without {sum(unseen.values()):,} MACs in layers torch's flop "
                f"counter does not cost: {shown}"
            )
    checks.append(Check("<total>", summary.model_name, "macs", total_macs))
    return checks, notes


def _normalise(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _whole(v) for k, v in values.items()}


def _whole(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _shape_list(shape: Any) -> list[Shape]:
    if shape is None:
        return []
    if isinstance(shape, list):
        return [tuple(s) for s in shape]
    return [tuple(shape)]


# --- the reference formulas, per module type -----------------------------------------------

def _reference(module: nn.Module, rec: HookRecord) -> Formula | None:
    """The chapter's formulas for ``module`` given the input it really received: its
    catalogue entry's, so only while the module runs the forward the entry describes."""
    entry = entry_for_module(module)
    if entry is None or entry.reference is None or not rec.input_shapes:
        return None
    formula = resolve(entry.reference)(module, Seen(list(rec.input_shapes), rec.arg_count))
    if formula is not None and parametrize.is_parametrized(module):
        # weight norm and friends store other tensors (weight_g, weight_v) than the weight the
        # formula counts; its shape and MACs still hold, its parameter count does not apply
        formula.params = None
    return formula


def _counted_by_torch(module: nn.Module | None) -> bool:
    """Whether torch's flop counter costs this layer's kernels: then a zero there is a mismatch."""
    entry = entry_for_module(module) if module is not None else None
    return entry is not None and entry.counted_by_torch


def _functional_reference(layer: Layer, shapes: dict[str, list[Shape]], summary: Summary) -> Formula | None:
    """Functions and methods: the formula of the row's op, fed the shapes of the rows feeding it.

    The inputs here are the traced rows feeding this one (hooks cannot see a
    function call), so this checks the op's own rule, not its inputs.
    """
    entry = CATALOGUE.for_kind(layer.kind)
    if entry is None or entry.reference is None:
        return None
    ins: list[Shape] = []
    for name in layer.inputs:
        if name.startswith("input:"):
            if len(summary.input_shapes) != 1:
                return None
            ins.append(tuple(summary.input_shapes[0]))
        elif len(shapes.get(name, [])) == 1:
            ins.append(shapes[name][0])
        else:
            return None
    return resolve(entry.reference)(None, Seen(ins, len(ins)))


# --- receptive fields ----------------------------------------------------------------------

def _rf_value(rf: Any) -> Any:
    """An analytic receptive field as comparable per-axis tuples, or None if it is not a plain one."""
    if rf is None or getattr(rf, "is_global", False) or getattr(rf, "unknown", False):
        return None
    size, jump, start = (getattr(rf, a, None) for a in ("size", "jump", "start"))
    if size is None or jump is None or start is None:
        return None
    return {
        "size": tuple(Fraction(v) for v in size),
        "jump": tuple(Fraction(v) for v in jump),
        "start": tuple(Fraction(v) for v in start),
    }


def _chain_reference(layer: Layer, layers: dict[str, Layer], modules: dict[str, nn.Module], dims: int) -> Any:
    """The reference recurrence along the single path from the input to ``layer``, if it is one."""
    steps: list[tuple[tuple[int, ...], ...]] = []
    node: Layer | None = layer
    while node is not None:
        module = modules.get(node.module_path) if node.module_path is not None else None
        entry = entry_for_module(module) if module is not None else CATALOGUE.for_kind(node.kind)
        if entry is not None and module is not None and entry.chain_step is not None:
            step = resolve(entry.chain_step)(module, dims)
            if step is None:
                return None
            steps.append(step)
        elif entry is not None and entry.receptive is keep:
            pass
        else:
            return None
        if len(node.inputs) != 1:
            return None
        source = node.inputs[0]
        if source.startswith("input:"):
            break
        node = layers.get(source)
        if node is None:
            return None
    if not steps:
        return None
    steps.reverse()
    per_axis = []
    for axis in range(dims):
        chain = ref.receptive_field_chain(
            [s[0][axis] for s in steps], [s[1][axis] for s in steps], [s[2][axis] for s in steps], [s[3][axis] for s in steps]
        )
        per_axis.append(chain.final)
    return {
        "size": tuple(Fraction(a[0]) for a in per_axis),
        "jump": tuple(Fraction(a[1]) for a in per_axis),
        "start": tuple(Fraction(a[2]) for a in per_axis),
    }


def _receptive_field_checks(
    summary: Summary,
    checks: list[Check],
    modules: dict[str, nn.Module],
    model: nn.Module,
    spec: InputSpec,
    gradient_layers: str,
) -> list[str]:
    layers = {layer.name: layer for layer in summary.layers}
    for layer in summary.layers:
        analytic = _rf_value(layer.receptive_field)
        if analytic is None:
            continue
        values: dict[str, Any] = {"trace": analytic}
        chain = _chain_reference(layer, layers, modules, len(analytic["size"]))
        if chain is not None:
            values["reference"] = chain
        checks.append(Check(layer.name, layer.kind, "receptive_field", values))
    return _gradient_checks(summary, checks, model, spec, gradient_layers)


class _StopForward(Exception):
    pass


class _UpTo(nn.Module):
    """Runs a (probe) model only as far as the ``call``-th call of one submodule; returns its output."""

    def __init__(self, net: nn.Module, path: str, call: int, keyword: str | None = None) -> None:
        super().__init__()
        self.net, self.path, self.call, self.keyword = net, path, call, keyword

    def forward(self, x: torch.Tensor) -> Any:
        seen: list[Any] = []

        def grab(module: nn.Module, args: Any, out: Any) -> None:
            seen.append(out)
            if len(seen) == self.call:
                raise _StopForward

        handle = self.net.get_submodule(self.path).register_forward_hook(grab)
        try:
            self.net(**{self.keyword: x}) if self.keyword else self.net(x)
        except _StopForward:
            pass
        finally:
            handle.remove()
        if len(seen) < self.call:
            raise RuntimeError(f"{self.path!r} was called {len(seen)} time(s), not {self.call}")
        return seen[self.call - 1]


def _gradient_checks(
    summary: Summary, checks: list[Check], model: nn.Module, spec: InputSpec, which: str
) -> list[str]:
    """Analytic regions of the centre and corner units against back-propagation.

    Uses the gradient check of :mod:`cnninspect.analyses.gradcheck` (its ``probe_copy`` and
    ``measure``) on module rows with a finite field: the last one by default,
    every one with ``which="all"``.
    """
    if which == "none":
        return []
    from cnninspect.analyses import gradcheck

    report = summary.receptive_field
    if report is None:
        return ["receptive field: the summary has no receptive-field report; not measured"]
    shapes = list(summary.input_shapes)
    keyword = _probe_keyword(spec)
    if len(shapes) != 1 or keyword is False:
        return ["receptive field: the gradient check takes models with one input; not measured"]
    targets = _gradient_targets(summary, len(shapes[0]))
    if not targets:
        return []
    if which == "last":
        targets = targets[-1:]
    try:
        probe = gradcheck.probe_copy(model)
    except Exception as exc:  # noqa: BLE001 -- a model that cannot be probed is reported, not fatal
        return [f"receptive field: gradient check not run ({type(exc).__name__}: {exc})"]
    notes = []
    for layer, path, shape in targets:
        spatial = shape[2:]
        units = list(dict.fromkeys([tuple(n // 2 for n in spatial), tuple(0 for _ in spatial), tuple(n - 1 for n in spatial)]))
        try:
            measured = gradcheck.measure(model, shapes[0], units, probe=_UpTo(probe, path, layer.call_index, keyword))
            analytic = [report.region(layer.name, u) for u in units]
        except Exception as exc:  # noqa: BLE001
            notes.append(f"receptive field of {layer.name!r}: gradient check failed ({type(exc).__name__}: {exc})")
            continue
        checks.append(
            Check(
                layer.name, layer.kind, "rf_region",
                {"trace": _regions(units, analytic), "gradient": _regions(units, measured)},
            )
        )  # fmt: skip
    return notes


def _gradient_targets(summary: Summary, rank: int) -> list[tuple[Layer, str, Shape]]:
    """Module rows with a finite field and one output of the input's rank, with their path and shape."""
    return [
        (layer, layer.module_path, layer.output_shape) for layer in summary.layers
        if layer.module_path is not None and _rf_value(layer.receptive_field) is not None
        and isinstance(layer.output_shape, tuple) and len(layer.output_shape) == rank
    ]  # fmt: skip


def _probe_keyword(spec: InputSpec) -> str | None | Literal[False]:
    """How the probe passes its one input: positionally (None), by this keyword (a
    dict ``input_data``), or not at all (False: the forward takes other values too)."""
    if not spec.has_data:
        return None
    data = spec.data or ()
    if len(data) == 1 and not spec.kwargs:
        return None if isinstance(data[0], torch.Tensor) else False
    if not data and len(spec.kwargs) == 1:
        name, value = next(iter(spec.kwargs.items()))
        return name if isinstance(value, torch.Tensor) else False
    return False


def _regions(units: list[tuple[int, ...]], regions: list[Any]) -> dict[tuple[int, ...], Any]:
    return {u: (tuple(tuple(int(v) for v in axis) for axis in r) if r is not None else None) for u, r in zip(units, regions)}


# --- presentation --------------------------------------------------------------------------


def _fmt_value(quantity: str, value: Any) -> str:
    if quantity == "output_shape":
        if isinstance(value, list):
            return ", ".join(_fmt_shape(s) for s in value) or "none"
        return _fmt_shape(value)
    if quantity == "rf_region" and isinstance(value, dict):
        return "; ".join(f"unit {_fmt_unit(u)}: {_fmt_region(r)}" for u, r in value.items())
    if quantity == "receptive_field" and isinstance(value, dict):
        return " ".join(f"{k}={'x'.join(_fmt_num(v) for v in vals)}" for k, vals in value.items())
    if isinstance(value, int):
        return f"{value:,}"
    return _fmt_num(value)


def _fmt_unit(unit: tuple[int, ...]) -> str:
    return "(" + ",".join(str(i) for i in unit) + ")"


def _fmt_region(region: Any) -> str:
    if region is None:
        return "none"
    return " x ".join(f"{a}..{b}" for a, b in region)


def _cell(check: Check | None) -> str:
    if check is None:
        return ""
    status = check.status
    if status == MISMATCH:
        return "MISMATCH " + "/".join(_ABBREV.get(s.split(" ")[0], s) for s in check.values)
    value = next(iter(check.values.values()))
    if check.quantity == "receptive_field" and isinstance(value, dict):
        shown = "x".join(_fmt_num(v) for v in value["size"])
    elif check.quantity == "rf_region" and isinstance(value, dict):
        shown = f"{len(value)} units"
    else:
        shown = _fmt_value(check.quantity, value)
    if status == NOT_CHECKED:
        return f"{shown} (not checked)"
    return f"{shown} " + "=".join(_ABBREV.get(s.split(" ")[0], s) for s in check.values)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Fraction):
        return value.numerator if value.denominator == 1 else float(value)
    if isinstance(value, dict):
        return {(_fmt_unit(k) if isinstance(k, tuple) else k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
