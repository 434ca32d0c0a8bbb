"""Write notebooks/01_ga_day.ipynb .. 06_retrospective.ipynb from the cell lists below.

The notebooks are generated, so their structure stays uniform: a `parameters`
cell with literal defaults (the bundled test data, nothing collected), one
setup cell, then one or two lines per cell calling tars_lib. Each is executed
once on the test data and committed with the outputs of its `NBVAL_CHECK_OUTPUT`
cells only, which `make test` checks with nbval; every other output is cleared.

Run: .venv/bin/python scripts/make_notebooks.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
CHECK = "# NBVAL_CHECK_OUTPUT"

PARAMETERS = """\
# Parameters: papermill (tars run-day) replaces these. Credentials are never
# parameters: tars_lib reads them from the environment.
workspace = "../data/test_data"  # the release week's artifacts
prometheus_url = ""  # collect from a Prometheus-compatible API ...
scenario = ""  # ... or from the simulated week
selector = ""
config = ""  # KPI catalogue; empty: data/config/kpis.yaml
ga_timestamp = ""
day_number = 7
z_threshold = 3.0
ewma_alpha = 0.3
collect = False  # False: only read and show what the workspace holds"""

SETUP = """\
from datetime import timedelta

import pandas as pd
from IPython.display import Markdown, display

from tars_lib import charts, phases
from tars_lib import notebook as nb
from tars_lib.workspace import load_release_week

pd.set_option("display.max_colwidth", 120)
ws = nb.Workspace.at(workspace)
catalogue = nb.catalogue(config)
now = phases.now_utc()
source = phases.make_source(prometheus_url or None, scenario or None, selector or None) \\
    if collect else None"""

