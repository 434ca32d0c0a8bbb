"""The bad-input corpus: every case is a clear one-line error (exit 2, file and
field named) or a documented degradation, never a traceback, never a partial file.

``ERRORS`` mutates a copy of the bundled week and runs `tars retro` in process;
``COMMAND_ERRORS`` gives other commands a bad flag, configuration or scenario.
An answer from a real Prometheus that cannot be used for one KPI costs that
KPI only (a warning naming it and why), never the day.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tars_lib.cli import main
from tars_lib.core.catalogue import DEFAULT_CONFIG

from .conftest import SCENARIO, TEST_DATA, run_tars

Mutation = Callable[[Path], None]


def edit_json(relative: str, change: Callable[[dict], None]) -> Mutation:  # type: ignore[type-arg]
    def run(ws: Path) -> None:
        path = ws / relative
        data = json.loads(path.read_text())
        change(data)
        path.write_text(json.dumps(data))

    return run


def write(relative: str, content: bytes) -> Mutation:
    def run(ws: Path) -> None:
        (ws / relative).write_bytes(content)

    return run


def day3(change: Callable[[dict], None]) -> Mutation:  # type: ignore[type-arg]
    return edit_json("stability/day_03_summary.json", change)


def setter(*keys: str, value: object) -> Callable[[dict], None]:  # type: ignore[type-arg]
    def run(data: dict) -> None:  # type: ignore[type-arg]
        for key in keys[:-1]:
            data = data[key]
        data[keys[-1]] = value

    return run


DAY3 = "day_03_summary.json"
GA = "ga_kpi_summary.json"
DEEP_JSON = b"[" * 100_000 + b"]" * 100_000
"""Nested 100,000 deep: json.loads raised RecursionError, an internal error (exit 1)."""
DEEP_YAML = DEEP_JSON  # a JSON document is a YAML one: PyYAML recursed just the same
ERRORS: list[tuple[str, Mutation, str, str]] = [
    ("day JSON nested 100,000 deep", write(f"stability/{DAY3}", DEEP_JSON), DAY3, "too deeply"),
    ("GA JSON nested 100,000 deep", write(f"ga_kpis/{GA}", DEEP_JSON), GA, "too deeply"),
    (
        "anomalies JSON nested 100,000 deep",
        write("anomalies/anomaly_events.json", DEEP_JSON),
        "anomaly_events.json",
        "too deeply",
    ),
    (
        "regression JSON nested 100,000 deep",
        write("regression/regression_summary.json", DEEP_JSON),
        "regression_summary.json",
        "too deeply",
    ),
    (
        "object nested 500 deep",
        write(f"stability/{DAY3}", b'{"a":' * 500 + b"1" + b"}" * 500),
        DAY3,
        "recursion limit exceeded",
    ),
    (
        "integer of 5,000 digits",
        write(f"stability/{DAY3}", b'{"day_number": ' + b"9" * 5000 + b"}"),
        DAY3,
        "invalid JSON: Exceeds the limit (4300 digits)",
    ),
    (
        "GA timestamp in year 9999",
        day3(setter("ga_timestamp", value="9999-12-31T00:00:00Z")),
        DAY3,
        "out of range",
    ),
    (
        "timestamp in year 1 east of UTC",
        day3(setter("generated_at", value="0001-01-01T00:00:00+05:00")),
        DAY3,
        "out of range",
    ),
    ("1e400 for a number", day3(setter("kpis", "availability", "value", value=1e400)), DAY3, ""),
    (
        "truncated JSON",
        write(f"stability/{DAY3}", b'{"day_number": 3, "kpis": {'),
        DAY3,
        "invalid JSON at line 1",
    ),
    ("empty file", write(f"stability/{DAY3}", b""), DAY3, "invalid JSON"),
    (
        "string for a number",
        day3(setter("kpis", "availability", "value", value="99.9")),
        DAY3,
        "kpis.availability.value: Input should be a valid number",
    ),
    (
        "bool for a number",
        day3(setter("kpis", "availability", "value", value=True)),
        DAY3,
        "kpis.availability.value",
    ),
    ("list for an object", day3(setter("kpis", value=[])), DAY3, "kpis: "),
    (
        "NaN",
        write(
            f"stability/{DAY3}",
            (TEST_DATA / "stability" / DAY3)
            .read_bytes()
            .replace(b'"value": 99.96', b'"value": NaN', 1),
        ),
        DAY3,
        "kpis.availability.value: Input should be a finite number",
    ),
    (
        "Infinity",
        write(
            f"stability/{DAY3}",
            (TEST_DATA / "stability" / DAY3)
            .read_bytes()
            .replace(b'"value": 99.96', b'"value": Infinity', 1),
        ),
        DAY3,
        "finite number",
    ),
    (
        "negative count",
        day3(
            setter("kpis", "availability", "counts", value={"numerator": -5.0, "denominator": 10.0})
        ),
        DAY3,
        "kpis.availability.counts.numerator: Input should be greater than or equal to 0",
    ),
    (
        "negative stats samples",
        day3(
            setter(
                "kpis",
                "availability",
                "stats",
                value={"mean": 1, "std": 0, "p5": 1, "p95": 1, "min": 1, "max": 1, "samples": -1},
            )
        ),
        DAY3,
        "kpis.availability.stats.samples",
    ),
    (
        "bad fraction over 1",
        day3(setter("slos", "availability", "bad_fraction", value=1.5)),
        DAY3,
        "slos.availability.bad_fraction",
    ),
    ("day number 0", day3(setter("day_number", value=0)), DAY3, "day_number"),
    ("day number 8 in a day file", day3(setter("day_number", value=8)), DAY3, "day_number"),
    (
        "day number disagrees with file name",
        day3(setter("day_number", value=4)),
        DAY3,
        "window: must be",
    ),
    (
        "day file out of range",
        lambda ws: shutil.copy(ws / "stability" / DAY3, ws / "stability" / "day_09_summary.json"),
        "day_09_summary.json",
        "outside the release week",
    ),
    (
        "duplicate day",
        lambda ws: shutil.copy(ws / "stability" / DAY3, ws / "stability" / "day_3_summary.json"),
        "day_3_summary.json",
        "day 3 is also in",
    ),
    (
        "unknown KPI",
        day3(lambda d: d["kpis"].update({"queue_depth": {"value": 3.0, "unit": "jobs"}})),
        DAY3,
        "kpis.queue_depth: unknown KPI",
    ),
    (
        "unknown field",
        day3(setter("surprise", value=1)),
        DAY3,
        "surprise: Extra inputs are not permitted",
    ),
    ("missing field", day3(lambda d: d.pop("window")), DAY3, "window: Field required"),
    (
        "naive timestamp",
        day3(setter("generated_at", value="2025-11-22T00:05:00")),
        DAY3,
        "generated_at: timestamp needs a time zone",
    ),
    ("not a timestamp", day3(setter("generated_at", value="yesterday")), DAY3, "generated_at"),
    (
        "different release",
        day3(setter("ga_timestamp", value="2025-11-11T00:00:00Z")),
        DAY3,
        "window: must be [2025-11-14",
    ),
    (
        "rollback without reasons",
        day3(setter("rollback_recommended", value=True)),
        DAY3,
        "rollback_reasons is empty",
    ),
    (
        "non-UTF-8 bytes",
        write(f"stability/{DAY3}", b'{"day_number": 3, "x": "\xff\xfe"}'),
        DAY3,
        "not UTF-8 text (byte 0xff",
    ),
    (
        "directory instead of a file",
        lambda ws: ((ws / "stability" / DAY3).unlink(), (ws / "stability" / DAY3).mkdir()),
        DAY3,
        "is a directory",
    ),
    (
        "100 MB file",
        lambda ws: (ws / "stability" / DAY3).write_bytes(b" " * (100 * 2**20)),
        DAY3,
        "over the 64 MiB limit",
    ),
    (
        "GA summary missing",
        lambda ws: (ws / "ga_kpis" / GA).unlink(),
        GA,
        "ga_kpi_summary.json not found",
    ),
    (
        "GA summary truncated",
        write(f"ga_kpis/{GA}", b'{"ga_timestamp": "2025-'),
        GA,
        "invalid JSON",
    ),
    (
        "GA window not starting at GA",
        edit_json(f"ga_kpis/{GA}", setter("window", "start", value="2025-11-17T00:00:00Z")),
        GA,
        "window.start must equal",
    ),
    (
        "no day summaries",
        lambda ws: [p.unlink() for p in (ws / "stability").iterdir()],
        "stability",
        "no daily summaries",
    ),
    (
        "anomaly severity unknown",
        edit_json(
            "anomalies/anomaly_events.json",
            lambda d: d["events"][0].update({"severity": "apocalyptic"}),
        ),
        "anomaly_events.json",
        "events[0].severity",
    ),
    (
        "anomaly alpha out of range",
        edit_json("anomalies/anomaly_events.json", setter("parameters", "ewma_alpha", value=1.5)),
        "anomaly_events.json",
        "parameters.ewma_alpha",
    ),
    (
        "regression verdict unknown",
        edit_json(
            "regression/regression_summary.json",
            setter("rollback_recommendation", "verdict", value="maybe"),
        ),
        "regression_summary.json",
        "rollback_recommendation.verdict",
    ),
    (
        "regression from another release",
        edit_json(
            "regression/regression_summary.json",
            setter("ga_timestamp", value="2025-11-11T00:00:00Z"),
        ),
        "regression_summary.json",
        "ga_timestamp",
    ),
]


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """A copy of the bundled week under a path with a space and non-ASCII letters."""
    target = tmp_path / "release wëek"
    shutil.copytree(TEST_DATA, target)
    return target


def retro(ws: Path) -> list[str]:
    return [
        "retro",
        "--ga-data",
        str(ws / "ga_kpis"),
        "--7day-data",
        str(ws / "stability"),
        "--regression",
        str(ws / "regression" / "regression_summary.json"),
        "--anomalies",
        str(ws / "anomalies" / "anomaly_events.json"),
        "--output",
        str(ws / "out" / "retro.md"),
    ]


@pytest.mark.parametrize(
    ("name", "mutate", "file", "words"), ERRORS, ids=[case[0] for case in ERRORS]
)
def test_bad_input_is_one_clear_line(
    ws: Path, capsys: pytest.CaptureFixture[str], name: str, mutate: Mutation, file: str, words: str
) -> None:
    (ws / "out").mkdir()
    (ws / "out" / "retro.md").write_text("earlier report\n")
    mutate(ws)
    assert main(retro(ws)) == 2, name
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("tars retro: error: ")
    assert file in lines[0] and words in lines[0], lines[0]
    assert (ws / "out" / "retro.md").read_text() == "earlier report\n"
    assert sorted(p.name for p in (ws / "out").iterdir()) == ["retro.md"]


def test_missing_days_are_a_documented_degradation(ws: Path) -> None:
    for day in (2, 5):
        (ws / "stability" / f"day_0{day}_summary.json").unlink()
    assert main(retro(ws)) == 0
    text = (ws / "out" / "retro.md").read_text()
    assert "no daily summary for Day(s) 2, 5" in text
    data = json.loads((ws / "out" / "retro.json").read_text())
    assert data["slo_burn_downs"][0]["compliance_by_day"][2]["value"] is None


def test_missing_kpi_value_is_a_documented_degradation(ws: Path) -> None:
    day3(setter("kpis", "p99_latency_ms", "value", value=None))(ws)
    assert main(retro(ws)) == 0
    data = json.loads((ws / "out" / "retro.json").read_text())
    assert len(data["successes"]) == 8  # the week's other days still decide


def test_corpus_is_large_enough() -> None:
    assert len(ERRORS) >= 30
    assert len(COMMAND_ERRORS) >= 15


# --------------------------------------------------------------------------- other commands

Argv = Callable[[Path], list[str]]


def scenario_file(change: Callable[[dict], None]) -> Callable[[Path], Path]:  # type: ignore[type-arg]
    """A copy of the bundled scenario with one change, written under the test's directory."""

    def make(tmp: Path) -> Path:
        data = yaml.safe_load(SCENARIO.read_text())
        change(data)
        path = tmp / "scenario.yaml"
        path.write_text(yaml.safe_dump(data))
        return path

    return make


