"""The release description: what is being released, read from and written as YAML.

``Release`` (in ``models``) holds it; ``load_release`` reads a workspace's file
(``Workspace.release_path``; absent: the seed's release, T.A.R.S. v1.0.1) and
``render_release_yaml`` writes one with comments saying what each key is for
(what ``tars init`` puts in a new workspace).
"""

from __future__ import annotations

import json
from pathlib import Path

from tars_lib.core.catalogue import read_yaml, validate_yaml
from tars_lib.core.models import Release, format_utc

__all__ = ["load_release", "render_release_yaml"]


def load_release(path: Path | None) -> Release:
    """The release described at ``path``; the seed's release when there is no file.

    A file that is not valid YAML or not a release description is one ``InputError``
    naming the file and the field.
    """
    if path is None or not Path(path).exists():
        return Release()
    data = read_yaml(Path(path), "release description")
    return validate_yaml(Release, {} if data is None else data, Path(path))


def _scalar(text: str) -> str:
    """A YAML scalar for any string: JSON's double-quoted form is valid YAML."""
    return json.dumps(text, ensure_ascii=False)


def render_release_yaml(release: Release) -> str:
    """The release description as commented YAML; ``load_release`` reads it back equal."""
    ga = _scalar(format_utc(release.ga_timestamp)) if release.ga_timestamp else "null"
    owners = "".join(f"\n  - {_scalar(o)}" for o in release.owners) or " []"
    links = "".join(f"\n  {_scalar(k)}: {_scalar(v)}" for k, v in release.links.items()) or " {}"
    return f"""\
# The release this workspace reports on. Every title, heading and recommendation
# of the retrospective, the site and the PDF is named from it.
#
# The title is "<name> <version>" ("checkout-api 2.3.0"); the seed's name keeps
# its spelling, "T.A.R.S. v1.0.1". The retrospective JSON lists the recommendations
# under recommendations_v<next_version> (dots and dashes as underscores: 2.3.1 ->
# recommendations_v2_3_1) and again under recommendations_next.

# The service or product released.
name: {_scalar(release.name)}
# The version released, and the one that follows it (the recommendations are for it).
version: {_scalar(release.version)}
next_version: {_scalar(release.next_version)}
# When it went GA, UTC (e.g. "2025-11-18T00:00:00Z"); null: not recorded here.
ga_timestamp: {ga}
# Who owns the release (names or teams).
owners:{owners}
# Where to read more: a label and a URL each (tracker, runbook, dashboard).
links:{links}
"""
