"""The ``tars`` command: a thin skin over the library, one module per subcommand.

``build_parser`` asks each command module to ``register`` its subcommand (its
flags beside its handler ``run``); ``_common`` holds the flags several share.
Every failure the user can fix ends as one line on stderr with the exit status
documented in ``tars_lib.core.errors``; no traceback unless TARS_DEBUG=1.
A command that works in a workspace (``args.workspace``) holds its lock while it
runs, so two runs on one week cannot interleave; the second exits 6 at once.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from importlib import metadata

from tars_lib.cli import (
    anomalies,
    demo,
    ga_kpi,
    health,
    init,
    regression,
    report,
    retro,
    run_day,
    scenario,
    schema,
    stability,
)
from tars_lib.cli._common import Parser
from tars_lib.core.errors import SettingError, TarsError, storage_error
from tars_lib.core.workspace import Workspace

__all__ = ["build_parser", "command_parser", "main", "setting_flags"]

COMMANDS = (
    ga_kpi,
    stability,
    anomalies,
    health,
    regression,
    retro,
    run_day,
    report,
    init,
    demo,
    scenario,
    schema,
)
"""The subcommands, in the order ``tars --help`` lists them."""

DESCRIPTION = (
    "T.A.R.S. release-week monitoring: one subcommand per phase (ga-kpi, stability, "
    "anomalies, health, regression, retro), run-day to run a day's notebooks, report "
    "to render them, init to start a release workspace, demo for the simulated week."
)
EPILOG = (
    "Exit status: 0 success, 1 internal error (a bug; TARS_DEBUG=1 shows the traceback), "
    "2 bad input or usage, 3 the metrics backend failed, 4 a notebook failed, "
    "5 could not write (disk full), 6 the workspace is busy (another run), "
    "130/143 interrupted. "
    "Run `tars COMMAND --help` for a command's flags."
)


DISTRIBUTION = "tars-lib"
"""The installed distribution's name (pyproject.toml's ``[project] name``)."""


def version() -> str:
    """The installed package's version."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def build_parser() -> Parser:
    parser = Parser(prog="tars", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {version()}", help="print the version"
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.register(commands)
    return parser


def command_parser(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> argparse.ArgumentParser:
    """The (sub)subcommand's parser that ``args`` came from, e.g. ``tars scenario export``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            chosen = action.choices.get(getattr(args, action.dest, None) or "")
            if chosen is not None:
                return command_parser(chosen, args)
    return parser


def setting_flags(parser: argparse.ArgumentParser) -> Callable[[str], str]:
    """Names a library setting as the flag of ``parser`` that sets it (its ``dest``)."""
    flags: dict[str, str] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
            continue
        if action.option_strings:
            long = [o for o in action.option_strings if o.startswith("--")]
            flags.setdefault(action.dest, (long or action.option_strings)[0])
        else:
            flags.setdefault(action.dest, action.dest)

    def flag(setting: str) -> str:
        return flags.get(setting) or "--" + setting.replace("_", "-")

    return flag


def _held(args: argparse.Namespace) -> AbstractContextManager[None]:
    """The workspace's lock for a command that takes one (run-day, report, anomalies)."""
    root = getattr(args, "workspace", None)
    return Workspace(root).lock() if root is not None else nullcontext()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    current: argparse.ArgumentParser = parser
    try:
        args = parser.parse_args(argv)
        current = command_parser(parser, args)
        with _held(args):
            return int(args.func(args))
    except SettingError as exc:
        print(f"{current.prog}: error: {exc.render(setting_flags(current))}", file=sys.stderr)
        return exc.exit_code
    except TarsError as exc:
        print(f"{current.prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{current.prog}: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130
    except OSError as exc:
        storage = storage_error(exc, exc.filename or "output")
        if storage is not None:
            print(f"{current.prog}: error: {storage}", file=sys.stderr)
            return storage.exit_code
        print(
            f"{current.prog}: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr
        )
        return 2
    except Exception as exc:
        if os.environ.get("TARS_DEBUG"):
            raise
        print(
            f"{current.prog}: internal error: {type(exc).__name__}: {exc} "
            "(a bug: rerun with TARS_DEBUG=1 for the traceback and report it)",
            file=sys.stderr,
        )
        return 1
