"""PrometheusSource's pure parts: range splitting, redaction, credentials, selectors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tars_lib.core.errors import InputError
from tars_lib.sources.base import RangeQuery, apply_selector
from tars_lib.sources.prometheus import (
    MAX_POINTS_PER_REQUEST,
    PrometheusSource,
    credentials_from_env,
    redact_url,
    split_range,
)

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
