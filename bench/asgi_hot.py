"""The engine's own per-request overhead, measured in-process: the ASGI app is called directly with a synthetic
scope (no sockets, no HTTP parser), so the numbers hold on a shared machine far better than a wrk run.

    python bench/asgi_hot.py [--requests 10000] [--profile get|function|bare] [--top 30]

Prints the mean µs per request for a get by id through the engine (master key), the same get through the bare
Starlette route of bench/bare.py (same SQLiteAdapter.find), a cloud function call and a batch of 50 creates;
`--profile NAME` runs that one under cProfile and prints the functions with the most cumulative and own time."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import pstats
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# `--engine-root OTHER_TREE` measures another checkout's engine (a before/after in the same minute).
_OTHER = sys.argv.index("--engine-root") + 1 if "--engine-root" in sys.argv else 0
sys.path.insert(0, sys.argv[_OTHER] if _OTHER else str(ROOT))

from bench.bare import build as build_bare  # noqa: E402
from engine.app import create_app  # noqa: E402
from engine.settings import Settings  # noqa: E402

APP_ID, MASTER, NOTE = "hot", "hot-master", "BenchNote"
CLOUD = '''
from engine.cloud import define


@define("ping")
async def ping(req):
    return {"ok": True}
'''

# Issue 17's "batch of 50 creates": one request, fifty sub-creates (per request, not per create, below).
BATCH = json.dumps({"requests": [{"method": "POST", "path": f"/parse/classes/{NOTE}", "body": {"n": i, "text": "b"}}
                                 for i in range(50)]}).encode()

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def _scope(method: str, path: str, headers: list[tuple[bytes, bytes]], query: bytes = b"") -> dict[str, Any]:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
            "path": path, "raw_path": path.encode(), "root_path": "", "query_string": query, "headers": headers,
            "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 1337)}


async def call(app: App, scope: dict[str, Any], body: bytes = b"") -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            await asyncio.sleep(3600)
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


async def _timed(name: str, app: App, make: Callable[[], tuple[dict[str, Any], bytes]], n: int,
                 profile: bool, top: int) -> float:
    for _ in range(200):  # warm caches and the schema store
        status, body = await call(app, *make())
        assert status == 200, (name, status, body)
    prof = cProfile.Profile() if profile else None
    if prof:
        prof.enable()
    # The event loop thread's CPU only: the store's own thread and the waits for it are the same for both apps.
    # The best of five rounds: a shared machine's load only ever adds time.
    walls, cpus = [], []
    for _ in range(5):
        start, cpu = time.perf_counter(), time.thread_time()
        for _ in range(n // 5):
            await call(app, *make())
        walls.append((time.perf_counter() - start) / (n // 5) * 1e6)
        cpus.append((time.thread_time() - cpu) / (n // 5) * 1e6)
    if prof:
        prof.disable()
    per_cpu = min(cpus)
    print(f"{name:>9}: {min(walls):8.1f} us wall, {per_cpu:8.1f} us loop-thread CPU (best of 5 rounds)")
    if prof:
        for key in ("cumulative", "tottime"):
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats(key).print_stats(top)
            print(out.getvalue())
    return per_cpu


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--profile", choices=("get", "function", "bare", "batch"))
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--engine-root", help="another checkout whose engine to measure (read before parsing)")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="asgi-hot-"))
    (tmp / "cloud.py").write_text(CLOUD)
    db = tmp / "hot.db"
    settings = Settings(app_id=APP_ID, master_key=MASTER, database_uri=f"sqlite:///{db}", cloud=str(tmp / "cloud.py"),
                        server_url="http://127.0.0.1:1337/parse")
    app = create_app(settings)
    master = [(b"host", b"127.0.0.1:1337"), (b"x-parse-application-id", APP_ID.encode()),
              (b"x-parse-master-key", MASTER.encode()), (b"content-type", b"application/json")]
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        status, body = await call(app, _scope("POST", f"/parse/classes/{NOTE}", master),
                                  b'{"n": 1, "text": "night 1", "tags": ["psg"]}')
        assert status == 201, body
        object_id = body.split(b'"objectId":"')[1].split(b'"')[0].decode()
        bare = build_bare(str(db), NOTE)
        await stack.enter_async_context(bare.router.lifespan_context(bare))
        results = {}
        for name, target, make in (
            ("bare", bare, lambda: (_scope("GET", f"/bare/{object_id}", [(b"host", b"x")]), b"")),
            ("get", app, lambda: (_scope("GET", f"/parse/classes/{NOTE}/{object_id}", master), b"")),
            ("function", app, lambda: (_scope("POST", "/parse/functions/ping", master), b"{}")),
            ("batch", app, lambda: (_scope("POST", "/parse/batch", master), BATCH)),
        ):
            if args.profile and args.profile != name:
                continue
            results[name] = await _timed(name, target, make, args.requests, args.profile == name, args.top)
    if "bare" in results and "get" in results:
        print(f"get / bare (loop-thread CPU) = {results['get'] / results['bare']:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
