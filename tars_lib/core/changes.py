"""Known changes (deploys, scaling, config, feature flags): read once, matched to findings.

A finding is explained by a change made within ``TOLERANCE`` of its start on a
KPI the change names (or on any KPI when the change names none).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from tars_lib.core.catalogue import read_yaml, validate_yaml
from tars_lib.core.models import Change, Changes

__all__ = ["TOLERANCE", "explaining_change", "load_changes"]

TOLERANCE = timedelta(hours=1)
"""How far apart a change and the step it explains may be (clocks, rollout time)."""


def load_changes(path: Path | None) -> list[Change]:
    """The changes file's entries, oldest first; none when no file is given."""
    if path is None:
        return []
    path = Path(path)
    changes = validate_yaml(Changes, read_yaml(path, "changes file"), path)
    return sorted(changes.changes, key=lambda c: c.at)


def explaining_change(
    kpi: str, moment: datetime, changes: Sequence[Change], tolerance: timedelta = TOLERANCE
) -> Change | None:
    """The change that explains a step of ``kpi`` at ``moment``, the closest one if several."""
    near = [c for c in changes if (not c.kpis or kpi in c.kpis) and abs(c.at - moment) <= tolerance]
    return min(near, key=lambda c: abs(c.at - moment), default=None)
