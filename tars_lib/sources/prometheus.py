"""Prometheus and API-compatible backends (Thanos, Mimir, VictoriaMetrics).

Range queries go through prometheus-api-client's ``custom_query_range``. No
request asks for more than 11,000 points per series (Prometheus refuses more):
longer ranges are split. A bounded pool of threads runs requests at once; each
has a timeout and bounded retries with backoff on 429 and 5xx. Any failure
ends the command with one ``SourceError`` line naming the URL and the query;
credentials come from the environment only and never appear in a message: the
backend's own error texts are passed through ``scrub`` first, since a proxy or
a misconfigured backend may echo the request's Authorization header or URL.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import warnings
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import numpy as np
import requests
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect
from urllib3.exceptions import InsecureRequestWarning
from urllib3.util.retry import Retry

from tars_lib.core.errors import InputError, SourceError
from tars_lib.core.models import SourceInfo
from tars_lib.sources.base import Progress, RangeQuery, SeriesSet, SourceWarning, apply_selector
from tars_lib.sources.spec import check_prometheus_url, hide_userinfo

__all__ = [
    "MAX_POINTS_PER_REQUEST",
    "Credentials",
    "PrometheusSource",
    "credentials_from_env",
    "redact_url",
    "scrub",
    "split_range",
]

MAX_POINTS_PER_REQUEST = 11_000
RETRY_ON_STATUS = (429, 500, 502, 503, 504)


@dataclass(frozen=True, repr=False)
class Credentials:
    """From TARS_PROMETHEUS_* variables; ``repr`` never shows them."""

    token: str | None = None
    user: str | None = None
    password: str | None = None
    ca_bundle: str | None = None
    insecure: bool = False

    def __repr__(self) -> str:
        return "Credentials(<from environment, not shown>)"

    @property
    def given(self) -> bool:
        return bool(self.token or self.user or self.password)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values ``scrub`` hides wherever they appear."""
        return tuple(s for s in (self.token, self.password) if s)


def credentials_from_env(env: Mapping[str, str] | None = None) -> Credentials:
    env = os.environ if env is None else env
    token = env.get("TARS_PROMETHEUS_TOKEN") or None
    token_file = env.get("TARS_PROMETHEUS_TOKEN_FILE")
    if token is None and token_file:
        try:
            with open(token_file, encoding="utf-8") as handle:
                token = handle.read().strip() or None
        except OSError as exc:
            raise InputError(
                f"{token_file}: cannot read TARS_PROMETHEUS_TOKEN_FILE: {exc.strerror}"
            ) from None
    user, password = env.get("TARS_PROMETHEUS_USER"), env.get("TARS_PROMETHEUS_PASSWORD")
    if bool(user) != bool(password):
        raise InputError("set both TARS_PROMETHEUS_USER and TARS_PROMETHEUS_PASSWORD, or neither")
    ca = env.get("TARS_PROMETHEUS_CA_BUNDLE") or None
    if ca and not os.path.isfile(ca):
        raise InputError(f"{ca}: TARS_PROMETHEUS_CA_BUNDLE is not a file")
    insecure = env.get("TARS_PROMETHEUS_INSECURE", "").lower() in ("1", "true", "yes")
    return Credentials(token, user or None, password or None, ca, insecure)


def redact_url(url: str) -> str:
    """The URL without any user:password@ part, for messages and artifacts."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return hide_userinfo(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2] if port is not None else parts.hostname or ""
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))


_SECRET_PATTERNS = (
    # Authorization: Bearer x / Proxy-Authorization: Basic x (header lines, JSON, repr'd dicts)
    re.compile(
        r"(?i)(\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)"
        r"(?:(?:bearer|basic|digest|token|negotiate)\s+)?[^\s\"',;})\]>]+"
    ),
    re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{4,}"),  # "Basic" alone is often prose
    # token=x, "password": "x", api_key: x, access_token=x in query strings and JSON
    re.compile(
        r"(?i)(\b[a-z_-]*(?:token|password|passwd|pwd|secret|api[_-]?key|apikey)[\"']?"
        r"\s*[:=]\s*[\"']?)[^\s\"'&,;})\]>]+"
    ),
    # scheme://user:password@host
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/\s?#@\"']+@"),
)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with anything that looks like a credential replaced by ``***``.

    For a backend's error text before it reaches a message, a warning or a log:
    the exact ``secrets`` (also percent-encoded, as in a URL), then header,
    ``key=value`` and URL-userinfo shapes, so a token we never knew is hidden too.
    """
    known = {s for secret in secrets if secret for s in (secret, quote(secret, safe=""))}
    for secret in sorted(known, key=len, reverse=True):
        text = text.replace(secret, "***")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "***", text)
    return text


