"""Number and shape formatting: one leaf module for the renderers and the analyses alike.

It imports nothing from cnninspect, so an analysis can format a figure without reaching
up into a renderer, and every table, report and diff writes ``421,066``, ``25.56 M``,
``1x64x7x7`` and ``3/2`` the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from typing import Any


def thousands(n: int | float) -> str:
    """421066 -> '421,066'."""
    return f"{n:,}" if isinstance(n, int) else f"{n:,.2f}"


def human(n: int | float, unit: str = "") -> str:
    """25557032 -> '25.56 M'; 4089184256 -> '4.09 G'."""
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {suffix}{unit}"
    return f"{n} {unit}".rstrip() if isinstance(n, int) else f"{n:.2f} {unit}".rstrip()


def human_bytes(n: int) -> str:
    """1536 -> '1.50 KiB' (binary prefixes, as memory is allocated)."""
    for scale, suffix in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if n >= scale:
            return f"{n / scale:.2f} {suffix}"
    return f"{n} B"


def fmt_shape(shape: Any) -> str:
    """(1, 64, 7, 7) -> '1x64x7x7'; a list of shapes is comma-separated; () is 'scalar'.

    A shape read back from JSON (a list of ints) reads the same as the tuple.
    """
    if shape is None:
        return ""
    if isinstance(shape, list) and all(isinstance(s, (tuple, list)) for s in shape):
        return ", ".join(fmt_shape(s) for s in shape)
    return "x".join(str(d) for d in shape) if len(shape) else "scalar"


def fmt_number(value: Any) -> str:
    """An exact number as written by hand: 16, 3/2, 0.5."""
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return str(value.numerator)
        return f"{value.numerator}/{value.denominator}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def fmt_axes(values: Iterable[Any] | None) -> str:
    """Per-axis values: one number when every axis agrees, else 'HxW'."""
    if values is None:
        return ""
    values = list(values)
    if values and all(v == values[0] for v in values):
        return fmt_number(values[0])
    return "x".join(fmt_number(v) for v in values)


def jsonable(value: Any) -> Any:
    """Tuples become lists and fractions floats (whole ones ints), recursively, for JSON."""
    if isinstance(value, Fraction):
        return value.numerator if value.denominator == 1 else float(value)
    if isinstance(value, (tuple, list)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


__all__ = ["thousands", "human", "human_bytes", "fmt_shape", "fmt_number", "fmt_axes", "jsonable"]
