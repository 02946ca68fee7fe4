"""Side-by-side load benchmark: this server and (when reachable) the Parse Server peer, same client, same workload.

    python bench/run.py [--tool wrk|httpx] [--seconds 10] [--requests 2000] [--concurrency 16]
                        [--peer http://127.0.0.1:1338/parse]

With `wrk` on the PATH (Debian package `wrk`) it drives the load with wrk, a C load generator, so the client is
not what is measured; otherwise (or with --tool httpx) an asyncio httpx client does, which saturates long before
either server on a 2-core machine. It starts `python -m engine serve` on a free loopback port with a throwaway
SQLite file, creates the bench class on both servers, then runs each operation (create, get, find, update) for a
bounded time (wrk) or number of requests (httpx) and prints throughput and latency percentiles per server, plus
our/peer ratios. The goal it tracks: at least twice the peer's
throughput with a lower p99. Start the peer with ../shared/peer/start.sh. Every request goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CLASS = "BenchNote"


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    app_id: str
    master_key: str

    def headers(self) -> dict[str, str]:
        return {"X-Parse-Application-Id": self.app_id, "X-Parse-Master-Key": self.master_key,
                "Content-Type": "application/json"}


@dataclass(frozen=True)
class Result:
    op: str
    requests: int
    seconds: float
    latencies_ms: list[float]
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if len(self.latencies_ms) == 2 and p in (50, 99):  # wrk's own p50/p99
            return self.latencies_ms[0 if p == 50 else 1]
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_ours(workdir: Path) -> tuple[subprocess.Popen[bytes], Target]:
    port, key = _free_port(), secrets.token_urlsafe(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARSE_SERVER_", "SLEEPLAB_"))}
    cmd = [sys.executable, "-m", "engine", "serve", "--port", str(port), "--master-key", key, "--app-id", "bench",
           "--database-uri", f"sqlite:///{workdir}/bench.db", "--schema", str(ROOT / "schema" / "sleeplab.json")]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    target = Target("sleeplab", f"http://127.0.0.1:{port}/parse", "bench", key)
    for _ in range(200):
        try:
            if httpx.get(f"{target.url}/health", timeout=0.5).status_code == 200:
                return proc, target
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("our server did not start")


async def _run(op: str, n: int, concurrency: int, call: Callable[[int], Awaitable[httpx.Response]]) -> Result:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(n))

    async def worker() -> None:
        nonlocal errors
        for i in counter:
            t0 = time.perf_counter()
            try:
                r = await call(i)
                if r.status_code >= 400:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append((time.perf_counter() - t0) * 1000)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Result(op, n, time.perf_counter() - start, latencies, errors)


async def bench(target: Target, n: int, concurrency: int) -> list[Result]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=target.url, headers=target.headers(), limits=limits, timeout=30) as c:
        await c.post(f"/classes/{CLASS}", json={"n": -1, "text": "warm-up"})
        ids: list[str] = []

        async def create(i: int) -> httpx.Response:
            r = await c.post(f"/classes/{CLASS}", json={"n": i, "text": f"night {i}", "tags": ["psg", str(i % 7)]})
            if r.status_code == 201:
                ids.append(r.json()["objectId"])
            return r

        results = [await _run("create", n, concurrency, create)]
        rng = random.Random(7)

        async def get(i: int) -> httpx.Response:
            return await c.get(f"/classes/{CLASS}/{rng.choice(ids)}")

        async def find(i: int) -> httpx.Response:
            where = json.dumps({"n": {"$gte": rng.randrange(n)}, "tags": str(i % 7)})
            return await c.get(f"/classes/{CLASS}", params={"where": where, "limit": "20", "order": "n"})

        async def update(i: int) -> httpx.Response:
            return await c.put(f"/classes/{CLASS}/{rng.choice(ids)}", json={"n": {"__op": "Increment", "amount": 1}})

        for op, call in (("get", get), ("find", find), ("update", update)):
            results.append(await _run(op, n, concurrency, call))
        return results


_WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"requests":%d,"us":%d,"p50":%d,"p99":%d,"errors":%d}\\n', summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + e.status))
end
"""


