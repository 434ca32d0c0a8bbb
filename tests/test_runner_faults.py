"""`tars run-day` when things go wrong around the notebooks, with real processes:
a full disk (a small tmpfs), SIGINT/SIGTERM against a backend that never
answers, the output of a quiet success, and a password in the URL (a canary
through a real Prometheus)."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nbformat
import psutil
import pytest

from tars_lib.core.errors import SettingError
from tars_lib.core.workspace import Workspace
from tars_lib.report.runner import NotebookParameters, split_credentials
from tars_lib.sources.spec import SourceSpec

from .conftest import SCENARIO, TARS
from .conftest import run_tars as tars

GA = "2025-11-18T00:00:00Z"
DAY_1 = ("02_stability", "03_anomalies", "04_health")


def leftovers(root: Path) -> list[Path]:
    """Temporary files a run must never leave behind."""
    return [p for p in root.rglob("*") if ".running" in p.name or p.name.endswith(".tmp")]


def assert_notebooks_whole(root: Path) -> None:
    for path in root.rglob("*.ipynb"):
        nbformat.read(path, as_version=4)  # raises on a truncated notebook


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


# --------------------------------------------------------------------------- full disk


@contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root): {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        if subprocess.run(["umount", str(folder)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path, leave: int) -> None:
    """Use up a file system but ``leave`` bytes."""
    stat = os.statvfs(folder)
    free = stat.f_bavail * stat.f_frsize
    with (folder / "filler").open("wb") as handle:
        handle.write(b"\0" * max(0, free - leave))


def test_full_runs_folder_keeps_the_good_notebook_and_names_the_file(tmp_path: Path) -> None:
    """Papermill's own write fails: exit 5 naming the notebook, the last good one kept."""
    ws = tmp_path / "ws"
    with tmpfs(ws / "runs", "256k") as runs:
        first = tars("run-day", "0", "--scenario", str(SCENARIO), "--quiet", cwd=ws)
        assert first.returncode == 0, first.stderr
        good = runs / "day_00" / "01_ga_day.ipynb"
        before = good.read_bytes()
        fill(runs, leave=4096)
        again = tars("run-day", "0", "--scenario", str(SCENARIO), "--quiet", cwd=ws)
        assert again.returncode == 5, again.stderr
        line = one_line(again.stderr)
        assert line == (
            f"tars run-day: error: {good}: cannot write: No space left on device; "
            "nothing was replaced"
        )
        assert good.read_bytes() == before
        assert leftovers(ws) == []
        assert_notebooks_whole(ws)


def test_full_workspace_in_the_kernel_is_exit_5_naming_the_artifact(tmp_path: Path) -> None:
    """The notebook's own write fails (StorageError in the kernel): still exit 5, not 4."""
    with tmpfs(tmp_path / "ws", "64k") as ws:
        result = tars("run-day", "0", "--scenario", str(SCENARIO), "--quiet", cwd=ws)
        assert result.returncode == 5, result.stderr
        line = one_line(result.stderr)
        assert f"{ws / 'ga_kpis' / 'ga_kpi_summary.json'}: cannot write: No space left" in line
        kept = re.search(r"the failed notebook is kept at (\S+);", line)
        assert kept is not None, line
        assert Path(kept.group(1)) == ws / "runs" / "day_00" / "01_ga_day.failed.ipynb"
        assert not (ws / "runs" / "day_00" / "01_ga_day.ipynb").exists()
        assert leftovers(ws) == []
        assert_notebooks_whole(ws)


