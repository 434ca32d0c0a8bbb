"""Pydantic models of the six artifacts: the only contract between phases.

Every artifact a phase writes is one of these models, and every reader validates
its input against them (see ``artifacts.read_artifact``), so a malformed file is
refused at the door with the file and field named, never half-used.

Timestamps are UTC and serialised as ``2025-11-18T00:00:00Z``. Floats must be
finite: NaN or Infinity in an artifact is an error, a KPI without data is
``"value": null``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidationInfo,
    computed_field,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from tars_lib.core.errors import SettingError
from tars_lib.core.policy import MIN_COVERAGE, Priority

__all__ = [
    "WEEK_DAYS",
    "ActionItem",
    "AnomalyEvent",
    "AnomalyEvents",
    "AnomalyParameters",
    "Change",
    "Changes",
    "CostAnalysis",
    "CostBreakdown",
    "DayAnomalies",
    "DayCompliance",
    "DaySummary",
    "Degradation",
    "ExplainedChange",
    "GaKpiSummary",
    "HealthComponent",
    "HealthReport",
    "Incident",
    "IncidentKpi",
    "KpiComparison",
    "KpiStats",
    "KpiValue",
    "MitigationAction",
    "PartialDay",
    "Regression",
    "RegressionSummary",
    "Release",
    "Retrospective",
    "RollbackReason",
    "RollbackVerdict",
    "SloBurnDown",
    "SloDay",
    "SloStatus",
    "SourceInfo",
    "Success",
    "TimelineEntry",
    "UnexpectedDrift",
    "Window",
    "format_utc",
    "is_partial",
]

WEEK_DAYS = 7
"""Days 1..7 after GA day (day 0) make up the release week."""


def _to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp needs a time zone, e.g. 2025-11-18T00:00:00Z")
    return value.astimezone(UTC)


def is_partial(coverage: float | None, min_coverage: float = MIN_COVERAGE) -> bool:
    """Whether a recorded coverage is below the threshold (None: not recorded, not partial)."""
    return coverage is not None and round(coverage, 9) < min_coverage


def format_utc(value: datetime) -> str:
    """ISO 8601 in UTC with a Z, to the second: the one timestamp format we write."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


