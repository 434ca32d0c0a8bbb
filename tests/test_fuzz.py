"""Every artifact and configuration reader, fed random bytes, random JSON and YAML
shapes and mutations of real files: each either reads the file or refuses it with
one ``InputError`` line (exit 2), never another exception or a traceback.

Deep nesting, wrong types, huge and non-finite numbers and out-of-range
timestamps are drawn on purpose; they are what made exit 1 before.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from tars_lib.core import models
from tars_lib.core.artifacts import read_artifact
from tars_lib.core.catalogue import DEFAULT_CONFIG, load_catalogue
from tars_lib.core.changes import load_changes
from tars_lib.core.errors import TarsError
from tars_lib.sources.scenario import load_scenario

from .conftest import ROOT, SCENARIO, TEST_DATA

Reader = Callable[[Path], object]

ARTIFACT_MODELS: list[type[BaseModel]] = [
    models.GaKpiSummary,
    models.DaySummary,
    models.AnomalyEvents,
    models.HealthReport,
    models.RegressionSummary,
    models.Retrospective,
    *([models.DayAnomalies] if hasattr(models, "DayAnomalies") else []),
]


def _artifact_reader(model: type[BaseModel]) -> Reader:
    return lambda path: read_artifact(path, model)


JSON_READERS: dict[str, Reader] = {m.__name__: _artifact_reader(m) for m in ARTIFACT_MODELS}
YAML_READERS: dict[str, Reader] = {
    "catalogue": load_catalogue,
    "changes": load_changes,
    "scenario": load_scenario,
}
READERS = {**JSON_READERS, **YAML_READERS}

SEEDS: dict[str, Path] = {
    "GaKpiSummary": TEST_DATA / "ga_kpis" / "ga_kpi_summary.json",
    "DaySummary": TEST_DATA / "stability" / "day_03_summary.json",
    "AnomalyEvents": TEST_DATA / "anomalies" / "anomaly_events.json",
    "RegressionSummary": TEST_DATA / "regression" / "regression_summary.json",
    "Retrospective": ROOT / "tests" / "golden" / "GA_7DAY_RETROSPECTIVE.json",
    "catalogue": DEFAULT_CONFIG,
    "changes": ROOT / "data" / "scenarios" / "ga_week_changes.yaml",
    "scenario": SCENARIO,
}
"""Real files to mutate: a mutation deep inside a valid file reaches the models' checks."""

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def outcome(reader: str, content: bytes) -> None:
    """Read ``content`` as ``reader`` does: a value, or a one-line exit-2 ``TarsError``."""
    suffix = ".json" if reader in JSON_READERS else ".yaml"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"input{suffix}"
        if reader == "catalogue":  # its pricing file is read too, from beside it
            (Path(tmp) / "pricing.yaml").write_bytes(
                (DEFAULT_CONFIG.parent / "pricing.yaml").read_bytes()
            )
        path.write_bytes(content)
        try:
            READERS[reader](path)
        except TarsError as exc:
            assert exc.exit_code == 2, (type(exc).__name__, str(exc))
            message = str(exc)
            assert message and "\n" not in message, message
            assert str(path) in message or path.name in message, message


def encode(reader: str, value: object) -> bytes:
    if reader in JSON_READERS:
        return json.dumps(value, allow_nan=True).encode()
    return yaml.safe_dump(value, allow_unicode=True).encode()


# --------------------------------------------------------------------------- values

ODD_TEXT = st.sampled_from(
    [
        "9999-12-31T00:00:00Z",
        "0001-01-01T00:00:00+05:00",
        "0001-01-03T00:00:00Z",
        "2025-11-18T00:00:00",
        "2025-13-45T00:00:00Z",
        "NaN",
        "+Inf",
        "1e308",
        "",
        "\x00",
        "abc",
    ]
)
ODD_NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 5e-324, 0.0, -0.0, 10.0**300]),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([10**400, -(10**400), 2**63, 2**64, -1]),
)
SCALARS = st.one_of(st.none(), st.booleans(), ODD_NUMBERS, st.text(max_size=20), ODD_TEXT)
SHAPES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=8), ODD_TEXT), children, max_size=4),
    ),
    max_leaves=20,
)


ODD_MOMENTS = st.sampled_from(
    [
        "9999-12-31T00:00:00Z",
        "9999-12-31T23:59:59-05:00",
        "0001-01-01T00:00:00+05:00",
        "0001-01-03T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "2025-11-18T00:00:00",
        "2025-02-30T00:00:00Z",
    ]
)


def odd_like(value: object) -> st.SearchStrategy[Any]:
    """A value of the same kind that a check could choke on: a timestamp for a timestamp,
    a huge, negative or non-finite number for a number."""
    if isinstance(value, bool):
        return SCALARS
    if isinstance(value, int | float):
        return ODD_NUMBERS
    if isinstance(value, str) and value[:4].isdigit() and "T" in value:
        return ODD_MOMENTS
    return SHAPES


def nested(depth: int, mapping: bool) -> bytes:
    if mapping:
        return b'{"a":' * depth + b"1" + b"}" * depth
    return b"[" * depth + b"]" * depth


# --------------------------------------------------------------------------- tests


@FUZZ
@given(reader=st.sampled_from(sorted(READERS)), content=st.binary(max_size=400))
def test_random_bytes(reader: str, content: bytes) -> None:
    outcome(reader, content)


@FUZZ
@given(reader=st.sampled_from(sorted(READERS)), value=SHAPES)
def test_random_shapes(reader: str, value: object) -> None:
    outcome(reader, encode(reader, value))


@settings(max_examples=10, deadline=None)
@given(
    reader=st.sampled_from(sorted(READERS)),
    depth=st.sampled_from([2, 60, 300, 1200]),
    mapping=st.booleans(),
)
def test_deep_nesting(reader: str, depth: int, mapping: bool) -> None:
    outcome(reader, nested(depth, mapping))


@pytest.mark.parametrize("reader", sorted(READERS))
def test_nested_100000_deep(reader: str) -> None:
    """Once per reader at the depth the red-team used (RecursionError, exit 1, before)."""
    outcome(reader, nested(100_000, mapping=False))


def _seed(reader: str) -> Any:
    text = SEEDS[reader].read_text(encoding="utf-8")
    return json.loads(text) if reader in JSON_READERS else yaml.safe_load(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reader=st.sampled_from(sorted(SEEDS)), data=st.data())
def test_mutated_real_files(reader: str, data: st.DataObject) -> None:
    """One value somewhere in a real file replaced, removed or joined by an unknown key."""
    document = _seed(reader)
    node: Any = document
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            break
        key = data.draw(st.sampled_from(keys))
        child = node[key]
        if isinstance(child, dict | list) and child and data.draw(st.booleans()):
            node = child
            continue
        action = data.draw(st.sampled_from(["odd", "odd", "odd", "replace", "remove", "add"]))
        if action == "odd":
            node[key] = data.draw(odd_like(child))
        elif action == "replace":
            node[key] = data.draw(SHAPES)
        elif action == "remove":
            del node[key]
        elif isinstance(node, dict):
            node[data.draw(st.text(min_size=1, max_size=8))] = data.draw(SCALARS)
        else:
            node.append(data.draw(SHAPES))
        break
    outcome(reader, encode(reader, document))


def test_seeds_are_read() -> None:
    """The mutations start from files the readers accept, so they reach the models' checks."""
    for reader, path in SEEDS.items():
        assert READERS[reader](path) is not None, reader
    assert math.isfinite(load_scenario(SCENARIO).baseline.requests_per_second)
