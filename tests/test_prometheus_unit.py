"""PrometheusSource's own parts: range splitting, redaction and scrubbing, credentials,
URLs, selectors and TLS, against a loopback server where a request must be seen."""

from __future__ import annotations

import base64
import json
import re
import shutil
import ssl
import subprocess
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tars_lib.collect.collector import window_queries
from tars_lib.core.catalogue import load_catalogue
from tars_lib.core.errors import InputError, SettingError, SourceError
from tars_lib.sources import prometheus
from tars_lib.sources.base import RangeQuery, apply_selector
from tars_lib.sources.prometheus import (
    MAX_POINTS_PER_REQUEST,
    PrometheusSource,
    credentials_from_env,
    redact_url,
    scrub,
    split_range,
)
from tars_lib.sources.spec import SourceSpec

from .conftest import run_tars

START = datetime(2025, 11, 1, tzinfo=UTC)


@given(points=st.integers(min_value=1, max_value=60_000), step=st.sampled_from([15, 60, 300]))
def test_split_covers_the_range_without_exceeding_the_limit(points: int, step: int) -> None:
    query = RangeQuery("k/c", "up", START, START + timedelta(seconds=(points - 1) * step), step)
    parts = split_range(query)
    sizes = [len(p.timestamps) for p in parts]
    assert max(sizes) <= MAX_POINTS_PER_REQUEST
    assert sum(sizes) == points
    joined = [int(t) for p in parts for t in p.timestamps]
    assert joined == [int(t) for t in query.timestamps]


def test_redact_url():
    assert redact_url("https://alice:s3cret@prom.example:9090/api") == (
        "https://***@prom.example:9090/api"
    )
    assert redact_url("http://127.0.0.1:9090") == "http://127.0.0.1:9090"


def test_credentials_come_from_the_environment(tmp_path):  # type: ignore[no-untyped-def]
    creds = credentials_from_env({"TARS_PROMETHEUS_TOKEN": "canary-token-123"})
    assert creds.token == "canary-token-123"
    assert "canary" not in repr(creds)
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    assert credentials_from_env({"TARS_PROMETHEUS_TOKEN_FILE": str(token_file)}).token == (
        "from-file"
    )
    with pytest.raises(InputError, match="both TARS_PROMETHEUS_USER"):
        credentials_from_env({"TARS_PROMETHEUS_USER": "alice"})
    with pytest.raises(InputError, match="CA_BUNDLE is not a file"):
        credentials_from_env({"TARS_PROMETHEUS_CA_BUNDLE": str(tmp_path / "nope.pem")})


def test_source_info_never_carries_credentials():
    source = PrometheusSource(
        "http://alice:s3cret@127.0.0.1:9", credentials=credentials_from_env({})
    )
    assert "s3cret" not in source.info.location
    with pytest.raises(InputError, match="must start with http"):
        PrometheusSource("127.0.0.1:9090", credentials=credentials_from_env({}))


def test_apply_selector():
    q = 'sum(increase(http_requests_total{code=~"5..",$sel}[5m]))'
    assert (
        apply_selector(q, 'job="api"')
        == 'sum(increase(http_requests_total{code=~"5..",job="api"}[5m]))'
    )
    assert apply_selector(q, None) == 'sum(increase(http_requests_total{code=~"5.."}[5m]))'
    assert apply_selector("sum(up{$sel})", "{job='x'}") == "sum(up{job='x'})"
    assert apply_selector("sum(up{$sel})", "") == "sum(up{})"


# --------------------------------------------------------------------------- scrubbing