UtcDatetime = Annotated[
    datetime,
    AfterValidator(_to_utc),
    PlainSerializer(format_utc, return_type=str),
]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Percent = Annotated[float, Field(ge=0.0, le=100.0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
DayNumber = Annotated[int, Field(ge=1, le=WEEK_DAYS)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
SloStatus = Literal["met", "breached", "unknown"]
Severity = Literal["low", "medium", "high", "critical"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


# --------------------------------------------------------------------------- shared parts


class Window(_Model):
    """A half-open UTC interval [start, end)."""

    start: UtcDatetime
    end: UtcDatetime

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end <= self.start:
            raise ValueError("window end must be after its start")
        return self


class SourceInfo(_Model):
    """Where the numbers came from. Never carries credentials."""

    kind: Literal["prometheus", "scenario", "test-data"]
    location: str


class KpiStats(_Model):
    """Statistics of a KPI's 5-minute series over the window, for later baselines."""

    mean: Finite
    std: Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
    p5: Finite
    p95: Finite
    min: Finite
    max: Finite
    samples: Annotated[int, Field(ge=0)]


class KpiValue(_Model):
    """One KPI's aggregate for a day, in its unit; ``value`` is null when no data came back.

    ``series_5m`` keeps the 5-minute values (null where the backend had none) so
    the anomaly and regression phases can work from files alone; ``counts``
    keeps a ratio KPI's summed numerator and denominator for count tests.
    """

    value: Finite | None
    unit: str
    stats: KpiStats | None = None
    counts: dict[str, Annotated[float, Field(ge=0.0, allow_inf_nan=False)]] | None = None
    series_5m: list[Finite | None] | None = None
    coverage: Fraction | None = None
    """Share of the window's expected 5-minute points the backend gave (after NaN and
    stale markers; a ratio or histogram KPI: points with every component present).
    None in artifacts made before coverage was recorded."""
    warnings: list[str] = []
    """What the backend said or left out for this KPI (partial responses, gaps)."""

    @property
    def partial(self) -> bool:
        """A value from fewer of the expected points than ``policy.MIN_COVERAGE``.

        A KPI without any value is missing, not partial (``value`` null says so).
        """
        return self.value is not None and is_partial(self.coverage)


class SloDay(_Model):
    """One SLO's outcome over one day.

    ``bad_fraction`` is the share of bad events (ratio SLOs) or of bad 5-minute
    windows (latency SLOs); the day breaches the SLO when it exceeds the error
    budget fraction ``1 - target``.
    """

    kpi: str
    target_percent: Annotated[float, Field(gt=0.0, lt=100.0, allow_inf_nan=False)]
    period_days: Annotated[int, Field(ge=1, le=366)]
    bad_fraction: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] | None
    coverage: Fraction | None = None
    """The coverage of the KPI it was judged on (None: not recorded)."""

    @property
    def budget_fraction(self) -> float:
        return 1.0 - self.target_percent / 100.0

    @property
    def burn_rate(self) -> float | None:
        """Google SRE workbook burn rate: 1.0 spends the budget exactly over the period."""
        if self.bad_fraction is None:
            return None
        return self.bad_fraction / self.budget_fraction

    @property
    def breached(self) -> bool:
        return self.bad_fraction is not None and self.bad_fraction > self.budget_fraction

    @property
    def partial(self) -> bool:
        return is_partial(self.coverage)

    @property
    def status(self) -> SloStatus:
        """breached, met, or unknown (no data, or partial data within budget).

        Partial data that already breaches is reported as breached; partial data
        within budget proves nothing about the missing hours: unknown, never met.
        """
        if self.bad_fraction is None:
            return "unknown"
        if self.breached:
            return "breached"
        return "unknown" if self.partial else "met"


class CostBreakdown(_Model):
    compute: Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
    storage: Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
    network: Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
    other: Annotated[float, Field(ge=0.0, allow_inf_nan=False)]


# --------------------------------------------------------------------------- phase 1 and 2


def _partial(kpis: dict[str, KpiValue]) -> dict[str, float]:
    return {k: v.coverage for k, v in kpis.items() if v.partial and v.coverage is not None}


class GaKpiSummary(_Model):
    """Phase 1: the GA-day baseline (``ga_kpis/ga_kpi_summary.json``)."""

    ga_timestamp: UtcDatetime
    window: Window
    generated_at: UtcDatetime
    source: SourceInfo
    kpis: dict[str, KpiValue]
    pre_ga_kpis: dict[str, KpiValue] | None = None
    slos: dict[str, SloDay] = {}
    cost_breakdown: CostBreakdown | None = None

    @property
    def partial_kpis(self) -> dict[str, float]:
        """The KPIs below ``policy.MIN_COVERAGE`` and their coverage."""
        return _partial(self.kpis)

    @model_validator(mode="after")
    def _window_is_ga_day(self) -> GaKpiSummary:
        if self.window.start != self.ga_timestamp:
            raise ValueError("window.start must equal ga_timestamp (day 0 starts at GA)")
        return self


class DaySummary(_Model):
    """Phase 2: one day of the release week (``stability/day_NN_summary.json``).

    Day N covers [GA + N days, GA + N + 1 days) in UTC.
    """

    day_number: DayNumber
    ga_timestamp: UtcDatetime
    window: Window
    generated_at: UtcDatetime
    source: SourceInfo
    kpis: dict[str, KpiValue]
    drift_percent: dict[str, Finite | None]
    slos: dict[str, SloDay] = {}
    cost_breakdown: CostBreakdown | None = None
    rollback_recommended: bool = False
    rollback_reasons: list[str] = []
    changes: list[Change] = []
    """The known changes made during the day (from the changes file)."""

    @field_validator("window")
    @classmethod
    def _window_is_the_day(cls, window: Window, info: ValidationInfo) -> Window:
        day, ga = info.data.get("day_number"), info.data.get("ga_timestamp")
        if day is None or ga is None:
            return window  # their own errors are reported
        expected = ga + timedelta(days=day)
        if window.start != expected or window.end != expected + timedelta(days=1):
            raise ValueError(
                f"must be [{format_utc(expected)}, "
                f"{format_utc(expected + timedelta(days=1))}) for day {day}"
            )
        return window

    @property
    def partial_kpis(self) -> dict[str, float]:
        """The KPIs below ``policy.MIN_COVERAGE`` and their coverage."""
        return _partial(self.kpis)

    @model_validator(mode="after")
    def _consistent(self) -> DaySummary:
        if self.rollback_recommended and not self.rollback_reasons:
            raise ValueError("rollback_recommended is true but rollback_reasons is empty")
        return self


# --------------------------------------------------------------------------- phase 3


class AnomalyParameters(_Model):
    """The detector's settings: their defaults live here and nowhere else.

    ``z_threshold`` and ``ewma_alpha`` keep the seed's meaning (threshold on |z|,
    smoothing of the mean). ``variance_alpha`` smooths the variance, slower than
    the mean, so one spike neither collapses nor inflates the spread;
    ``level_shift_hours`` is how long a move may stay out of band before it is
    accepted as the new level; ``max_events_per_day`` caps the events of one
    series on one day (the rest are counted).
    """

    z_threshold: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] = 3.0
    ewma_alpha: Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)] = 0.3
    variance_alpha: Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)] = 0.0003
    level_shift_hours: Annotated[float, Field(gt=0.0, le=24.0 * 31, allow_inf_nan=False)] = 4.0
    max_events_per_day: Annotated[int, Field(ge=1, le=1000)] = 20

    @classmethod
    def checked(cls, **values: float | None) -> AnomalyParameters:
        """The settings given (None: default), or a ``SettingError`` naming the first bad one."""
        given = {k: v for k, v in values.items() if v is not None}
        rules = {
            "z_threshold": "must be a positive number",
            "ewma_alpha": "must be in (0, 1]",
            "variance_alpha": "must be in (0, 1]",
            "level_shift_hours": "must be a positive number of hours (at most 744)",
            "max_events_per_day": "must be a whole number from 1 to 1000",
        }
        try:
            return cls.model_validate(given)
        except ValidationError as exc:
            name = str(exc.errors()[0]["loc"][0])
            default = cls.model_fields[name].default
            raise SettingError(
                name,
                f"{{{name}}} {{value}}: {rules.get(name, 'invalid')} (default {default:g})",
                given.get(name),
            ) from None


