"""``tars run-day N``: execute the day's phase notebooks with papermill.

Day 0 runs the GA-day notebook; days 1..7 run stability, anomalies and health;
day 7 also runs regression and the retrospective. Executed notebooks go to
``runs/day_NN/`` in the workspace.

Nothing there is ever half-written: papermill writes ``.NAME.running.ipynb``
beside the notebook (it rewrites it after every cell), and only a notebook whose
cells all ran is synced and renamed over ``NAME.ipynb``. A failing cell stops the
day with a message naming the notebook and the cell; the failed notebook is kept
as ``NAME.failed.ipynb``, so the day's last good notebook stays. The kernels'
output and papermill's log go to ``run-day.log`` there, kept only when the day
failed: the terminal (and cron's mail) sees one line. SIGINT and SIGTERM kill the
kernels at once and the message says which notebooks finished.

Parameters never carry credentials: papermill writes them into the notebook, so
a URL's ``user:password@`` reaches the kernels through their environment only.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import FrameType
from typing import Any, TextIO
from urllib.parse import unquote, urlsplit, urlunsplit

from tars_lib.core.artifacts import fsync_dir
from tars_lib.core.errors import (
    BusyError,
    InputError,
    NotebookError,
    SettingError,
    SourceError,
    StorageError,
    TarsError,
    storage_error,
)
from tars_lib.core.models import AnomalyParameters
from tars_lib.core.workspace import PROJECT, Workspace
from tars_lib.sources.spec import SourceSpec

__all__ = [
    "PHASE_NOTEBOOKS",
    "Interrupted",
    "NotebookParameters",
    "notebook_warnings",
    "notebooks_for_day",
    "phase_title",
    "run_day",
    "stages_for_day",
]

PHASE_NOTEBOOKS = (
    "01_ga_day",
    "02_stability",
    "03_anomalies",
    "04_health",
    "05_regression",
    "06_retrospective",
)
_ERRORS: dict[str, type[TarsError]] = {
    "InputError": InputError,
    "SettingError": InputError,
    "SourceError": SourceError,
    "StorageError": StorageError,
    "BusyError": BusyError,
}
_STORAGE_TEXTS = tuple(
    os.strerror(code) for code in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG)
)
"""How a kernel's ``OSError`` says the disk is full (or read-only): exit 5, not 4."""
_CREDENTIALS = ("TARS_PROMETHEUS_USER", "TARS_PROMETHEUS_PASSWORD")
_OTHER_CREDENTIALS = (*_CREDENTIALS, "TARS_PROMETHEUS_TOKEN", "TARS_PROMETHEUS_TOKEN_FILE")
_LOG_NAME = "run-day.log"
_RUNNING = ".running"
_FAILED = ".failed"
_LOGGERS = ("papermill", "nbclient", "traitlets", "jupyter_client")
_WIND_DOWN = 5.0
"""Seconds a notebook's thread gets to notice its killed kernel before it is abandoned."""


class Interrupted(TarsError):
    """SIGINT or SIGTERM stopped the day; the message says what finished and was kept."""

    def __init__(self, signum: int, message: str) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum  # 130 for SIGINT, 143 for SIGTERM