def split_range(query: RangeQuery, max_points: int = MAX_POINTS_PER_REQUEST) -> list[RangeQuery]:
    """Consecutive sub-ranges of at most ``max_points`` evaluation points each."""
    first, last = int(query.start.timestamp()), int(query.end.timestamp())
    points = (last - first) // query.step + 1
    out = []
    for offset in range(0, points, max_points):
        start = first + offset * query.step
        end = min(last, start + (max_points - 1) * query.step)
        out.append(
            RangeQuery(
                key=query.key,
                promql=query.promql,
                start=datetime.fromtimestamp(start, UTC),
                end=datetime.fromtimestamp(end, UTC),
                step=query.step,
            )
        )
    return out


_STATUS = re.compile(r"HTTP Status Code (\d+) \((b?)(['\"])(.*)\3\)$", re.DOTALL)


def _describe_http_error(exc: PrometheusApiClientException) -> str:
    """``HTTP 503: <the backend's error text>``, unscrubbed: ``_fail`` scrubs every reason."""
    match = _STATUS.search(str(exc))
    if not match:
        return str(exc)[:200]
    status, body = match.group(1), match.group(4)
    try:
        detail = json.loads(body.encode().decode("unicode_escape")).get("error", "")
    except (ValueError, AttributeError, UnicodeDecodeError):
        detail = ""
    return f"HTTP {status}" + (f": {_one_line(str(detail))}" if detail else "")


def _one_line(text: str, limit: int = 200) -> str:
    return " ".join(text.split())[:limit]


class _StatusError(Exception):
    """A 200 answer saying ``"status":"error"`` (Prometheus uses 4xx/5xx; proxies may not)."""


_ERROR_ANSWER = re.compile(rb'^\s*\{.{0,100}?"status"\s*:\s*"error"', re.DOTALL)


def _refuse_error_answer(response: requests.Response, *args: object, **kwargs: object) -> None:
    """A session hook: turn a 200 status:error answer into ``_StatusError`` with its text."""
    if response.status_code != 200 or not _ERROR_ANSWER.match(response.content[:200]):
        return
    try:
        answer = response.json()
        detail = f"{answer.get('errorType', 'error')}: {answer.get('error', '')}"
    except (ValueError, AttributeError):
        detail = "error"
    raise _StatusError(_one_line(detail))


_tls_warned = threading.Lock()
_TLS_OFF: list[str] = []


def _warn_tls_off(shown_url: str) -> None:
    """One line per process, not urllib3's warning on every request (80 of them a day)."""
    with _tls_warned:
        if _TLS_OFF:
            return
        _TLS_OFF.append(shown_url)
    warnings.warn(
        SourceWarning(
            f"TLS certificate verification is off for {shown_url} (TARS_PROMETHEUS_INSECURE): "
            "anyone between here and the backend could change the numbers; set "
            "TARS_PROMETHEUS_CA_BUNDLE instead"
        ),
        stacklevel=3,
    )