class Change(_Model):
    """A known change during the week (deploy, scaling, config, feature flag).

    A step that coincides with one is reported as explained, not as an
    unexpected drift or an unexplained incident. ``kpis`` empty: it may move any KPI.
    """

    at: UtcDatetime
    kind: Literal["deploy", "scaling", "config", "feature_flag", "rollback", "other"]
    description: Annotated[str, Field(min_length=1, max_length=500)]
    kpis: list[str] = []


class Changes(_Model):
    """The optional changes file (YAML): ``changes: [{at, kind, description, kpis}]``."""

    changes: list[Change] = []


class AnomalyEvent(_Model):
    """One series out of band, from the first point beyond the threshold until it is
    back at its baseline (``spike``), or until its new level was accepted (``level_shift``)."""

    metric_name: str
    labels: dict[str, str] = {}
    start: UtcDatetime
    end: UtcDatetime
    duration_seconds: Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
    peak_z: Finite
    observed: Finite
    expected: Finite
    direction: Literal["up", "down"]
    impact: Literal["adverse", "improvement", "neutral"]
    severity: Severity
    kind: Literal["spike", "level_shift"] = "spike"
    new_level: Finite | None = None
    slo_breached: bool = False
    explained_by: str | None = None


class IncidentKpi(_Model):
    kpi: str
    label: str
    unit: str
    peak: Finite
    expected: Finite
    peak_z: Finite


class Incident(_Model):
    """Adverse events of one or more KPIs that overlap in time: one thing that happened."""

    id: str
    start: UtcDatetime
    end: UtcDatetime
    title: str
    """What happened and when: "Latency spike: P99 latency 957 ms against 403 ms expected,
    14:00-16:30 UTC" (``headline`` is the same without the time)."""
    headline: str
    severity: Severity
    kpis: list[IncidentKpi]
    budget_burned: dict[str, NonNegative]
    """Percent of each SLO's error budget (its whole period) that the incident used."""


class AnomalyEvents(_Model):
    """Phase 3: ``anomaly_events.json``, with the parameters that produced it."""

    generated_at: UtcDatetime
    window: Window
    parameters: AnomalyParameters
    events: list[AnomalyEvent]
    incidents: list[Incident] = []
    suppressed: dict[str, int] = {}
    """Events over ``max_events_per_day``, per KPI: counted, not listed."""
    changes: list[Change] = []