def raw_file(name: str, content: bytes) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        (tmp / name).write_bytes(content)
        return tmp / name

    return make


def ga_kpi_on(scenario: Callable[[Path], Path], *extra: str) -> Argv:
    return lambda tmp: [
        "ga-kpi",
        "--scenario",
        str(scenario(tmp)),
        "--output-dir",
        str(tmp),
        *extra,
    ]


def stability_with(flag: str, make: Callable[[Path], Path]) -> Argv:
    return lambda tmp: [
        "stability",
        "--scenario",
        str(SCENARIO),
        flag,
        str(make(tmp)),
        "--day-number",
        "1",
        "--ga-baseline",
        str(TEST_DATA / "ga_kpis" / GA),
        "--output-dir",
        str(tmp / "x"),
    ]


def ga_kpi_flags(*flags: str) -> Argv:
    return lambda tmp: ["ga-kpi", *flags, "--output-dir", str(tmp)]


BUNDLED = str(SCENARIO)
COMMAND_ERRORS: list[tuple[str, Argv, str, str]] = [
    (
        "catalogue YAML nested 100,000 deep",
        stability_with("--config", raw_file("deep.yaml", DEEP_YAML)),
        "deep.yaml",
        "not valid YAML: nested too deeply",
    ),
    (
        "changes YAML nested 100,000 deep",
        stability_with("--changes", raw_file("changes.yaml", DEEP_YAML)),
        "changes.yaml",
        "not valid YAML: nested too deeply",
    ),
    (
        "changes YAML with 2025-13-45",
        stability_with("--changes", raw_file("changes.yaml", b"changes:\n- at: 2025-13-45\n")),
        "changes.yaml",
        "not valid YAML: month must be in 1..12",
    ),
    (
        "changes at year 1 east of UTC",
        stability_with(
            "--changes",
            raw_file(
                "changes.yaml",
                b"changes:\n- {at: '0001-01-01T00:00:00+05:00', kind: deploy, description: x}\n",
            ),
        ),
        "changes.yaml",
        "out of range",
    ),
    (
        "catalogue integer of 5,000 digits",
        stability_with("--config", raw_file("kpis.yaml", b"kpis: " + b"7" * 5000 + b"\n")),
        "kpis.yaml",
        "not valid YAML: Exceeds the limit",
    ),
    (
        "scenario YAML nested 100,000 deep",
        ga_kpi_on(raw_file("scenario.yaml", DEEP_YAML)),
        "scenario.yaml",
        "not valid YAML: nested too deeply",
    ),
    (
        "scenario seed -1",
        ga_kpi_on(scenario_file(lambda d: d.update(seed=-1))),
        "scenario.yaml",
        "seed: Input should be greater than or equal to 0",
    ),
    (
        "scenario replicas 10000",
        ga_kpi_on(scenario_file(lambda d: d.update(replicas=10_000))),
        "scenario.yaml",
        "replicas: Input should be less than or equal to 1000",
    ),
    (
        "scenario over the sample budget",
        ga_kpi_on(scenario_file(lambda d: d.update(replicas=1000))),
        "scenario.yaml",
        "over the 50,000,000 a simulation may hold",
    ),
    (
        "scenario GA in year 9999",
        ga_kpi_on(scenario_file(lambda d: d.update(ga_timestamp="9999-12-30T00:00:00Z"))),
        "scenario.yaml",
        "ga_timestamp: must be in the years 1970..2199",
    ),
    (
        "scenario error burst set above 1",
        ga_kpi_on(scenario_file(lambda d: d["incidents"][1].update(set=2.0))),
        "scenario.yaml",
        "incidents[1]: set 2 for error_fraction: a fraction is at most 1",
    ),
    (
        "scenario step of -100%",
        ga_kpi_on(scenario_file(lambda d: d["incidents"][4].update(step_percent=-100))),
        "scenario.yaml",
        "incidents[4].step_percent: Input should be greater than -100",
    ),
    (
        "scenario traffic noise 1e300",
        ga_kpi_on(scenario_file(lambda d: d["noise"].update(traffic=1e300))),
        "scenario.yaml",
        "noise.traffic: Input should be less than or equal to 2",
    ),
    (
        "GA timestamp 9999-12-31",
        ga_kpi_on(lambda _: SCENARIO, "--ga-timestamp", "9999-12-31T00:00:00Z"),
        "--ga-timestamp '9999-12-31T00:00:00Z'",
        "must be in the years 1970..2199",
    ),
    (
        "GA timestamp 0001-01-03",
        ga_kpi_flags(
            "--prometheus-url", "http://127.0.0.1:9", "--ga-timestamp", "0001-01-03T00:00:00Z"
        ),
        "--ga-timestamp '0001-01-03T00:00:00Z'",
        "must be in the years 1970..2199",
    ),
    (
        "Prometheus URL http://[::1",
        ga_kpi_flags("--prometheus-url", "http://[::1", "--ga-timestamp", "2025-11-18T00:00:00Z"),
        "--prometheus-url 'http://[::1'",
        "not a valid URL (Invalid IPv6 URL)",
    ),
    (
        "Prometheus URL with a port out of range",
        ga_kpi_flags("--prometheus-url", "http://u:pw@h:99999", "--ga-timestamp", BUNDLED),
        "--prometheus-url 'http://***@h:99999'",
        "Port out of range",
    ),
]