def _wrk(target: Target, op: str, method: str, path: str, body: str | None, seconds: int, connections: int) -> Result:
    lines = [f'wrk.method = "{method}"']
    for key, value in target.headers().items():
        lines.append(f'wrk.headers["{key}"] = "{value}"')
    if body is not None:
        lines.append(f"wrk.body = {json.dumps(body)}")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lines) + _WRK_DONE)
    try:
        out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", script.name,
                              target.url + path], capture_output=True, text=True, timeout=seconds + 30).stdout
    finally:
        os.unlink(script.name)
    stats = json.loads(next(line[4:] for line in out.splitlines() if line.startswith("WRK ")))
    # wrk reports percentiles, not samples: keep the two we print.
    return Result(op, stats["requests"], stats["us"] / 1e6, [stats["p50"] / 1000, stats["p99"] / 1000],
                  stats["errors"])


def bench_wrk(target: Target, seconds: int, connections: int) -> list[Result]:
    h = target.headers()
    seeded = [httpx.post(f"{target.url}/classes/{CLASS}", headers=h, json={"n": i, "text": f"night {i}",
                                                                             "tags": ["psg", str(i % 7)]})
              for i in range(200)]
    some_id = seeded[0].json()["objectId"]
    where = json.dumps({"n": {"$gte": 100}, "tags": "3"})
    query = "?" + str(httpx.QueryParams({"where": where, "limit": "20", "order": "n"}))
    create_body = json.dumps({"n": 1, "text": "night", "tags": ["psg", "1"]})
    update_body = json.dumps({"n": {"__op": "Increment", "amount": 1}})
    return [
        _wrk(target, "create", "POST", f"/classes/{CLASS}", create_body, seconds, connections),
        _wrk(target, "get", "GET", f"/classes/{CLASS}/{some_id}", None, seconds, connections),
        _wrk(target, "find", "GET", f"/classes/{CLASS}{query}", None, seconds, connections),
        _wrk(target, "update", "PUT", f"/classes/{CLASS}/{some_id}", update_body, seconds, connections),
    ]


def run_target(args: argparse.Namespace, target: Target) -> list[Result]:
    if args.tool == "wrk":
        return bench_wrk(target, args.seconds, args.concurrency)
    return asyncio.run(bench(target, args.requests, args.concurrency))


def report(name: str, results: list[Result]) -> None:
    print(f"\n{name}")
    print(f"  {'op':8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for r in results:
        print(f"  {r.op:8} {r.rps:9.0f} {r.pct(50):8.1f} {r.pct(99):8.1f} {r.errors:7d}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tool", choices=["wrk", "httpx"], default="wrk" if shutil.which("wrk") else "httpx")
    parser.add_argument("--seconds", type=int, default=10, help="wrk: seconds per operation")
    parser.add_argument("--requests", type=int, default=2000, help="httpx: requests per operation")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--peer", default="http://127.0.0.1:1338/parse")
    parser.add_argument("--peer-app-id", default="peer")
    parser.add_argument("--peer-master-key", default="peermaster")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()
    if args.requests > 100_000 or args.concurrency > 256 or args.seconds > 120:
        raise SystemExit("bounded by design: at most 100000 requests per operation and 256 connections")
    with tempfile.TemporaryDirectory() as tmp:
        proc, ours = start_ours(Path(tmp))
        try:
            our_results = run_target(args, ours)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    report("sleeplab (SQLite)", our_results)
    out = {"sleeplab": {r.op: {"rps": r.rps, "p50": r.pct(50), "p99": r.pct(99), "errors": r.errors}
                        for r in our_results}}
    peer = Target("parse-server", args.peer, args.peer_app_id, args.peer_master_key)
    try:
        httpx.get(f"{peer.url}/health", timeout=1).raise_for_status()
    except httpx.HTTPError:
        print(f"\npeer not reachable at {peer.url}: start it with ../shared/peer/start.sh to compare")
    else:
        peer_results = run_target(args, peer)
        report("Parse Server 9.10 (PostgreSQL)", peer_results)
        out["peer"] = {r.op: {"rps": r.rps, "p50": r.pct(50), "p99": r.pct(99), "errors": r.errors}
                       for r in peer_results}
        print(f"\n  {'op':8} {'throughput x':>13} {'p99 ours/peer':>14}")
        for mine, theirs in zip(our_results, peer_results, strict=True):
            ratio = mine.rps / theirs.rps if theirs.rps else float("nan")
            print(f"  {mine.op:8} {ratio:13.2f} {mine.pct(99) / theirs.pct(99):14.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