@cache
def phase_title(name: str) -> str:
    """A phase's title is its notebook's first heading: the notebook is the one source."""
    cells = json.loads(PROJECT.notebook(name).read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        if cell["cell_type"] == "markdown":
            first = "".join(cell["source"]).lstrip().splitlines()[0]
            return first.lstrip("#").strip()
    return name


def split_credentials(url: str) -> tuple[str, dict[str, str]]:
    """``url`` without ``user:password@``, and the kernels' environment carrying them.

    Papermill writes every parameter into the executed notebook and its metadata,
    which ``tars report`` publishes; the source reads TARS_PROMETHEUS_USER and
    TARS_PROMETHEUS_PASSWORD instead. Percent-escapes are decoded, as requests does.
    """
    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:  # the URL is not echoed: it may hold a password
        raise SettingError("prometheus_url", "{prometheus_url}: not a valid URL") from None
    if user is None and password is None:
        return url, {}
    if not user or not password:
        raise SettingError(
            "prometheus_url",
            "{prometheus_url}: give both user and password in the URL, or use "
            "TARS_PROMETHEUS_TOKEN (or TARS_PROMETHEUS_USER and TARS_PROMETHEUS_PASSWORD)",
        )
    already = [name for name in _OTHER_CREDENTIALS if os.environ.get(name)]
    if already:
        raise SettingError(
            "prometheus_url",
            f"{{prometheus_url}} holds user:password@ and {already[0]} is set too: "
            "give the credentials one way",
        )
    host = parts.netloc.rpartition("@")[2]
    stripped = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return stripped, dict(zip(_CREDENTIALS, (unquote(user), unquote(password)), strict=True))


@dataclass(frozen=True)
class NotebookParameters:
    """What papermill injects into a day's notebooks; never credentials.

    The names are the notebooks' ``parameters`` cell (a test keeps them equal):
    the source's and the detector's settings, the catalogue and the GA moment.
    """

    source: SourceSpec = field(default_factory=SourceSpec)
    detector: AnomalyParameters = field(default_factory=AnomalyParameters)
    config: Path | None = None
    ga_timestamp: str | None = None
    changes: Path | None = None
    strict: bool = False
    """Partial data (coverage below ``policy.MIN_COVERAGE``) fails the collecting notebooks."""

    def kernel_env(self) -> dict[str, str]:
        """What the kernels' environment adds: the URL's user and password, if it had any."""
        url = self.source.prometheus_url
        return split_credentials(url)[1] if url else {}

    def for_day(self, workspace: Workspace, day: int) -> dict[str, object]:
        spec = self.source
        return {
            "workspace": str(workspace.root),
            "prometheus_url": split_credentials(spec.prometheus_url)[0]
            if spec.prometheus_url
            else "",
            "scenario": str(Path(spec.scenario).resolve()) if spec.scenario else "",
            "selector": spec.selector or "",
            "timeout": spec.timeout,
            "retries": spec.retries,
            "concurrency": spec.concurrency,
            "max_retry_after": spec.max_retry_after,
            "max_response_bytes": spec.max_response_bytes,
            "config": str(Path(self.config).resolve()) if self.config else "",
            "ga_timestamp": self.ga_timestamp or "",
            "day_number": max(day, 1),
            "z_threshold": self.detector.z_threshold,
            "ewma_alpha": self.detector.ewma_alpha,
            "variance_alpha": self.detector.variance_alpha,
            "level_shift_hours": self.detector.level_shift_hours,
            "max_events_per_day": self.detector.max_events_per_day,
            "changes": str(Path(self.changes).resolve()) if self.changes else "",
            "strict": self.strict,
            "collect": True,
            "publish": True,
        }


def stages_for_day(day: int) -> list[list[str]]:
    """The day's notebooks in stages: a stage's notebooks only need earlier stages.

    Stability and anomalies both read only the GA baseline, so they run side by
    side; health needs both; regression needs the day's summary; the
    retrospective needs everything.
    """
    if day == 0:
        return [["01_ga_day"]]
    if not 1 <= day <= 7:
        raise InputError(f"day {day}: run-day takes 0 (GA day) to 7")
    if day == 7:
        return [
            ["02_stability", "03_anomalies"],
            ["04_health", "05_regression"],
            ["06_retrospective"],
        ]
    return [["02_stability", "03_anomalies"], ["04_health"]]


def notebooks_for_day(day: int) -> list[str]:
    return [name for stage in stages_for_day(day) for name in stage]


# --------------------------------------------------------------------------- kernels


class _Stopped(Exception):
    """A notebook ended because the day was interrupted (its kernel was killed)."""


class _Kernels:
    """The day's live kernel processes, so that a signal kills every one at once.

    A kernel runs in its own session (jupyter_client starts it so), so it never
    sees the terminal's Ctrl-C: killing its process group is up to us. A kernel
    that starts after the stop is killed as it registers.
    """

    def __init__(self, env: dict[str, str], log: TextIO) -> None:
        self.env = env
        self.log = log
        self.signum: int | None = None
        self.wake = threading.Event()
        self._lock = threading.Lock()
        self._processes: list[Any] = []  # subprocess.Popen of each kernel

    @property
    def stopping(self) -> bool:
        return self.signum is not None

    def started(self, process: Any) -> None:
        with self._lock:
            self._processes.append(process)
            if self.stopping:
                _kill(process)

    def stop(self, signum: int) -> None:
        with self._lock:
            if self.signum is None:
                self.signum = signum
            for process in self._processes:
                _kill(process)
        self.wake.set()

    def manager_class(self) -> type[Any]:
        """A kernel manager that starts its kernel quietly, with our env, and registers it."""
        from jupyter_client.manager import AsyncKernelManager

        kernels = self

        class DayKernelManager(AsyncKernelManager):
            async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
                if kernels.stopping:
                    raise _Stopped
                kw.update(
                    env={**os.environ, **kernels.env},
                    stdout=kernels.log,
                    stderr=kernels.log,
                    cwd=str(PROJECT.notebook_dir),  # not papermill's cwd=: that chdirs us
                )
                await super().start_kernel(**kw)
                process = getattr(self.provisioner, "process", None)
                if process is not None:
                    kernels.started(process)

        return DayKernelManager


def _kill(process: Any) -> None:
    """SIGKILL the kernel's process group; a reaped kernel's pid may be someone else's."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        with suppress(OSError):
            process.kill()


@contextmanager
def _stop_on_signals(kernels: _Kernels) -> Iterator[None]:
    """SIGINT and SIGTERM stop the day (not a KeyboardInterrupt mid-cleanup), then
    the previous handlers come back. Only the main thread can set handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        kernels.signum = kernels.signum or signum
        kernels.wake.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


class _QuietHandler(logging.StreamHandler):  # type: ignore[type-arg]
    def handleError(self, record: logging.LogRecord) -> None:
        """A full disk must not turn a log line into a traceback on the terminal."""


@contextmanager
def _captured_logs(stream: TextIO) -> Iterator[None]:
    """Papermill's and the kernel machinery's loggers write to the day's log only."""
    handler = _QuietHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    saved = []
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.handlers[:], logger.propagate, logger.level))
        logger.handlers, logger.propagate = [handler], False
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        for logger, handlers, propagate, level in saved:
            logger.handlers, logger.propagate = handlers, propagate
            logger.setLevel(level)