@pytest.mark.parametrize(
    ("name", "argv", "named", "words"), COMMAND_ERRORS, ids=[case[0] for case in COMMAND_ERRORS]
)
def test_bad_command_input_is_one_clear_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    argv: Argv,
    named: str,
    words: str,
) -> None:
    args = argv(tmp_path)
    assert main(args) == 2, name
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"tars {args[0]}: error: "), lines[0]
    assert named in lines[0] and words in lines[0], lines[0]
    assert not list(tmp_path.rglob("*.json")), "nothing is written"


# --------------------------------------------------------------------------- backend answers

GA_DAY = "2025-11-18T00:00:00Z"
BUCKETS = "sum by (le) (increase(http_request_duration_seconds_bucket{%s$sel}[5m]))"
ODD_ANSWERS = {
    # no +Inf bucket: Prometheus' own histogram_quantile gives NaN
    ("p99_latency_ms", "buckets"): BUCKETS % 'le!="+Inf",',
    # an extra series le="abc": Prometheus skips it; so do we, with a warning
    ("p95_latency_ms", "buckets"): (
        BUCKETS
        % ""
        + ' or label_replace(sum(increase(http_request_duration_seconds_bucket{le="+Inf",$sel}'
        '[5m])), "le", "abc", "", "")'
    ),
    # one series per CPU where one was expected
    ("avg_cpu_percent", "value"): '100 * (1 - rate(node_cpu_seconds_total{mode="idle",$sel}[5m]))',
    # a gauge of 1e308
    ("db_connections", "value"): "sum(pg_stat_activity_count{$sel}) * 0 + 1e308",
}


