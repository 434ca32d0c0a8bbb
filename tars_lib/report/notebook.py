"""Helpers the phase notebooks call, so each notebook cell stays one or two lines.

Tables are pandas DataFrames (rendered and escaped by pandas), charts come from
``charts`` as PNG bytes, and text goes through the same Markdown renderer as
the retrospective, so data never reaches a reader's browser as markup.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from tars_lib.core.catalogue import Catalogue, load_catalogue
from tars_lib.core.formatting import format_value
from tars_lib.core.models import (
    AnomalyEvents,
    KpiValue,
    SloDay,
)
from tars_lib.core.workspace import Workspace
from tars_lib.retro.markdown import md_escape, render_markdown
from tars_lib.retro.retrospective import RetroResult

__all__ = [
    "Workspace",
    "caption",
    "catalogue",
    "events_table",
    "figure_output",
    "kpi_table",
    "retro_sections",
    "slo_table",
]


def catalogue(path: str = "") -> Catalogue:
    return load_catalogue(Path(path) if path else None)


def kpi_table(
    kpis: dict[str, KpiValue], catalogue: Catalogue, baseline: dict[str, KpiValue] | None = None
) -> pd.DataFrame:
    """One row per KPI: value in its unit, and the change from a baseline when given."""
    rows = []
    for name, spec in catalogue.kpis.items():
        entry = kpis.get(name)
        value = entry.value if entry else None
        row = {
            "KPI": spec.label,
            "metric": name,
            "value": "missing" if value is None else format_value(value, spec.unit, True),
            "target": "" if spec.target is None else format_value(spec.target, spec.unit),
        }
        if baseline is not None:
            base = baseline.get(name)
            if value is None or base is None or not base.value:
                row["vs GA day"] = "n/a"
            else:
                row["vs GA day"] = f"{(value - base.value) / abs(base.value) * 100:+.1f}%"
        rows.append(row)
    return pd.DataFrame(rows)


def figure_output(fig: Figure, caption: str) -> dict[str, str]:
    """A display bundle: the figure as PNG, with its caption as the text fallback."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return {
        "image/png": base64.b64encode(buffer.getvalue()).decode("ascii"),
        "text/plain": caption,
    }


def retro_sections(result: RetroResult) -> Iterator[tuple[str, str]]:
    """The retrospective Markdown split at its ``## `` headings: (heading, markdown)."""
    text = render_markdown(result)
    head, *parts = text.split("\n## ")
    yield "", head
    for part in parts:
        heading = part.split("\n", 1)[0]
        yield heading, "## " + part


def caption(text: str) -> str:
    """A figure caption as safe Markdown."""
    return f"**Figure: {md_escape(text)}**"


def slo_table(slos: dict[str, SloDay], catalogue: Catalogue) -> pd.DataFrame:
    """One row per SLO: target, the day's bad fraction, burn rate and whether it breached."""
    rows = []
    for key, slo in slos.items():
        rows.append(
            {
                "SLO": catalogue.slo_name(key),
                "KPI": slo.kpi,
                "target": f"{slo.target_percent:g}%",
                "bad": "missing" if slo.bad_fraction is None else f"{slo.bad_fraction * 100:.3f}%",
                "burn rate": "n/a" if slo.burn_rate is None else f"{slo.burn_rate:.2f}x",
                "breached": "yes" if slo.breached else "no",
            }
        )
    return pd.DataFrame(rows)


def events_table(events: AnomalyEvents | None) -> pd.DataFrame:
    columns = [
        "KPI",
        "labels",
        "start",
        "end",
        "peak z",
        "observed",
        "expected",
        "impact",
        "severity",
    ]
    if events is None:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame(
        [
            {
                "KPI": e.metric_name,
                "labels": ", ".join(f"{k}={v}" for k, v in sorted(e.labels.items())),
                "start": f"{e.start:%Y-%m-%d %H:%M}",
                "end": f"{e.end:%Y-%m-%d %H:%M}",
                "peak z": round(e.peak_z, 1),
                "observed": e.observed,
                "expected": e.expected,
                "impact": e.impact,
                "severity": e.severity,
            }
            for e in events.events
        ],
        columns=columns,
    )
