"""Where the metrics come from, as one value: normalised and checked once, then opened.

``SourceSpec`` is what the CLI flags and the notebook parameters both become,
so a bad timeout or a missing URL is reported before any request is made, and
the source it opens applies the selector itself (nothing above it threads one).
Credentials are never part of it: ``PrometheusSource`` reads them from the
environment, so they never reach a parameter, an argument or an output.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from tars_lib.core.errors import SettingError
from tars_lib.core.workspace import PROJECT
from tars_lib.sources.base import MetricSource

__all__ = ["SourceSpec", "check_prometheus_url", "hide_userinfo"]

_EXAMPLE_SCENARIO = PROJECT.scenario.relative_to(PROJECT.root)


_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")


def hide_userinfo(url: str) -> str:
    """``url`` with any ``user:password@`` shown as ``***@``, even when it does not parse."""
    return _USERINFO.sub(r"\1***@", url)


def check_prometheus_url(url: str) -> None:
    """Refuse a URL requests could not use, naming the setting (not a traceback later).

    ``http://[::1`` made urllib raise ``ValueError`` deep inside the first request.
    """

    def bad(reason: str) -> SettingError:
        return SettingError(
            "prometheus_url", f"{{prometheus_url}} {{value}}: {reason}", repr(hide_userinfo(url))
        )

    if not url.startswith(("http://", "https://")):
        raise bad("must start with http:// or https://")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise bad("has a space or a control character; percent-encode it")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (parsing the port is the check)
    except ValueError as exc:
        raise bad(f"not a valid URL ({exc})") from None
    if not parts.hostname:
        raise bad("has no host name, e.g. http://prometheus:9090")


@dataclass(frozen=True)
class SourceSpec:
    """A Prometheus-compatible API or the simulated week, and how to talk to it."""

    prometheus_url: str | None = None
    scenario: Path | None = None
    selector: str | None = None
    timeout: float = 30.0
    """Seconds per request."""
    retries: int = 3
    """Retries on 429, 5xx and timeouts, with backoff."""
    concurrency: int = 4
    """Requests in flight at once."""

    def __post_init__(self) -> None:
        # Empty strings (notebook parameters) mean "not given".
        object.__setattr__(self, "prometheus_url", self.prometheus_url or None)
        object.__setattr__(self, "scenario", Path(self.scenario) if self.scenario else None)
        object.__setattr__(self, "selector", self.selector or None)
        if self.prometheus_url and self.scenario:
            raise SettingError("prometheus_url", "give {prometheus_url} or {scenario}, not both")
        if self.prometheus_url:
            check_prometheus_url(self.prometheus_url)
        if not (isinstance(self.timeout, int | float) and math.isfinite(self.timeout)) or (
            self.timeout <= 0
        ):
            raise SettingError(
                "timeout", "{timeout} {value}: must be a positive number of seconds", self.timeout
            )
        if self.retries < 0:
            raise SettingError("retries", "{retries} {value}: must be 0 or more", self.retries)
        if self.concurrency < 1:
            raise SettingError(
                "concurrency", "{concurrency} {value}: must be 1 or more", self.concurrency
            )

    @property
    def given(self) -> bool:
        return bool(self.prometheus_url or self.scenario)

    def open(self) -> MetricSource:
        """The source; says what to give when neither a URL nor a scenario is set."""
        if self.prometheus_url:
            from tars_lib.sources.prometheus import PrometheusSource  # requests: only when used

            return PrometheusSource(
                self.prometheus_url,
                timeout=self.timeout,
                retries=self.retries,
                concurrency=self.concurrency,
                selector=self.selector,
            )
        if self.scenario:
            from tars_lib.sources.scenario import ScenarioSource

            return ScenarioSource(self.scenario, self.selector)
        raise SettingError(
            "prometheus_url",
            "say where the metrics come from: {prometheus_url} http://HOST:9090 for Prometheus "
            "(or Thanos, Mimir, VictoriaMetrics), or {scenario} {example} for the simulated week",
            example=_EXAMPLE_SCENARIO,
        )
