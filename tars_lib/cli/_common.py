"""What several commands share: the parser class, flag groups and the progress bar.

Each shared flag is declared here once; a command module adds the groups it
needs. Defaults come from the library (``SourceSpec``, ``AnomalyParameters``,
``Workspace``), so help texts show what the library would do.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import sys
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO, TypeAlias

from tars_lib.collect.collector import request_count
from tars_lib.core.catalogue import Catalogue
from tars_lib.core.errors import InputError
from tars_lib.core.models import AnomalyParameters, KpiValue
from tars_lib.core.policy import MIN_COVERAGE
from tars_lib.core.workspace import PROJECT, Workspace
from tars_lib.sources.base import SourceWarning
from tars_lib.sources.spec import SourceSpec

__all__ = [
    "WORKSPACE",
    "Bar",
    "Commands",
    "Flags",
    "HelpFormatter",
    "Parser",
    "add_changes_flag",
    "add_config_flag",
    "add_detector_flags",
    "add_ga_timestamp_flag",
    "add_quiet_flag",
    "add_scenario_flag",
    "add_source_flags",
    "add_strict_flag",
    "add_workspace_flag",
    "detector",
    "library_default",
    "requests_per_day",
    "source_spec",
    "warn_missing",
    "workspace_config",
]


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default unless it has none (None) or is a switch (False)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line with exit status 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise InputError(f"{message} (see `{self.prog} --help`)")


Commands: TypeAlias = "argparse._SubParsersAction[Parser]"
"""What ``build_parser`` hands to each command module's ``register``."""
Flags: TypeAlias = argparse._ActionsContainer
"""A parser or an argument group: where flags are added."""


def library_default(function: Callable[..., object], parameter: str) -> Any:
    """A keyword's default in the library function that takes it."""
    return inspect.signature(function).parameters[parameter].default


def _project_file(path: Path) -> Path:
    return path.relative_to(PROJECT.root)


_SOURCE_DEFAULTS = {f.name: f.default for f in dataclasses.fields(SourceSpec)}
_DETECTOR_DEFAULTS = {name: field.default for name, field in AnomalyParameters.model_fields.items()}
WORKSPACE = Workspace()
"""The seed's layout relative to the current directory: the default file locations."""


# --------------------------------------------------------------------------- flags


def add_config_flag(parser: Flags, *, workspace_copy: bool = False) -> None:
    """``workspace_copy``: the command prefers the workspace's catalogue (``tars init``)."""
    default = f"the bundled {_project_file(PROJECT.catalogue)}"
    if workspace_copy:
        default = f"the workspace's {WORKSPACE.catalogue_path} when present, else {default}"
    parser.add_argument(
        "--config", metavar="FILE", type=Path, help=f"KPI catalogue (default: {default})"
    )


def workspace_config(config: Path | None, workspace: Workspace) -> Path | None:
    """``--config`` if given, else the workspace's editable catalogue (made by ``tars init``)
    if it has one, else None: the bundled catalogue."""
    if config is not None:
        return config
    own = workspace.catalogue_path
    return own if own.is_file() else None


def add_quiet_flag(parser: Flags) -> None:
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def add_strict_flag(parser: Flags) -> None:
    parser.add_argument(
        "--strict",
        action="store_true",
        help="partial data is an error: a KPI with fewer than "
        f"{MIN_COVERAGE * 100:g}%% of its 5-minute points exits 3 and nothing is written",
    )


def add_scenario_flag(parser: Flags, *, required: bool = False) -> None:
    parser.add_argument(
        "--scenario",
        metavar="FILE",
        type=Path,
        required=required,
        help="the simulated week's definition, e.g. "
        f"{_project_file(PROJECT.scenario)}"
        + ("" if required else " (instead of a metrics backend)"),
    )


def add_ga_timestamp_flag(parser: Flags) -> None:
    parser.add_argument(
        "--ga-timestamp",
        metavar="TIME",
        help="GA moment, ISO 8601 with a time zone, e.g. 2025-11-18T00:00:00Z; "
        "required with --prometheus-url, the scenario's own by default",
    )


