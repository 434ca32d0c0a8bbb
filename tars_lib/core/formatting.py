"""How numbers are written for people: one place, so the report and JSON agree."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["coverage_text", "format_value", "short_value"]


def format_value(value: float, unit: str, precise: bool = False) -> str:
    """``99.9%`` for a target, ``99.950%`` (precise) for a measured value."""
    if unit == "%":
        return f"{value:.3f}%" if precise else f"{value:g}%"
    if unit == "USD":
        return f"${value:,.2f}"
    if precise:
        return f"{value:,.1f} {unit}"
    return f"{value:g} {unit}"


def short_value(value: float, unit: str) -> str:
    """Three significant digits in the KPI's unit: ``957 ms``, ``2.05%``, ``$336``."""
    if unit == "%":  # 97.95% and 99.97%, not 98% and 100%: near 100 the distance matters
        if 90 <= value <= 100:
            return f"{value:.2f}%"
        return f"{_three(value)}%"
    if unit == "USD":
        return f"${value:,.0f}"
    return f"{_three(value)} {unit}".strip()


def _three(value: float) -> str:
    """Three significant digits, never in scientific notation (1,450 and 0.0000123)."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return str(np.format_float_positional(value, precision=3, fractional=False, trim="-"))


def coverage_text(coverages: Mapping[str, float | None], listed: int = 3) -> str:
    """KPIs and their coverage in a line a person reads: a few by name, many as a range.

    ``availability 87.5%, error_rate 87.5%`` for up to ``listed`` KPIs; past that
    ``14 KPIs at 87.5-87.8% (lowest: availability)``, so a whole day's gap is one phrase.
    """
    shown = {k: (c or 0.0) * 100 for k, c in coverages.items()}
    if len(shown) <= listed:
        return ", ".join(f"{k} {c:.1f}%" for k, c in shown.items())
    low, high = min(shown.values()), max(shown.values())
    lowest = min(shown, key=lambda k: (shown[k], k))
    span = f"{low:.1f}%" if f"{low:.1f}" == f"{high:.1f}" else f"{low:.1f}-{high:.1f}%"
    return f"{len(shown)} KPIs at {span} (lowest: {lowest})"
