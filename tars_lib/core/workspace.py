"""Every path the project uses, in one place: a release week's layout and the project's files.

A release week (``Workspace``) keeps the seed guide's layout, so ``tars retro --auto``
and the seed's commands find each other's files::

    ga_kpis/ga_kpi_summary.json          phase 1
    stability/day_NN_summary.json        phase 2
    stability/day_NN_anomalies.json      phase 3: the day's events (evidence)
    anomaly_events.json                  phase 3: the week's view, rebuilt from them
    stability/day_NN_HEALTH.json         phase 4
    regression_summary.json              phase 5
    docs/final/GA_7DAY_RETROSPECTIVE.md  phase 6 (and .json beside it)
    runs/day_NN/<notebook>.ipynb         tars run-day N
    .tars.lock                           held by the tars command writing the week

The bundled test data keeps phase 3 and 5 in ``anomalies/`` and ``regression/``;
those are read too. ``SiteLayout`` names the rendered site's files and
``PROJECT`` the files the project ships (notebooks, catalogue, scenario, Quarto).
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from tars_lib.core.artifacts import read_artifact
from tars_lib.core.errors import BusyError
from tars_lib.core.models import (
    WEEK_DAYS,
    AnomalyEvents,
    DayAnomalies,
    DaySummary,
    GaKpiSummary,
    HealthReport,
    RegressionSummary,
    Release,
)

__all__ = [
    "DEFAULT_OUTPUT",
    "GA_FILE",
    "PROJECT",
    "ProjectFiles",
    "RetroInputs",
    "SiteLayout",
    "Workspace",
    "day_file",
    "day_number_of",
    "health_beside",
    "json_beside",
    "schema_file",
]

GA_FILE = "ga_kpi_summary.json"
_GA_DIR = "ga_kpis"
_STABILITY_DIR = "stability"
_ANOMALIES = ("anomaly_events.json", "anomalies/anomaly_events.json")
_REGRESSION = ("regression_summary.json", "regression/regression_summary.json")
_RETRO = Path("docs") / "final" / "GA_7DAY_RETROSPECTIVE.md"
_RUNS = "runs"
_LOCK = ".tars.lock"
_DAY_FILE = re.compile(r"^day_(\d+)_summary\.json$")
DEFAULT_OUTPUT = _RETRO
"""Where ``tars retro`` writes the Markdown by default (relative to the current directory)."""

M = TypeVar("M", bound=BaseModel)


def day_file(day: int) -> str:
    return f"day_{day:02d}_summary.json"


def _health_file(day: int) -> str:
    return f"day_{day:02d}_HEALTH.json"


def _anomalies_file(day: int) -> str:
    return f"day_{day:02d}_anomalies.json"


def day_number_of(path: Path) -> int | None:
    """The day a ``day_NN_summary.json`` file name stands for; None for other files."""
    match = _DAY_FILE.match(path.name)
    return int(match.group(1)) if match else None


def health_beside(summary_path: Path, day: int) -> Path:
    """A day's health report goes beside its summary (the seed's layout)."""
    return Path(summary_path).with_name(_health_file(day))


def schema_file(artifact: str) -> str:
    """``tars schema`` writes one JSON Schema per artifact model."""
    return f"{artifact}.schema.json"


def json_beside(markdown: Path) -> Path:
    """The retrospective JSON is written beside its Markdown."""
    return Path(markdown).with_suffix(".json")


@dataclass(frozen=True)
class RetroInputs:
    """The four inputs of the retrospective; the last two are optional."""

    ga_data: Path
    seven_day_data: Path
    regression: Path | None
    anomalies: Path | None
    changes: Path | None = None
    release: Path | None = None
    """The release description (absent or None: the seed's release)."""


def _first_existing(base: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        if (base / name).is_file():
            return base / name
    return None


@dataclass(frozen=True)
class Workspace:
    """The artifacts of one release week under ``root`` (default: the current directory)."""

    root: Path = Path()

    @classmethod
    def at(cls, path: str | Path) -> Workspace:
        return cls(Path(path).resolve())

    @property
    def ga_dir(self) -> Path:
        return self.root / _GA_DIR

    @property
    def ga_path(self) -> Path:
        return self.ga_dir / GA_FILE

    @property
    def stability_dir(self) -> Path:
        return self.root / _STABILITY_DIR

    def day_path(self, day: int) -> Path:
        return self.stability_dir / day_file(day)

    def health_path(self, day: int) -> Path:
        return self.stability_dir / _health_file(day)

    def day_anomalies_path(self, day: int) -> Path:
        """Phase 3's evidence for one day (the events that start on it)."""
        return self.stability_dir / _anomalies_file(day)

    @property
    def anomalies_path(self) -> Path:
        """The week's events: a view phase 3 rebuilds from the days' evidence."""
        return self.root / _ANOMALIES[0]

    @property
    def regression_path(self) -> Path:
        """Where phase 5 writes its summary."""
        return self.root / _REGRESSION[0]

    def anomalies_file(self) -> Path | None:
        """Phase 3's events if the workspace has them (also the test data's ``anomalies/``)."""
        return _first_existing(self.root, _ANOMALIES)

    def regression_file(self) -> Path | None:
        return _first_existing(self.root, _REGRESSION)

    @property
    def retro_path(self) -> Path:
        return self.root / _RETRO

    @property
    def retro_json_path(self) -> Path:
        return json_beside(self.retro_path)

    @property
    def release_path(self) -> Path:
        """The release description (YAML): name, version, next version, GA moment, owners,
        links; ``release()`` reads it, ``tars init`` writes it."""
        return self.root / "release.yaml"

    def release(self) -> Release:
        """The workspace's release; the seed's (T.A.R.S. v1.0.1) when it has no description."""
        from tars_lib.core.release import load_release  # it reads YAML via the catalogue module

        return load_release(self.release_path)

    @property
    def runs_dir(self) -> Path:
        return self.root / _RUNS

    # What ``tars init`` puts in a release workspace for people to edit (and release_path).
    @property
    def config_dir(self) -> Path:
        """The workspace's editable copy of the KPI catalogue and its pricing file."""
        return self.root / "config"

    @property
    def catalogue_path(self) -> Path:
        """The workspace's KPI catalogue: used instead of the bundled one when present."""
        return self.config_dir / "kpis.yaml"

    @property
    def notebooks_dir(self) -> Path:
        """Copies of the phase notebooks, for investigating in Jupyter."""
        return self.root / "notebooks"

    @property
    def readme_path(self) -> Path:
        """What ``tars init`` says to edit and run next."""
        return self.root / "README.txt"

    @property
    def scratch_dir(self) -> Path:
        """Where an investigation in a notebook writes, so the week's artifacts stay as made."""
        return self.root / "scratch"

    def scratch(self, artifact: Path) -> Path:
        """The scratch copy's path of one of the week's artifacts."""
        return self.scratch_dir / Path(artifact).name

    def run_dir(self, day: int) -> Path:
        return self.runs_dir / f"day_{day:02d}"

    def run_days(self) -> Iterator[Path]:
        """The ``runs/day_NN`` folders, latest day first."""
        yield from sorted(self.runs_dir.glob("day_[0-9][0-9]"), reverse=True)

    def retro_inputs(self, changes: Path | None = None) -> RetroInputs:
        """What ``tars retro --auto`` reads; the optional inputs may be absent."""
        return RetroInputs(
            ga_data=self.ga_dir,
            seven_day_data=self.stability_dir,
            regression=self.regression_file(),
            anomalies=self.anomalies_file(),
            changes=changes,
            release=self.release_path,
        )

    # Typed readers: every read goes through the artifact models.
    def _read(self, path: Path, model: type[M]) -> M | None:
        return read_artifact(path, model) if path.is_file() else None

    def ga(self) -> GaKpiSummary:
        return read_artifact(self.ga_path, GaKpiSummary)

    def day(self, day: int) -> DaySummary:
        return read_artifact(self.day_path(day), DaySummary)

    def days(self) -> dict[int, DaySummary]:
        return {d: self.day(d) for d in range(1, WEEK_DAYS + 1) if self.day_path(d).is_file()}

    def anomalies(self) -> AnomalyEvents | None:
        path = self.anomalies_file()
        return self._read(path, AnomalyEvents) if path else None

    def day_anomalies(self, day: int) -> DayAnomalies | None:
        return self._read(self.day_anomalies_path(day), DayAnomalies)

    def anomaly_days(self) -> dict[int, DayAnomalies]:
        """Every day's phase 3 evidence the workspace holds."""
        found = {d: self.day_anomalies(d) for d in range(1, WEEK_DAYS + 1)}
        return {d: a for d, a in found.items() if a is not None}

    def regression(self) -> RegressionSummary | None:
        path = self.regression_file()
        return self._read(path, RegressionSummary) if path else None

    def health(self) -> dict[int, HealthReport]:
        found = {d: self._read(self.health_path(d), HealthReport) for d in range(1, WEEK_DAYS + 1)}
        return {d: r for d, r in found.items() if r is not None}

    @property
    def lock_path(self) -> Path:
        return self.root / _LOCK

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the week for one command, or raise ``BusyError`` at once if another has it.

        ``flock`` on ``.tars.lock``: the kernel releases it when the holder exits,
        however it dies, so a killed run never blocks the next. The file says who
        holds it (pid, since when) for the message and is removed on release; a
        workspace the command created and left empty goes too (a mistyped
        ``--workspace``). The descriptor is not inherited, so the notebook kernels
        a run starts neither hold nor need it.
        """
        created = not self.root.exists()
        self.root.mkdir(parents=True, exist_ok=True)
        fd = self._flock()
        try:
            since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} since {since}\n".encode(), 0)
            try:
                yield
            finally:
                self.lock_path.unlink(missing_ok=True)  # still held: no one can take it now
                if created and not any(self.root.iterdir()):
                    self.root.rmdir()
        finally:
            os.close(fd)  # releases the lock

    def _flock(self) -> int:
        """The locked descriptor of the lock file that is in place (not one just removed)."""
        while True:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BaseException as exc:
                holder = ""
                for _ in range(20):  # the holder writes its pid just after it locks
                    holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
                    if holder or not isinstance(exc, BlockingIOError):
                        break
                    time.sleep(0.05)
                os.close(fd)
                if not isinstance(exc, BlockingIOError):
                    raise
                raise BusyError(
                    f"{self.root}: the workspace is busy: another tars run "
                    f"({holder or 'pid unknown'}) holds {self.lock_path.name}; "
                    "wait for it to finish, then run this again"
                ) from None
            try:
                if os.stat(self.lock_path).st_ino == os.fstat(fd).st_ino:
                    return fd
            except FileNotFoundError:
                pass
            os.close(fd)  # the holder removed it as we opened it: take the new one


@dataclass(frozen=True)
class SiteLayout:
    """The rendered site: an index, a page per day and per day and phase, the latest
    page of each phase, the PDF, figures, and downloads (the retrospective's Markdown
    and JSON, the executed notebooks). ``MARKER`` marks a directory as a site that
    ``tars report`` made, so a later render may replace it."""

    root: Path

    PDF_NAME = "GA_7DAY_RETROSPECTIVE.pdf"
    INDEX = "index.html"
    DEFAULT_DIR = Path("_site")
    QUARTO_INDEX = "index.qmd"
    QUARTO_CONFIG = "_quarto.yml"
    QUARTO_SOURCE = ".qmd"
    MARKER = ".tars-site"
    FIGURES = "figures"
    DOWNLOADS = "downloads"
    PDF_STYLE = "report-style.typ"

    @staticmethod
    def page_name(notebook: str) -> str:
        return f"{notebook}.html"

    def page(self, notebook: str) -> Path:
        return self.root / self.page_name(notebook)

    @staticmethod
    def day_page_name(day: int) -> str:
        """``day_02.html``: what happened on the day, and links to its phases."""
        return f"day_{day:02d}.html"

    @staticmethod
    def day_phase_page_name(day: int, notebook: str) -> str:
        """``day_02_health.html``: the day's executed notebook of one phase."""
        return f"day_{day:02d}_{notebook.split('_', 1)[-1]}.html"

    @classmethod
    def notebook_download(cls, day: int, notebook: str) -> str:
        """Where (relative to the site) the day's executed notebook is offered for download."""
        return f"{cls.DOWNLOADS}/day_{day:02d}/{notebook}.ipynb"

    @classmethod
    def retro_download(cls, name: str) -> str:
        return f"{cls.DOWNLOADS}/{name}"

    @classmethod
    def pdf_source(cls) -> str:
        """The PDF's Markdown source in a Quarto project (Quarto names the PDF after it)."""
        return Path(cls.PDF_NAME).stem + cls.QUARTO_SOURCE

    @classmethod
    def source_of(cls, page: str) -> str:
        """A generated page's Quarto source: ``day_02.html`` -> ``day_02.qmd``."""
        return Path(page).stem + cls.QUARTO_SOURCE

    @staticmethod
    def notebook_source_of(page: str) -> str:
        """A notebook page's Quarto source: ``day_02_health.html`` -> ``day_02_health.ipynb``."""
        return Path(page).stem + ".ipynb"

    @staticmethod
    def page_of_source(source: str) -> str:
        """The page Quarto renders from a source (``.qmd`` or ``.ipynb``); others are kept."""
        path = Path(source)
        return path.stem + ".html" if path.suffix in (".qmd", ".ipynb") else source

    @property
    def index(self) -> Path:
        return self.root / self.INDEX

    @property
    def pdf(self) -> Path:
        return self.root / self.PDF_NAME


@dataclass(frozen=True)
class ProjectFiles:
    """What the project ships beside the library: notebooks, configuration, the scenario.

    ``root`` is the source checkout (its top-level ``notebooks/``, ``data/`` and
    ``_quarto.yml`` are what people edit) or, installed from a wheel, their copies under
    ``tars_lib/_project/`` (pyproject.toml's ``force-include``): see :meth:`locate`.
    """

    root: Path

    PACKAGED = "_project"
    """The package folder the wheel carries the project's files in."""

    @classmethod
    def locate(cls) -> ProjectFiles:
        """The packaged copies when installed from a wheel, else the source checkout."""
        from importlib.resources import files

        packaged = files("tars_lib") / cls.PACKAGED
        if packaged.is_dir():
            return cls(Path(str(packaged)))
        return cls(Path(__file__).resolve().parents[2])

    @property
    def notebook_dir(self) -> Path:
        return self.root / "notebooks"

    def notebook(self, name: str) -> Path:
        return self.notebook_dir / f"{name}.ipynb"

    @staticmethod
    def notebook_file(name: str) -> str:
        return f"{name}.ipynb"

    @property
    def quarto_config(self) -> Path:
        return self.root / "_quarto.yml"

    @property
    def config_dir(self) -> Path:
        return self.root / "data" / "config"

    @property
    def catalogue(self) -> Path:
        return self.config_dir / "kpis.yaml"

    @property
    def pricing(self) -> Path:
        return self.config_dir / "pricing.yaml"

    @property
    def scenario(self) -> Path:
        return self.root / "data" / "scenarios" / "ga_week.yaml"

    @property
    def scenario_changes(self) -> Path:
        """The simulated week's known-changes file (``--changes``)."""
        return self.scenario.with_name("ga_week_changes.yaml")


PROJECT = ProjectFiles.locate()
