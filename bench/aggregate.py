"""`$group` by a field with `$sum` over many rows on SQLite: in the store versus the Python stages (not a test).

    python bench/aggregate.py [--rows 100000] [--runs 5] [--mem-limit-mb 2048]

Seeds a throwaway SQLite file (one request makes the class, then the rows go in through the adapter's own row
encoding in one transaction), then starts `sleeplab serve` twice on it under an address-space limit: once as
it ships, once with the store plan disabled (every stage in Python, the path before pushdown). Reports the
median request time and the server's peak RSS while it answered (the query budget is off for both, since the
Python path over 100 000 rows outruns the default 5 s maxTimeMS). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.memory import ROOT, RssSampler, free_port, rss_kib
from engine.schema.model import ClassDef, FieldDef, FieldType
from engine.storage.base import StoredObject, freeze
from engine.storage.sqlite_codec import INSERT_COLUMNS, encode_row
from engine.storage.sqlite_driver import sqlite3
from engine.storage.sqlite_shadows import insert_sql

APP_ID = "aggbench"
PIPELINE = [{"$group": {"_id": "$team", "total": {"$sum": "$score"}, "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}]
# The server started with the store plan off: the find-based path, unchanged from before pushdown.
_PYTHON_ONLY = ("import sys, engine.pipeline.aggregate as a; a.plan_store_stages = lambda *_: None; "
                "from engine.cli import main; sys.exit(main(sys.argv[1:]))")


def _serve(db: str, master: str, port: int, python_only: bool, mem_limit_mb: int) -> subprocess.Popen[bytes]:
    limit = mem_limit_mb * 1024 * 1024

    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    args = ["serve", "--port", str(port), "--host", "127.0.0.1", "--app-id", APP_ID, "--master-key", master,
            "--database-uri", f"sqlite:///{db}", "--database-max-time-ms", "0"]
    cmd = [sys.executable, "-c", _PYTHON_ONLY, *args] if python_only else [sys.executable, "-m", "engine", *args]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=limits)
    url = f"http://127.0.0.1:{port}/parse"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("server did not become healthy")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _seed(db: str, master: str, rows: int, mem_limit_mb: int) -> None:
    port = free_port()
    proc = _serve(db, master, port, False, mem_limit_mb)
    try:
        r = httpx.post(f"http://127.0.0.1:{port}/parse/classes/Tally", json={"team": "t0", "score": 0},
                       headers={"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": master})
        r.raise_for_status()
    finally:
        _stop(proc)
    cls = ClassDef("Tally", {"team": FieldDef(FieldType.STRING), "score": FieldDef(FieldType.NUMBER)})
    now = datetime.now(UTC)
    with sqlite3.connect(db) as conn:
        conn.executemany(
            insert_sql(conn, "Tally", INSERT_COLUMNS),
            (encode_row(cls, StoredObject("Tally", f"r{i:09d}", now, now,
                                          fields=freeze({"team": f"t{i % 50}", "score": i % 1000})))
             for i in range(1, rows)))


def _measure(db: str, master: str, python_only: bool, runs: int, mem_limit_mb: int) -> dict[str, Any]:
    port = free_port()
    proc = _serve(db, master, port, python_only, mem_limit_mb)
    sampler = RssSampler(proc.pid)
    sampler.start()
    try:
        headers = {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": master}
        url = f"http://127.0.0.1:{port}/parse/aggregate/Tally"
        idle = rss_kib(proc.pid)
        sampler.reset()
        times, results = [], None
        for _ in range(runs):
            start = time.perf_counter()
            r = httpx.get(url, params={"pipeline": json.dumps(PIPELINE)}, headers=headers, timeout=300)
            times.append(time.perf_counter() - start)
            if r.status_code != 200:
                raise RuntimeError(r.text)
            results = r.json()["results"]
        time.sleep(0.2)
        return {"median_s": statistics.median(times), "idle_kib": idle, "peak_kib": sampler.peak,
                "groups": len(results or []), "first": (results or [None])[0]}
    finally:
        sampler.stopped.set()
        _stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mem-limit-mb", type=int, default=2048)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sleeplab-aggbench-") as tmp:
        db, master = f"{tmp}/bench.db", secrets.token_hex(16)
        _seed(db, master, args.rows, args.mem_limit_mb)
        rows = [("Python stages (before)", _measure(db, master, True, args.runs, args.mem_limit_mb)),
                ("in the store (after)", _measure(db, master, False, args.runs, args.mem_limit_mb))]
    assert rows[0][1]["first"] == rows[1][1]["first"], rows
    print(f"`$group` by team (50 groups) with `$sum` over {args.rows} rows, SQLite, median of {args.runs}\n")
    print("| path | median request | server peak RSS (idle before) | groups |")
    print("|---|---|---|---|")
    for name, m in rows:
        print(f"| {name} | {m['median_s'] * 1000:.0f} ms | {m['peak_kib'] / 1024:.0f} MiB "
              f"({m['idle_kib'] / 1024:.0f} MiB) | {m['groups']} |")


if __name__ == "__main__":
    main()
