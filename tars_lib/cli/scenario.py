"""``tars scenario export``: the simulated week's samples as OpenMetrics text."""

from __future__ import annotations

import argparse
from pathlib import Path

from pydantic import ValidationError

from tars_lib.cli._common import Commands, Parser, add_scenario_flag
from tars_lib.core.errors import SettingError
from tars_lib.sources.scenario import ScenarioSource, simulate, write_exposition

__all__ = ["register", "run_export"]


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "scenario",
        help="the simulated week: export its samples",
        description="Work with the simulated release week.",
    )
    actions = parser.add_subparsers(dest="scenario_command", required=True, parser_class=Parser)
    export = actions.add_parser(
        "export",
        help="write the samples as OpenMetrics text",
        description="Write the simulated week's samples as OpenMetrics text, "
        "e.g. for promtool tsdb create-blocks-from openmetrics.",
    )
    add_scenario_flag(export, required=True)
    export.add_argument(
        "--output", metavar="FILE", type=Path, required=True, help="OpenMetrics file to write"
    )
    export.add_argument(
        "--replicas",
        metavar="N",
        type=int,
        help="simulate N instances (for benchmarks; default: the scenario's)",
    )
    export.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    source = ScenarioSource(args.scenario)
    scenario = source.scenario
    if args.replicas is not None:
        try:
            scenario = type(scenario).model_validate(
                {**scenario.model_dump(), "replicas": args.replicas}
            )
        except ValidationError as exc:
            message = exc.errors()[0]["msg"]
            raise SettingError(
                "replicas",
                f"{{replicas}} {{value}}: {message[:1].lower()}{message[1:]}",
                args.replicas,
            ) from None
    raw = simulate(scenario)
    output: Path = args.output
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        write_exposition(raw, handle)
    tmp.replace(output)
    series = sum(len(v) for v in (*raw.counters.values(), *raw.gauges.values()))
    print(f"Wrote {output}: {series} series x {len(raw.timestamps)} samples (OpenMetrics)")
    return 0
