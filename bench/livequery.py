"""LiveQuery fan-out benchmark, side by side with Parse Server 9.10 (not part of the test suite).

    python bench/livequery.py [--subscribers 10000] [--workers 4] [--rate 5] [--seconds 10]
                              [--deflate] [--peer] [--skip-ours]

Opens `--subscribers` websocket clients (spread over `--workers` client processes, offering permessage-deflate
only with `--deflate`) with a mix of queries, each an equality on `n` (one of 100 buckets) so every event
matches 1 % of them: 40 % `{n: b}`, 40 % `{n: b, v: {$gte: 0}}`, 20 % `{n: {$in: [b]}}` (not indexable: checked on
every write). Then creates `--rate` objects per second for `--seconds`, and reports the event-to-client latency
(p50/p99, from the `sent` time each object carries, same machine clock), the REST write latency, and the server's
RSS per idle subscriber.

Ours: `sleeplab serve` on a free port with a throwaway SQLite file. `--peer`: Parse Server from
/work/shared/peer/start.sh (http://127.0.0.1:1338/parse, app `peer`); start it with
PEER_LIVE_CLASSES=BenchFan so the class publishes events. Its RSS is read from $PEER_HOME/pid.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from memory import free_port, pct, raise_nofile, rss_kib  # bench/ is not a package

ROOT = Path(__file__).resolve().parent.parent
CLASS = "BenchFan"
BUCKETS = 100


@dataclass
class Target:
    name: str
    url: str
    app_id: str
    master: str
    pid: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def ws_url(self) -> str:
        return self.url.replace("http", "ws", 1)

    def headers(self) -> dict[str, str]:
        return {"X-Parse-Application-Id": self.app_id, "X-Parse-Master-Key": self.master,
                "Content-Type": "application/json"}


def start_ours(tmp: str, deflate: bool) -> Target:
    port, master = free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "engine", "serve", "--port", str(port), "--host", "127.0.0.1", "--app-id", "bench",
           "--master-key", master, "--database-uri", f"sqlite:///{tmp}/bench.db", "--max-websockets", "0",
           "--max-connections", "100000", "--ws-per-message-deflate", "true" if deflate else "false"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARSE_SERVER_", "SLEEPLAB_"))}
    log = open(Path(tmp) / "server.log", "wb")  # open for the server's life
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/parse"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return Target("sleeplab", url, "bench", master, proc.pid, proc)
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


def peer() -> Target:
    home = Path(os.environ.get("PEER_HOME", Path.home() / ".cache" / "parse-server-peer"))
    pid = int((home / "pid").read_text())
    port = os.environ.get("PEER_PORT", "1338")
    return Target("Parse Server 9.10", f"http://127.0.0.1:{port}/parse", "peer", "peermaster", pid)


def _query(i: int) -> dict[str, Any]:
    b = i % BUCKETS
    kind = i % 5
    if kind < 2:
        where: dict[str, Any] = {"n": b}
    elif kind < 4:
        where = {"n": b, "v": {"$gte": 0}}
    else:
        where = {"n": {"$in": [b]}}
    return {"className": CLASS, "where": where}


def _subscribers(ws_url: str, app_id: str, first: int, count: int, deflate: bool, out: Any, stop: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise_nofile()
    import websockets

    async def main() -> None:
        latencies: list[float] = []
        conns: list[Any] = []
        sem = asyncio.Semaphore(100)

        async def open_one(i: int) -> None:
            async with sem:
                ws = await websockets.connect(ws_url, open_timeout=60, close_timeout=1, max_queue=64,
                                              compression="deflate" if deflate else None)
                await ws.send(json.dumps({"op": "connect", "applicationId": app_id}))
                await asyncio.wait_for(ws.recv(), 60)
                await ws.send(json.dumps({"op": "subscribe", "requestId": 1, "query": _query(i)}))
                msg = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if msg.get("op") != "subscribed":
                    await ws.close()
                    raise RuntimeError(msg)
                conns.append(ws)

        results = await asyncio.gather(*(open_one(first + i) for i in range(count)), return_exceptions=True)
        out.put(("ready", len(conns), sum(1 for r in results if isinstance(r, BaseException))))

        async def listen(ws: Any) -> None:
            try:
                async for raw in ws:
                    msg = json.loads(raw)
                    if msg.get("op") == "create":
                        latencies.append((time.time() - msg["object"]["sent"]) * 1000)
            except Exception:
                pass

        tasks = [asyncio.create_task(listen(ws)) for ws in conns]
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)
        out.put(("latencies", latencies))
        for t in tasks:
            t.cancel()
        await asyncio.gather(*(ws.close() for ws in conns), return_exceptions=True)

    asyncio.run(main())


@dataclass
class Result:
    opened: int
    failed: int
    per_sub_kib: float
    events_expected: int
    latencies: list[float]
    writes: list[float]


def run(t: Target, subscribers: int, workers: int, rate: float, seconds: float, deflate: bool) -> Result:
    # The class must exist (with the fields) before clients subscribe to it.
    httpx.post(f"{t.url}/classes/{CLASS}", json={"n": -1, "v": 0, "sent": 0.0}, headers=t.headers(), timeout=30)
    ctx = mp.get_context("fork")
    out, stop = ctx.Queue(), ctx.Event()
    per = [subscribers // workers + (1 if i < subscribers % workers else 0) for i in range(workers)]
    time.sleep(1)
    before = rss_kib(t.pid)
    procs, first = [], 0
    for n in per:
        p = ctx.Process(target=_subscribers, args=(t.ws_url, t.app_id, first, n, deflate, out, stop), daemon=True)
        p.start()
        procs.append(p)
        first += n
    try:
        opened = failed = 0
        for _ in procs:
            _, ok, bad = out.get(timeout=1200)
            opened, failed = opened + ok, failed + bad
        time.sleep(3)
        idle = rss_kib(t.pid)
        writes: list[float] = []
        total = int(rate * seconds)
        with httpx.Client(headers=t.headers(), timeout=30) as http:
            start = time.monotonic()
            for j in range(total):
                delay = start + j / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                w0 = time.perf_counter()
                http.post(f"{t.url}/classes/{CLASS}", json={"n": j % BUCKETS, "v": j, "sent": time.time()})
                writes.append((time.perf_counter() - w0) * 1000)
        time.sleep(5)
        stop.set()
        lat: list[float] = []
        for _ in procs:
            kind, payload = out.get(timeout=120)
            if kind == "latencies":
                lat.extend(payload)
        expected = sum(1 for j in range(total) for i in range(subscribers) if i % BUCKETS == j % BUCKETS) \
            if subscribers * total < 5_000_000 else total * subscribers // BUCKETS
        return Result(opened, failed, (idle - before) / max(1, opened), expected, sorted(lat), sorted(writes))
    finally:
        stop.set()
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.terminate()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subscribers", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--rate", type=float, default=5.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--deflate", action="store_true", help="clients offer permessage-deflate (ours: server on)")
    ap.add_argument("--peer", action="store_true", help="also measure Parse Server from /work/shared/peer")
    ap.add_argument("--skip-ours", action="store_true")
    args = ap.parse_args()
    raise_nofile()
    rows: list[tuple[str, Result]] = []
    with tempfile.TemporaryDirectory(prefix="sleeplab-lqbench-") as tmp:
        if not args.skip_ours:
            ours = start_ours(tmp, args.deflate)
            try:
                rows.append((ours.name, run(ours, args.subscribers, args.workers, args.rate, args.seconds,
                                            args.deflate)))
            finally:
                assert ours.proc is not None
                ours.proc.terminate()
                ours.proc.wait(10)
        if args.peer:
            p = peer()
            rows.append((p.name, run(p, args.subscribers, args.workers, args.rate, args.seconds, args.deflate)))
    print(f"{args.subscribers} subscribers, {args.rate:g} creates/s for {args.seconds:g} s, each matching 1 %, "
          f"deflate {'offered' if args.deflate else 'off'}\n")
    print("| server | subscribed / failed | events recv / expected | event p50 / p99 ms | write p50 / p99 ms "
          "| RSS per idle subscriber |\n|---|---|---|---|---|---|")
    for name, r in rows:
        print(f"| {name} | {r.opened} / {r.failed} | {len(r.latencies)} / {r.events_expected} | "
              f"{pct(r.latencies, 0.5):.1f} / {pct(r.latencies, 0.99):.1f} | "
              f"{pct(r.writes, 0.5):.1f} / {pct(r.writes, 0.99):.1f} | {r.per_sub_kib:.1f} KiB |")


if __name__ == "__main__":
    main()
