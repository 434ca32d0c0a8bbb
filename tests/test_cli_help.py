"""The `tars` parsers themselves: every flag documented, plain-text help, settings
checked before anything is collected, and library settings named as flags."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import re
import socket
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

from tars_lib.cli import build_parser, command_parser, main, setting_flags
from tars_lib.core.models import AnomalyParameters
from tars_lib.report.runner import run_day as run_notebooks
from tars_lib.sources.spec import SourceSpec

CLI_SOURCES = Path(__file__).resolve().parent.parent / "tars_lib" / "cli"


def parsers(
    parser: argparse.ArgumentParser | None = None,
) -> Iterator[argparse.ArgumentParser]:
    """``tars`` and every (nested) subcommand's parser."""
    parser = parser or build_parser()
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from parsers(child)


def options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [
        a
        for a in parser._actions
        if not isinstance(a, argparse._HelpAction | argparse._SubParsersAction)
    ]


def flat(text: str) -> str:
    return " ".join(text.split())


def test_the_walk_reaches_every_subcommand() -> None:
    progs = {p.prog for p in parsers()}
    assert {"tars", "tars ga-kpi", "tars run-day", "tars scenario export"} <= progs
    assert len(progs) == 14  # tars, twelve commands, scenario export


@pytest.mark.parametrize("parser", list(parsers()), ids=lambda p: p.prog)
def test_every_option_and_subcommand_has_help(parser: argparse.ArgumentParser) -> None:
    for action in options(parser):
        assert action.help and action.help.strip(), f"{parser.prog} {action.dest}: no help"
        assert action.help != argparse.SUPPRESS
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                assert choice.help, f"{parser.prog} {choice.dest}: no help"


@pytest.mark.parametrize("parser", list(parsers()), ids=lambda p: p.prog)
def test_help_is_plain_text_and_shows_defaults(parser: argparse.ArgumentParser) -> None:
    text = parser.format_help()  # also checks every %(default)s expands
    assert "``" not in text
    assert not re.search(r":(func|class|mod|meth):`", text)
    for action in options(parser):
        if action.option_strings and action.default not in (None, False, argparse.SUPPRESS):
            assert f"(default: {action.default})" in flat(text), (parser.prog, action.dest)
        if action.dest in ("z_threshold", "ewma_alpha"):
            default = AnomalyParameters.model_fields[action.dest].default
            assert f"(default: {default:g})" in flat(text), (parser.prog, action.dest)


def test_tars_help_has_no_rest(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: tars ")
    assert "``" not in out
    assert "run-day" in out and "scenario" in out


def test_defaults_come_from_the_library() -> None:
    parser = build_parser()
    spec = {f.name: f.default for f in dataclasses.fields(SourceSpec)}
    for command in (["ga-kpi"], ["stability"], ["anomalies"], ["run-day"]):
        args = parser.parse_args(command)
        assert (args.timeout, args.retries, args.concurrency) == (
            spec["timeout"],
            spec["retries"],
            spec["concurrency"],
        )
    for command in (["anomalies"], ["run-day"]):
        args = parser.parse_args(command)
        assert args.z_threshold is None and args.ewma_alpha is None  # the model's defaults apply


def test_no_layout_paths_in_the_cli() -> None:
    """File locations come from tars_lib.core.workspace, not from string literals here."""
    pattern = re.compile(
        r"ga_kpis|stability/|_site|_summary\.json|anomaly_events\.json"
        r"|GA_7DAY|\.yaml|index\.html|runs/"
    )
    for path in sorted(CLI_SOURCES.glob("*.py")):
        with path.open("rb") as handle:
            for token in tokenize.tokenize(handle.readline):
                if token.type == tokenize.STRING:
                    assert not pattern.search(token.string), f"{path.name}:{token.start[0]}"


@pytest.mark.parametrize(
    ("argv", "setting", "flag"),
    [
        (["anomalies"], "z_threshold", "--z-threshold"),
        (["anomalies"], "start", "--start"),
        (["retro"], "seven_day_data", "--7day-data"),
        (["regression"], "seven_day_summaries", "--7day-summaries"),
        (["health", "--stability-data", "x"], "day_number", "--day-number"),
        (["ga-kpi"], "ga_timestamp", "--ga-timestamp"),
        (["run-day"], "day", "day"),
        (["scenario", "export", "--scenario", "s", "--output", "o"], "replicas", "--replicas"),
        (["retro"], "ewma_alpha", "--ewma-alpha"),  # no such flag: the fallback
    ],
)
def test_settings_are_named_as_the_commands_flags(argv: list[str], setting: str, flag: str) -> None:
    parser = build_parser()
    current = command_parser(parser, parser.parse_args(argv))
    assert setting_flags(current)(setting) == flag


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty current directory, no network, and no notebook run."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the command reached for the network or papermill")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    # wraps: keeps the signature, where `tars run-day --cell-timeout` finds its default
    monkeypatch.setattr("tars_lib.cli.run_day.run_day", functools.wraps(run_notebooks)(refuse))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["anomalies", "--z-threshold", "nan", "--scenario", "X"],
            "tars anomalies: error: --z-threshold nan: must be a positive number (default 3)",
        ),
        (
            ["anomalies", "--ewma-alpha", "0", "--prometheus-url", "http://127.0.0.1:9"],
            "tars anomalies: error: --ewma-alpha 0: must be in (0, 1]",
        ),
        (
            ["ga-kpi", "--scenario", "X", "--timeout", "0"],
            "tars ga-kpi: error: --timeout 0: must be a positive number of seconds",
        ),
        (
            ["stability", "--prometheus-url", "http://127.0.0.1:9", "--concurrency", "0"],
            "tars stability: error: --concurrency 0: must be 1 or more",
        ),
        (
            ["ga-kpi", "--scenario", "X", "--ga-timestamp", "2025-11-18"],
            "tars ga-kpi: error: --ga-timestamp '2025-11-18': needs a time zone",
        ),
        (
            ["run-day", "3", "--scenario", "X", "--z-threshold", "inf"],
            "tars run-day: error: --z-threshold inf: must be a positive number",
        ),
        (
            ["run-day", "3"],
            "tars run-day: error: say where the metrics come from: --prometheus-url ",
        ),
        (
            ["run-day", "9", "--scenario", "X"],
            "tars run-day: error: day 9: run-day takes 0 (GA day) to 7",
        ),
        (
            ["scenario", "export", "--scenario", "missing.yaml", "--output", "o.om"],
            "tars scenario export: error: missing.yaml: scenario file not found "
            "(given as --scenario)",
        ),
    ],
    ids=lambda v: v[0] if isinstance(v, list) else None,
)
def test_bad_settings_fail_first_with_one_line(
    offline: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(expected), lines[0]
    assert "_" not in lines[0].split("error: ", 1)[1].split(":", 1)[0]  # a flag, not a name
    assert list(offline.iterdir()) == []  # nothing written, not even runs/day_NN
