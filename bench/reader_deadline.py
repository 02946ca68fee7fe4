"""What the query budget's deadline check costs SQLite readers beside a busy event loop (not a test).

    python bench/reader_deadline.py [--rows 100000] [--readers 4] [--seconds 4]

Builds a throwaway table in the SQLite layout (a JSON `data` column, an expression index on (bucket, n)), then runs
the `$group` statement the aggregate scenario sends on ``--readers`` threads, each on its own connection, while one
more thread spins in Python as a loaded event loop does. Each round installs the readers' deadline check
(engine.storage.sqlite_readers._interrupt_when_late) every N VM instructions, or none. The check is a Python call:
every time it runs it has to take the GIL from the spinning thread, so how often it runs decides how fast the
readers go. Prints statements per second for each N.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.storage.sqlite_driver import sqlite3
from engine.storage.sqlite_readers import PROGRESS_STEPS, _interrupt_when_late

STATEMENT = ("SELECT * FROM (SELECT json_extract(data, '$.\"bucket\"') AS k0, "
             "coalesce(sum(json_extract(data, '$.\"n\"')), 0) AS a0 FROM t GROUP BY k0) AS g")


def _build(path: str, rows: int) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (objectId TEXT PRIMARY KEY, data TEXT NOT NULL)")
        conn.execute("CREATE INDEX t_bucket_n ON t (json_extract(data, '$.\"bucket\"'), json_extract(data, '$.\"n\"'))")
        conn.executemany("INSERT INTO t VALUES (?, ?)",
                         ((f"r{i:09d}", json.dumps({"n": i, "bucket": i % 100})) for i in range(rows)))


def _round(path: str, steps: int | None, readers: int, seconds: float) -> float:
    done = [0] * readers
    stop_at = time.monotonic() + seconds
    spinning = True

    def reader(slot: int) -> None:
        conn = sqlite3.connect(path, check_same_thread=False)
        if steps is not None:
            conn.set_progress_handler(_interrupt_when_late, steps)
        while time.monotonic() < stop_at:
            conn.execute(STATEMENT).fetchall()
            done[slot] += 1
        conn.close()

    def spin() -> None:
        total = 0
        while spinning:
            for i in range(1000):
                total += i

    spinner = threading.Thread(target=spin)
    threads = [threading.Thread(target=reader, args=(k,)) for k in range(readers)]
    spinner.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    spinning = False
    spinner.join()
    return sum(done) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    if not 1 <= args.rows <= 1_000_000 or not 1 <= args.readers <= 64 or not 0 < args.seconds <= 60:
        raise SystemExit("bounded by design: 1..1 000 000 rows, 1..64 readers, up to 60 s a round")
    with tempfile.TemporaryDirectory(prefix="reader-deadline-") as tmp:
        path = f"{tmp}/bench.db"
        _build(path, args.rows)
        print(f"$group over {args.rows} rows, {args.readers} readers beside a spinning thread "
              f"(the engine checks every {PROGRESS_STEPS})\n")
        print("| deadline check every | statements/s |\n|---|---:|")
        for steps in (None, 1000, 10_000, PROGRESS_STEPS):
            label = "never" if steps is None else f"{steps} instructions"
            print(f"| {label} | {_round(path, steps, args.readers, args.seconds):.1f} |", flush=True)


if __name__ == "__main__":
    main()
