"""One op family's entry in the catalogue (:mod:`cnninspect.engine.ops.catalogue`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

PARTS = ("shape", "cost", "receptive", "reference")
Rule = Callable[..., Any]


@dataclass(frozen=True)
class OpEntry:
    """One op family. A part left ``None`` must be opted out of, with the reason, in ``opt_out``.

    ``shape(call)`` returns the output on meta (``None``: run the op on meta);
    ``cost(call)`` a :class:`~cnninspect.engine.ops.macs.Cost`; ``receptive(call, dims)``
    an effect; ``reference(module, seen)`` a :class:`~cnninspect.analyses.formulas.Formula`;
    ``rank(module)`` the number of spatial axes; ``chain_step(module, dims)`` the
    (kernel, stride, padding, dilation) the chapter's receptive-field recurrence reads.
    ``counted_by_torch``: torch's flop counter costs its kernels, so a zero there is a bug.
    ``describes(module)``: whether the rules hold for this instance (a norm+act layer whose
    activation no rule prices is traced through instead); None for every instance.
    """

    name: str
    keys: tuple[Any, ...]
    shape: Rule | None = None
    cost: Rule | None = None
    receptive: Rule | None = None
    reference: Rule | str | None = None  # a str names a function of cnninspect.analyses.formulas
    rank: Callable[[nn.Module], int] | None = None
    chain_step: Rule | str | None = None
    counted_by_torch: bool = False
    opt_out: Mapping[str, str] = field(default_factory=dict)
    # whether the entry describes this instance (its rules can price it as one leaf); None: all
    describes: Callable[[nn.Module], bool] | None = None

    def missing(self) -> list[str]:
        """Parts neither given nor opted out of with a reason."""
        return [p for p in PARTS if getattr(self, p) is None and not self.opt_out.get(p)]