# --------------------------------------------------------------------------- files


_WARNING_LINE = re.compile(r"^\S.*?:\d+: (\w*Warning): (.+)$")


def notebook_warnings(node: Any) -> list[str]:
    """The Python warnings a notebook's cells printed (``file:line: XWarning: text``).

    Pages leave stderr out, so these are said on the terminal instead: partial
    data or a backend's warning must reach the person running the day.
    """
    out: list[str] = []
    for cell in node.get("cells", []):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                for line in str(output.get("text", "")).splitlines():
                    match = _WARNING_LINE.match(line)
                    if match and match.group(2) not in out:
                        out.append(match.group(2))
    return out


def _publish(temp: Path, dest: Path) -> list[str]:
    """Rename the executed ``temp`` over ``dest`` once it is on disk: a crash or a full
    disk leaves the old notebook or the new one, never part of one. Its metadata names
    ``dest``, not the temporary file papermill wrote."""
    import nbformat

    node = nbformat.read(temp, as_version=4)
    said = notebook_warnings(node)
    node.metadata.setdefault("papermill", {})["output_path"] = str(dest)
    with temp.open("w", encoding="utf-8") as handle:
        nbformat.write(node, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, dest)
    fsync_dir(dest.parent)
    return said


def _keep_failed(temp: Path, failed: Path) -> bool:
    """Keep a failed run for inspection if it is whole (on a full disk it may not be)."""
    try:
        _publish(temp, failed)
    except Exception:  # truncated JSON, no space to rewrite it: nothing worth keeping
        return False
    return True


def _kernel_error(ename: str, evalue: str) -> type[TarsError]:
    if ename in ("OSError", "IOError") and any(text in evalue for text in _STORAGE_TEXTS):
        return StorageError
    return _ERRORS.get(ename, NotebookError)


# --------------------------------------------------------------------------- the day


