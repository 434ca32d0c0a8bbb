"""Prometheus and API-compatible backends (Thanos, Mimir, VictoriaMetrics).

Range queries use prometheus-api-client's conventions for the connection: its
``PrometheusConnect`` builds the session (base URL, headers, auth, TLS
verification) and we send the same ``GET /api/v1/query_range`` request its
``custom_query_range`` sends, on that session. We do not call
``custom_query_range`` itself because it cannot bound a request: it reads the
whole body before returning (``response.json()``), so neither a total deadline
nor a size cap can be applied, and its stdlib JSON decode was most of the
collection time. Here the body is streamed with a monotonic deadline checked
between reads (connect + every read of one attempt within ``timeout``) and a
size cap (``max_response_bytes``), then decoded with orjson straight into
numpy arrays in the worker thread, so only the arrays outlive a request.

No request asks for more than 11,000 points per series (Prometheus refuses
more): longer ranges are split, and identical requests within one ``fetch``
are sent once. A bounded pool of threads runs requests at once; each attempt
has the deadline, and retries (429, 5xx, timeouts, dropped connections) are
bounded in number, with backoff or the backend's ``Retry-After`` capped at
``max_retry_after`` seconds. TLS failures are named and never retried.
``partial_response=false`` goes with every query (Thanos then fails rather
than answering from some stores; Prometheus and VictoriaMetrics ignore it),
and a backend's ``warnings`` are carried on the ``SeriesSet`` and emitted once
each as a ``SourceWarning`` naming the KPI.

Any failure ends the command with one ``SourceError`` line naming the URL and
the query; credentials (and ``TARS_PROMETHEUS_HEADERS`` values) come from the
environment only and never appear in a message: the backend's own error texts
are passed through ``scrub`` first, since a proxy or a misconfigured backend
may echo the request's Authorization header or URL.
"""

from __future__ import annotations

import email.utils
import gc
import os
import re
import threading
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import numpy as np
import numpy.typing as npt
import orjson
import requests
from prometheus_api_client import PrometheusConnect
from urllib3.exceptions import DecodeError, InsecureRequestWarning, ProtocolError, ReadTimeoutError
from urllib3.util.retry import Retry

from tars_lib.core.errors import InputError, SourceError
from tars_lib.core.models import SourceInfo
from tars_lib.sources.base import Progress, RangeQuery, SeriesSet, SourceWarning, apply_selector
from tars_lib.sources.spec import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRY_AFTER,
    check_prometheus_url,
    hide_userinfo,
    parse_selectors,
)

__all__ = [
    "MAX_POINTS_PER_REQUEST",
    "Credentials",
    "PrometheusSource",
    "credentials_from_env",
    "parse_headers",
    "parse_matrix",
    "redact_url",
    "scrub",
    "split_range",
]

MAX_POINTS_PER_REQUEST = 11_000
RETRY_ON_STATUS = (429, 500, 502, 503, 504)
HEADERS_VARIABLE = "TARS_PROMETHEUS_HEADERS"


