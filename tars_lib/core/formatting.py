"""How numbers are written for people: one place, so the report and JSON agree."""

from __future__ import annotations

__all__ = ["format_value"]


def format_value(value: float, unit: str, precise: bool = False) -> str:
    """``99.9%`` for a target, ``99.950%`` (precise) for a measured value."""
    if unit == "%":
        return f"{value:.3f}%" if precise else f"{value:g}%"
    if unit == "USD":
        return f"${value:,.2f}"
    if precise:
        return f"{value:,.1f} {unit}"
    return f"{value:g} {unit}"
