"""Server memory under load and under many idle LiveQuery subscribers (not part of the test suite).

    python bench/memory.py [--seconds 20] [--concurrency 8] [--subscribers 10000] [--workers 4]
                           [--mem-limit-mb 2048] [--skip-load] [--skip-livequery]

Starts `sleeplab serve` on a free loopback port with a throwaway SQLite file, under an address-space limit
(ulimit -v), and samples its RSS from /proc/<pid>/status every 100 ms.

(a) load: every route family (classes CRUD, queries with odd-but-bounded filters, batch, users/login, schemas,
    config, functions, aggregate) from `--concurrency` asyncio workers for `--seconds`; reports requests, 5xx,
    peak RSS.
(b) LiveQuery: `--subscribers` websocket clients (connect + subscribe, spread over `--workers` client processes),
    RSS per idle subscriber, peak RSS, and the latency of one create that matches 1 % of them.

Prints a markdown table. Ctrl-C (or SIGTERM) stops the server and every client process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
APP_ID = "bench"
LIVE_CLASS = "BenchLive"
BUCKETS = 100  # subscriber i watches n == i % BUCKETS, so a create with n == 0 matches 1 %


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssSampler(threading.Thread):
    """Peak and current RSS of one pid, sampled every 100 ms in the background."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stopped = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.1):
            self.peak = max(self.peak, rss_kib(self.pid))

    def reset(self) -> None:
        self.peak = rss_kib(self.pid)


@dataclass
class Server:
    url: str
    ws_url: str
    master: str
    proc: subprocess.Popen[bytes]
    tmp: tempfile.TemporaryDirectory[str]

    def headers(self, master: bool = True) -> dict[str, str]:
        h = {"X-Parse-Application-Id": APP_ID, "Content-Type": "application/json"}
        if master:
            h["X-Parse-Master-Key"] = self.master
        return h

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.tmp.cleanup()


