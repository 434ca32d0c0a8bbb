"""The layout rules the code review relies on: every path in the workspace module, the
notebooks as the source (parameters equal to the library's settings, no stale outputs)."""

from __future__ import annotations

import ast
import dataclasses
import json
import re
from pathlib import Path

import pytest

from tars_lib.core.models import AnomalyParameters
from tars_lib.core.workspace import PROJECT, Workspace
from tars_lib.report.runner import PHASE_NOTEBOOKS, NotebookParameters
from tars_lib.sources.spec import SourceSpec

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tars_lib"
WORKSPACE_MODULE = PACKAGE / "core" / "workspace.py"
CHECK = "# NBVAL_CHECK_OUTPUT"

# Names of the release week's layout and of the project's files: they belong to
# tars_lib/core/workspace.py alone.
LAYOUT = re.compile(
    r"ga_kpis|stability/|day_\d|day_\{|^day_$|_summary\.json|_HEALTH|"
    r"anomaly_events\.json|regression_summary\.json|GA_7DAY|docs/final|^runs$|^notebooks$|"
    r"_quarto|\.qmd|^_site$|"
    r"index\.html|kpis\.yaml|pricing\.yaml|ga_week\.yaml|\.ipynb"
)


def _string_constants(path: Path) -> list[tuple[int, str]]:
    """String literals that are not docstrings (help texts and messages count)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_the_checker_finds_layout_literals(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('"""ga_kpis/ in a docstring is fine."""\nX = "ga_kpis"\nY = f"day_{n:02d}"\n')
    found = [v for _, v in _string_constants(sample) if LAYOUT.search(v)]
    assert found == ["ga_kpis", "day_"]


def test_no_layout_path_literal_outside_the_workspace_module() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {value!r}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != WORKSPACE_MODULE
        for line, value in _string_constants(path)
        if LAYOUT.search(value)
    ]
    assert offenders == []


def _parameters_cell(name: str) -> dict[str, object]:
    book = json.loads(PROJECT.notebook(name).read_text(encoding="utf-8"))
    cells = [c for c in book["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"{name}: one cell tagged parameters"
    tree = ast.parse("".join(cells[0]["source"]))
    values: dict[str, object] = {}
    for node in tree.body:
        assert isinstance(node, ast.Assign), f"{name}: the parameters cell holds assignments only"
        target = node.targets[0]
        assert isinstance(target, ast.Name)
        values[target.id] = ast.literal_eval(node.value)
    return values


@pytest.mark.parametrize("name", PHASE_NOTEBOOKS)
def test_notebook_parameters_are_the_library_settings(name: str) -> None:
    cell = _parameters_cell(name)
    injected = NotebookParameters().for_day(Workspace(Path("/ws")), 7)
    assert list(cell) == list(injected), "same names, same order as NotebookParameters"
    defaults = {
        **{f.name: f.default for f in dataclasses.fields(SourceSpec)},
        **{n: f.default for n, f in AnomalyParameters.model_fields.items()},
    }
    for setting, default in defaults.items():
        assert cell[setting] == (default if default is not None else ""), setting
    assert cell["collect"] is False, "a notebook opened by hand only reads the workspace"


@pytest.mark.parametrize("name", PHASE_NOTEBOOKS)
def test_committed_notebooks_carry_only_checked_outputs(name: str) -> None:
    book = json.loads(PROJECT.notebook(name).read_text(encoding="utf-8"))
    for cell in book["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        if source.startswith(CHECK):
            assert cell["outputs"], f"{name}: a checked cell keeps its output for nbval"
        else:
            assert cell["outputs"] == [] and cell["execution_count"] is None, (
                f"{name}: stale output in {source.splitlines()[0]!r}; run `make notebooks`"
            )
