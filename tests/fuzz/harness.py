"""A synchronous driver for one in-process app, so hypothesis examples can call it without an event loop dance.

One `asyncio.Runner` owns the loop for the app's whole life (aiosqlite and the engine bind to it); each request
runs to completion on it, timed, with tracemalloc's peak reset first when memory is being traced.
"""

from __future__ import annotations

import asyncio
import json
import time
import tracemalloc
from typing import Any
from urllib.parse import quote

import httpx

from engine.settings import Settings
from tests.conftest import APP_ID, MASTER, start_app
from tests.fuzz.checks import Answer

BASE_HEADERS = {"X-Parse-Application-Id": APP_ID, "Content-Type": "application/json"}
MASTER_HEADERS = {**BASE_HEADERS, "X-Parse-Master-Key": MASTER}
_UNSET: Any = object()


def dump(value: Any) -> bytes:
    """JSON as a sloppy client writes it: NaN/Infinity allowed, lone surrogates escaped (the server must cope)."""
    return json.dumps(value, allow_nan=True).encode()


def _quote(text: str) -> str:
    # Lone surrogates go out as their (invalid) UTF-8 bytes: exactly what a hostile client can send.
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def _url(path: str, params: dict[str, str] | None) -> str:
    url = "/parse" + "/".join(_quote(p) for p in path.split("/"))
    if params:
        url += "?" + "&".join(f"{_quote(k)}={_quote(v)}" for k, v in params.items())
    return url


class Harness:
    def __init__(self, settings: Settings, *, trace_memory: bool = False) -> None:
        self.runner = asyncio.Runner()
        self.app, self.client = self.runner.run(start_app(settings))
        self.trace_memory = trace_memory
        if trace_memory:
            tracemalloc.start()

    def close(self) -> None:
        if self.trace_memory:
            tracemalloc.stop()
        self.runner.run(self.client.aclose())
        self.runner.run(self.app.state.engine.stop())
        self.runner.close()

    def request(self, method: str, path: str, body: Any = _UNSET, *, raw: bytes | None = None,
                params: dict[str, str] | None = None, headers: dict[str, Any] | None = None,
                master: bool = False) -> Answer:
        h = dict(MASTER_HEADERS if master else BASE_HEADERS) if headers is None else headers
        content = raw if raw is not None else (None if body is _UNSET else dump(body))
        sent = f"{method} {path} {params!r} {headers!r} {(content or b'')[:4000]!r}"
        baseline = 0
        if self.trace_memory:
            tracemalloc.reset_peak()
            baseline = tracemalloc.get_traced_memory()[0]
        start = time.monotonic()
        r: httpx.Response = self.runner.run(
            self.client.request(method, _url(path, params), content=content, headers=h))
        seconds = time.monotonic() - start
        # What this request added on top of what the process already held (hypothesis keeps growing its own).
        peak = tracemalloc.get_traced_memory()[1] - baseline if self.trace_memory else 0
        return Answer(r.status_code, r.text, seconds, peak, sent)

    # Ground truth for the "nothing invalid stored" checks: always read with the master key.
    def count(self, cls: str) -> int:
        a = self.request("GET", f"/classes/{cls}", params={"count": "1", "limit": "0"}, master=True)
        assert a.status == 200, a.text
        return int(a.json()["count"])

    def schema(self, cls: str) -> Any:
        a = self.request("GET", f"/schemas/{cls}", master=True)
        return a.json() if a.status == 200 else None

    def get(self, cls: str, oid: str) -> Any:
        a = self.request("GET", f"/classes/{cls}/{oid}", master=True)
        return a.json() if a.status == 200 else None

    def readable(self, cls: str) -> None:
        """Whatever was stored, the class still reads back (stored garbage shows up as a failing decode)."""
        a = self.request("GET", f"/classes/{cls}", params={"limit": "1000"}, master=True)
        assert a.status == 200, f"class {cls} no longer reads: {a.status} {a.text[:500]}"
