"""Helpers the phase notebooks call, so each notebook cell stays one or two lines.

Tables are for people: display names and units from the KPI catalogue, a few
significant digits, no index column, no NaN or scientific notation ("—" and
"< 0.001" instead), numbers right-aligned; pandas' Styler renders and escapes
them. Charts are PNGs with real alt text. Text goes through the retrospective's
Markdown renderer, so data never reaches a reader's browser as markup.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeAlias

import pandas as pd
from matplotlib.figure import Figure

from tars_lib.core.catalogue import Catalogue, load_catalogue
from tars_lib.core.formatting import format_value, short_value
from tars_lib.core.models import (
    AnomalyEvents,
    AnomalyParameters,
    HealthReport,
    KpiComparison,
    KpiValue,
    RegressionSummary,
    SloDay,
)
from tars_lib.core.workspace import Workspace
from tars_lib.report.charts import literal_text
from tars_lib.retro.markdown import md_escape, render_markdown
from tars_lib.retro.retrospective import RetroResult

__all__ = [
    "Table",
    "Workspace",
    "caption",
    "catalogue",
    "changed_settings",
    "collapsible",
    "events_table",
    "figure_output",
    "health_components",
    "incidents_table",
    "kpi_table",
    "mitigation_table",
    "p_value",
    "regression_summary",
    "regression_table",
    "retro_sections",
    "slo_table",
    "target",
]


def target(workspace: Workspace, path: Path, publish: bool) -> Path:
    """Where a notebook writes: the week's artifact when publishing (``tars run-day``),
    else its scratch copy, so investigating never changes the week's artifacts."""
    return Path(path) if publish else workspace.scratch(path)


def changed_settings(stored: AnomalyParameters, wanted: AnomalyParameters) -> str:
    """The detector settings that differ, as ``z_threshold 6 (was 3)``; empty when none."""
    old, new = stored.model_dump(), wanted.model_dump()
    return ", ".join(f"{k} {new[k]:g} (was {old[k]:g})" for k in new if new[k] != old[k])


def catalogue(path: str = "") -> Catalogue:
    return load_catalogue(Path(path) if path else None)


Table: TypeAlias = Any
"""What the table helpers return: a pandas ``Styler`` ready to show (index hidden, numbers
right); typed Any because pandas is untyped here."""


def _show(frame: pd.DataFrame, numeric: Iterable[str] = ()) -> Table:
    """Hide the index, right-align the number columns, "—" for anything missing."""
    styler = frame.style.hide(axis="index").format(na_rep="—", escape="html")
    right = [c for c in numeric if c in frame.columns]
    if right:
        styler = styler.set_properties(subset=right, **{"text-align": "right"})
    return styler.set_table_attributes('class="tars-table"')


def _label(catalogue: Catalogue, kpi: str) -> str:
    spec = catalogue.kpis.get(kpi)
    return spec.label if spec else kpi


def _value(catalogue: Catalogue, kpi: str, value: float | None) -> str | None:
    if value is None:
        return None
    spec = catalogue.kpis.get(kpi)
    return format_value(value, spec.unit, True) if spec else short_value(value, "")


def p_value(p: float | None) -> str | None:
    """p-values as people read them: "< 0.001", else three decimals."""
    if p is None:
        return None
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def kpi_table(
    kpis: dict[str, KpiValue], catalogue: Catalogue, baseline: dict[str, KpiValue] | None = None
) -> Table:
    """One row per KPI: value in its unit, its target, and the change from a baseline."""
    rows = []
    for name, spec in catalogue.kpis.items():
        entry = kpis.get(name)
        value = entry.value if entry else None
        row: dict[str, str | None] = {
            "KPI": spec.label,
            "Value": None if value is None else format_value(value, spec.unit, True),
            "Target": None if spec.target is None else format_value(spec.target, spec.unit),
        }
        if baseline is not None:
            entry_ga = baseline.get(name)
            base = entry_ga.value if entry_ga else None
            row["vs GA day"] = (
                f"{(value - base) / abs(base) * 100:+.1f}%" if value is not None and base else None
            )
        rows.append(row)
    return _show(pd.DataFrame(rows), ["Value", "Target", "vs GA day"])