def add_workspace_flag(parser: Flags, what: str) -> None:
    parser.add_argument("--workspace", metavar="DIR", type=Path, default=WORKSPACE.root, help=what)


class _SelectorAction(argparse.Action):
    """Repeated ``--selector`` flags, joined with ``;`` as ``SourceSpec.selector`` reads them."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Any,
        option_string: str | None = None,
    ) -> None:
        before = getattr(namespace, self.dest, None)
        setattr(namespace, self.dest, f"{before}; {values}" if before else values)


def add_source_flags(parser: Flags) -> None:
    """Where the metrics come from and how to talk to it: becomes a ``SourceSpec``."""
    group = parser.add_argument_group("metrics source (give --prometheus-url or --scenario)")
    group.add_argument(
        "--prometheus-url",
        metavar="URL",
        help="Prometheus-compatible base URL (Prometheus, Thanos, Mimir, VictoriaMetrics); "
        "credentials only from TARS_PROMETHEUS_TOKEN or TARS_PROMETHEUS_USER/_PASSWORD",
    )
    add_scenario_flag(group)
    group.add_argument(
        "--selector",
        metavar="[FAMILY=]MATCHERS",
        action=_SelectorAction,
        help="label matchers added to the queries of one metric family, after the KPI "
        "catalogue's selectors for it. Plain matchers are for the application's own "
        "metrics (the service's requests and latency), e.g. 'job=\"api\"'; node, Redis "
        "and Postgres exporter series are left alone. Prefix a family to scope an "
        "exporter's: node='instance=~\"db.*\"', redis='job=\"redis\"', "
        "postgres='cluster=\"main\"'. Repeat the flag for several families",
    )
    group.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        default=_SOURCE_DEFAULTS["timeout"],
        help="seconds per request",
    )
    group.add_argument(
        "--retries",
        metavar="N",
        type=int,
        default=_SOURCE_DEFAULTS["retries"],
        help="retries on 429, 5xx and timeouts, with backoff",
    )
    group.add_argument(
        "--concurrency",
        metavar="N",
        type=int,
        default=_SOURCE_DEFAULTS["concurrency"],
        help="requests in flight at once",
    )
    group.add_argument(
        "--max-retry-after",
        metavar="SECONDS",
        type=float,
        default=_SOURCE_DEFAULTS["max_retry_after"],
        help="longest wait before a retry, whatever the backend's Retry-After asks for",
    )
    group.add_argument(
        "--max-response-bytes",
        metavar="BYTES",
        type=int,
        default=_SOURCE_DEFAULTS["max_response_bytes"],
        help="largest answer to one request; a bigger one stops the command (exit 3) "
        "naming the query. Extra request headers (e.g. X-Scope-OrgID for Mimir tenants): "
        "TARS_PROMETHEUS_HEADERS='Name: value; Name2: value2'",
    )


def add_detector_flags(parser: Flags) -> None:
    """The anomaly detector's settings: None here, so ``AnomalyParameters`` supplies them."""
    group = parser.add_argument_group("anomaly detector")
    group.add_argument(
        "--z-threshold",
        metavar="Z",
        type=float,
        help="a point is anomalous when its z-score against the EWMA baseline exceeds this "
        f"(default: {_DETECTOR_DEFAULTS['z_threshold']:g})",
    )
    group.add_argument(
        "--ewma-alpha",
        metavar="ALPHA",
        type=float,
        help=f"EWMA smoothing factor in (0, 1] (default: {_DETECTOR_DEFAULTS['ewma_alpha']:g})",
    )
    group.add_argument(
        "--variance-alpha",
        metavar="ALPHA",
        type=float,
        help="smoothing of the variance, slower than the mean so one spike neither collapses "
        f"nor inflates the spread (default: {_DETECTOR_DEFAULTS['variance_alpha']:g})",
    )
    group.add_argument(
        "--level-shift-hours",
        metavar="HOURS",
        type=float,
        help="a move out of band this long is accepted as the new level and ends its event "
        f"(default: {_DETECTOR_DEFAULTS['level_shift_hours']:g})",
    )
    group.add_argument(
        "--max-events-per-day",
        metavar="N",
        type=int,
        help="events listed per series and day; the rest are counted "
        f"(default: {_DETECTOR_DEFAULTS['max_events_per_day']:g})",
    )


