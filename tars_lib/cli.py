"""The ``tars`` command: a thin skin over the library, one subcommand per phase.

Every failure the user can fix ends as one line on stderr with the exit status
documented in ``tars_lib.errors``; no traceback unless TARS_DEBUG=1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from tars_lib.artifacts import dump_json, write_texts_atomic
from tars_lib.catalogue import load_catalogue
from tars_lib.errors import InputError, TarsError
from tars_lib.markdown import render_markdown
from tars_lib.models import (
    AnomalyEvents,
    DaySummary,
    GaKpiSummary,
    HealthReport,
    RegressionSummary,
    Retrospective,
)
from tars_lib.retrospective import build_retrospective
from tars_lib.workspace import DEFAULT_OUTPUT, RetroInputs, auto_inputs, load_release_week

__all__ = ["main"]

SCHEMAS: dict[str, type[BaseModel]] = {
    "ga_kpi_summary": GaKpiSummary,
    "day_summary": DaySummary,
    "anomaly_events": AnomalyEvents,
    "health_report": HealthReport,
    "regression_summary": RegressionSummary,
    "retrospective": Retrospective,
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line with exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise InputError(f"{message} (see `{self.prog} --help`)")


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _cmd_retro(args: argparse.Namespace) -> int:
    if args.auto:
        base = auto_inputs()
        inputs = RetroInputs(
            ga_data=args.ga_data or base.ga_data,
            seven_day_data=args.seven_day_data or base.seven_day_data,
            regression=args.regression or base.regression,
            anomalies=args.anomalies or base.anomalies,
        )
    elif args.ga_data is None or args.seven_day_data is None:
        raise InputError(
            "say where the data is: --auto for the default locations (ga_kpis/, stability/), "
            "or --ga-data DIR and --7day-data DIR"
        )
    else:
        inputs = RetroInputs(args.ga_data, args.seven_day_data, args.regression, args.anomalies)
    for name, path in (("--regression", inputs.regression), ("--anomalies", inputs.anomalies)):
        if path is not None and not path.is_file():
            what = "is a directory" if path.is_dir() else "file not found"
            raise InputError(f"{path}: {what} (given as {name})")
    catalogue = load_catalogue(args.config)
    week = load_release_week(inputs, catalogue)
    result = build_retrospective(week, _now())
    output: Path = args.output
    json_path = output.with_suffix(".json")
    write_texts_atomic(
        [(output, render_markdown(result)), (json_path, dump_json(result.retrospective))]
    )
    retro = result.retrospective
    print(
        f"Wrote {output} and {json_path}: status {result.status}, "
        f"{len(retro.successes)} successes, {len(retro.degradations)} degradations, "
        f"{len(retro.unexpected_drifts)} unexpected drifts, "
        f"{len(retro.recommendations_v1_0_2)} recommendations"
    )
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    files = [
        (
            args.output_dir / f"{name}.schema.json",
            json.dumps(model.model_json_schema(mode="serialization"), indent=2) + "\n",
        )
        for name, model in SCHEMAS.items()
    ]
    write_texts_atomic(files)
    print(f"Wrote {len(files)} JSON Schemas to {args.output_dir}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tars", description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    retro = sub.add_parser(
        "retro",
        help="phase 6: write the retrospective (Markdown and JSON)",
        description="Write the release-week retrospective: Markdown, and JSON beside it.",
    )
    retro.add_argument(
        "--auto",
        action="store_true",
        help="use the default locations: ga_kpis/, stability/, "
        "regression_summary.json, anomaly_events.json",
    )
    retro.add_argument("--ga-data", type=Path, help="directory holding ga_kpi_summary.json")
    retro.add_argument(
        "--7day-data",
        dest="seven_day_data",
        type=Path,
        help="directory holding day_01_summary.json .. day_07_summary.json",
    )
    retro.add_argument("--regression", type=Path, help="regression_summary.json (phase 5)")
    retro.add_argument("--anomalies", type=Path, help="anomaly_events.json (phase 3)")
    retro.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help=f"Markdown file to write; the JSON goes beside it (default {DEFAULT_OUTPUT})",
    )
    retro.add_argument("--config", type=Path, help="KPI catalogue (default data/config/kpis.yaml)")
    retro.set_defaults(func=_cmd_retro)

    schema = sub.add_parser("schema", help="write the JSON Schemas of all six artifacts")
    schema.add_argument("--output-dir", type=Path, required=True)
    schema.set_defaults(func=_cmd_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    command = "tars"
    try:
        args = parser.parse_args(argv)
        command = f"tars {args.command}"
        return int(args.func(args))
    except TarsError as exc:
        print(f"{command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{command}: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"{command}: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if os.environ.get("TARS_DEBUG"):
            raise
        print(
            f"{command}: internal error: {type(exc).__name__}: {exc} "
            "(a bug: rerun with TARS_DEBUG=1 for the traceback and report it)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