def test_failed_cell_is_kept_beside_the_last_good_notebook(tmp_path: Path) -> None:
    """A failed rerun never replaces the day's good notebook; a success clears the failure."""
    ok = tars("run-day", "0", "--scenario", str(SCENARIO), "--quiet", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    day = tmp_path / "runs" / "day_00"
    good = (day / "01_ga_day.ipynb").read_bytes()
    bad = tars(
        "run-day", "0", "--scenario", str(tmp_path / "missing.yaml"), "--quiet", cwd=tmp_path
    )
    assert bad.returncode == 2, bad.stderr
    line = one_line(bad.stderr)
    assert f"the failed notebook is kept at {day / '01_ga_day.failed.ipynb'}" in line
    assert f"kernel output in {day / 'run-day.log'}" in line
    assert (day / "01_ga_day.ipynb").read_bytes() == good
    assert nbformat.read(day / "01_ga_day.failed.ipynb", as_version=4).metadata.papermill[
        "exception"
    ]
    assert (day / "run-day.log").is_file()
    again = tars("run-day", "0", "--scenario", str(SCENARIO), "--quiet", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in day.iterdir()) == ["01_ga_day.ipynb"]


# --------------------------------------------------------------------------- signals


class SilentBackend:
    """Accepts connections and never answers (until closed): a backend gone slow."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections.append(conn)

    def close(self) -> None:
        self.server.close()
        for conn in self.connections:
            conn.close()


@pytest.fixture
def silent_backend() -> Iterator[SilentBackend]:
    backend = SilentBackend()
    try:
        yield backend
    finally:
        backend.close()


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace holding the GA baseline (day 0 on the simulated week)."""
    ws = tmp_path_factory.mktemp("baseline")
    result = tars("run-day", "0", "--scenario", str(SCENARIO), "--quiet", cwd=ws)
    assert result.returncode == 0, result.stderr
    assert json.loads((ws / "ga_kpis" / "ga_kpi_summary.json").read_text())["ga_timestamp"] == GA
    return ws


def kernels_of(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_stops_run_day_at_once_and_tells_the_truth(
    signum: signal.Signals, baseline: Path, silent_backend: SilentBackend, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(baseline, ws)
    args = ["run-day", "1", "--prometheus-url", silent_backend.url, "--ga-timestamp", GA]
    run = subprocess.Popen(
        [TARS, *args, "--quiet"], cwd=ws, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while len(silent_backend.connections) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)  # both notebooks are waiting on the backend
        assert len(silent_backend.connections) >= 2, "the notebooks never queried the backend"
        kernels = kernels_of(run.pid)
        assert len(kernels) >= 2
        sent = time.monotonic()
        run.send_signal(signum)
        stdout, stderr = run.communicate(timeout=30)
        seconds = time.monotonic() - sent
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == 128 + signum, stderr
    assert seconds < 10, f"took {seconds:.1f} s to stop"
    assert stdout == ""
    line = one_line(stderr)
    word = "interrupted" if signum == signal.SIGINT else "terminated"
    assert line == (
        f"tars run-day: error: {word} ({signum.name}): day 1 incomplete: "
        "02_stability and 03_anomalies were stopped mid-run (no notebooks kept); "
        "04_health did not run; rerun `tars run-day 1`"
    )
    day = ws / "runs" / "day_01"
    for name in DAY_1:  # what the message says: none finished, none kept
        assert not (day / f"{name}.ipynb").exists()
    assert not (ws / "stability" / "day_01_summary.json").exists()
    assert leftovers(ws) == []
    time.sleep(0.5)
    survivors = [k.pid for k in kernels if k.is_running() and k.status() != psutil.STATUS_ZOMBIE]
    assert survivors == []


# --------------------------------------------------------------------------- output


def test_quiet_success_prints_nothing_and_loud_one_line(tmp_path: Path) -> None:
    quiet = tars("run-day", "0", "--scenario", str(SCENARIO), "--quiet", cwd=tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    assert (quiet.stdout, quiet.stderr) == ("", "")
    loud = tars("run-day", "0", "--scenario", str(SCENARIO), cwd=tmp_path)
    assert loud.returncode == 0, loud.stderr
    assert loud.stderr == ""
    assert loud.stdout == f"Day 0: ran 01_ga_day into {tmp_path / 'runs' / 'day_00'}\n"
    assert sorted(p.name for p in (tmp_path / "runs" / "day_00").iterdir()) == ["01_ga_day.ipynb"]


# --------------------------------------------------------------------------- credentials


class AuthRecorder:
    """A loopback proxy to a real Prometheus that records each request's Authorization."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.seen: list[str | None] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                recorder.seen.append(self.headers.get("Authorization"))
                with urllib.request.urlopen(recorder.upstream + self.path, timeout=30) as answer:
                    body = answer.read()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_url_password_reaches_the_backend_and_no_file_or_output(
    prometheus_url: str, tmp_path: Path
) -> None:
    canary = "CANARY123"
    basic = base64.b64encode(f"admin:{canary}".encode()).decode()
    recorder = AuthRecorder(prometheus_url)
    try:
        url = f"http://admin:{canary}@127.0.0.1:{recorder.port}"
        result = tars(
            "run-day", "0", "--prometheus-url", url, "--ga-timestamp", GA, "--quiet", cwd=tmp_path
        )
    finally:
        recorder.close()
    assert result.returncode == 0, result.stderr
    assert recorder.seen and set(recorder.seen) == {f"Basic {basic}"}  # sent, from the env
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".ipynb" for p in files)
    for path in files:
        data = path.read_bytes()
        assert canary.encode() not in data and basic.encode() not in data, path
    assert canary not in result.stdout + result.stderr
    book = nbformat.read(tmp_path / "runs" / "day_00" / "01_ga_day.ipynb", as_version=4)
    shown = book.metadata.papermill.parameters["prometheus_url"]
    assert shown == f"http://127.0.0.1:{recorder.port}"


def test_split_credentials_strips_userinfo_and_decodes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("USER", "PASSWORD", "TOKEN", "TOKEN_FILE"):
        monkeypatch.delenv(f"TARS_PROMETHEUS_{name}", raising=False)
    assert split_credentials("https://a%40b:p%3Ass@[::1]:9090/prom?x=1") == (
        "https://[::1]:9090/prom?x=1",
        {"TARS_PROMETHEUS_USER": "a@b", "TARS_PROMETHEUS_PASSWORD": "p:ss"},
    )
    assert split_credentials("http://host:9090") == ("http://host:9090", {})
    parameters = NotebookParameters(source=SourceSpec(prometheus_url="http://u:secret@h:1"))
    assert parameters.for_day(Workspace(Path("/ws")), 1)["prometheus_url"] == "http://h:1"
    assert parameters.kernel_env() == {
        "TARS_PROMETHEUS_USER": "u",
        "TARS_PROMETHEUS_PASSWORD": "secret",
    }
    assert "TARS_PROMETHEUS_PASSWORD" not in os.environ


@pytest.mark.parametrize(
    ("url", "env", "expected"),
    [
        ("http://[::1:secret@", {}, "prometheus_url: not a valid URL"),
        ("http://user-only-secret@h", {}, "give both user and password"),
        ("http://u:secret@h", {"TARS_PROMETHEUS_TOKEN": "t"}, "TARS_PROMETHEUS_TOKEN is set too"),
    ],
)
def test_split_credentials_refuses_unclear_credentials_without_echoing_them(
    url: str, env: dict[str, str], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingError) as raised:
        split_credentials(url)
    assert expected in str(raised.value)
    assert "secret" not in str(raised.value)