BOOKS: dict[str, list[tuple[str, str]]] = {
    "01_ga_day": [
        (
            "md",
            "# Phase 1: GA-day baseline\n\nThe GA day's KPIs and SLOs, and the pre-GA "
            "week as a second baseline, collected by `phases.run_ga_kpi` (what "
            "`tars ga-kpi` runs).",
        ),
        (
            "code",
            "if collect:\n    ga_at = phases.parse_timestamp(ga_timestamp, 'ga_timestamp') "
            "if ga_timestamp else None\n    phases.run_ga_kpi(source, catalogue, ws.ga_dir, "
            "ga_at, now, selector or None)\nga = ws.ga()",
        ),
        (
            "code",
            f"{CHECK}\npresent = sum(v.value is not None for v in ga.kpis.values())\n"
            "print(f'GA day {ga.window.start:%Y-%m-%d}: {present} of {len(ga.kpis)} KPIs')",
        ),
        ("md", "## KPIs on GA day"),
        ("code", "nb.kpi_table(ga.kpis, catalogue)"),
        ("md", "## SLOs on GA day"),
        ("code", "nb.slo_table(ga.slos, catalogue)"),
    ],
    "02_stability": [
        (
            "md",
            "# Phase 2: daily stability\n\nThe day's KPIs against the GA day, its SLOs "
            "and the rollback check, from `phases.run_stability` (what `tars stability` "
            "runs).",
        ),
        (
            "code",
            "if collect:\n    phases.run_stability(source, catalogue, ws.ga_path, "
            "ws.stability_dir, day_number, now, selector or None)\nday = ws.day(day_number)\n"
            "ga = ws.ga()\nweek = load_release_week(ws.inputs, catalogue)",
        ),
        (
            "code",
            f"{CHECK}\nbreached = [catalogue.slo_name(k) for k, s in day.slos.items() "
            "if s.breached]\nprint(f'Day {day.day_number}: SLOs breached: "
            '{breached or "none"}; rollback recommended: {day.rollback_recommended}\')',
        ),
        ("code", "for reason in day.rollback_reasons:\n    print('ROLLBACK:', reason)"),
        ("md", "## KPIs against the GA day"),
        ("code", "nb.kpi_table(day.kpis, catalogue, ga.kpis)"),
        ("code", "nb.slo_table(day.slos, catalogue)"),
        ("md", "## Drift from the GA day"),
        (
            "code",
            "display(Markdown(nb.caption('Drift from the GA day')))\n"
            "display(nb.figure_output(charts.drift_chart(week), 'Drift from the GA day'), "
            "raw=True)",
        ),
    ],
    "03_anomalies": [
        (
            "md",
            "# Phase 3: anomalies\n\nEWMA z-score events from day 1 to the end of this "
            "day, from `phases.run_anomalies` (what `tars anomalies` runs). "
            "Improvements are listed but are never incidents.",
        ),
        (
            "code",
            "if collect:\n    ga_at = ws.ga().ga_timestamp\n"
            "    window = phases.anomaly_window(ga_at, now, start=ga_at + timedelta(days=1),"
            " end=ga_at + timedelta(days=day_number + 1))\n"
            "    phases.run_anomalies(source, catalogue, ws.ga_path, ws.root / "
            "'anomaly_events.json', window, z_threshold, ewma_alpha, now, "
            "selector or None)\nevents = ws.anomalies()",
        ),
        (
            "code",
            f"{CHECK}\nfrom collections import Counter\n"
            "counts = Counter(e.impact for e in events.events) if events else Counter()\n"
            'print(f\'{sum(counts.values())} events: {counts["adverse"]} adverse, '
            '{counts["improvement"]} improvements, {counts["neutral"]} neutral\')',
        ),
        ("code", "nb.events_table(events)"),
    ],
    "04_health": [
        (
            "md",
            "# Phase 4: daily health\n\nThe day's health score from its four components, "
            "and the mitigation plan, from `phases.run_health` (what `tars health` runs).",
        ),
        (
            "code",
            "anomaly_file = ws.anomalies_path if ws.anomalies_path.is_file() else None\n"
            "report, _ = phases.run_health(ws.day_path(day_number), anomaly_file, None, "
            "catalogue, now, write=collect)",
        ),
        (
            "code",
            f"{CHECK}\nprint(f'Day {{report.day_number}}: health {{report.health_score:.1f}}"
            " ({report.status})')".replace("{{", "{").replace("}}", "}"),
        ),
        (
            "code",
            "pd.DataFrame([{'component': k, 'score': c.score, 'weight': c.weight, "
            "'detail': c.detail} for k, c in report.components.items()])",
        ),
        ("md", "## Mitigation plan"),
        (
            "code",
            "pd.DataFrame([a.model_dump() for a in report.mitigation_plan], "
            "columns=['priority', 'kpi', 'finding', 'action'])",
        ),
        ("md", "## KPI trends, with the days of serious anomalies marked"),
        (
            "code",
            "week = load_release_week(ws.inputs, catalogue)\n"
            "events = ws.anomalies()\n"
            "adverse = {e.metric_name for e in events.events if e.impact == 'adverse'} "
            "if events else set()\n"
            "shown = ['p99_latency_ms', 'error_rate', 'avg_cpu_percent']\n"
            "for kpi in shown + sorted(adverse - set(shown)):\n"
            "    display(nb.figure_output(charts.kpi_trend_chart(week, kpi), "
            "f'{kpi} by day'), raw=True)",
        ),
        (
            "code",
            "reports = {**ws.health(), report.day_number: report}\n"
            "display(Markdown(nb.caption('Health score by day')))\n"
            "chart = charts.health_chart(reports, ga_timestamp=ws.ga().ga_timestamp)\n"
            "display(nb.figure_output(chart, 'Health score by day'), raw=True)",
        ),
    ],
    "05_regression": [
        (
            "md",
            "# Phase 5: regressions and the rollback verdict\n\nThe last days of the week "
            "against every baseline, from `phases.run_regression` (what `tars regression` "
            "runs).",
        ),
        (
            "code",
            "if collect:\n    phases.run_regression(ws.ga_path, ws.stability_dir, "
            "ws.root / 'regression_summary.json', catalogue, now)\n"
            "regression = ws.regression()",
        ),
        (
            "code",
            f"{CHECK}\nverdict = regression.rollback_recommendation\n"
            "print(f'Rollback: {verdict.verdict}; regressions: "
            '{[r.kpi for r in regression.regressions] or "none"}\')',
        ),
        (
            "code",
            "for reason in regression.rollback_recommendation.reasons:\n"
            "    print('-', reason.text)",
        ),
        ("code", "pd.DataFrame([c.model_dump() for c in regression.comparisons])"),
    ],
    "06_retrospective": [
        (
            "md",
            "# Phase 6: GA 7-day retrospective\n\nBuilt by `phases.run_retro` (what "
            "`tars retro` runs); the JSON export beside the Markdown comes from the same "
            "result.",
        ),
        (
            "code",
            "result = phases.run_retro(ws.inputs, ws.retro_path if collect else None, "
            "catalogue, now)\nretro = result.retrospective\nweek = result.week",
        ),
        (
            "code",
            f"{CHECK}\nprint(f'Status {{result.status}}: {{len(retro.successes)}} successes, "
            "{len(retro.degradations)} degradations, {len(retro.unexpected_drifts)} "
            "drifts, cost {retro.cost_analysis.cost_trend}, "
            "{len(retro.recommendations_v1_0_2)} recommendations, "
            "{len(retro.process_improvements)} process improvements, "
            "{len(retro.action_items)} action items')".replace("{{", "{").replace("}}", "}"),
        ),
        (
            "code",
            "figures = {\n"
            "    'Unexpected Drifts': ('Drift from the GA day', charts.drift_chart(week)),\n"
            "    'Cost Analysis': ('Daily cost and its breakdown', "
            "charts.cost_chart(week, retro.cost_analysis)),\n"
            "    'SLO Compliance Summary': ('SLO error-budget burn-down', "
            "charts.burn_down_grid(result.slos, ga_timestamp=week.ga.ga_timestamp)),\n"
            "}\nfor heading, text in nb.retro_sections(result):\n"
            "    display(Markdown(text))\n"
            "    for name, (title, fig) in figures.items():\n"
            "        if heading.startswith(name):\n"
            "            display(Markdown(nb.caption(title)))\n"
            "            display(nb.figure_output(fig, title), raw=True)",
        ),
    ],
}


