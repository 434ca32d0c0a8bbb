"""The KPI catalogue (``data/config/kpis.yaml``): units, directions, targets, SLOs.

Loaded once per command and passed down; nothing else reads the YAML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, TypeVar, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tars_lib.core.artifacts import NESTED_TOO_DEEP, describe_validation_error, first_line
from tars_lib.core.errors import InputError, SettingError
from tars_lib.core.workspace import PROJECT

__all__ = [
    "DEFAULT_CONFIG",
    "EXPORTERS",
    "Catalogue",
    "CostShares",
    "HealthConfig",
    "HealthWeights",
    "KpiSpec",
    "MetricExporter",
    "Pricing",
    "SloSpec",
    "load_catalogue",
    "meets_target",
    "read_yaml",
    "validate_yaml",
]

DEFAULT_CONFIG = PROJECT.catalogue

M = TypeVar("M", bound=BaseModel)

Direction = Literal["higher", "lower", "neutral"]

MetricExporter = Literal["application", "node", "redis", "postgres"]
"""Who exposes a KPI's series: the service itself or an exporter; each has its own selector."""

EXPORTERS: tuple[str, ...] = get_args(MetricExporter)


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


Aggregate = Literal["ratio", "quantile", "rate", "mean", "max", "cost"]

_COMPONENTS: dict[str, set[str]] = {
    "ratio": {"numerator", "denominator"},
    "quantile": {"buckets"},
    "rate": {"count"},
    "mean": {"value"},
    "max": {"value"},
    "cost": {"hourly"},
}


class KpiSpec(_Config):
    label: str
    unit: str
    direction: Direction
    target: float | None = None
    weekly: Literal["request_weighted", "mean", "worst"] = "mean"
    category: str
    family: str
    exporter: MetricExporter = "application"
    aggregate: Aggregate = "mean"
    quantile: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    scale: float = 1.0
    queries: dict[str, str] = {}
    fallback: dict[str, str] = {}

    @model_validator(mode="after")
    def _consistent(self) -> KpiSpec:
        if self.target is not None and self.direction == "neutral":
            raise ValueError("a KPI with a target needs direction higher or lower")
        if self.queries:
            wanted = _COMPONENTS[self.aggregate]
            if set(self.queries) != wanted:
                raise ValueError(
                    f"aggregate {self.aggregate} needs queries {sorted(wanted)}, "
                    f"not {sorted(self.queries)}"
                )
        if self.aggregate == "quantile" and self.quantile is None:
            raise ValueError("aggregate quantile needs a quantile, e.g. 0.99")
        if self.fallback and set(self.fallback) != {"cores", "memory_gib"}:
            raise ValueError("fallback needs exactly the queries cores and memory_gib")
        return self


class SloSpec(_Config):
    name: str
    kpi: str
    kind: Literal["ratio", "latency"]
    target_percent: Annotated[float, Field(gt=0.0, lt=100.0)]
    period_days: Annotated[int, Field(ge=1, le=366)] = 30
    threshold: float | None = None

    @model_validator(mode="after")
    def _latency_needs_threshold(self) -> SloSpec:
        if self.kind == "latency" and self.threshold is None:
            raise ValueError("a latency SLO needs a threshold")
        return self


class CostShares(_Config):
    compute: Annotated[float, Field(ge=0.0)]
    storage: Annotated[float, Field(ge=0.0)]
    network: Annotated[float, Field(ge=0.0)]
    other: Annotated[float, Field(ge=0.0)]

    @model_validator(mode="after")
    def _sum_to_one(self) -> CostShares:
        total = self.compute + self.storage + self.network + self.other
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"cost shares must add up to 1.0, not {total:g}")
        return self


class Pricing(_Config):
    """``pricing.yaml``: prices for the cost fallback, shares for the cost breakdown."""

    cpu_core_hour_usd: Annotated[float, Field(ge=0.0)]
    memory_gib_hour_usd: Annotated[float, Field(ge=0.0)]
    cost_shares: CostShares


DEFAULT_PRICING = Pricing(
    cpu_core_hour_usd=0.0316,
    memory_gib_hour_usd=0.0042,
    cost_shares=CostShares(compute=0.6, storage=0.2, network=0.15, other=0.05),
)