class DayAnomalies(_Model):
    """Phase 3's evidence for one day: ``stability/day_NN_anomalies.json``.

    One file per day, so rerunning a day rewrites that day alone; the week's
    ``anomaly_events.json`` is rebuilt from all of them. The detector ran over
    GA day .. ``detected_through``; an event still open at the end of that data
    (``complete`` False) is redone by the next day's run, which sees how it ended.
    """

    day_number: DayNumber
    generated_at: UtcDatetime
    window: Window
    """The day: the events listed here start in it."""
    detected_through: UtcDatetime
    parameters: AnomalyParameters
    events: list[AnomalyEvent]
    suppressed: dict[str, int] = {}
    """Events of the day over ``max_events_per_day``, per KPI."""
    complete: bool = True
    slo_series: dict[str, list[Finite | None]] = {}
    """The day's 5-minute values of the SLO KPIs: the budgets of incidents regrouped
    across days are computed from them (null: no data)."""
    changes: list[Change] = []


# --------------------------------------------------------------------------- phase 4


class HealthComponent(_Model):
    score: Percent
    weight: Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
    detail: str


class MitigationAction(_Model):
    priority: Priority
    kpi: str
    finding: str
    action: str


class HealthReport(_Model):
    """Phase 4: ``stability/day_NN_HEALTH.json``."""

    day_number: DayNumber
    generated_at: UtcDatetime
    health_score: Percent
    status: Literal["healthy", "degraded", "critical", "no_data"]
    """``no_data``: the day had no traffic (request rate 0 or missing): nothing to call healthy."""
    components: dict[str, HealthComponent]
    mitigation_plan: list[MitigationAction]


# --------------------------------------------------------------------------- phase 5


class KpiComparison(_Model):
    """One KPI against one baseline."""

    kpi: str
    baseline: str
    baseline_value: Finite | None
    observed_value: Finite | None
    adverse_change_percent: Finite | None
    p_value: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] | None = None
    effect_size: Finite | None = None
    ci_low: Finite | None = None
    ci_high: Finite | None = None
    state: Literal["ok", "regression", "improvement", "insufficient_data"]
    severity: Literal["none", "low", "medium", "high", "critical"]


class Regression(_Model):
    kpi: str
    severity: Literal["low", "medium", "high", "critical"]
    adverse_change_percent: Finite
    baselines: list[str]


class RollbackReason(_Model):
    kpi: str
    baselines: list[str]
    observed_value: Finite | None
    baseline_value: Finite | None
    effect_size: Finite | None
    p_value: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] | None
    threshold: str
    text: str


class RollbackVerdict(_Model):
    verdict: Literal["recommended", "consider", "not_needed"]
    reasons: list[RollbackReason]


class RegressionSummary(_Model):
    """Phase 5: ``regression_summary.json``."""

    generated_at: UtcDatetime
    ga_timestamp: UtcDatetime
    baselines: list[str]
    comparisons: list[KpiComparison]
    regressions: list[Regression]
    rollback_recommendation: RollbackVerdict
    observed_days: list[int] = []
    """The days judged (the last ``recent_days`` of the week), against every baseline."""
    threshold: str = ""
    """The rule a regression had to pass, e.g. "adverse change >= 30% with p < 0.01"."""


# --------------------------------------------------------------------------- the release

SEED_NAME = "T.A.R.S."
"""The seed's product: its titles keep the seed's spelling, "T.A.R.S. v1.0.1"."""
_RECOMMENDATIONS = "recommendations_"
_NOT_IN_KEY = re.compile(r"[^0-9A-Za-z]")
Version = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z][0-9A-Za-z.+_-]*$")
]