def test_an_unusable_answer_costs_only_its_kpi(prometheus_url: str, tmp_path: Path) -> None:
    """The day is collected, the odd KPIs are missing with a reason, the rest are unchanged."""
    catalogue = yaml.safe_load(DEFAULT_CONFIG.read_text())
    for (kpi, component), promql in ODD_ANSWERS.items():
        catalogue["kpis"][kpi]["queries"][component] = promql
    shutil.copy(DEFAULT_CONFIG.parent / catalogue["pricing_file"], tmp_path)
    (tmp_path / "odd.yaml").write_text(yaml.safe_dump(catalogue))
    runs = {}
    for name, config in (("clean", DEFAULT_CONFIG), ("odd", tmp_path / "odd.yaml")):
        result = run_tars(
            "ga-kpi", "--prometheus-url", prometheus_url, "--ga-timestamp", GA_DAY,
            "--config", str(config), "--output-dir", name, "--quiet",
            cwd=tmp_path,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        runs[name] = (json.loads((tmp_path / name / GA).read_text()), result.stderr)
    (clean, clean_err), (odd, odd_err) = runs["clean"], runs["odd"]
    assert clean_err == ""
    lines = odd_err.strip().splitlines()
    assert all(line.startswith("tars: warning: ") for line in lines), lines
    missing = {"p99_latency_ms", "avg_cpu_percent", "db_connections"}
    for kpi in missing:
        assert odd["kpis"][kpi]["value"] is None and clean["kpis"][kpi]["value"] is not None
        said = [line for line in lines if line.startswith(f"tars: warning: {kpi}: no value")]
        assert len(said) == 1, lines  # once, though the GA day and the week before both had it
        assert prometheus_url in said[0] and "recorded as missing" in said[0]
    assert 'no le="+Inf" bucket' in "".join(lines)
    assert "returned 4 series where one was expected" in "".join(lines)
    assert "returned 1e+308" in "".join(lines)
    assert any(
        "p95_latency_ms: ignored 1 bucket series" in line and "'abc'" in line for line in lines
    )
    assert len(lines) == 4, lines  # and no "no data for" line repeating the three
    for kpi, entry in clean["kpis"].items():
        if kpi not in missing:
            assert odd["kpis"][kpi] == entry, kpi  # values, stats and series: all unchanged
    assert odd["slos"]["p99_latency"]["bad_fraction"] is None
    assert odd["slos"]["availability"] == clean["slos"]["availability"]