def build(name: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    book = nbformat.v4.new_notebook()
    book.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    book.metadata["language_info"] = {"name": "python"}
    params = nbformat.v4.new_code_cell(PARAMETERS)
    params.metadata["tags"] = ["parameters"]
    book.cells = [
        nbformat.v4.new_markdown_cell(cells[0][1]),
        params,
        nbformat.v4.new_code_cell(SETUP),
    ]
    for kind, source in cells[1:]:
        make = nbformat.v4.new_markdown_cell if kind == "md" else nbformat.v4.new_code_cell
        book.cells.append(make(source))
    for i, cell in enumerate(book.cells):
        cell["id"] = f"{name}-{i:02d}"
    return book


def keep_check_outputs(book: nbformat.NotebookNode) -> None:
    for cell in book.cells:
        if cell.cell_type != "code":
            continue
        if not cell.source.startswith(CHECK):
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)


def main() -> None:
    for name, cells in BOOKS.items():
        book = build(name, cells)
        NotebookClient(
            book,
            timeout=600,
            kernel_name="python3",
            resources={"metadata": {"path": str(NOTEBOOKS)}},
        ).execute()
        keep_check_outputs(book)
        nbformat.write(book, NOTEBOOKS / f"{name}.ipynb")
        print(f"wrote notebooks/{name}.ipynb", file=sys.stderr)


if __name__ == "__main__":
    main()
