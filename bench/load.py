"""Drive one load at a server for a fixed time and measure it: with wrk (a C load generator, so the client is not
what is measured) or with a built-in asyncio httpx client (CI needs nothing extra; saturates before the server)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import httpx

MAX_CONNECTIONS = 256
MAX_SECONDS = 120


@dataclass(frozen=True)
class Load:
    """One kind of request; each request picks one of ``paths`` at random (ids, buckets)."""

    method: str
    paths: tuple[str, ...]
    body: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Measure:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def median_run(runs: Sequence[Measure]) -> Measure:
    """The median of repeated runs, each figure on its own (what wrk-based comparisons usually report)."""
    ordered = sorted(runs, key=lambda m: m.rps)
    mid = ordered[len(ordered) // 2]
    return Measure(mid.requests, mid.seconds, statistics.median(m.p50_ms for m in runs),
                   statistics.median(m.p99_ms for m in runs), sum(m.errors for m in runs))


def _lua(load: Load, url_prefix: str) -> str:
    paths = ", ".join(json.dumps(url_prefix + p) for p in load.paths)
    headers = ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in load.headers.items())
    body = json.dumps(load.body) if load.body is not None else "nil"
    return f"""
local paths = {{{paths}}}
local headers = {{{headers}}}
local body = {body}
math.randomseed(os.time())
request = function()
  return wrk.format({json.dumps(load.method)}, paths[math.random(#paths)], headers, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {{"requests":%d,"us":%d,"p50":%d,"p99":%d,"errors":%d}}\\n', summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + e.status))
end
"""


def run_wrk(base_url: str, load: Load, seconds: float, connections: int, threads: int = 2) -> Measure:
    """wrk -t2 -c16 for ``seconds``; the URL's path prefix (e.g. /parse) is prepended to every path."""
    _check(seconds, connections)
    parsed = httpx.URL(base_url)
    origin = f"{parsed.scheme}://{parsed.host}:{parsed.port}"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua(load, parsed.path.rstrip("/")))
    try:
        done = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
                               "--timeout", "10s", "-s", script.name, origin], capture_output=True, text=True,
                              timeout=seconds + 60)
    finally:
        os.unlink(script.name)
    line = next((line for line in done.stdout.splitlines() if line.startswith("WRK ")), None)
    if line is None:
        raise SystemExit(f"wrk failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    stats = json.loads(line[4:])
    return Measure(stats["requests"], stats["us"] / 1e6, stats["p50"] / 1000, stats["p99"] / 1000, stats["errors"])


def run_httpx(base_url: str, load: Load, seconds: float, connections: int) -> Measure:
    _check(seconds, connections)
    return asyncio.run(_httpx(base_url, load, seconds, connections))


async def _httpx(base_url: str, load: Load, seconds: float, connections: int) -> Measure:
    latencies: list[float] = []
    errors = 0
    rng = random.Random(7)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base_url, headers=dict(load.headers), limits=limits, timeout=30) as client:
        stop = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                try:
                    response = await client.request(load.method, rng.choice(load.paths), content=load.body)
                    if response.status_code >= 400:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append((time.perf_counter() - t0) * 1000)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - start
    ordered = sorted(latencies) or [float("nan")]
    return Measure(len(latencies), elapsed, ordered[len(ordered) // 2],
                   ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], errors)


def _check(seconds: float, connections: int) -> None:
    if not 0 < seconds <= MAX_SECONDS or not 0 < connections <= MAX_CONNECTIONS:
        raise SystemExit(f"bounded by design: at most {MAX_SECONDS} s per run and {MAX_CONNECTIONS} connections")
