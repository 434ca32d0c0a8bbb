"""`tars --version`, `tars init`, `tars demo`'s plan, and `run-day --catch-up` for cron."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from tars_lib.cli import demo, main
from tars_lib.cli.run_day import catch_up_days, day_done
from tars_lib.core.catalogue import load_catalogue
from tars_lib.core.release import load_release
from tars_lib.core.workspace import PROJECT, Workspace
from tars_lib.report.runner import PHASE_NOTEBOOKS, notebooks_for_day
from tests.conftest import SCENARIO, run_tars

GA = datetime(2025, 11, 18, tzinfo=UTC)


def test_version_is_the_installed_distributions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"tars {metadata.version('tars-lib')}"


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_init_creates_a_release_workspace_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "WS"
    argv = ["init", str(root), "--name", "checkout-api", "--version", "2.3.0"]
    assert main(argv) == 0
    ws = Workspace(root)
    release = load_release(ws.release_path)
    assert (release.name, release.version, release.next_version) == (
        "checkout-api",
        "2.3.0",
        "2.3.1",
    )
    ours = yaml.safe_load(ws.catalogue_path.read_text(encoding="utf-8"))
    assert ours == yaml.safe_load(PROJECT.catalogue.read_text(encoding="utf-8"))
    assert load_catalogue(ws.catalogue_path) == load_catalogue(PROJECT.catalogue)  # pricing too
    assert (ws.config_dir / PROJECT.pricing.name).read_bytes() == PROJECT.pricing.read_bytes()
    for name in PHASE_NOTEBOOKS:
        copy = ws.notebooks_dir / PROJECT.notebook_file(name)
        assert copy.read_bytes() == PROJECT.notebook(name).read_bytes()
    assert "tars run-day" in ws.readme_path.read_text(encoding="utf-8")
    before = _tree(root)
    capsys.readouterr()

    assert main([*argv[:2], "--name", "other"]) == 2
    err = capsys.readouterr().err
    assert "already holds a release" in err and len(err.strip().splitlines()) == 1
    assert _tree(root) == before


def test_init_refuses_a_bad_version_before_writing(tmp_path: Path) -> None:
    assert main(["init", str(tmp_path / "WS"), "--version", "two point three"]) == 2
    assert not (tmp_path / "WS").exists()


def test_run_day_prefers_the_workspaces_catalogue(tmp_path: Path) -> None:
    from tars_lib.cli._common import workspace_config

    ws = Workspace(tmp_path)
    assert workspace_config(None, ws) is None
    assert main(["init", str(tmp_path / "WS")]) == 0
    ws = Workspace(tmp_path / "WS")
    assert workspace_config(None, ws) == ws.catalogue_path
    assert workspace_config(Path("mine.yaml"), ws) == Path("mine.yaml")


def test_demo_runs_the_bundled_week(tmp_path: Path) -> None:
    assert demo.demo_days() == list(range(8))
    parameters = demo.demo_parameters(Workspace(tmp_path))
    assert parameters.source.scenario == PROJECT.scenario and PROJECT.scenario.is_file()
    assert parameters.changes == PROJECT.scenario_changes and PROJECT.scenario_changes.is_file()
    assert parameters.config is None  # the bundled catalogue unless `tars init` made one


def _fake_day(ws: Workspace, day: int) -> None:
    (ws.ga_path if day == 0 else ws.day_path(day)).parent.mkdir(parents=True, exist_ok=True)
    (ws.ga_path if day == 0 else ws.day_path(day)).write_text("{}")
    ws.run_dir(day).mkdir(parents=True, exist_ok=True)
    for name in notebooks_for_day(day):
        (ws.run_dir(day) / PROJECT.notebook_file(name)).write_text("{}")


def test_catch_up_plans_the_missing_complete_days(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    assert catch_up_days(ws, GA, GA + timedelta(hours=23)) == []  # GA day still open
    assert catch_up_days(ws, GA, GA + timedelta(days=1, hours=1)) == [0]
    for day in (0, 1, 2, 4):
        _fake_day(ws, day)
    (ws.run_dir(4) / PROJECT.notebook_file("04_health")).unlink()  # an unfinished run
    assert not day_done(ws, 4)
    assert catch_up_days(ws, GA, GA + timedelta(days=5, hours=1)) == [3, 4]
    assert catch_up_days(ws, GA, GA + timedelta(days=30)) == [3, 4, 5, 6, 7]  # week is over


@pytest.mark.slow
def test_catch_up_runs_the_missed_days_silently(tmp_path: Path) -> None:
    """The slow one (about a minute): the simulated week, days 0 and 1 run, then cron."""
    ws = Workspace(tmp_path / "week")
    common = ["--workspace", str(ws.root), "--scenario", str(SCENARIO), "--quiet"]
    for day in ("0", "1"):
        done = run_tars("run-day", day, *common, cwd=tmp_path)
        assert done.returncode == 0, done.stderr

    done = run_tars("run-day", "--catch-up", *common, cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert all(ws.day_path(day).is_file() and day_done(ws, day) for day in range(2, 8))

    stamps = {day: ws.day_path(day).stat().st_mtime_ns for day in range(1, 8)}
    done = run_tars("run-day", "--catch-up", *common, cwd=tmp_path)  # nothing to do
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert {day: ws.day_path(day).stat().st_mtime_ns for day in range(1, 8)} == stamps

    ws.day_path(3).unlink()  # a day lost: only it is run again
    shutil.rmtree(ws.run_dir(3))
    done = run_tars("run-day", "--catch-up", *common[:-1], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Day 3: ran ") and len(done.stdout.splitlines()) == 1
    assert ws.day_path(3).is_file()
    assert {d: ws.day_path(d).stat().st_mtime_ns for d in (1, 2, 4, 5, 6, 7)} == {
        d: stamps[d] for d in (1, 2, 4, 5, 6, 7)
    }


def test_catch_up_and_a_day_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run-day", "3", "--catch-up", "--scenario", str(SCENARIO)]) == 2
    assert "not allowed with" in capsys.readouterr().err