@dataclass(frozen=True, repr=False)
class Credentials:
    """From TARS_PROMETHEUS_* variables; ``repr`` never shows them."""

    token: str | None = None
    user: str | None = None
    password: str | None = None
    ca_bundle: str | None = None
    insecure: bool = False
    headers: tuple[tuple[str, str], ...] = ()
    """Extra headers sent with every request (``TARS_PROMETHEUS_HEADERS``)."""

    def __repr__(self) -> str:
        return "Credentials(<from environment, not shown>)"

    @property
    def given(self) -> bool:
        return bool(self.token or self.user or self.password)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values ``scrub`` hides wherever they appear (header values included)."""
        extra = tuple(value for _, value in self.headers if len(value) >= 3)
        return tuple(s for s in (self.token, self.password, *extra) if s)


_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def parse_headers(text: str) -> tuple[tuple[str, str], ...]:
    """``TARS_PROMETHEUS_HEADERS``: ``Name: value`` entries separated by newlines or ``;``.

    E.g. ``X-Scope-OrgID: tenant-a; X-Extra: 1``. Blank entries are skipped; a bad
    entry is one ``InputError`` naming the variable and the entry's number, never
    its value (header values are often tokens).
    """
    out: list[tuple[str, str]] = []
    for number, entry in enumerate(re.split(r"[;\n]", text), start=1):
        entry = entry.strip()
        if not entry:
            continue
        name, colon, value = entry.partition(":")
        name, value = name.strip(), value.strip()
        if not colon or not _HEADER_NAME.match(name) or not value:
            raise InputError(
                f"{HEADERS_VARIABLE}: entry {number} is not `Name: value` (e.g. "
                "`X-Scope-OrgID: tenant-a`; separate entries with ';' or newlines)"
            )
        if any(not c.isprintable() for c in value):
            raise InputError(
                f"{HEADERS_VARIABLE}: entry {number} ({name}) has a control character in its value"
            )
        if name.lower() in ("host", "content-length", "transfer-encoding", "connection"):
            raise InputError(f"{HEADERS_VARIABLE}: entry {number}: {name} cannot be set")
        out.append((name, value))
    return tuple(out)


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
    headers = parse_headers(env.get(HEADERS_VARIABLE, ""))
    if (token or user) and any(name.lower() == "authorization" for name, _ in headers):
        raise InputError(
            f"{HEADERS_VARIABLE} sets Authorization and TARS_PROMETHEUS_TOKEN or _USER is set "
            "too; give one of them"
        )
    return Credentials(token, user or None, password or None, ca, insecure, headers)


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


def _one_line(text: str, limit: int = 200) -> str:
    return " ".join(text.split())[:limit]


Labels = tuple[tuple[str, str], ...]
Row = tuple[Labels, npt.NDArray[np.float64], npt.NDArray[np.float64]]
"""One series of one answer: its labels, timestamps and values (NaN, +-Inf kept)."""


@dataclass(frozen=True)
class Answer:
    """One request's answer, parsed: series as arrays and the backend's warnings."""

    rows: list[Row]
    warnings: tuple[str, ...] = ()


class _BadAnswer(Exception):
    """The body is not a usable query_range answer; ``args[0]`` says why."""


class _Retryable(Exception):
    """A failure worth another attempt (429, 5xx, timeout, dropped connection)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class _Fatal(Exception):
    """A failure another attempt would repeat (4xx, TLS, oversized or malformed answer)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_gc_lock = threading.Lock()
_gc_state = {"pausers": 0, "was_enabled": False}


class _GcPaused:
    """Cyclic GC off while one or more threads decode (re-entrant across threads).

    orjson makes one small list per sample; each is tracked by the cyclic
    collector, which then walks all of them again and again while they are
    made: measured, that walking was two thirds of the decode time. The
    answer holds no cycles, and reference counting still frees everything;
    the collector is back on as soon as the last decoding thread is done.
    """

    def __enter__(self) -> None:
        with _gc_lock:
            if _gc_state["pausers"] == 0:
                _gc_state["was_enabled"] = gc.isenabled()
                gc.disable()
            _gc_state["pausers"] += 1

    def __exit__(self, *exc: object) -> None:
        with _gc_lock:
            _gc_state["pausers"] -= 1
            if _gc_state["pausers"] == 0 and _gc_state["was_enabled"]:
                gc.enable()


def parse_matrix(body: bytes) -> Answer:
    """A ``query_range`` answer decoded with orjson straight into numpy arrays.

    Timestamps and values become float64 (Prometheus sends values as strings:
    ``"1.5"``, ``"NaN"``, ``"+Inf"``, ``"-Inf"``; numpy parses them in one cast,
    not one ``float()`` per sample). ``_BadAnswer`` says what is wrong otherwise.
    """
    with _GcPaused():
        try:
            answer = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise _BadAnswer("answer is not valid JSON (truncated body?)") from None
        if not isinstance(answer, dict):
            raise _BadAnswer("answer is not a JSON object")
        if answer.get("status") == "error":
            detail = f"{answer.get('errorType', 'error')}: {answer.get('error', '')}"
            raise _BadAnswer(f"answer has no data.result, status error ({_one_line(detail)})")
        data = answer.get("data")
        result = data.get("result") if isinstance(data, dict) else None
        if not isinstance(result, list):
            raise _BadAnswer("answer has no data.result (status error?)")
        raw_warnings = answer.get("warnings")
        said = raw_warnings if isinstance(raw_warnings, list) else []
        rows: list[Row] = []
        for item in result:
            try:
                metric, values = item["metric"], item["values"]
                if not isinstance(metric, dict) or not isinstance(values, list):
                    raise TypeError
                labels = tuple(sorted((str(k), str(v)) for k, v in metric.items()))
                n = len(values)
                stamps = np.fromiter((pair[0] for pair in values), np.float64, n)
                numbers = np.array([pair[1] for pair in values], dtype=np.float64)
                if numbers.shape != (n,):
                    raise ValueError
            except (KeyError, TypeError, ValueError, IndexError):
                raise _BadAnswer("answer has a malformed series") from None
            rows.append((labels, stamps, numbers))
        del answer, result
    return Answer(rows, tuple(str(w) for w in said if w))


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


_VERIFY_FAILED = re.compile(r"certificate verify failed: (.+?)(?: \(_ssl\.c:\d+\)|['\"]?\)+$|$)")


def _tls_reason(text: str) -> tuple[bool, str]:
    """(is it a certificate verification failure, the reason in OpenSSL's words)."""
    match = _VERIFY_FAILED.search(text)
    if match:
        return True, match.group(1).strip()
    ssl_words = re.search(r"\[SSL[^\]]*\]\s*([^(\]\n'\"]+)", text)
    return False, (ssl_words.group(1).strip() if ssl_words else _one_line(text, 120))


_READ_CHUNK = 1 << 20
_ERROR_BODY_LIMIT = 64 * 1024


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
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        partial_response: bool = False,
    ) -> None:
        check_prometheus_url(url)
        self.url = url.rstrip("/")
        self.selector = selector
        self._selectors = parse_selectors(selector)  # matchers per RangeQuery.family
        self.shown_url = redact_url(self.url)
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.concurrency = max(1, concurrency)
        self.max_retry_after = max_retry_after
        self.max_response_bytes = max_response_bytes
        self.partial_response = partial_response
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
        self._unverified_host = (
            parts.hostname if session.verify is False and parts.scheme == "https" else None
        )
        if self._unverified_host:
            _warn_tls_off(self.shown_url)
        headers = dict(creds.headers)
        if creds.token:
            headers["Authorization"] = f"Bearer {creds.token}"
        auth = (creds.user, creds.password) if creds.user and creds.password else None
        # Retries are ours (``_request``): urllib3's cannot see a body read or cap Retry-After.
        self._client = PrometheusConnect(
            url=self.url,
            headers=headers or None,
            retry=Retry(total=0, read=False, redirect=5, raise_on_status=False),
            auth=auth,
            session=session,
            timeout=timeout,
        )

    @property
    def info(self) -> SourceInfo:
        return SourceInfo(kind="prometheus", location=self.shown_url)

    def _fail(self, query: RangeQuery, reason: str, *, retried: bool = True) -> SourceError:
        """The one line for a failed query; ``reason`` may quote the backend, so it is scrubbed."""
        tail = f"gave up after {self.retries} retries" if retried else "not retried"
        return SourceError(
            f"{self.shown_url}: {scrub(reason, self._secrets)} (query {query.key}: "
            f"{query.promql}; {tail})"
        )

    def _connection_reason(self, text: str) -> str:
        """What went wrong, from urllib3's words."""
        if "timed out" in text:
            return f"no answer within {self.timeout:g} s"
        if "Name or service not known" in text or "nodename nor servname" in text:
            return "host name not found"
        if "refused" in text:
            return "connection refused (is the backend running?)"
        return "connection dropped or reset by the backend"

    def _tls_failure(self, query: RangeQuery, text: str) -> SourceError:
        verify, reason = _tls_reason(scrub(text, self._secrets))
        if verify:
            return SourceError(
                f"certificate verify failed for {self.shown_url}: {reason}; set "
                "TARS_PROMETHEUS_CA_BUNDLE to the CA certificate that signed the backend's "
                f"(query {query.key}: {query.promql}; not retried)"
            )
        return SourceError(
            f"TLS handshake with {self.shown_url} failed: {reason} (query {query.key}: "
            f"{query.promql}; not retried)"
        )

    def _params(self, part: RangeQuery) -> dict[str, str]:
        """What ``custom_query_range`` sends, plus ``partial_response``."""
        params = {
            "query": part.promql,
            "start": str(round(part.start.timestamp())),
            "end": str(round(part.end.timestamp())),
            "step": str(part.step),
        }
        if not self.partial_response:
            params["partial_response"] = "false"
        return params

    def _read(
        self,
        response: requests.Response,
        deadline: float,
        limit: int,
        cancelled: threading.Event,
    ) -> bytes:
        """The body, read in pieces, each read bounded by what is left of the deadline.

        ``_Fatal`` past ``limit`` bytes (decoded: a gzip answer is counted as it unpacks),
        ``_Retryable`` past the deadline or when the connection drops mid-answer.
        """
        length = response.headers.get("Content-Length", "")
        encoded = response.headers.get("Content-Encoding", "identity") != "identity"
        if length.isdigit() and not encoded and int(length) > limit:
            raise _TooLarge(int(length), exact=True)
        raw = response.raw
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                remaining = deadline - time.monotonic()
                if cancelled.is_set():
                    raise _Retryable("cancelled: another request failed")
                if remaining <= 0:
                    raise _Retryable(f"no complete answer within {self.timeout:g} s")
                sock = getattr(getattr(raw, "_connection", None), "sock", None)
                if sock is not None:
                    sock.settimeout(remaining)
                chunk = raw.read1(_READ_CHUNK, decode_content=True)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise _TooLarge(size, exact=False)
                chunks.append(chunk)
        except (TimeoutError, ReadTimeoutError):
            raise _Retryable(f"no complete answer within {self.timeout:g} s") from None
        except (OSError, ProtocolError, DecodeError):
            raise _Retryable("connection dropped mid-answer (answer cut short)") from None
        if length.isdigit() and not encoded and size < int(length):
            raise _Retryable(f"answer cut short ({size:,} of {int(length):,} bytes)")
        return b"".join(chunks)

    def _attempt(self, part: RangeQuery, cancelled: threading.Event) -> Answer:
        deadline = time.monotonic() + self.timeout
        client = self._client
        response = client._session.request(
            method=client._method,
            url=f"{client.url}/api/v1/query_range",
            params=self._params(part),
            headers=client.headers,
            auth=client.auth,
            verify=client._session.verify,
            cert=client._session.cert,
            timeout=(self.timeout, self.timeout),
            stream=True,
        )
        with response:
            if response.status_code != 200:
                body = self._read(response, deadline, _ERROR_BODY_LIMIT, cancelled)
                reason = f"HTTP {response.status_code}"
                try:
                    detail = orjson.loads(body).get("error", "")
                except (orjson.JSONDecodeError, AttributeError):
                    detail = ""
                if detail:
                    reason += f": {_one_line(str(detail))}"
                if response.status_code in RETRY_ON_STATUS:
                    raise _Retryable(reason, _retry_after(response.headers.get("Retry-After")))
                raise _Fatal(reason)
            body = self._read(response, deadline, self.max_response_bytes, cancelled)
        try:
            return parse_matrix(body)
        except _BadAnswer as exc:
            raise _Fatal(str(exc)) from None

    def _wait(self, attempt: int, retry_after: float | None) -> float:
        wait = retry_after if retry_after is not None else self.backoff * 2**attempt
        return min(wait, self.max_retry_after)

    def _request(self, part: RangeQuery, cancelled: threading.Event) -> Answer:
        """One range request: at most ``retries + 1`` attempts, each within ``timeout``."""
        for attempt in range(self.retries + 1):
            if cancelled.is_set():
                raise SourceError("cancelled")
            try:
                return self._attempt(part, cancelled)
            except _TooLarge as exc:
                raise self._fail(
                    part, exc.describe(self.max_response_bytes), retried=False
                ) from None
            except _Fatal as exc:
                raise self._fail(part, exc.reason, retried=False) from None
            except requests.exceptions.SSLError as exc:
                raise self._tls_failure(part, str(exc)) from None
            except _Retryable as exc:
                reason, retry_after = exc.reason, exc.retry_after
            except requests.exceptions.Timeout:
                reason, retry_after = f"no answer within {self.timeout:g} s", None
            except requests.exceptions.ConnectionError as exc:
                reason, retry_after = self._connection_reason(str(exc)), None
            except requests.exceptions.RequestException as exc:
                raise self._fail(part, type(exc).__name__, retried=False) from None
            if attempt == self.retries or cancelled.wait(self._wait(attempt, retry_after)):
                break
        raise self._fail(part, reason)

    def fetch(
        self, queries: Sequence[RangeQuery], progress: Progress | None = None
    ) -> dict[str, SeriesSet]:
        queries = [
            replace(q, promql=apply_selector(q.promql, self._selectors.get(q.family)))
            for q in queries
        ]
        parts = [(q, part) for q in queries for part in split_range(q)]
        cancelled = threading.Event()
        with warnings.catch_warnings(), ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            if self._unverified_host:  # said once in __init__; not once per request
                warnings.filterwarnings(
                    "ignore",
                    message="Unverified HTTPS request is being made to host "
                    f"'{re.escape(self._unverified_host)}'",
                    category=InsecureRequestWarning,
                )
            # identical requests (the same bucket query for p50, p95 and p99) are sent once
            sent: dict[tuple[str, datetime, datetime, int], Future[Answer]] = {}
            futures: list[tuple[RangeQuery, Future[Answer]]] = []
            for q, part in parts:
                same = (part.promql, part.start, part.end, part.step)
                if same not in sent:
                    sent[same] = pool.submit(self._request, part, cancelled)
                futures.append((q, sent[same]))
            results: dict[str, list[Answer]] = {}
            try:
                for q, future in futures:
                    results.setdefault(q.key, []).append(future.result())
                    if progress:
                        progress(1)
            except BaseException:
                cancelled.set()
                for future in sent.values():
                    future.cancel()
                raise
            del sent, futures
        out = {q.key: self._assemble(q, results.pop(q.key, [])) for q in queries}
        said: set[tuple[str, str]] = set()
        for q in queries:
            kpi = q.key.split("/")[0]
            for text in out[q.key].warnings:
                if (kpi, text) not in said:
                    said.add((kpi, text))
                    warnings.warn(
                        SourceWarning(
                            f"{self.shown_url}: the backend warned about {kpi} "
                            f"(query {q.key}): {text}",
                            kpi,
                        ),
                        stacklevel=2,
                    )
        return out

    def _assemble(self, query: RangeQuery, answers: list[Answer]) -> SeriesSet:
        grid = query.timestamps
        first = int(grid[0])
        rows: dict[Labels, npt.NDArray[np.float64]] = {}
        said: list[str] = []
        for answer in answers:
            for labels, stamps, numbers in answer.rows:
                row = rows.get(labels)
                if row is None:
                    row = rows[labels] = np.full(len(grid), np.nan)
                idx = np.rint((stamps - first) / query.step).astype(np.int64)
                ok = (idx >= 0) & (idx < len(grid))
                row[idx[ok]] = numbers[ok]
            for text in answer.warnings:
                text = _one_line(scrub(text, self._secrets), 300)
                if text not in said:
                    said.append(text)
        labels_out = tuple(dict(key) for key in rows)
        values = np.vstack(list(rows.values())) if rows else np.empty((0, len(grid)))
        values[~np.isfinite(values)] = np.nan
        return SeriesSet(grid, labels_out, values, warnings=tuple(said))


class _TooLarge(Exception):
    def __init__(self, size: int, *, exact: bool) -> None:
        super().__init__(size)
        self.size = size
        self.exact = exact

    def describe(self, limit: int) -> str:
        size = f"{self.size:,} bytes" if self.exact else f"more than {limit:,} bytes"
        return (
            f"answer is {size}, over the {limit:,}-byte cap (--max-response-bytes); "
            "narrow the query or raise the cap"
        )
