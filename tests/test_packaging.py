"""Packaging: a runtime install is lean (no Jupyter front ends, JupyterLab is the `lab`
extra), and the project's files the wheel carries are the ones `PROJECT` finds."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

from tars_lib.core.workspace import PROJECT, ProjectFiles

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
DIST = PYPROJECT["project"]["name"]

# Interactive front ends: a cron job never needs them.
FRONT_ENDS = {"jupyter", "jupyterlab", "notebook", "jupyter-server", "nbclassic", "voila"}
# What `tars run-day` needs to execute the notebooks unattended.
RUNTIME = {"papermill", "nbclient", "nbformat", "nbconvert", "ipykernel", "jupyter-client"}


def _name(requirement: str) -> str:
    """The normalized project name of a requirement string (PEP 503)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def _runtime(requirements: list[str]) -> set[str]:
    return {_name(r) for r in requirements if "extra ==" not in r.split(";", 1)[-1]}


def test_pyproject_runtime_dependencies_have_no_jupyter_front_end() -> None:
    names = _runtime(PYPROJECT["project"]["dependencies"])
    assert names & FRONT_ENDS == set()
    assert names >= RUNTIME
    lab = {_name(r) for r in PYPROJECT["project"]["optional-dependencies"]["lab"]}
    assert "jupyterlab" in lab


def test_installed_metadata_has_no_jupyter_front_end() -> None:
    requires = importlib.metadata.requires(DIST) or []
    names = _runtime(requires)
    assert names & FRONT_ENDS == set(), "reinstall: pip install -e '.[dev]'"
    assert names >= RUNTIME
    assert "jupyterlab" in {_name(r) for r in requires if "extra == 'lab'" in r}


def test_license_is_an_spdx_string() -> None:
    assert PYPROJECT["project"]["license"] == "Apache-2.0"


def test_wheel_carries_the_files_project_finds() -> None:
    """pyproject's force-include maps onto the layout `PROJECT` reads from the package."""
    wheel = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]
    mapping = wheel["force-include"]
    packaged = ProjectFiles(Path("tars_lib") / ProjectFiles.PACKAGED)
    shipped = {Path(target): ROOT / source for source, target in mapping.items()}
    for path in (
        packaged.catalogue,
        packaged.pricing,
        packaged.scenario,
        packaged.scenario_changes,
        packaged.quarto_config,
        packaged.notebook("01_ga_day"),
    ):
        sources = [
            src / path.relative_to(dst) for dst, src in shipped.items() if path.is_relative_to(dst)
        ]
        assert sources and all(s.is_file() for s in sources), path
    assert not any("test_data" in s for s in mapping), "test data is for the tests only"


def test_a_checkout_uses_its_top_level_files() -> None:
    assert PROJECT.root == ROOT
    for path in (PROJECT.catalogue, PROJECT.pricing, PROJECT.scenario, PROJECT.quarto_config):
        assert path.is_file(), path
    assert PROJECT.notebook("01_ga_day").is_file()