def figure_output(fig: Figure, caption: str) -> dict[str, str]:
    """A display bundle: the PNG with its caption as alt text (HTML), the PNG, and text."""
    buffer = io.BytesIO()
    literal_text(fig).savefig(buffer, format="png", dpi=110)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    alt = html.escape(caption, quote=True)
    return {
        "text/html": f'<img alt="{alt}" title="{alt}" src="data:image/png;base64,{data}">',
        "image/png": data,
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


def slo_table(slos: dict[str, SloDay], catalogue: Catalogue) -> Table:
    """One row per SLO: target, the day's bad fraction, burn rate and whether it breached."""
    rows = [
        {
            "SLO": catalogue.slo_name(key),
            "KPI": _label(catalogue, slo.kpi),
            "Target": f"{slo.target_percent:g}%",
            "Bad": None if slo.bad_fraction is None else f"{slo.bad_fraction * 100:.3f}%",
            "Burn rate": None if slo.burn_rate is None else f"{slo.burn_rate:.2f}x",
            "Breached": "yes" if slo.breached else "no",
        }
        for key, slo in slos.items()
    ]
    return _show(pd.DataFrame(rows), ["Target", "Bad", "Burn rate"])


def events_table(events: AnomalyEvents | None, catalogue: Catalogue) -> Table:
    """Each event with its UTC window, the value at its peak against the held baseline."""
    columns = ["KPI", "Start (UTC)", "End", "Peak", "Expected", "Peak z", "Impact", "Severity"]
    rows = [
        {
            "KPI": _label(catalogue, e.metric_name)
            + "".join(f" {k}={v}" for k, v in sorted(e.labels.items())),
            "Start (UTC)": f"{e.start:%b %d %H:%M}",
            "End": f"{e.end:%H:%M}" if e.end.date() == e.start.date() else f"{e.end:%b %d %H:%M}",
            "Peak": _value(catalogue, e.metric_name, e.observed),
            "Expected": _value(catalogue, e.metric_name, e.expected),
            "Peak z": f"{e.peak_z:.1f}",
            "Impact": e.impact
            + (" (level shift)" if e.kind == "level_shift" else "")
            + (f"; explained: {e.explained_by}" if e.explained_by else ""),
            "Severity": e.severity,
        }
        for e in (events.events if events else [])
    ]
    return _show(pd.DataFrame(rows, columns=columns), ["Peak", "Expected", "Peak z"])


def incidents_table(events: AnomalyEvents | None) -> Table:
    """One row per incident: when, what, how bad, what it cost in error budget."""
    rows = [
        {
            "Incident": i.id,
            "When (UTC)": f"{i.start:%b %d %H:%M}-{i.end:%H:%M}"
            if i.start.date() == i.end.date()
            else f"{i.start:%b %d %H:%M} - {i.end:%b %d %H:%M}",
            "What": i.headline,
            "Severity": i.severity,
            "Budget burned": ", ".join(f"{k} {v:.1f}%" for k, v in i.budget_burned.items()) or None,
        }
        for i in (events.incidents if events else [])
    ]
    columns = ["Incident", "When (UTC)", "What", "Severity", "Budget burned"]
    return _show(pd.DataFrame(rows, columns=columns))


def health_components(report: HealthReport) -> Table:
    rows = [
        {
            "Component": name.replace("_", " ").capitalize(),
            "Score": f"{c.score:.1f}",
            "Weight": f"{c.weight:.2f}",
            "Why": c.detail,
        }
        for name, c in report.components.items()
    ]
    return _show(pd.DataFrame(rows), ["Score", "Weight"])


def mitigation_table(report: HealthReport, catalogue: Catalogue) -> Table:
    rows = [
        {
            "Priority": a.priority,
            "KPI": _label(catalogue, a.kpi),
            "Finding": a.finding,
            "Action": a.action,
        }
        for a in report.mitigation_plan
    ]
    return _show(pd.DataFrame(rows, columns=["Priority", "KPI", "Finding", "Action"]))


_STATE_RANK = {"regression": 0, "insufficient_data": 1, "ok": 2, "improvement": 3}


def regression_summary(regression: RegressionSummary, catalogue: Catalogue) -> Table:
    """One row per KPI: its worst comparison, how many baselines agree, and the verdict."""
    by_kpi: dict[str, list[KpiComparison]] = {}
    for c in regression.comparisons:
        by_kpi.setdefault(c.kpi, []).append(c)
    rows = []
    for kpi, comps in by_kpi.items():
        worst = min(
            comps,
            key=lambda c: (_STATE_RANK[c.state], -(c.adverse_change_percent or float("-inf"))),
        )
        regressed = [c.baseline for c in comps if c.state == "regression"]
        rows.append(
            {
                "KPI": _label(catalogue, kpi),
                "Observed": _value(catalogue, kpi, worst.observed_value),
                "Worst baseline": worst.baseline.replace("_", " "),
                "Baseline value": _value(catalogue, kpi, worst.baseline_value),
                "Adverse change": None
                if worst.adverse_change_percent is None
                else f"{worst.adverse_change_percent:+.1f}%",
                "p": p_value(worst.p_value),
                "Verdict": "regression against " + ", ".join(regressed)
                if regressed
                else worst.state.replace("_", " "),
            }
        )
    numeric = ["Observed", "Baseline value", "Adverse change", "p"]
    return _show(pd.DataFrame(rows), numeric)


def regression_table(regression: RegressionSummary, catalogue: Catalogue) -> Table:
    """Every KPI against every baseline (the full table behind the summary)."""
    rows = [
        {
            "KPI": _label(catalogue, c.kpi),
            "Baseline": c.baseline.replace("_", " "),
            "Baseline value": _value(catalogue, c.kpi, c.baseline_value),
            "Observed": _value(catalogue, c.kpi, c.observed_value),
            "Adverse change": None
            if c.adverse_change_percent is None
            else f"{c.adverse_change_percent:+.1f}%",
            "p": p_value(c.p_value),
            "Shift (95% CI)": None
            if c.effect_size is None
            else f"{short_value(c.effect_size, '')}"
            + (
                f" ({short_value(c.ci_low, '')} to {short_value(c.ci_high, '')})"
                if c.ci_low is not None and c.ci_high is not None
                else ""
            ),
            "State": c.state.replace("_", " "),
        }
        for c in regression.comparisons
    ]
    return _show(
        pd.DataFrame(rows), ["Baseline value", "Observed", "Adverse change", "p", "Shift (95% CI)"]
    )


def collapsible(summary: str, table: Table) -> dict[str, str]:
    """A table folded under a one-line summary (HTML ``details``)."""
    inner = table.to_html()
    return {
        "text/html": f"<details><summary>{html.escape(summary)}</summary>{inner}</details>",
        "text/plain": summary,
    }