class HealthWeights(_Config):
    slo_compliance: Annotated[float, Field(ge=0.0)] = 0.4
    anomaly_load: Annotated[float, Field(ge=0.0)] = 0.2
    drift: Annotated[float, Field(ge=0.0)] = 0.2
    resource_headroom: Annotated[float, Field(ge=0.0)] = 0.2

    @model_validator(mode="after")
    def _some_weight(self) -> HealthWeights:
        if self.slo_compliance + self.anomaly_load + self.drift + self.resource_headroom <= 0:
            raise ValueError("at least one health weight must be positive")
        return self


class HealthConfig(_Config):
    """The daily health score: component weights and the status bands."""

    weights: HealthWeights = HealthWeights()
    healthy_at: Annotated[float, Field(ge=0.0, le=100.0)] = 80.0
    degraded_at: Annotated[float, Field(ge=0.0, le=100.0)] = 60.0

    @model_validator(mode="after")
    def _ordered(self) -> HealthConfig:
        if self.degraded_at > self.healthy_at:
            raise ValueError("degraded_at must not be above healthy_at")
        return self


class Catalogue(_Config):
    kpis: dict[str, KpiSpec]
    slos: dict[str, SloSpec] = {}
    health: HealthConfig = HealthConfig()
    pricing_file: str | None = None
    pricing: Pricing = DEFAULT_PRICING
    selectors: dict[MetricExporter, str] = {}
    """Label matchers for every query of an exporter's KPIs, e.g. node: 'job="node"'."""

    @model_validator(mode="after")
    def _slos_name_kpis(self) -> Catalogue:
        for key, slo in self.slos.items():
            if slo.kpi not in self.kpis:
                raise ValueError(f"slos.{key}.kpi names unknown KPI {slo.kpi!r}")
        return self

    def slo_name(self, key: str) -> str:
        spec = self.slos.get(key)
        return spec.name if spec else key


def meets_target(value: float, spec: KpiSpec) -> bool | None:
    """Whether ``value`` is on the right side of the KPI's target (None: no target)."""
    if spec.target is None:
        return None
    if spec.direction == "higher":
        return value >= spec.target
    return value <= spec.target


MAX_CONFIG_BYTES = 16 * 2**20
"""A catalogue, a scenario or a changes file is kilobytes; anything this large is not one."""


def read_yaml(path: Path, what: str) -> object:
    """The YAML document at ``path``; every way it can be unreadable is one ``InputError``.

    PyYAML raises more than ``YAMLError``: ``RecursionError`` for deep nesting,
    ``ValueError`` for a timestamp such as 2025-13-45 or an integer of 5,000 digits.
    """
    if not path.is_file():
        raise InputError(f"{path}: {what} not found")
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise InputError(
            f"{path}: {size / 1e6:.1f} MB is over the {MAX_CONFIG_BYTES // 2**20} MiB limit "
            f"for a {what}; is this the right file?"
        )
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise InputError(f"{path}: not valid YAML: {NESTED_TOO_DEEP}") from None
    except (yaml.YAMLError, UnicodeDecodeError, ValueError, OverflowError, TypeError) as exc:
        raise InputError(f"{path}: not valid YAML: {first_line(exc)}") from None


def validate_yaml(model: type[M], data: object, path: Path) -> M:
    """``model`` from a YAML document, or one ``InputError`` naming the file and field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(describe_validation_error(path, exc)) from None
    except RecursionError:
        raise InputError(f"{path}: {NESTED_TOO_DEEP}") from None
    except (OverflowError, ArithmeticError) as exc:
        raise InputError(f"{path}: a date or number is out of range: {first_line(exc)}") from None


def load_catalogue(path: Path | None = None) -> Catalogue:
    """The catalogue at ``path`` (default ``data/config/kpis.yaml``) with its pricing file."""
    path = Path(path) if path is not None else DEFAULT_CONFIG
    if not path.is_file():
        raise SettingError("config", "{value}: KPI catalogue not found (given as {config})", path)
    catalogue = validate_yaml(Catalogue, read_yaml(path, "KPI catalogue"), path)
    if catalogue.pricing_file is None:
        return catalogue
    pricing_path = path.parent / catalogue.pricing_file
    pricing = validate_yaml(
        Pricing, read_yaml(pricing_path, "pricing file (pricing_file)"), pricing_path
    )
    return catalogue.model_copy(update={"pricing": pricing})