def add_changes_flag(parser: Flags) -> None:
    parser.add_argument(
        "--changes",
        metavar="FILE",
        type=Path,
        help="known changes (YAML: at, kind, description, kpis): steps they explain are "
        "reported as explained, not as unexpected drifts or incidents",
    )


# --------------------------------------------------------------------------- values


def source_spec(args: argparse.Namespace) -> SourceSpec:
    """The source flags as one checked value (nothing is opened or requested yet)."""
    return SourceSpec(
        prometheus_url=args.prometheus_url,
        scenario=args.scenario,
        selector=args.selector,
        timeout=args.timeout,
        retries=args.retries,
        concurrency=args.concurrency,
        max_retry_after=args.max_retry_after,
        max_response_bytes=args.max_response_bytes,
    )


def detector(args: argparse.Namespace) -> AnomalyParameters:
    """The detector flags, checked; unset ones take the library's defaults."""
    return AnomalyParameters.checked(
        z_threshold=args.z_threshold,
        ewma_alpha=args.ewma_alpha,
        variance_alpha=args.variance_alpha,
        level_shift_hours=args.level_shift_hours,
        max_events_per_day=args.max_events_per_day,
    )


# --------------------------------------------------------------------------- output

_DAY0 = datetime(2000, 1, 1, tzinfo=UTC)  # any day: only the number of requests matters


def requests_per_day(catalogue: Catalogue) -> int:
    """How many requests collecting one day takes (the progress bar's total)."""
    return request_count(catalogue, _DAY0, _DAY0 + timedelta(days=1))


class Bar:
    """A tqdm progress bar on a terminal; nothing otherwise or with --quiet."""

    def __init__(self, total: int, quiet: bool, what: str) -> None:
        self._bar = None
        if not quiet and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=what, unit="req", file=sys.stderr, leave=False)

    def __call__(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


_show_warning = warnings.showwarning
_EXPLAINED: set[str] = set()
"""KPIs a ``SourceWarning`` already said why they have no value."""
_SHOWN: set[str] = set()


def _one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """A ``SourceWarning`` as one ``tars: warning:`` line, not Python's two-line format."""
    if not issubclass(category, SourceWarning):
        _show_warning(message, category, filename, lineno, file, line)
        return
    kpi = getattr(message, "kpi", None)
    if kpi:
        _EXPLAINED.add(kpi)
    text = f"tars: warning: {message}"
    if text not in _SHOWN:  # once: the GA day and the week before often share a problem
        _SHOWN.add(text)
        print(text, file=file or sys.stderr)


warnings.showwarning = _one_line_warning  # the CLI's process only: notebooks keep Python's


def warn_missing(command: str, kpis: dict[str, KpiValue]) -> None:
    """One line for the KPIs without a value that no ``SourceWarning`` has explained."""
    missing = [k for k, v in kpis.items() if v.value is None and k not in _EXPLAINED]
    if missing:
        print(
            f"{command}: warning: no data for {', '.join(missing)} (recorded as missing, "
            "not 0); check the queries in the KPI catalogue or --selector",
            file=sys.stderr,
        )


def add_cell_timeout_flag(parser: argparse.ArgumentParser) -> None:
    """run-day and demo both run notebooks: one flag, the runner's default."""
    from tars_lib.report.runner import run_day

    parser.add_argument(
        "--cell-timeout",
        metavar="SECONDS",
        type=int,
        default=library_default(run_day, "cell_timeout"),
        help="seconds a notebook cell may run",
    )
