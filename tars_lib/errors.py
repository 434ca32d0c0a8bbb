"""Errors that end a command with one line and a documented exit status.

Exit statuses (README, "Failure behaviour"):
  0  success
  1  internal error (a bug: please report it; TARS_DEBUG=1 shows the traceback)
  2  bad input or usage: a file or field is missing or invalid
  3  the metrics backend failed: down, timing out or answering an error
  4  a notebook failed while running a day
"""

from __future__ import annotations

__all__ = ["InputError", "NotebookError", "SourceError", "TarsError"]


class TarsError(Exception):
    """Base class: the message is the whole one-line explanation for the user."""

    exit_code = 1


class InputError(TarsError):
    """A file, field or argument is missing or invalid."""

    exit_code = 2


class SourceError(TarsError):
    """The metrics backend could not give an answer we can trust."""

    exit_code = 3


class NotebookError(TarsError):
    """A phase notebook failed; the failed notebook is kept for inspection."""

    exit_code = 4
