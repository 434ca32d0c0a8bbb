"""Release identity as data: a workspace's release description names the whole report.

A workspace for checkout-api 2.3.0 (next 2.3.1) runs the simulated week through
the phases; its retrospective names that release everywhere and the seed's never.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from tars_lib import phases
from tars_lib.core.artifacts import dump_json, read_artifact
from tars_lib.core.catalogue import Catalogue
from tars_lib.core.changes import load_changes
from tars_lib.core.errors import InputError
from tars_lib.core.models import (
    AnomalyParameters,
    Release,
    Retrospective,
    RollbackVerdict,
)
from tars_lib.core.release import load_release, render_release_yaml
from tars_lib.core.workspace import Workspace
from tars_lib.report.pdf import build_document, release_title
from tars_lib.report.site import site_title
from tars_lib.retro.markdown import render_markdown, retro_title, section_headings
from tars_lib.retro.retrospective import build_retrospective
from tars_lib.sources.spec import SourceSpec

from .conftest import GA, ROOT, SCENARIO
from .conftest import run_tars as tars

CHANGES = ROOT / "data" / "scenarios" / "ga_week_changes.yaml"
NOW = GA + timedelta(days=8, hours=1)
CHECKOUT = Release(
    name="checkout-api",
    version="2.3.0",
    next_version="2.3.1",
    ga_timestamp=GA,
    owners=["payments team"],
    links={"tracker": "https://example.com/REL-42"},
)
SEED_MENTIONS = ("v1.0.1", "1.0.2", "v1_0_2", "T.A.R.S.")


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue) -> Workspace:
    """The simulated week in a checkout-api 2.3.0 workspace, days 0..7 and the retrospective."""
    ws = Workspace(tmp_path_factory.mktemp("checkout-week"))
    ws.release_path.write_text(render_release_yaml(CHECKOUT), encoding="utf-8")
    source = SourceSpec(scenario=SCENARIO).open()
    changes = load_changes(CHANGES)
    phases.run_ga_kpi(source, catalogue, ws.ga_dir, None, NOW)
    for day in range(1, 8):
        phases.run_stability(
            source, catalogue, ws.ga_path, ws.stability_dir, day, NOW, changes=changes
        )
        phases.run_day_anomalies(
            source, catalogue, ws, [day], detector=AnomalyParameters(), now=NOW, changes=changes
        )
        phases.run_day_health(ws, day, catalogue, NOW)
    phases.run_regression(ws.ga_path, ws.stability_dir, ws.regression_path, catalogue, NOW)
    phases.run_retro(ws.retro_inputs(CHANGES), ws.retro_path, catalogue, NOW)
    return ws


def test_the_retrospective_names_the_release(week: Workspace) -> None:
    markdown = week.retro_path.read_text(encoding="utf-8")
    text = week.retro_json_path.read_text(encoding="utf-8")
    assert markdown.startswith("# checkout-api 2.3.0: GA 7-Day Retrospective\n")
    assert "\n## Recommendations for 2.3.1 🚀\n" in markdown
    assert "**Owners:** payments team" in markdown
    for seed in SEED_MENTIONS:
        assert seed not in markdown and seed not in text, seed
    data = json.loads(text)
    assert data["release"]["name"] == "checkout-api" and data["release"]["version"] == "2.3.0"
    assert "recommendations_v1_0_2" not in data
    assert data["recommendations_v2_3_1"] == data["recommendations_next"]
    assert data["recommendations_next"]
    assert list(data)[-2:] == ["release", "recommendations_next"]


def test_the_json_reads_back_with_either_key(week: Workspace, tmp_path: Path) -> None:
    retro = read_artifact(week.retro_json_path, Retrospective)
    assert retro.release == CHECKOUT
    assert dump_json(retro) == week.retro_json_path.read_text(encoding="utf-8")
    data = json.loads(week.retro_json_path.read_text(encoding="utf-8"))
    only_next = {k: v for k, v in data.items() if k != "recommendations_v2_3_1"}
    assert Retrospective.model_validate(only_next) == retro
    only_versioned = {k: v for k, v in data.items() if k != "recommendations_next"}
    assert Retrospective.model_validate(only_versioned) == retro
    wrong = {
        ("recommendations_v9_9_9" if k == "recommendations_v2_3_1" else k): v
        for k, v in data.items()
    }
    path = tmp_path / "retro.json"
    path.write_text(json.dumps(wrong), encoding="utf-8")
    with pytest.raises(InputError, match=r"recommendations_v9_9_9.*recommendations_v2_3_1"):
        read_artifact(path, Retrospective)


def test_rollback_names_the_release(week: Workspace, catalogue: Catalogue) -> None:
    result = phases.run_retro(week.retro_inputs(CHANGES), None, catalogue, NOW)
    regression = result.week.regression
    assert regression is not None
    considered = dataclasses.replace(
        result.week,
        regression=regression.model_copy(
            update={"rollback_recommendation": RollbackVerdict(verdict="consider", reasons=[])}
        ),
    )
    retro = build_retrospective(considered, NOW)
    assert any(
        r.startswith("[P1] Roll back 2.3.0 or ship")
        for r in retro.retrospective.recommendations_v1_0_2
    )
    assert any("hotfix for 2.3.0" in a.description for a in retro.retrospective.action_items)
    assert "v1.0.1" not in render_markdown(retro)


def test_titles() -> None:
    seed = Release()
    assert seed.title == "T.A.R.S. v1.0.1" and seed.recommendations_key == "recommendations_v1_0_2"
    assert CHECKOUT.title == "checkout-api 2.3.0"
    assert CHECKOUT.recommendations_key == "recommendations_v2_3_1"
    assert Release(name="x", next_version="3.0.0-rc.1").recommendations_key == (
        "recommendations_v3_0_0_rc_1"
    )
    assert retro_title(seed) == "T.A.R.S. v1.0.1: GA 7-Day Retrospective"
    assert section_headings(seed)[6] == "Recommendations for v1.0.2 🚀"
    assert section_headings(CHECKOUT)[6] == "Recommendations for 2.3.1 🚀"
    markdown = f"# {retro_title(CHECKOUT)}\n\n## Executive Summary\n\nAll well.\n"
    assert release_title(markdown) == "checkout-api 2.3.0: GA 7-Day Retrospective"
    assert build_document(markdown, None).title == "checkout-api 2.3.0: GA 7-Day Retrospective"
    assert site_title(CHECKOUT) == "checkout-api 2.3.0 release week"
    assert site_title(seed) == "T.A.R.S. v1.0.1 release week"


def test_release_yaml_round_trips_and_defaults_to_the_seed(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    assert ws.release() == Release()
    for release in (Release(), CHECKOUT, Release(name='we "quote": #1', owners=["a: b"])):
        ws.release_path.write_text(render_release_yaml(release), encoding="utf-8")
        assert ws.release() == release
    ws.release_path.write_text("# only comments\n", encoding="utf-8")
    assert load_release(ws.release_path) == Release()


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("name: checkout-api\nversion: [2, 3]\n", "version"),
        ("name: checkout-api\nversion: 2.3.0\nowner: me\n", "owner"),
        ("name: checkout-api\nga_timestamp: 2025-11-18T00:00:00\n", "ga_timestamp"),
        ("name: [\n", "not valid YAML"),
    ],
)
def test_a_bad_release_file_is_named(tmp_path: Path, text: str, field: str) -> None:
    ws = Workspace(tmp_path)
    ws.release_path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=rf"^{re.escape(str(ws.release_path))}: .*{field}"):
        ws.release()


def test_a_bad_release_file_stops_the_cli(week: Workspace, tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    shutil.copytree(week.root, ws.root)
    ws.release_path.write_text("name: checkout-api\nversion: [2]\nowner: me\n", encoding="utf-8")
    done = tars("report", "--workspace", str(ws.root), "--renderer", "fallback", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert str(ws.release_path) in done.stderr and "version" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_release_of_another_ga_is_refused(
    week: Workspace, tmp_path: Path, catalogue: Catalogue
) -> None:
    ws = Workspace(tmp_path / "ws")
    shutil.copytree(week.root, ws.root)
    other = CHECKOUT.model_copy(update={"ga_timestamp": GA + timedelta(days=1)})
    ws.release_path.write_text(render_release_yaml(other), encoding="utf-8")
    with pytest.raises(InputError, match=rf"^{re.escape(str(ws.release_path))}: ga_timestamp"):
        phases.run_retro(ws.retro_inputs(), None, catalogue, NOW)


def test_retro_auto_names_the_workspace_release(week: Workspace, tmp_path: Path) -> None:
    """`tars retro --auto` in the workspace, as the seed's guide runs it, reads release.yaml."""
    ws = tmp_path / "copy"
    shutil.copytree(week.root, ws)
    done = tars("retro", "--auto", "--output", "retro.md", cwd=ws)
    assert done.returncode == 0, done.stderr
    text = (ws / "retro.md").read_text(encoding="utf-8")
    assert text.startswith("# checkout-api 2.3.0: GA 7-Day Retrospective")
    assert "v1.0.1" not in text and "Recommendations for 2.3.1" in text
    data = json.loads((ws / "retro.json").read_text(encoding="utf-8"))
    assert data["recommendations_v2_3_1"] == data["recommendations_next"]
