"""Golden-file test: the bundled week's retrospective JSON, byte for byte.

Regenerate after an intended change with ``TARS_UPDATE_GOLDEN=1 pytest tests/test_golden.py``
and review the diff like code.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from tars_lib.core.artifacts import dump_json
from tars_lib.core.catalogue import Catalogue
from tars_lib.core.week import load_release_week
from tars_lib.core.workspace import RetroInputs
from tars_lib.retro.markdown import render_markdown
from tars_lib.retro.retrospective import build_retrospective

from .conftest import GA

GOLDEN = Path(__file__).parent / "golden"
GENERATED_AT = GA + timedelta(days=8, hours=1)


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("TARS_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; see module docstring"


def test_retrospective_json_matches_golden(catalogue: Catalogue, test_data_inputs: RetroInputs):
    result = build_retrospective(load_release_week(test_data_inputs, catalogue), GENERATED_AT)
    _check("GA_7DAY_RETROSPECTIVE.json", dump_json(result.retrospective))


def test_retrospective_markdown_matches_golden(catalogue: Catalogue, test_data_inputs: RetroInputs):
    result = build_retrospective(load_release_week(test_data_inputs, catalogue), GENERATED_AT)
    _check("GA_7DAY_RETROSPECTIVE.md", render_markdown(result))
