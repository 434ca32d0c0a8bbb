"""``tars run-day N``: execute the day's phase notebooks with papermill.

Day 0 runs the GA-day notebook; days 1..7 run stability, anomalies and health;
day 7 also runs regression and the retrospective. Executed notebooks go to
``runs/day_NN/`` in the workspace. A failing cell stops the day with a message
naming the notebook and the cell, and the failed notebook stays for inspection.
Parameters never carry credentials: papermill writes them into the notebook.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tars_lib.errors import InputError, NotebookError, SourceError, TarsError

__all__ = ["NOTEBOOK_DIR", "PHASE_NOTEBOOKS", "notebooks_for_day", "run_day", "stages_for_day"]

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
PHASE_NOTEBOOKS = (
    "01_ga_day",
    "02_stability",
    "03_anomalies",
    "04_health",
    "05_regression",
    "06_retrospective",
)
_ERRORS: dict[str, type[TarsError]] = {"InputError": InputError, "SourceError": SourceError}


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
    workspace: Path,
    parameters: Mapping[str, object],
    *,
    progress: bool = False,
    cell_timeout: int = 600,
) -> list[Path]:
    """Execute the day's notebooks in order; return the executed notebooks' paths."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    workspace = Path(workspace).resolve()
    out_dir = workspace / "runs" / f"day_{day:02d}"
    out_dir.mkdir(parents=True, exist_ok=True)
    params = {"workspace": str(workspace), "day_number": max(day, 1), "collect": True, **parameters}

    def execute(name: str) -> Path:
        source = NOTEBOOK_DIR / f"{name}.ipynb"
        target = out_dir / f"{name}.ipynb"
        try:
            papermill.execute_notebook(
                str(source),
                str(target),
                parameters=params,
                kernel_name="python3",
                progress_bar=False,
                cwd=str(NOTEBOOK_DIR),
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
        for stage in stages_for_day(day):
            done += list(pool.map(execute, stage))
    return done