@dataclass
class _Notebook:
    name: str
    final: Path
    state: str = "not run"  # -> running -> finished | failed | stopped
    error: BaseException | None = None
    thread: threading.Thread | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def temp(self) -> Path:
        # papermill warns about any other suffix; the dot keeps it off ``tars report``'s list
        return self.final.with_name(f".{self.final.stem}{_RUNNING}{self.final.suffix}")

    @property
    def failed(self) -> Path:
        return self.final.with_name(f"{self.final.stem}{_FAILED}{self.final.suffix}")


def run_day(
    day: int,
    workspace: Workspace,
    parameters: NotebookParameters,
    *,
    progress: bool = False,
    cell_timeout: int = 600,
) -> list[Path]:
    """Execute the day's notebooks in order; return the executed notebooks' paths.

    Raises ``Interrupted`` (exit 130/143) on SIGINT/SIGTERM, after killing the
    kernels and removing the unfinished notebooks.
    """
    stages = stages_for_day(day)  # checks the day before anything is made
    workspace = Workspace.at(workspace.root)
    out_dir = workspace.run_dir(day)
    params = parameters.for_day(workspace, day)
    env = parameters.kernel_env()
    out_dir.mkdir(parents=True, exist_ok=True)
    log_path = out_dir / _LOG_NAME
    books = {
        name: _Notebook(name, out_dir / PROJECT.notebook_file(name))
        for stage in stages
        for name in stage
    }
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8", buffering=1) as log:
        kernels = _Kernels(env, log)
        ok = False
        try:
            with _captured_logs(log), _stop_on_signals(kernels):
                try:
                    _run_stages(stages, books, kernels, params, cell_timeout, progress, log_path)
                except KeyboardInterrupt:  # a SIGINT before our handler, or off the main thread
                    kernels.stop(signal.SIGINT)
                if kernels.stopping and any(b.state != "finished" for b in books.values()):
                    _wind_down(books)
                    assert kernels.signum is not None
                    raise Interrupted(kernels.signum, _interrupted(day, books, kernels.signum))
            ok = True
            said: list[str] = []
            for book in books.values():
                said += [w for w in book.warnings if w not in said]
            for text in said:  # stability and anomalies see the same gaps: once each
                print(f"tars: warning: {text}", file=sys.stderr)
        finally:
            for book in books.values():
                book.temp.unlink(missing_ok=True)
            if ok:
                log_path.unlink(missing_ok=True)
    return [book.final for book in books.values()]


def _run_stages(
    stages: list[list[str]],
    books: dict[str, _Notebook],
    kernels: _Kernels,
    params: dict[str, object],
    cell_timeout: int,
    progress: bool,
    log_path: Path,
) -> None:
    """Each stage's notebooks side by side; the first failure ends the day after its
    stage (a sibling's artifacts are good), a signal ends it at once."""
    manager = kernels.manager_class()
    for stage in stages:
        if kernels.stopping:
            break
        for name in stage:
            book = books[name]
            book.state = "running"

            def work(book: _Notebook = book) -> None:
                try:
                    _execute(book, manager, params, cell_timeout, kernels, log_path)
                    book.state = "finished"
                    if progress:
                        print(f"ran {book.name} -> {book.final}", file=sys.stderr)
                except _Stopped:
                    book.state = "stopped"
                except BaseException as exc:
                    book.state, book.error = ("stopped" if kernels.stopping else "failed"), exc
                finally:
                    _close_event_loop()
                    kernels.wake.set()

            # daemon: a thread stuck past the wind-down never holds the process open
            book.thread = threading.Thread(target=work, name=f"tars-{name}", daemon=True)
            book.thread.start()
        while not kernels.stopping and any(books[n].state == "running" for n in stage):
            kernels.wake.wait(0.2)
            kernels.wake.clear()
        if kernels.stopping:
            break
        for name in stage:
            error = books[name].error
            if error is not None:
                raise error
    if kernels.stopping:
        kernels.stop(kernels.signum or signal.SIGINT)  # the handler only flagged it


