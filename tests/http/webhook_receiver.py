"""A local HTTP server on 127.0.0.1 standing in for a webhook endpoint (fixture `receiver`, tests/http/conftest.py)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Receiver:
    """A local HTTP server standing in for a webhook endpoint: answers per path, records what it was sent."""

    port: int = 0
    answers: dict[str, tuple[int, bytes, dict[str, str]]] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)
    stall: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> str:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.answers[path] = (status, raw, headers or {})
        return self.url(path)

    def bodies(self, path: str) -> list[Any]:
        return [body for p, _, body in self.calls if p == path]


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            rec.calls.append((self.path, {k.lower(): v for k, v in self.headers.items()}, json.loads(raw or b"null")))
            if self.path == "/stall":
                rec.stall.wait(10)  # released when the receiver stops
            status, body, headers = rec.answers.get(self.path, (404, b"{}", {}))
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    rec.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rec
    rec.stall.set()
    server.shutdown()
    server.server_close()