def start_server(mem_limit_mb: int) -> Server:
    tmp = tempfile.TemporaryDirectory(prefix="sleeplab-membench-")
    port, master = free_port(), secrets.token_hex(16)
    limit = mem_limit_mb * 1024 * 1024

    def limits() -> None:  # runs in the child before exec: ulimit -v, and the raised fd limit is inherited
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    exe = Path(sys.executable).parent / "sleeplab"
    cmd = [str(exe) if exe.exists() else sys.executable, *([] if exe.exists() else ["-m", "engine"]), "serve",
           "--port", str(port), "--host", "127.0.0.1", "--app-id", APP_ID, "--master-key", master,
           "--database-uri", f"sqlite:///{tmp.name}/bench.db", "--batch-limit", "50"]
    log = open(Path(tmp.name) / "server.log", "wb")  # kept open for the server's whole life
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, preexec_fn=limits)
    server = Server(f"http://127.0.0.1:{port}/parse", f"ws://127.0.0.1:{port}/parse", master, proc, tmp)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {(Path(tmp.name) / 'server.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"{server.url}/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError("server did not become healthy in 60 s")


# ---- (a) load over every route family ----

ODD_WHERES: list[Any] = [
    {"n": {"$gt": 5}}, {"n": {"$in": list(range(50))}}, {"text": {"$regex": "^ab", "$options": "i"}},
    {"$or": [{"n": 1}, {"text": "x"}]}, {"meta.a.b": 1}, {"n": {"$exists": True}}, {"n": "wrong type"},
    {"text": {"$foo": 1}}, {"createdAt": {"$lt": {"$relativeTime": "in 1 day"}}}, {"tags": {"$all": ["a"]}},
    {"$and": [{"n": {"$gte": 0}}, {"n": {"$lte": 1e308}}]}, {"text": "😴" * 200},
]


@dataclass
class LoadStats:
    requests: int = 0
    server_errors: int = 0
    by_family: dict[str, int] = field(default_factory=dict)


async def _one(client: httpx.AsyncClient, s: Server, stats: LoadStats, ids: list[str], rng: random.Random) -> None:
    fam = rng.choice(("create", "get", "update", "delete", "query", "count", "batch", "users", "schemas", "config",
                      "functions", "aggregate"))
    h, cls = s.headers(), "BenchNote"
    body = {"n": rng.randint(0, 100), "text": secrets.token_hex(rng.randint(1, 64)), "tags": ["a", "b"],
            "meta": {"a": {"b": rng.randint(0, 3)}}}
    if fam == "create":
        r = await client.post(f"/classes/{cls}", json=body, headers=h)
        if r.status_code == 201:
            ids.append(r.json()["objectId"])
    elif fam in ("get", "update", "delete") and ids:
        oid = rng.choice(ids)
        if fam == "get":
            r = await client.get(f"/classes/{cls}/{oid}", headers=h)
        elif fam == "update":
            r = await client.put(f"/classes/{cls}/{oid}", json={"n": {"__op": "Increment", "amount": 1}}, headers=h)
        else:
            ids.remove(oid)
            r = await client.delete(f"/classes/{cls}/{oid}", headers=h)
    elif fam in ("query", "count"):
        params = {"where": json.dumps(rng.choice(ODD_WHERES)), "limit": str(rng.choice((1, 100, 1000))),
                  "order": rng.choice(("-createdAt", "n,-text", "meta.a.b"))}
        if fam == "count":
            params.update(count="1", limit="0")
        r = await client.get(f"/classes/{cls}", params=params, headers=h)
    elif fam == "batch":
        reqs = [{"method": "POST", "path": f"/parse/classes/{cls}", "body": body} for _ in range(rng.randint(1, 20))]
        r = await client.post("/batch", json={"requests": reqs}, headers=h)
    elif fam == "users":
        name = "u" + secrets.token_hex(6)
        r = await client.post("/users", json={"username": name, "password": "pw-123456"}, headers=s.headers(False))
        r = await client.post("/login", json={"username": name, "password": "pw-123456"}, headers=s.headers(False))
    elif fam == "schemas":
        r = await client.get("/schemas", headers=h)
    elif fam == "config":
        if rng.random() < 0.5:
            r = await client.put("/config", json={"params": {"k": rng.randint(0, 9)}}, headers=h)
        else:
            r = await client.get("/config", headers=h)
    elif fam == "functions":
        r = await client.post("/functions/noSuchFunction", json={"x": 1}, headers=h)
    elif fam == "aggregate":
        pipeline = [{"$match": {"n": {"$gte": 0}}}, {"$group": {"_id": "$n", "c": {"$sum": 1}}}]
        r = await client.get(f"/aggregate/{cls}", params={"pipeline": json.dumps(pipeline)}, headers=h)
    else:
        r = await client.get(f"/classes/{cls}", headers=h)
    stats.requests += 1
    stats.by_family[fam] = stats.by_family.get(fam, 0) + 1
    if r.status_code >= 500:
        stats.server_errors += 1


async def run_load(s: Server, seconds: float, concurrency: int) -> LoadStats:
    stats, ids = LoadStats(), []
    deadline = time.monotonic() + seconds

    async def worker(seed: int) -> None:
        rng = random.Random(seed)
        async with httpx.AsyncClient(base_url=s.url, timeout=30) as client:
            while time.monotonic() < deadline:
                try:
                    await _one(client, s, stats, ids, rng)
                except httpx.HTTPError:
                    stats.server_errors += 1

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return stats


# ---- (b) LiveQuery subscribers, in client processes ----

def _subscriber_process(ws_url: str, first: int, count: int, out: Any, go: Any, stop: Any) -> None:
    """Open `count` subscribers; report ("ready", ok, failed); after `go`, receive-times of create events."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent owns Ctrl-C and stops us through `stop`
    raise_nofile()
    import websockets

    async def main() -> None:
        received: list[float] = []
        conns: list[Any] = []
        sem = asyncio.Semaphore(200)

        async def open_one(i: int) -> None:
            async with sem:
                ws = await websockets.connect(ws_url, open_timeout=30, close_timeout=1, max_queue=16)
                await ws.send(json.dumps({"op": "connect", "applicationId": APP_ID}))
                await asyncio.wait_for(ws.recv(), 30)
                await ws.send(json.dumps({"op": "subscribe", "requestId": 1,
                                          "query": {"className": LIVE_CLASS, "where": {"n": i % BUCKETS}}}))
                msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if msg.get("op") != "subscribed":
                    await ws.close()
                    raise RuntimeError(msg)
                conns.append(ws)

        results = await asyncio.gather(*(open_one(first + i) for i in range(count)), return_exceptions=True)
        failed = sum(1 for r in results if isinstance(r, BaseException))
        out.put(("ready", len(conns), failed))

        async def listen(ws: Any) -> None:
            try:
                async for raw in ws:
                    if json.loads(raw).get("op") == "create":
                        received.append(time.time())
            except Exception:
                pass

        listeners = [asyncio.create_task(listen(ws)) for ws in conns]
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, stop.wait)
        out.put(("received", received))
        for t in listeners:
            t.cancel()
        await asyncio.gather(*(ws.close() for ws in conns), return_exceptions=True)

    asyncio.run(main())


@dataclass
class LiveStats:
    opened: int
    failed: int
    rss_before_kib: int
    rss_idle_kib: int
    peak_kib: int
    expected_events: int
    latencies_ms: list[float]
    connect_seconds: float


def run_livequery(s: Server, sampler: RssSampler, subscribers: int, workers: int) -> LiveStats:
    ctx = mp.get_context("fork")
    out, go, stop = ctx.Queue(), ctx.Event(), ctx.Event()
    per = [subscribers // workers + (1 if i < subscribers % workers else 0) for i in range(workers)]
    time.sleep(1)
    before = rss_kib(s.proc.pid)
    sampler.reset()
    t0 = time.monotonic()
    procs, first = [], 0
    for n in per:
        p = ctx.Process(target=_subscriber_process, args=(s.ws_url, first, n, out, go, stop), daemon=True)
        p.start()
        procs.append(p)
        first += n
    try:
        opened = failed = 0
        for _ in procs:
            _, ok, bad = out.get(timeout=600)
            opened, failed = opened + ok, failed + bad
        connect_seconds = time.monotonic() - t0
        time.sleep(2)  # let the server settle before reading the idle RSS
        idle = rss_kib(s.proc.pid)
        created = time.time()
        r = httpx.post(f"{s.url}/classes/{LIVE_CLASS}", json={"n": 0}, headers=s.headers(), timeout=30)
        r.raise_for_status()
        expected = sum(1 for i in range(subscribers) if i % BUCKETS == 0)
        time.sleep(5)
        stop.set()
        times: list[float] = []
        for _ in procs:
            kind, payload = out.get(timeout=60)
            if kind == "received":
                times.extend(payload)
        return LiveStats(opened, failed, before, idle, sampler.peak, expected,
                         sorted((t - created) * 1000 for t in times), connect_seconds)
    finally:
        stop.set()
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.terminate()
                p.join(5)


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--subscribers", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--mem-limit-mb", type=int, default=2048)
    ap.add_argument("--skip-load", action="store_true")
    ap.add_argument("--skip-livequery", action="store_true")
    args = ap.parse_args()

    nofile = raise_nofile()
    need = args.subscribers // max(1, args.workers) + 100
    if not args.skip_livequery and nofile < max(need, args.subscribers + 100):
        print(f"warning: RLIMIT_NOFILE is {nofile}; the server needs ~{args.subscribers + 100} descriptors",
              file=sys.stderr)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

    server = start_server(args.mem_limit_mb)
    sampler = RssSampler(server.proc.pid)
    sampler.start()
    rows: list[tuple[str, str]] = [("server RSS at start", f"{rss_kib(server.proc.pid) / 1024:.1f} MiB"),
                                   ("address-space limit (ulimit -v)", f"{args.mem_limit_mb} MiB")]
    try:
        if not args.skip_load:
            sampler.reset()
            stats = asyncio.run(run_load(server, args.seconds, args.concurrency))
            rows += [("load: seconds / concurrency", f"{args.seconds:g} / {args.concurrency}"),
                     ("load: requests (req/s)", f"{stats.requests} ({stats.requests / args.seconds:.0f})"),
                     ("load: 5xx or transport errors", str(stats.server_errors)),
                     ("load: families", ", ".join(f"{k} {v}" for k, v in sorted(stats.by_family.items()))),
                     ("load: peak RSS", f"{sampler.peak / 1024:.1f} MiB"),
                     ("load: RSS after", f"{rss_kib(server.proc.pid) / 1024:.1f} MiB")]
        if not args.skip_livequery:
            live = run_livequery(server, sampler, args.subscribers, args.workers)
            lat = live.latencies_ms
            per_sub = (live.rss_idle_kib - live.rss_before_kib) / max(1, live.opened)
            rows += [("LQ: subscribers opened / failed", f"{live.opened} / {live.failed}"),
                     ("LQ: time to connect + subscribe all", f"{live.connect_seconds:.1f} s"),
                     ("LQ: RSS before / idle with all subscribed", f"{live.rss_before_kib / 1024:.1f} / "
                                                                    f"{live.rss_idle_kib / 1024:.1f} MiB"),
                     ("LQ: RSS per idle subscriber", f"{per_sub:.1f} KiB"),
                     ("LQ: peak RSS", f"{live.peak_kib / 1024:.1f} MiB"),
                     ("LQ: create matching 1 %: events received / expected", f"{len(lat)} / {live.expected_events}"),
                     ("LQ: event latency p50 / p99 / max",
                      f"{pct(lat, 0.5):.0f} / {pct(lat, 0.99):.0f} / {max(lat, default=float('nan')):.0f} ms")]
        alive = server.proc.poll() is None
        rows.append(("server still alive at the end", "yes" if alive else f"NO (rc={server.proc.returncode})"))
    except KeyboardInterrupt:
        print("interrupted; stopping the server", file=sys.stderr)
    finally:
        sampler.stopped.set()
        server.stop()
    print("| measurement | value |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
