"""``tars run-day N``: execute the day's phase notebooks with papermill.

Day 0 runs the GA-day notebook; days 1..7 run stability, anomalies and health;
day 7 also runs regression and the retrospective. Executed notebooks go to
``runs/day_NN/`` in the workspace. A failing cell stops the day with a message
naming the notebook and the cell, and the failed notebook stays for inspection.
Parameters never carry credentials: papermill writes them into the notebook.
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from tars_lib.core.errors import InputError, NotebookError, SourceError, TarsError
from tars_lib.core.models import AnomalyParameters
from tars_lib.core.workspace import PROJECT, Workspace
from tars_lib.sources.spec import SourceSpec

__all__ = [
    "PHASE_NOTEBOOKS",
    "NotebookParameters",
    "notebooks_for_day",
    "phase_title",
    "run_day",
    "stages_for_day",
]

PHASE_NOTEBOOKS = (
    "01_ga_day",
    "02_stability",
    "03_anomalies",
    "04_health",
    "05_regression",
    "06_retrospective",
)
_ERRORS: dict[str, type[TarsError]] = {
    "InputError": InputError,
    "SettingError": InputError,
    "SourceError": SourceError,
}


@cache
def phase_title(name: str) -> str:
    """A phase's title is its notebook's first heading: the notebook is the one source."""
    cells = json.loads(PROJECT.notebook(name).read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        if cell["cell_type"] == "markdown":
            first = "".join(cell["source"]).lstrip().splitlines()[0]
            return first.lstrip("#").strip()
    return name


@dataclass(frozen=True)
class NotebookParameters:
    """What papermill injects into a day's notebooks; never credentials.

    The names are the notebooks' ``parameters`` cell (a test keeps them equal):
    the source's and the detector's settings, the catalogue and the GA moment.
    """

    source: SourceSpec = field(default_factory=SourceSpec)
    detector: AnomalyParameters = field(default_factory=AnomalyParameters)
    config: Path | None = None
    ga_timestamp: str | None = None
    changes: Path | None = None

    def for_day(self, workspace: Workspace, day: int) -> dict[str, object]:
        spec = self.source
        return {
            "workspace": str(workspace.root),
            "prometheus_url": spec.prometheus_url or "",
            "scenario": str(Path(spec.scenario).resolve()) if spec.scenario else "",
            "selector": spec.selector or "",
            "timeout": spec.timeout,
            "retries": spec.retries,
            "concurrency": spec.concurrency,
            "config": str(Path(self.config).resolve()) if self.config else "",
            "ga_timestamp": self.ga_timestamp or "",
            "day_number": max(day, 1),
            "z_threshold": self.detector.z_threshold,
            "ewma_alpha": self.detector.ewma_alpha,
            "variance_alpha": self.detector.variance_alpha,
            "level_shift_hours": self.detector.level_shift_hours,
            "max_events_per_day": self.detector.max_events_per_day,
            "changes": str(Path(self.changes).resolve()) if self.changes else "",
            "collect": True,
            "publish": True,
        }


def stages_for_day(day: int) -> list[list[str]]:
    """The day's notebooks in stages: a stage's notebooks only need earlier stages.

    Stability and anomalies both read only the GA baseline, so they run side by
    side; health needs both; regression needs the day's summary; the
    retrospective needs everything.
    """
    if day == 0:
        return [["01_ga_day"]]
    if not 1 <= day <= 7:
        raise InputError(f"day {day}: run-day takes 0 (GA day) to 7")
    if day == 7:
        return [
            ["02_stability", "03_anomalies"],
            ["04_health", "05_regression"],
            ["06_retrospective"],
        ]
    return [["02_stability", "03_anomalies"], ["04_health"]]


def notebooks_for_day(day: int) -> list[str]:
    return [name for stage in stages_for_day(day) for name in stage]


def run_day(
    day: int,
    workspace: Workspace,
    parameters: NotebookParameters,
    *,
    progress: bool = False,
    cell_timeout: int = 600,
) -> list[Path]:
    """Execute the day's notebooks in order; return the executed notebooks' paths."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    stages = stages_for_day(day)  # checks the day before anything is made
    workspace = Workspace.at(workspace.root)
    out_dir = workspace.run_dir(day)
    out_dir.mkdir(parents=True, exist_ok=True)
    params = parameters.for_day(workspace, day)

    def execute(name: str) -> Path:
        source = PROJECT.notebook(name)
        target = out_dir / PROJECT.notebook_file(name)
        try:
            papermill.execute_notebook(
                str(source),
                str(target),
                parameters=params,
                kernel_name="python3",
                progress_bar=False,
                cwd=str(PROJECT.notebook_dir),
                execution_timeout=cell_timeout,
            )
        except PapermillExecutionError as exc:
            error = _ERRORS.get(exc.ename, NotebookError)
            message = str(exc.evalue).splitlines()[0] if exc.evalue else exc.ename
            raise error(
                f"notebook {name} failed in cell {exc.exec_count} ({exc.ename}: {message}); "
                f"the failed notebook is kept at {target}"
            ) from None
        if progress:
            print(f"ran {name} -> {target}", file=sys.stderr)
        return target

    done: list[Path] = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        for stage in stages:
            done += list(pool.map(execute, stage))
    return done
