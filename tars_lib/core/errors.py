"""Errors that end a command with one line and a documented exit status.

Exit statuses (README, "Failure behaviour"):
  0  success
  1  internal error (a bug: please report it; TARS_DEBUG=1 shows the traceback)
  2  bad input or usage: a file or field is missing or invalid
  3  the metrics backend failed: down, timing out or answering an error
  4  a notebook failed while running a day
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["InputError", "NotebookError", "SettingError", "SourceError", "TarsError"]


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