@pytest.mark.parametrize(
    ("text", "hidden", "kept"),
    [
        ("denied: Authorization: Bearer abc.def-123", "abc.def-123", "Authorization: ***"),
        ('{"headers": {"Authorization": "Basic YWRtaW46cHc="}}', "YWRtaW46cHc=", "Authorization"),
        ("bad bearer tok3n-value here", "tok3n-value", "here"),
        ("GET /q?token=abc123&step=300", "abc123", "step=300"),
        ('{"password": "hunter2", "user": "bob"}', "hunter2", '"user": "bob"'),
        ("X-Api-Key: k-999 rejected", "k-999", "rejected"),
        ("api_key=zz9 access_token=yy8", "zz9", "access_token=***"),
        ("upstream http://admin:PASSWORD@10.0.0.1:9090/api failed", "PASSWORD", "10.0.0.1:9090"),
        ("client_secret: s3cr3t", "s3cr3t", "client_secret: ***"),
        ("denied (token=abc123) [api_key=k9]", "abc123", "(token=***) [api_key=***]"),
    ],
)
def test_scrub_hides_credential_shapes(text: str, hidden: str, kept: str) -> None:
    out = scrub(text)
    assert hidden not in out and kept in out, out
    assert "***" in out


def test_scrub_leaves_ordinary_errors_alone() -> None:
    for text in (
        'parse error at char 5: unexpected "}" in query sum(rate(x[5m]))',
        "Basic authentication required",
        "query processing would load too many samples into memory",
    ):
        assert scrub(text, ["canary"]) == text


secret_text = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF, blacklist_characters="*"),
    min_size=1,
    max_size=40,
)


@given(secret=secret_text, before=st.text(max_size=40), after=st.text(max_size=40))
def test_scrub_hides_known_secrets_anywhere(secret: str, before: str, after: str) -> None:
    from urllib.parse import quote

    for shown in (secret, quote(secret, safe="")):
        out = scrub(before + shown + after + shown, [secret])
        assert secret not in out and quote(secret, safe="") not in out


# --------------------------------------------------------------------------- a loopback backend

Answer = Callable[[BaseHTTPRequestHandler], tuple[int, bytes]]
EMPTY = b'{"status":"success","data":{"resultType":"matrix","result":[]}}'


