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

from tars_lib.core.catalogue import EXPORTERS
from tars_lib.core.errors import SettingError
from tars_lib.core.workspace import PROJECT
from tars_lib.sources.base import MetricSource

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_MAX_RETRY_AFTER",
    "SourceSpec",
    "check_prometheus_url",
    "hide_userinfo",
    "parse_selectors",
]

DEFAULT_MAX_RETRY_AFTER = 60.0
"""Seconds: the longest wait before a retry, whatever ``Retry-After`` asks for."""
DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024 * 1024
"""The largest answer read for one request (256 MiB, decoded)."""

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


_FAMILY_ENTRY = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?=[A-Za-z_{])(.*)$", re.DOTALL)
"""``node=instance=~"db.*"``: a family, then matchers. A matcher itself (``job="api"``,
``node=~"w.*"``) has a quote or ``~`` after its ``=``, so the two never read alike."""


def _split_entries(text: str) -> list[str]:
    """``text`` split at each ``;`` outside quotes (a regex value may hold one)."""
    entries: list[str] = []
    current: list[str] = []
    quote, escaped = "", False
    for char in text:
        if escaped:
            escaped = False
        elif quote and char == "\\":
            escaped = True
        elif char in "\"'`" and (not quote or char == quote):
            quote = "" if quote else char
        elif char == ";" and not quote:
            entries.append("".join(current))
            current = []
            continue
        current.append(char)
    entries.append("".join(current))
    return [e.strip() for e in entries if e.strip()]


def parse_selectors(text: str | None) -> dict[str, str]:
    """``--selector`` as matchers per exporter family (``RangeQuery.family``).

    Entries are separated by ``;`` (the CLI joins repeated flags so): plain
    matchers (``job="api"``) are the application's; ``FAMILY=MATCHERS``
    (``node=instance=~"db.*"``) one of node, redis or postgres's (or
    application's). Two entries for one family both apply.
    """
    out: dict[str, list[str]] = {}
    for entry in _split_entries(text or ""):
        match = _FAMILY_ENTRY.match(entry)
        family, matchers = (match.group(1), match.group(2)) if match else ("application", entry)
        if family not in EXPORTERS:
            raise SettingError(
                "selector",
                "{selector} {value}: {family} is not an exporter; give FAMILY=MATCHERS with "
                'FAMILY one of {families}, or plain matchers such as job="api"',
                repr(entry),
                family=repr(family),
                families=", ".join(EXPORTERS),
            )
        matchers = matchers.strip().strip("{}").strip()
        if matchers:
            out.setdefault(family, []).append(matchers)
    return {family: ",".join(parts) for family, parts in out.items()}


@dataclass(frozen=True)
class SourceSpec:
    """A Prometheus-compatible API or the simulated week, and how to talk to it."""

    prometheus_url: str | None = None
    scenario: Path | None = None
    selector: str | None = None
    """Label matchers per exporter family, as ``parse_selectors`` reads them."""
    timeout: float = 30.0
    """Seconds per request."""
    retries: int = 3
    """Retries on 429, 5xx and timeouts, with backoff."""
    concurrency: int = 4
    """Requests in flight at once."""
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER
    """Longest wait before a retry, in seconds, whatever the backend's Retry-After says."""
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    """Largest answer to one request, in bytes; a bigger one is an error (exit 3)."""

    def __post_init__(self) -> None:
        # Empty strings (notebook parameters) mean "not given".
        object.__setattr__(self, "prometheus_url", self.prometheus_url or None)
        object.__setattr__(self, "scenario", Path(self.scenario) if self.scenario else None)
        object.__setattr__(self, "selector", self.selector or None)
        parse_selectors(self.selector)  # a bad --selector is a setting error, before any request
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
        if not (
            isinstance(self.max_retry_after, int | float) and math.isfinite(self.max_retry_after)
        ) or (self.max_retry_after < 0):
            raise SettingError(
                "max_retry_after",
                "{max_retry_after} {value}: must be 0 or more seconds",
                self.max_retry_after,
            )
        if not isinstance(self.max_response_bytes, int) or self.max_response_bytes < 1024:
            raise SettingError(
                "max_response_bytes",
                "{max_response_bytes} {value}: must be a whole number of bytes, 1024 or more",
                self.max_response_bytes,
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
                max_retry_after=self.max_retry_after,
                max_response_bytes=self.max_response_bytes,
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
