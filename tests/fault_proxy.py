"""A loopback HTTP proxy in front of a real Prometheus that injects one fault.

Faults a real server cannot be made to show on demand: slow answers, 5xx and
429, truncated bodies, ``"status":"error"`` with 200, empty results, and a
backend that dies mid-collection (connections dropped after N answers). Every
request is counted, so tests can check the retries were bounded.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["FaultProxy", "fault_proxy"]


class FaultProxy:
    def __init__(self, upstream: str, fault: str, after: int = 0) -> None:
        self.upstream = upstream.rstrip("/")
        self.fault = fault
        self.after = after  # answer this many requests normally before the fault starts
        self.requests = 0
        self.seen: set[str] = set()
        self.lock = threading.Lock()
        self.url = ""


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def _send(self, status: int, body: bytes, length: int | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            with proxy.lock:
                proxy.requests += 1
                n = proxy.requests
            fault = proxy.fault if n > proxy.after else "none"
            if fault == "flaky-503":  # each distinct request fails once, then succeeds
                with proxy.lock:
                    first_time = self.path not in proxy.seen
                    proxy.seen.add(self.path)
                fault = "status:503" if first_time else "none"
            if fault == "drop":
                self.close_connection = True
                self.connection.close()
                return
            if fault.startswith("status:"):
                code = int(fault.split(":")[1])
                body = json.dumps(
                    {"status": "error", "errorType": "unavailable", "error": f"injected {code}"}
                ).encode()
                self._send(code, body)
                return
            if fault == "slow":
                time.sleep(3.0)
            if fault == "error-body":
                self._send(200, b'{"status":"error","errorType":"execution","error":"boom"}')
                return
            if fault == "empty":
                self._send(200, b'{"status":"success","data":{"resultType":"matrix","result":[]}}')
                return
            with urllib.request.urlopen(proxy.upstream + self.path, timeout=30) as answer:
                body = answer.read()
            if fault == "truncate":
                self._send(200, body[: len(body) // 2], length=len(body))
                self.close_connection = True
                return
            self._send(200, body)

    return Handler


@contextmanager
def fault_proxy(upstream: str, fault: str, after: int = 0) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream, fault, after)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    server.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
