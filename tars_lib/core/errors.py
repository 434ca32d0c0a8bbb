"""Errors that end a command with one line and a documented exit status.

Exit statuses (README, "Failure behaviour"):
  0  success
  1  internal error (a bug: please report it; TARS_DEBUG=1 shows the traceback)
  2  bad input or usage: a file or field is missing or invalid
  3  the metrics backend failed: down, timing out or answering an error
  4  a notebook failed while running a day
  5  could not write: the disk is full or the output is read-only (the file is named)
  6  the workspace is busy: another tars run holds its lock
130  interrupted (SIGINT); 143 terminated (SIGTERM)
"""

from __future__ import annotations

import errno
from collections.abc import Callable

__all__ = [
    "BusyError",
    "InputError",
    "NotebookError",
    "SettingError",
    "SourceError",
    "StorageError",
    "TarsError",
    "storage_error",
]


class TarsError(Exception):
    """Base class: the message is the whole one-line explanation for the user."""

    exit_code = 1


class InputError(TarsError):
    """A file, field or argument is missing or invalid."""

    exit_code = 2


class SettingError(InputError):
    """A setting has a value it cannot take.

    The message is a template: ``{z_threshold}`` stands for the setting's name,
    ``{value}`` for the value. The library shows the name as notebook users know
    it (``z_threshold``); the CLI shows the flag that sets it (``--z-threshold``).
    """

    def __init__(self, setting: str, template: str, value: object = None, **values: object) -> None:
        self.setting, self.template = setting, template
        self.values = {k: _shown(v) for k, v in {"value": value, **values}.items()}
        super().__init__(self.render(str))

    def render(self, name: Callable[[str], str]) -> str:
        """The message with each ``{setting}`` named by ``name`` (values are never parsed)."""
        return self.template.format_map(_Names(name, **self.values))


def _shown(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class _Names(dict[str, str]):
    def __init__(self, name: Callable[[str], str], /, **values: str) -> None:
        super().__init__(values)
        self._name = name

    def __missing__(self, key: str) -> str:
        return self._name(key)


class SourceError(TarsError):
    """The metrics backend could not give an answer we can trust."""

    exit_code = 3


class NotebookError(TarsError):
    """A phase notebook failed; the failed notebook is kept for inspection."""

    exit_code = 4


class StorageError(TarsError):
    """An output could not be written (full disk, quota, read-only); the file is named."""

    exit_code = 5


class BusyError(TarsError):
    """Another tars run holds the workspace's lock; nothing was changed."""

    exit_code = 6


_STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}


def storage_error(exc: OSError, path: object) -> TarsError | None:
    """The one-line error for a failed write of ``path``, or None if it is not about space.

    A full disk is not bad input (exit 2): it gets its own status so a cron
    wrapper can tell "fix the disk" from "fix the file".
    """
    if exc.errno in _STORAGE_ERRNOS:
        return StorageError(f"{path}: cannot write: {exc.strerror or exc}; nothing was replaced")
    return None