def _close_event_loop() -> None:
    """Close the loop nbclient left in this thread. A killed kernel leaves tasks on it
    (heartbeat, polling), and a loop collected at interpreter exit prints a traceback."""
    import asyncio

    from jupyter_core.utils import ensure_event_loop

    loop = ensure_event_loop()  # this thread's loop (a new one if it had none)
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.wait(pending, timeout=1.0))
    loop.close()


def _execute(
    book: _Notebook,
    manager: type[Any],
    params: dict[str, object],
    cell_timeout: int,
    kernels: _Kernels,
    log_path: Path,
) -> None:
    import papermill
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    book.temp.unlink(missing_ok=True)  # left by a run killed with SIGKILL
    try:
        papermill.execute_notebook(
            str(PROJECT.notebook(book.name)),
            str(book.temp),
            parameters=params,
            kernel_name="python3",
            progress_bar=False,
            execution_timeout=cell_timeout,
            kernel_manager_class=manager,
        )
    except PapermillExecutionError as exc:
        if kernels.stopping:
            raise _Stopped from None
        kept = _keep_failed(book.temp, book.failed)
        error = _kernel_error(exc.ename, str(exc.evalue or ""))
        message = str(exc.evalue).splitlines()[0] if exc.evalue else exc.ename
        where = (
            f"the failed notebook is kept at {book.failed}"
            if kept
            else "the failed notebook could not be kept"
        )
        raise error(
            f"notebook {book.name} failed in cell {exc.exec_count} ({exc.ename}: {message}); "
            f"{where}; kernel output in {log_path}"
        ) from None
    except OSError as exc:  # papermill's own write of the notebook
        if kernels.stopping:
            raise _Stopped from None
        raise storage_error(exc, book.final) or exc from None
    except DeadKernelError as exc:
        if kernels.stopping:
            raise _Stopped from None
        raise NotebookError(
            f"notebook {book.name}: its kernel died ({exc}); kernel output in {log_path}"
        ) from None
    except Exception:
        if kernels.stopping:
            raise _Stopped from None
        raise
    try:
        book.warnings = _publish(book.temp, book.final)
    except OSError as exc:
        raise storage_error(exc, book.final) or exc from None
    book.failed.unlink(missing_ok=True)  # an earlier failure of this notebook is history now


def _wind_down(books: dict[str, _Notebook]) -> None:
    """Give the threads of killed kernels a moment to unwind (they notice within ~1 s)."""
    for book in books.values():
        if book.thread is not None:
            book.thread.join(_WIND_DOWN)


def _interrupted(day: int, books: dict[str, _Notebook], signum: int) -> str:
    """What is on disk after a stop, in words that are true."""
    names: dict[str, list[str]] = {}
    for book in books.values():
        names.setdefault(book.state, []).append(book.name)

    def listed(state: str, singular: str, plural: str) -> str:
        found = names.get(state, [])
        if not found:
            return ""
        joined = ", ".join(found[:-1]) + " and " + found[-1] if len(found) > 1 else found[0]
        return f"{joined} {singular if len(found) == 1 else plural}"

    parts = [
        listed(
            "finished",
            "finished (its notebook and artifacts are kept)",
            "finished (their notebooks and artifacts are kept)",
        ),
        listed("failed", "failed", "failed"),
        listed(
            "running",
            "was still running (abandoned; no notebook kept)",
            "were still running (abandoned; no notebooks kept)",
        ),
        listed(
            "stopped",
            "was stopped mid-run (no notebook kept)",
            "were stopped mid-run (no notebooks kept)",
        ),
        listed("not run", "did not run", "did not run"),
    ]
    stale = [b.name for b in books.values() if b.state != "finished" and b.final.is_file()]
    if stale:
        parts.append(
            f"the {stale[0]} notebook on disk is from an earlier run"
            if len(stale) == 1
            else f"the {', '.join(stale)} notebooks on disk are from an earlier run"
        )
    label = "day 0 (GA day)" if day == 0 else f"day {day}"
    what = "interrupted" if signum == signal.SIGINT else "terminated"
    return (
        f"{what} ({signal.Signals(signum).name}): {label} incomplete: "
        f"{'; '.join(p for p in parts if p)}; rerun `tars run-day {day}`"
    )