class Release(_Model):
    """What is being released: the workspace's release description (``release.yaml``).

    The defaults are the seed's release (T.A.R.S. v1.0.1, next v1.0.2), so a
    workspace without a release description reports as the seed did.

    The title rule: ``"{name} {version}"`` ("checkout-api 2.3.0"), except for the
    seed's name, which keeps the seed's spelling ``"T.A.R.S. v{version}"``
    ("T.A.R.S. v1.0.1"). Versions are written the same way wherever the report
    names one (``version_label``, ``next_label``).
    """

    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\r\n]+$")] = SEED_NAME
    version: Version = "1.0.1"
    next_version: Version = "1.0.2"
    ga_timestamp: UtcDatetime | None = None
    owners: list[Annotated[str, Field(min_length=1, max_length=200)]] = []
    links: dict[str, Annotated[str, Field(min_length=1, max_length=2000)]] = {}

    def _label(self, version: str) -> str:
        return f"v{version}" if self.name == SEED_NAME else version

    @property
    def version_label(self) -> str:
        """The version as the report names it: "v1.0.1" for the seed, else as given."""
        return self._label(self.version)

    @property
    def next_label(self) -> str:
        """The next version as the report names it: "v1.0.2" for the seed, else as given."""
        return self._label(self.next_version)

    @property
    def title(self) -> str:
        """``T.A.R.S. v1.0.1`` for the seed's name, else ``"{name} {version}"``."""
        return f"{self.name} {self.version_label}"

    @property
    def recommendations_key(self) -> str:
        """The retrospective JSON's key of the recommendations for the next version:
        ``recommendations_v`` and the next version with every character other than a
        letter or digit made ``_`` (1.0.2: the seed's ``recommendations_v1_0_2``;
        2.3.1: ``recommendations_v2_3_1``)."""
        return f"{_RECOMMENDATIONS}v{_NOT_IN_KEY.sub('_', self.next_version.removeprefix('v'))}"


# --------------------------------------------------------------------------- phase 6
# The retrospective JSON has exactly the seed guide's structure: no field more or less.


class Success(_Model):
    category: str
    description: str
    metric_name: str
    target_value: str
    actual_value: str
    achievement_percent: Finite


class Degradation(_Model):
    day_occurred: DayNumber
    category: str
    description: str
    severity: Literal["medium", "high", "critical"]
    impact: str
    resolution_status: Literal["resolved", "unresolved"]
    resolution_details: str


class UnexpectedDrift(_Model):
    metric_name: str
    baseline_value: Finite
    final_value: Finite
    drift_percent: Finite
    trend: Literal["increasing", "decreasing", "volatile"]
    potential_causes: list[str]
    investigation_needed: bool


class TimelineEntry(_Model):
    """One line of the week's story: what happened on a day, and when (UTC)."""

    day: Annotated[int, Field(ge=0, le=WEEK_DAYS)]
    kind: Literal["incident", "change", "slo_breach", "rollback", "missing", "quiet"]
    start: UtcDatetime | None = None
    end: UtcDatetime | None = None
    text: str
    severity: Severity | None = None
    incident_id: str | None = None


class ExplainedChange(_Model):
    """A KPI's move that a recorded change accounts for."""

    metric_name: str
    drift_percent: Finite
    change: Change
    text: str


class PartialDay(_Model):
    """A day judged on partial data (KPIs below ``policy.MIN_COVERAGE``) or on none.

    ``status`` is ``no_data`` when the day had no traffic (request rate 0 or
    missing): then nothing about it is healthy, met or recovered.
    """

    day: Annotated[int, Field(ge=0, le=WEEK_DAYS)]
    status: Literal["partial", "no_data"]
    kpis: list[str]
    coverage: dict[str, Fraction | None]
    text: str


class CostAnalysis(_Model):
    ga_day_cost: Finite | None
    seven_day_total_cost: Finite
    daily_average_cost: Finite
    cost_trend: Literal["increasing", "stable", "decreasing"]
    cost_breakdown: CostBreakdown
    cost_optimization_recommendations: list[str]


class DayCompliance(_Model):
    day: Annotated[int, Field(ge=0, le=WEEK_DAYS)]
    value: Finite | None
    compliant: bool | None
    budget_consumed: Finite


class SloBurnDown(_Model):
    slo_name: str
    target: Finite
    budget: Finite
    budget_consumed_percent: Finite
    days_to_exhaustion: Finite | None
    compliance_by_day: list[DayCompliance]


class ActionItem(_Model):
    priority: Priority
    description: str
    status: Literal["open", "in_progress", "done"]


