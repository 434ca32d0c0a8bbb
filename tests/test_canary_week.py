"""Secrets end to end: a password in the URL and a token the backend echoes back
never reach a notebook, a log, the site, the PDF or the terminal.

Day 0 runs through a real Prometheus with ``user:password@`` in the URL; day 1
runs against a loopback backend that answers 400 echoing the request's
credentials (as some proxies do), so its notebook fails and is kept; day 7
(Prometheus again) makes the retrospective; then ``tars report`` publishes the
site and the PDF. Every file (the PDF as text too) and every
output is searched for both canaries.
"""

from __future__ import annotations

import base64
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .conftest import run_tars as tars
from .test_runner_faults import AuthRecorder

GA = "2025-11-18T00:00:00Z"
PASSWORD = "CanaryPassw0rd"
TOKEN = "CanaryT0ken-7f3a9c"


class EchoBackend:
    """Answers every query 400 with the credentials it was sent, in several spellings."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                auth = self.headers.get("Authorization", "")
                body = (
                    '{"status":"error","errorType":"bad_data","error":"rejected '
                    f"Authorization: {auth}; token={TOKEN} api_key={TOKEN} "
                    f'http://admin:{PASSWORD}@upstream"}}'
                ).encode()
                self.send_response(400)
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


def _texts(root: Path) -> list[tuple[Path, bytes]]:
    out = []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        out.append((path, path.read_bytes()))
        if path.suffix == ".pdf":
            text = subprocess.run(
                ["pdftotext", str(path), "-"], capture_output=True, check=True
            ).stdout
            out.append((path, text))
    return out


def test_no_secret_reaches_any_output(prometheus_url: str, tmp_path: Path) -> None:
    ws, site = tmp_path / "week", tmp_path / "site"
    basic = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
    recorder = AuthRecorder(prometheus_url)
    try:
        url = f"http://admin:{PASSWORD}@127.0.0.1:{recorder.port}"
        day0 = tars(
            "run-day", "0", "--workspace", str(ws), "--prometheus-url", url,
            "--ga-timestamp", GA, "--quiet", cwd=tmp_path,
        )  # fmt: skip
    finally:
        recorder.close()
    assert day0.returncode == 0, day0.stderr
    assert set(recorder.seen) == {f"Basic {basic}"}  # the password did reach the backend

    echo = EchoBackend()
    try:
        day1 = tars(
            "run-day", "1", "--workspace", str(ws), "--prometheus-url",
            f"http://127.0.0.1:{echo.port}", "--ga-timestamp", GA, "--retries", "0",
            cwd=tmp_path, env={"TARS_PROMETHEUS_TOKEN": TOKEN},
        )  # fmt: skip
    finally:
        echo.close()
    assert day1.returncode == 3, day1.stderr
    assert "***" in day1.stderr  # the echoed credentials were there, scrubbed
    kept = sorted(p.name for p in (ws / "runs" / "day_01").glob("*.failed.ipynb"))
    assert kept, "the failed notebook is kept for inspection"

    recorder = AuthRecorder(prometheus_url)
    try:  # day 7 makes the retrospective, so the report has a PDF
        day7 = tars(
            "run-day", "7", "--workspace", str(ws), "--prometheus-url",
            f"http://admin:{PASSWORD}@127.0.0.1:{recorder.port}", "--ga-timestamp", GA,
            "--quiet", cwd=tmp_path,
        )  # fmt: skip
    finally:
        recorder.close()
    assert day7.returncode == 0, day7.stderr

    report = tars("report", "--workspace", str(ws), "--output-dir", str(site), cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert (site / "index.html").is_file() and (site / "GA_7DAY_RETROSPECTIVE.pdf").is_file()
    assert not any(site.rglob("*.failed.ipynb")) and "failed" in report.stderr

    outputs = day0.stdout + day0.stderr + day1.stdout + day1.stderr + day7.stdout + day7.stderr
    outputs += report.stdout + report.stderr
    for secret in (PASSWORD, TOKEN, basic):
        assert secret not in outputs
        for path, data in _texts(ws) + _texts(site):
            assert secret.encode() not in data, f"{secret} in {path}"
