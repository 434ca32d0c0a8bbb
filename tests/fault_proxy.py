"""A loopback HTTP proxy in front of a real Prometheus that injects one fault.

Faults a real server cannot be made to show on demand: slow answers, 5xx and
429, truncated bodies, ``"status":"error"`` with 200, empty results, and a
backend that dies mid-collection (connections dropped after N answers); also
``trickle`` (the real answer, one byte a second), ``retry-after`` (a first 429
with ``Retry-After: 86400``, then real answers), ``huge`` (a valid answer of
``huge_bytes``, streamed) and ``warnings`` (real answers with a Thanos-style
``"warnings"`` array added when the query contains ``warn_match``). Every
request is counted, and its path and headers recorded (``paths``, ``headers``),
so tests can check the retries were bounded, what was sent and how often.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

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
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.huge_bytes = 64 * 1024 * 1024
        self.huge_length = True  # send Content-Length with the huge answer
        self.warn_match = "redis_keyspace"
        self.warning = "partial response: store 10.0.0.7:10901 unavailable"


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
                proxy.paths.append(self.path)
                proxy.headers.append(dict(self.headers))
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
            if fault == "retry-after" and n == 1:
                self.send_response(429)
                self.send_header("Retry-After", "86400")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if fault == "huge":
                self._send_huge(proxy.huge_bytes, proxy.huge_length)
                return
            if fault == "error-body":
                self._send(200, b'{"status":"error","errorType":"execution","error":"boom"}')
                return
            if fault == "empty":
                self._send(200, b'{"status":"success","data":{"resultType":"matrix","result":[]}}')
                return
            with urllib.request.urlopen(proxy.upstream + self.path, timeout=30) as answer:
                body = answer.read()
            if fault == "trickle":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    for i in range(len(body)):
                        self.wfile.write(body[i : i + 1])
                        self.wfile.flush()
                        time.sleep(1.0)
                except OSError:
                    pass
                return
            if fault == "warnings" and proxy.warn_match in unquote(self.path):
                answer = json.loads(body)
                answer["warnings"] = [proxy.warning]
                body = json.dumps(answer).encode()
            if fault == "truncate":
                self._send(200, body[: len(body) // 2], length=len(body))
                self.close_connection = True
                return
            self._send(200, body)

        def _send_huge(self, size: int, with_length: bool) -> None:
            """A well-formed answer of about ``size`` bytes: one series, many points."""
            head = b'{"status":"success","data":{"resultType":"matrix","result":'
            head += b'[{"metric":{},"values":['
            tail = b"]}]}}"
            point = b'[1762819200,"1"],'
            count = max(1, (size - len(head) - len(tail)) // len(point))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if with_length:
                length = len(head) + count * len(point) - 1 + len(tail)
                self.send_header("Content-Length", str(length))
            self.close_connection = True
            self.end_headers()
            try:
                self.wfile.write(head)
                block = point * 4096
                left = count
                while left > 4096:
                    self.wfile.write(block)
                    left -= 4096
                self.wfile.write((point * left)[:-1] + tail)
            except OSError:
                pass

    return Handler


@contextmanager
def fault_proxy(
    upstream: str, fault: str, after: int = 0, **options: object
) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream, fault, after)
    for name, value in options.items():
        setattr(proxy, name, value)
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
