"""Reading and writing artifacts: validated on the way in, atomic on the way out.

Readers turn every way a file can be wrong (absent, a directory, too large, not
UTF-8, not JSON, not the model) into one ``InputError`` line naming the file and
the field. Writers go through a temporary file in the same directory, fsync and
rename, so a crash leaves the old file or the new one, never half of either.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from tars_lib.core.errors import InputError, storage_error

__all__ = [
    "MAX_ARTIFACT_BYTES",
    "NESTED_TOO_DEEP",
    "describe_validation_error",
    "dump_json",
    "field_path",
    "first_line",
    "fsync_dir",
    "read_artifact",
    "write_artifact",
    "write_text_atomic",
    "write_texts_atomic",
]

MAX_ARTIFACT_BYTES = 64 * 1024 * 1024
"""A week of daily summaries is kilobytes; anything this large is not ours."""

M = TypeVar("M", bound=BaseModel)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def field_path(loc: tuple[int | str, ...]) -> str:
    """Pydantic's error location as the dotted path a user can find in the file."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not part or not part.isprintable() or part.strip() != part:
            out += f"[{part!r}]"  # a key with a newline must not break the one-line message
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def read_artifact(path: Path, model: type[M]) -> M:
    """Read and validate one artifact; any problem is one ``InputError`` line."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a JSON file")
    size = path.stat().st_size
    if size > MAX_ARTIFACT_BYTES:
        raise InputError(
            f"{path}: {size / 1e6:.1f} MB is over the {MAX_ARTIFACT_BYTES // 2**20} MiB "
            "limit for an artifact; is this the right file?"
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from None
    try:
        json.loads(text)  # syntax first: its errors carry a line and column
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise InputError(f"{path}: invalid JSON: {NESTED_TOO_DEEP}") from None
    except ValueError as exc:  # an integer of more than 4300 digits
        raise InputError(f"{path}: invalid JSON: {first_line(exc)}") from None
    try:
        # strict: "99.5" is not a number and "no" is not a boolean, as the JSON Schema says;
        # NaN and Infinity reach the model and are refused at their field
        return model.model_validate_json(text, strict=True)
    except ValidationError as exc:
        raise InputError(describe_validation_error(path, exc)) from None
    except RecursionError:
        raise InputError(f"{path}: {NESTED_TOO_DEEP}") from None
    except (OverflowError, ArithmeticError) as exc:
        # a model's check computing from a value (9999-12-31 plus a day) out of range
        raise InputError(f"{path}: a date or number is out of range: {first_line(exc)}") from None


NESTED_TOO_DEEP = "nested too deeply to be an artifact or a configuration file"


def first_line(exc: BaseException) -> str:
    """An exception's message as one line, for an ``InputError``."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def describe_validation_error(path: Path, exc: ValidationError) -> str:
    """One line: the file, the first bad field, and how many more problems there are."""
    first = exc.errors()[0]
    more = exc.error_count() - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    message = first["msg"].removeprefix("Value error, ")
    return f"{path}: {field_path(first['loc'])}: {message}{suffix}"


def dump_json(model: BaseModel) -> str:
    """The canonical text of an artifact: stable key order, two-space indent, newline."""
    return json.dumps(model.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def fsync_dir(directory: Path) -> None:
    """A rename is durable only once its directory is on disk too."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_temp(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; readers on a shared drive need more
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def write_texts_atomic(files: Iterable[tuple[Path, str]]) -> None:
    """Write several files so that none is replaced unless all were written out.

    All contents go to temporary files first; only then are they renamed over
    the targets, so a failure while writing leaves every old file untouched.
    """
    pending: list[tuple[Path, Path]] = []
    try:
        for path, text in files:
            if Path(path).is_dir():
                raise InputError(f"{path}: is a directory, cannot write a file there")
            try:
                pending.append((_write_temp(Path(path), text), Path(path)))
            except OSError as exc:
                raise (storage_error(exc, path) or exc) from None
    except BaseException:
        for tmp, _ in pending:
            tmp.unlink(missing_ok=True)
        raise
    try:
        for tmp, path in pending:
            os.replace(tmp, path)
    finally:
        for tmp, _ in pending:
            tmp.unlink(missing_ok=True)  # only those a failed rename left behind exist
    for directory in {path.parent for _, path in pending}:
        fsync_dir(directory)


def write_text_atomic(path: Path, text: str) -> None:
    write_texts_atomic([(path, text)])


def write_artifact(path: Path, model: BaseModel) -> None:
    write_text_atomic(path, dump_json(model))