class PrometheusSource:
    """A Prometheus-compatible HTTP API behind ``MetricSource``."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        concurrency: int = 4,
        credentials: Credentials | None = None,
        selector: str | None = None,
    ) -> None:
        check_prometheus_url(url)
        self.url = url.rstrip("/")
        self.selector = selector
        self.shown_url = redact_url(self.url)
        self.timeout = timeout
        self.retries = retries
        self.concurrency = max(1, concurrency)
        creds = credentials if credentials is not None else credentials_from_env()
        parts = urlsplit(self.url)
        if (parts.username or parts.password) and creds.given:
            raise InputError(
                f"{self.shown_url}: the URL carries a user and password and TARS_PROMETHEUS_* "
                "credentials are set too; give them only in the environment "
                "(TARS_PROMETHEUS_USER and TARS_PROMETHEUS_PASSWORD)"
            )
        url_secrets = [unquote(parts.password)] if parts.password else []
        self._secrets = (*creds.secrets, *url_secrets)
        session = requests.Session()
        session.verify = creds.ca_bundle or not creds.insecure
        session.hooks["response"].append(_refuse_error_answer)
        self._unverified_host = (
            parts.hostname if session.verify is False and parts.scheme == "https" else None
        )
        if self._unverified_host:
            _warn_tls_off(self.shown_url)
        headers = {"Authorization": f"Bearer {creds.token}"} if creds.token else None
        auth = (creds.user, creds.password) if creds.user and creds.password else None
        retry = Retry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            backoff_factor=backoff,
            status_forcelist=RETRY_ON_STATUS,
            allowed_methods=frozenset({"GET", "POST"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        self._client = PrometheusConnect(
            url=self.url,
            headers=headers,
            retry=retry,
            auth=auth,
            session=session,
            timeout=timeout,
        )

    @property
    def info(self) -> SourceInfo:
        return SourceInfo(kind="prometheus", location=self.shown_url)

    def _fail(self, query: RangeQuery, reason: str) -> SourceError:
        """The one line for a failed query; ``reason`` may quote the backend, so it is scrubbed."""
        return SourceError(
            f"{self.shown_url}: {scrub(reason, self._secrets)} (query {query.key}: "
            f"{query.promql}; gave up after {self.retries} retries)"
        )

    def _connection_reason(self, text: str) -> str:
        """What went wrong, from urllib3's words (retries wrap timeouts as connection errors)."""
        if "timed out" in text:
            return f"no answer within {self.timeout:g} s"
        if "Name or service not known" in text or "nodename nor servname" in text:
            return "host name not found"
        if "refused" in text:
            return "connection refused (is the backend running?)"
        return "connection dropped or reset by the backend"

    def _request(self, query: RangeQuery) -> list[dict[str, object]]:
        try:
            result = self._client.custom_query_range(
                query.promql, query.start, query.end, str(query.step)
            )
        except PrometheusApiClientException as exc:
            raise self._fail(query, _describe_http_error(exc)) from None
        except _StatusError as exc:
            raise self._fail(query, f"answer has no data.result, status error ({exc})") from None
        except requests.exceptions.JSONDecodeError:
            raise self._fail(query, "answer is not valid JSON (truncated body?)") from None
        except requests.exceptions.Timeout:
            raise self._fail(query, f"no answer within {self.timeout:g} s") from None
        except requests.exceptions.ConnectionError as exc:
            raise self._fail(query, self._connection_reason(str(exc))) from None
        except requests.exceptions.RequestException as exc:
            raise self._fail(query, type(exc).__name__) from None
        except (KeyError, TypeError):
            raise self._fail(query, "answer has no data.result (status error?)") from None
        if not isinstance(result, list):
            raise self._fail(query, "answer's data.result is not a list")
        return result

    def fetch(
        self, queries: Sequence[RangeQuery], progress: Progress | None = None
    ) -> dict[str, SeriesSet]:
        queries = [replace(q, promql=apply_selector(q.promql, self.selector)) for q in queries]
        parts = [(q, part) for q in queries for part in split_range(q)]
        with warnings.catch_warnings(), ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            if self._unverified_host:  # said once in __init__; not once per request
                warnings.filterwarnings(
                    "ignore",
                    message="Unverified HTTPS request is being made to host "
                    f"'{re.escape(self._unverified_host)}'",
                    category=InsecureRequestWarning,
                )
            futures = [(q, part, pool.submit(self._request, part)) for q, part in parts]
            results: dict[str, list[list[dict[str, object]]]] = {}
            try:
                for q, _part, future in futures:
                    results.setdefault(q.key, []).append(future.result())
                    if progress:
                        progress(1)
            except BaseException:
                for _, _, future in futures:
                    future.cancel()
                raise
        return {q.key: self._assemble(q, results.get(q.key, [])) for q in queries}

    def _assemble(self, query: RangeQuery, chunks: list[list[dict[str, object]]]) -> SeriesSet:
        grid = query.timestamps
        first = int(grid[0])
        rows: dict[tuple[tuple[str, str], ...], np.ndarray] = {}
        for chunk in chunks:
            for item in chunk:
                try:
                    metric = item["metric"]
                    values = item["values"]
                    assert isinstance(metric, dict) and isinstance(values, list)
                    key = tuple(sorted((str(k), str(v)) for k, v in metric.items()))
                    row = rows.setdefault(key, np.full(len(grid), np.nan))
                    stamps = np.array([float(v[0]) for v in values])
                    numbers = np.array([float(v[1]) for v in values])
                except (KeyError, TypeError, ValueError, AssertionError, IndexError):
                    raise self._fail(query, "answer has a malformed series") from None
                idx = np.rint((stamps - first) / query.step).astype(np.int64)
                ok = (idx >= 0) & (idx < len(grid))
                row[idx[ok]] = numbers[ok]
        for row in rows.values():
            row[~np.isfinite(row)] = np.nan
        labels = tuple(dict(key) for key in rows)
        values = np.array(list(rows.values())) if rows else np.empty((0, len(grid)))
        if values.size and not math.isfinite(float(np.nanmax(np.abs(values), initial=0.0))):
            raise self._fail(query, "answer has non-finite values")
        return SeriesSet(grid, labels, values)
