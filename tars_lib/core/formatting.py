"""How numbers are written for people: one place, so the report and JSON agree."""

from __future__ import annotations

import numpy as np

__all__ = ["format_value", "short_value"]


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
