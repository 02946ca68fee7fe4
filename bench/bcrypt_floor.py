"""The most log-ins per second this machine allows at bcrypt cost 10, whoever serves them.

A log-in is one bcrypt check, and a check is pure CPU (about 75 ms at cost 10 here, in pyca/bcrypt as in the
peer's @node-rs/bcrypt: both are Rust). So no server on these cores can answer more log-ins per second than
`cores / check time`, and no ratio against the peer can pass `floor / peer's log-ins per second`. The side-by-side
run prints both beside its log-in row.

    python -m bench.bcrypt_floor [--seconds 3]"""

from __future__ import annotations

import argparse
import os
import threading
import time

import bcrypt

COST = 10  # Parse Server's, and ours


def checks_per_second(seconds: float = 3.0, threads: int | None = None) -> float:
    """bcrypt checks per second with one thread per core, all checking at once (bcrypt releases the GIL)."""
    workers = threads or os.cpu_count() or 1
    password = b"bench-password"
    hashed = bcrypt.hashpw(password, bcrypt.gensalt(COST))
    done = [0] * workers
    stop = time.perf_counter() + seconds

    def check(slot: int) -> None:
        while time.perf_counter() < stop:
            if not bcrypt.checkpw(password, hashed):
                raise AssertionError("bcrypt disagrees with itself")
            done[slot] += 1

    start = time.perf_counter()
    pool = [threading.Thread(target=check, args=(i,)) for i in range(workers)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(done) / (time.perf_counter() - start)


def ceiling(floor: float, peer_rps: float) -> float:
    """The highest log-in ratio against the peer this machine allows."""
    return floor / peer_rps if peer_rps else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    rate = checks_per_second(args.seconds)
    print(f"bcrypt cost {COST}: {rate:.1f} checks/s on {os.cpu_count()} cores "
          f"({1000 * (os.cpu_count() or 1) / rate:.0f} ms of CPU per check)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
