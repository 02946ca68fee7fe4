"""Load benchmark: every scenario of issue 17 against our server and (side by side, same run) Parse Server 9.10.

    python -m bench.run                      # ours (2 workers, SQLite) vs the peer when it answers at --peer
    python -m bench.run --start-peer         # ... starting ../shared/peer/start.sh --fresh first, stopping it after
    python -m bench.run --quick --json x     # tiny sizes, 1 s per scenario, httpx client, no peer (the suite's check)
    python -m bench.run --scale              # indexed find and get p99 at 10k, 100k, 1M rows (bulk-seeded)
    python -m bench.run --overhead           # get by id: the engine vs a bare Starlette route, same store call
    python -m bench.run --roles              # ACL find: a user in 1000 roles (3 levels) vs a user in none

Load: wrk, 2 threads x 16 connections, 3 runs x 5 s per scenario, median (`--tool httpx` uses a built-in asyncio
client instead); side by side, the runs take turns (ours, the peer, ours, ...) so both meet the same machine load.
Seeding goes through REST `/batch` with the master key on both servers (untimed); the scale mode writes rows
straight into our SQLite file with the engine's row encoder (bench/bulk.py). Every request goes to 127.0.0.1;
every server this starts runs under a 2 GiB address-space limit and is stopped at the end."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from bench import bcrypt_floor, report, scenarios, stack
from bench.bulk import bulk_insert
from bench.load import Load, Measure, median_run, run_httpx, run_wrk
from bench.scenarios import NOTE, Server, Sizes

PEER_DIR = stack.ROOT.parent / "shared" / "peer"
Driver = Callable[[str, Load, float, int], Measure]


def measure(driver: Driver, url: str, load: Load, args: argparse.Namespace) -> Measure:
    runs = [driver(url, load, args.seconds, args.connections) for _ in range(args.runs)]
    return median_run(runs)


def _seeded_scenarios(server: Server, sizes: Sizes, args: argparse.Namespace) -> dict[str, scenarios.Scenario]:
    with httpx.Client(base_url=server.url, timeout=600) as client:
        t0 = time.perf_counter()
        seeded = scenarios.seed(client, server, sizes)
        print(f"{server.name}: seeded in {time.perf_counter() - t0:.1f} s", flush=True)
    return {s.name: s for s in scenarios.scenarios(server, seeded, sizes) if not args.only or s.name in args.only}


def _print(server: Server, name: str, m: Measure) -> None:
    print(f"  {server.name:28} {name:10} {m.rps:8.0f} req/s  p99 {m.p99_ms:7.1f} ms  errors {m.errors}", flush=True)


def run_interleaved(servers: list[Server], sizes: Sizes, args: argparse.Namespace,
                    driver: Driver) -> list[dict[str, Measure]]:
    """Every scenario on every server, the runs interleaved (ours, the peer, ours, ...): this shared machine's load
    drifts by minutes, and taking turns makes both servers meet the same drift instead of one getting a quiet
    quarter of an hour and the other a busy one."""
    planned = [_seeded_scenarios(server, sizes, args) for server in servers]
    results: list[dict[str, Measure]] = [{} for _ in servers]
    for name in planned[0]:
        runs: list[list[Measure]] = [[] for _ in servers]
        for _ in range(args.runs):
            for i, server in enumerate(servers):
                runs[i].append(driver(server.url, planned[i][name].load, args.seconds, args.connections))
        for i, server in enumerate(servers):
            results[i][name] = median_run(runs[i])
            _print(server, name, results[i][name])
    return results


def side_by_side(args: argparse.Namespace, driver: Driver, tmp: Path) -> dict[str, Any]:
    sizes = scenarios.QUICK if args.quick else Sizes(rows=args.rows, agg_rows=args.agg_rows)
    out: dict[str, Any] = {"sizes": vars(args) | {"rows": sizes.rows, "agg_rows": sizes.agg_rows}}
    peer: Server | None = None
    if not (args.quick or args.no_peer):
        peer = Server("parse-server 9.10 (PostgreSQL)", args.peer, args.peer_app_id, args.peer_master_key)
        if not stack.reachable(peer.url):
            print(f"\npeer not reachable at {peer.url}: use --start-peer (or ../shared/peer/start.sh) to compare")
            peer = None
    with stack.ours(tmp / "bench.db", workers=args.workers, log=tmp / "ours.log") as (server, _):
        measured = run_interleaved([server] if peer is None else [server, peer], sizes, args, driver)
    ours = measured[0]
    print(report.table(server.name, ours))
    out["sleeplab"] = report.as_json(ours)
    if peer is None:
        return out
    theirs = measured[1]
    print(report.table(peer.name, theirs))
    out["peer"] = report.as_json(theirs)
    out["ratios"] = report.ratios(ours, theirs)
    print(report.ratio_table(out["ratios"]))
    if "login" in ours and "login" in theirs:
        floor = bcrypt_floor.checks_per_second()
        out["login_floor"] = {"bcrypt_checks_per_s": round(floor, 1),
                              "max_ratio": round(bcrypt_floor.ceiling(floor, theirs["login"].rps), 2)}
        print(f"\n  log-in floor: {floor:.1f} bcrypt checks/s (cost {bcrypt_floor.COST}) on this machine's "
              f"{os.cpu_count()} cores, so no server here passes {out['login_floor']['max_ratio']:.2f}x the peer")
    return out


def scale(args: argparse.Namespace, driver: Driver, tmp: Path) -> dict[str, Any]:
    """Indexed find and get by id as BenchNote grows 10k -> 1M rows (bulk-inserted into the running server's file)."""
    levels = [n for n in (10_000, 100_000) if n < args.scale_max] + [args.scale_max]
    db = tmp / "scale.db"
    out: dict[str, Any] = {}
    with stack.ours(db, workers=args.workers, log=tmp / "ours.log") as (server, _), \
            httpx.Client(base_url=server.url, timeout=600) as client:
        scenarios.create_class(client, server, NOTE, {"n": {"type": "Number"}, "bucket": {"type": "Number"},
                                                      "text": {"type": "String"}}, {"bucket_1": {"bucket": 1}})
        have: list[str] = []
        for level in levels:
            t0 = time.perf_counter()
            have += bulk_insert(db, NOTE, len(have), level - len(have),
                                lambda i: {"n": i, "bucket": i // scenarios.BUCKET_ROWS, "text": f"night {i}"})
            seeded = time.perf_counter() - t0
            buckets = range(level // scenarios.BUCKET_ROWS)
            step = max(1, len(buckets) // 1000)
            find = Load("GET", tuple(f"/classes/{NOTE}?" + httpx.QueryParams(
                {"where": json.dumps({"bucket": b}), "limit": "100"}).__str__() for b in buckets[::step]),
                None, server.headers())
            get = Load("GET", tuple(f"/classes/{NOTE}/{i}" for i in have[::max(1, level // 1000)]), None,
                       server.headers())
            row = {"find": measure(driver, server.url, find, args), "get": measure(driver, server.url, get, args)}
            out[str(level)] = report.as_json(row) | {"seed_seconds": round(seeded, 1)}
            print(report.table(f"{level} rows (bulk-seeded in {seeded:.1f} s)", row), flush=True)
    first, last = out[str(levels[0])], out[str(levels[-1])]
    out["flatness"] = {op: round(last[op]["p99_ms"] / first[op]["p99_ms"], 2) for op in ("find", "get")}
    print(f"\np99 at {levels[-1]} rows / p99 at {levels[0]} rows: {out['flatness']}  (goal: within 1.5)")
    return out


def overhead(args: argparse.Namespace, driver: Driver, tmp: Path) -> dict[str, Any]:
    """Get by id through the engine (master key) and through a bare Starlette route doing the same store call."""
    db = tmp / "overhead.db"
    with stack.ours(db, workers=1, log=tmp / "ours.log") as (server, _), \
            httpx.Client(base_url=server.url, timeout=600) as client:
        scenarios.create_class(client, server, NOTE, {"n": {"type": "Number"}, "bucket": {"type": "Number"},
                                                      "text": {"type": "String"}, "tags": {"type": "Array"}})
        ids = scenarios.batch_create(client, server, NOTE, [{"n": i, "bucket": i // 100, "text": f"night {i}",
                                                             "tags": ["psg", str(i % 7)]}
                                                            for i in range(min(args.rows, 10_000))])[:1000]
        engine = measure(driver, server.url, Load("GET", tuple(f"/classes/{NOTE}/{i}" for i in ids), None,
                                                  server.headers()), args)
    with stack.bare(db, NOTE) as url:
        floor = measure(driver, url, Load("GET", tuple(f"/{i}" for i in ids)), args)
    rows = {"engine": engine, "bare": floor}
    print(report.table("get by id: the engine vs a bare Starlette route (same SQLite call), 1 process each", rows))
    extra = floor.rps / engine.rps - 1 if engine.rps else float("nan")
    # One saturated process: its time per request is 1/rps, so the difference is the engine's own work.
    per_request_us = (1 / engine.rps - 1 / floor.rps) * 1e6 if engine.rps and floor.rps else 0
    print(f"\nserver time per request: engine / bare = {1 + extra:.2f} (goal: at most 1.30); the engine's own "
          f"work is ~{per_request_us:.0f} us per get")
    return report.as_json(rows) | {"bare_over_engine_rps": round(floor.rps / engine.rps, 2) if engine.rps else None}


def roles(args: argparse.Namespace, driver: Driver, tmp: Path) -> dict[str, Any]:
    """The signed-in ACL find for a user in no role and for a user in 1000 roles (three levels of inheritance)."""
    sizes = Sizes(rows=args.rows, agg_rows=0, visits=0)
    with stack.ours(tmp / "roles.db", workers=args.workers, log=tmp / "ours.log") as (server, _), \
            httpx.Client(base_url=server.url, timeout=600) as client:
        seeded = scenarios.seed(client, server, sizes)
        (_, plain_token), (role_user, role_token) = seeded.owners[0], seeded.owners[1]
        held = scenarios.seed_roles(client, server, role_user)
        rows = {"no roles": measure(driver, server.url, scenarios.find_acl(server, plain_token, sizes), args),
                f"{held} roles": measure(driver, server.url, scenarios.find_acl(server, role_token, sizes), args)}
    print(report.table("ACL find (indexed, limit 100) by role count", rows))
    plain, many = rows.values()
    print(f"\np99 ratio {many.p99_ms / plain.p99_ms:.2f}, req/s ratio {plain.rps / many.rps:.2f} (goal: within 1.5)")
    return report.as_json(rows) | {"p99_ratio": round(many.p99_ms / plain.p99_ms, 2)}


def _peer(action: str) -> None:
    script = PEER_DIR / f"{action}.sh"
    env_cloud = {"PEER_CLOUD": str(Path(__file__).with_name("peer_cloud.js"))}
    subprocess.run(["bash", str(script), *(["--fresh"] if action == "start" else [])], check=True,
                   env=dict(os.environ, **env_cloud), timeout=900)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="tiny sizes, 1 s per scenario, httpx, no peer")
    mode.add_argument("--scale", action="store_true", help="find/get p99 from 10k to --scale-max rows")
    mode.add_argument("--overhead", action="store_true", help="engine vs bare Starlette route, get by id")
    mode.add_argument("--roles", action="store_true", help="ACL find: 1000 roles vs none")
    parser.add_argument("--tool", choices=["wrk", "httpx"], default=None)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="our server's --workers")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--agg-rows", type=int, default=100_000)
    parser.add_argument("--scale-max", type=int, default=1_000_000)
    parser.add_argument("--only", nargs="*", help="run only these scenarios")
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--start-peer", action="store_true", help="start the peer (fresh database) and stop it after")
    parser.add_argument("--peer", default="http://127.0.0.1:1338/parse")
    parser.add_argument("--peer-app-id", default="peer")
    parser.add_argument("--peer-master-key", default="peermaster")
    parser.add_argument("--json", help="write the numbers to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.runs, args.workers = min(args.seconds, 1.0), 1, 1
        args.tool = args.tool or "httpx"
    tool = args.tool or ("wrk" if shutil.which("wrk") else "httpx")
    if args.rows > 1_000_000 or args.agg_rows > 1_000_000 or args.scale_max > 1_000_000 or args.runs > 9:
        raise SystemExit("bounded by design: at most 1 000 000 rows and 9 runs")
    driver: Driver = run_wrk if tool == "wrk" else run_httpx
    print(f"tool {tool}, {args.connections} connections, {args.runs} x {args.seconds:g} s per scenario", flush=True)
    started_peer = False
    try:
        with tempfile.TemporaryDirectory() as tmp_dir:
            tmp = Path(tmp_dir)
            if args.scale:
                out = scale(args, driver, tmp)
            elif args.overhead:
                out = overhead(args, driver, tmp)
            elif args.roles:
                out = roles(args, driver, tmp)
            else:
                if args.start_peer and not args.quick:
                    _peer("start")
                    started_peer = True
                out = side_by_side(args, driver, tmp)
    finally:
        if started_peer:
            _peer("stop")
    out_meta: Mapping[str, Any] = {"tool": tool, "connections": args.connections, "runs": args.runs,
                                   "seconds": args.seconds}
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": out_meta, **out}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