@contextmanager
def backend(answer: Answer, tls: Path | None = None) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """An HTTP(S) server on loopback answering every request with ``answer``; yields its URL
    and the headers of each request it saw."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            seen.append(dict(self.headers))
            status, body = answer(self)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls / "cert.pem", tls / "key.pem")
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def one_query() -> list[RangeQuery]:
    return [RangeQuery("error_rate/numerator", "sum(up)", START, START + timedelta(hours=1), 300)]


CANARY = "canary-5e1f-token"


def test_backend_error_text_echoing_a_token_is_scrubbed() -> None:
    body = json.dumps(
        {
            "status": "error",
            "errorType": "bad_data",
            "error": f"auth failed for Authorization: Bearer {CANARY} (token={CANARY})",
        }
    ).encode()
    creds = credentials_from_env({"TARS_PROMETHEUS_TOKEN": CANARY})
    with backend(lambda _: (400, body)) as (url, seen):
        source = PrometheusSource(url, credentials=creds, retries=0)
        with pytest.raises(SourceError) as failure:
            source.fetch(one_query())
    message = str(failure.value)
    assert seen[0]["Authorization"] == f"Bearer {CANARY}"  # the token was sent ...
    assert CANARY not in message  # ... and never shown
    assert message.startswith(f"{url}: HTTP 400: auth failed for Authorization: *** (token=***)")
    assert "query error_rate/numerator: sum(up)" in message


def test_status_error_with_200_names_the_backends_reason_scrubbed() -> None:
    password = "pw-2b7c-secret"
    body = json.dumps(
        {"status": "error", "errorType": "execution", "error": f"login {password} rejected"}
    ).encode()
    env = {"TARS_PROMETHEUS_USER": "alice", "TARS_PROMETHEUS_PASSWORD": password}
    with backend(lambda _: (200, body)) as (url, _seen):
        source = PrometheusSource(url, credentials=credentials_from_env(env), retries=0)
        with pytest.raises(SourceError) as failure:
            source.fetch(one_query())
    message = str(failure.value)
    assert password not in message
    assert "status error (execution: login *** rejected)" in message


def test_environment_credentials_are_used_when_the_url_has_none() -> None:
    env = {"TARS_PROMETHEUS_USER": "alice", "TARS_PROMETHEUS_PASSWORD": "pw:1"}
    with backend(lambda _: (200, EMPTY)) as (url, seen):
        PrometheusSource(url, credentials=credentials_from_env(env)).fetch(one_query())
    expected = "Basic " + base64.b64encode(b"alice:pw:1").decode()
    assert seen and all(h["Authorization"] == expected for h in seen)


def test_url_credentials_still_work_alone_but_not_with_environment_ones() -> None:
    with backend(lambda _: (200, EMPTY)) as (url, seen):
        with_userinfo = url.replace("http://", "http://admin:s3cret@")
        PrometheusSource(with_userinfo, credentials=credentials_from_env({})).fetch(one_query())
        assert seen[0]["Authorization"] == "Basic " + base64.b64encode(b"admin:s3cret").decode()
        for env in (
            {"TARS_PROMETHEUS_TOKEN": "t"},
            {"TARS_PROMETHEUS_USER": "u", "TARS_PROMETHEUS_PASSWORD": "p"},
        ):
            with pytest.raises(InputError, match="only in the environment") as refused:
                PrometheusSource(with_userinfo, credentials=credentials_from_env(env))
            assert "s3cret" not in str(refused.value)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://[::1", "not a valid URL (Invalid IPv6 URL)"),
        ("http://host:99999", "Port out of range"),
        ("http://:9090", "has no host name"),
        ("http://prom example:9090", "space or a control character"),
        ("ftp://prom:9090", "must start with http"),
    ],
)
def test_unusable_urls_are_a_setting_error(url: str, words: str) -> None:
    with pytest.raises(SettingError, match=re.escape(words)) as refused:
        PrometheusSource(url, credentials=credentials_from_env({}))
    assert refused.value.setting == "prometheus_url"
    with pytest.raises(SettingError, match=re.escape(words)):
        SourceSpec(prometheus_url=url)


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not found: cannot make a certificate for the TLS test")
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
         "/CN=127.0.0.1", "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return folder


def test_insecure_tls_is_said_once_not_per_request(
    self_signed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prometheus, "_TLS_OFF", [])  # as in a fresh process
    creds = credentials_from_env({"TARS_PROMETHEUS_INSECURE": "1"})
    queries = [  # five distinct requests: identical ones are sent once
        RangeQuery(f"k{i}/c", f"sum(up{{n='{i}'}})", START, START + timedelta(hours=1), 300)
        for i in range(5)
    ]
    with (
        backend(lambda _: (200, EMPTY), tls=self_signed) as (url, seen),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        for _ in range(2):
            PrometheusSource(url, credentials=creds).fetch(queries)
    assert len(seen) == 10  # every request went out unverified ...
    kinds = [type(w.message).__name__ for w in caught]
    assert kinds == ["SourceWarning"], kinds  # ... and one line said so
    assert "TLS certificate verification is off for " + url in str(caught[0].message)


def test_insecure_tls_cli_prints_one_line(self_signed: Path, tmp_path: Path) -> None:
    with backend(lambda _: (200, EMPTY), tls=self_signed) as (url, seen):
        result = run_tars(
            "ga-kpi", "--prometheus-url", url, "--ga-timestamp", "2025-11-18T00:00:00Z",
            cwd=tmp_path, env={"TARS_PROMETHEUS_INSECURE": "1"},
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    per_window = len(  # identical queries (the latency buckets) are sent once
        {q.promql for q in window_queries(load_catalogue(), START, START + timedelta(days=1))}
    )
    assert len(seen) == 2 * per_window  # the GA day and the week before, each unverified
    assert [line for line in lines if "TLS" in line] == [
        f"tars: warning: TLS certificate verification is off for {url} "
        "(TARS_PROMETHEUS_INSECURE): anyone between here and the backend could change the "
        "numbers; set TARS_PROMETHEUS_CA_BUNDLE instead"
    ]
    assert "InsecureRequestWarning" not in result.stderr
    assert not [line for line in lines if "Unverified HTTPS" in line]