class Retrospective(_Model):
    """Phase 6: ``GA_7DAY_RETROSPECTIVE.json``."""

    generation_timestamp: UtcDatetime
    ga_day_timestamp: UtcDatetime
    seven_day_end_timestamp: UtcDatetime
    successes: list[Success]
    degradations: list[Degradation]
    unexpected_drifts: list[UnexpectedDrift]
    cost_analysis: CostAnalysis
    slo_burn_downs: list[SloBurnDown]
    recommendations_v1_0_2: list[str]
    """The recommendations for the next version. In the JSON the key is named from
    the release's next version (``Release.recommendations_key``: the seed's
    ``recommendations_v1_0_2``, ``recommendations_v2_3_1`` for 2.3.1), and
    ``recommendations_next`` repeats them under a name that is the same for every release."""
    process_improvements: list[str]
    action_items: list[ActionItem]
    incidents: list[Incident] = []
    explained_changes: list[ExplainedChange] = []
    timeline: list[TimelineEntry] = []
    partial_days: list[PartialDay] = []
    """Days whose KPIs had too few points to judge, or no traffic at all."""
    release: Release = Release()
    """What was released (``release.yaml``); files without it are the seed's release."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def recommendations_next(self) -> list[str]:
        """The recommendations for the next version, under a key that names no version."""
        return list(self.recommendations_v1_0_2)

    # The key depends on the data, so the model reads it before pydantic does: a model
    # validator would make pydantic validate the JSON as Python objects, not as JSON.
    @classmethod
    def model_validate(cls, obj: Any, *, strict: bool | None = None, **kwargs: Any) -> Self:
        """Also reads the recommendations from the release's key or ``recommendations_next``."""
        return super().model_validate(_recommendations_keys(cls, obj), strict=strict, **kwargs)

    @classmethod
    def model_validate_json(
        cls, json_data: str | bytes | bytearray, *, strict: bool | None = None, **kwargs: Any
    ) -> Self:
        """Also reads the recommendations from the release's key or ``recommendations_next``."""
        try:
            data = json.loads(json_data)
        except (ValueError, RecursionError):
            data = None  # pydantic reports it
        if isinstance(data, dict) and "recommendations_v1_0_2" not in data:
            json_data = json.dumps(_recommendations_keys(cls, data), allow_nan=True)
        elif isinstance(data, dict) and "recommendations_next" in data:
            _recommendations_keys(cls, data)  # checked: the same list under both keys
            json_data = json.dumps(
                {k: v for k, v in data.items() if k != "recommendations_next"}, allow_nan=True
            )
        return super().model_validate_json(json_data, strict=strict, **kwargs)

    # No return annotation: pydantic then keeps this model's JSON Schema (`tars schema`).
    @model_serializer(mode="wrap")
    def _named_for_release(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        """The recommendations' key named from the release's next version, in its place."""
        data = handler(self)
        if not isinstance(data, dict):
            return data
        key = self.release.recommendations_key
        return {(key if k == "recommendations_v1_0_2" else k): v for k, v in data.items()}


def _key_error(model: type[BaseModel], key: str, message: str, value: object) -> ValidationError:
    return ValidationError.from_exception_data(
        model.__name__,
        [
            InitErrorDetails(
                type=PydanticCustomError("recommendations_key", message),
                loc=(key,),
                input=value,
            )
        ],
    )


def _recommendations_keys(model: type[BaseModel], data: Any) -> Any:
    """The retrospective's data with its recommendations under the field's name.

    They may be under the release's key (``Release.recommendations_key``), the field's
    own name, or ``recommendations_next``; under two keys they must be the same list.
    """
    if not isinstance(data, dict):
        return data
    data = dict(data)
    keys = [k for k in data if isinstance(k, str) and k.startswith(_RECOMMENDATIONS + "v")]
    if len(keys) > 1:
        raise _key_error(model, keys[1], f"keep one recommendations key, not {keys}", None)
    alias = data.pop("recommendations_next", None)
    if not keys:
        if alias is not None:
            data["recommendations_v1_0_2"] = alias
        return data
    key = keys[0]
    value = data.pop(key)
    try:
        expected = Release.model_validate(data.get("release", {})).recommendations_key
    except (ValidationError, TypeError, ValueError, RecursionError):
        expected = key  # the release's own errors are reported
    if key not in (expected, "recommendations_v1_0_2"):  # the field's own name is read too
        raise _key_error(
            model, key, f"does not match release.next_version (the key is {expected})", value
        )
    if alias is not None and alias != value:
        raise _key_error(model, "recommendations_next", f"differs from {key}", alias)
    data["recommendations_v1_0_2"] = value
    return data
