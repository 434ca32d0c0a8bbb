"""``tars schema``: the JSON Schemas of the six artifacts."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pydantic import BaseModel

from tars_lib.cli._common import Commands
from tars_lib.core.artifacts import write_texts_atomic
from tars_lib.core.models import (
    AnomalyEvents,
    DaySummary,
    GaKpiSummary,
    HealthReport,
    RegressionSummary,
    Retrospective,
)
from tars_lib.core.workspace import schema_file

__all__ = ["SCHEMAS", "register", "run"]

SCHEMAS: dict[str, type[BaseModel]] = {
    "ga_kpi_summary": GaKpiSummary,
    "day_summary": DaySummary,
    "anomaly_events": AnomalyEvents,
    "health_report": HealthReport,
    "regression_summary": RegressionSummary,
    "retrospective": Retrospective,
}


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "schema",
        help="write the JSON Schemas of all six artifacts",
        description="Write one JSON Schema (draft 2020-12) per artifact, NAME.schema.json.",
    )
    parser.add_argument(
        "--output-dir",
        metavar="DIR",
        type=Path,
        required=True,
        help="directory to write the schemas into",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    files = [
        (
            args.output_dir / schema_file(name),
            json.dumps(model.model_json_schema(mode="serialization"), indent=2) + "\n",
        )
        for name, model in SCHEMAS.items()
    ]
    write_texts_atomic(files)
    print(f"Wrote {len(files)} JSON Schemas to {args.output_dir}")
    return 0
