"""Run hostile requests in a child process under an address-space limit, one JSON result line per case.

    python -m tests.fuzz.isolated <cases.json>      (cases: [{"id", "method", "path", "params", "body", "setup"}])

Known memory bombs must never run in the test process itself: here RLIMIT_AS turns a runaway allocation into a
MemoryError (or a dead child), and a watchdog ends the child when one case exceeds its time budget. The parent
(`run_isolated`) restarts a child for the cases after one that killed it.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MEMORY_LIMIT = 2 * 1024**3
CASE_SECONDS = 12.0


async def _run(cases: list[dict[str, Any]]) -> None:
    from tests.conftest import make_settings, start_app
    from tests.fuzz.harness import MASTER_HEADERS, _url, dump

    app, client = await start_app(make_settings())
    for case in cases:
        for body in case.get("setup", []):
            await client.post("/parse/classes/SleepStudy", content=dump(body), headers=MASTER_HEADERS)
        watchdog = threading.Timer(CASE_SECONDS, lambda: os._exit(3))
        watchdog.start()
        tracemalloc.start()
        start = time.monotonic()
        try:
            r = await client.request(case["method"], _url(case["path"], case.get("params")),
                                     content=None if case.get("body") is None else dump(case["body"]),
                                     headers=MASTER_HEADERS)
            out = {"status": r.status_code, "text": r.text[:2000]}
        except MemoryError:
            out = {"status": -1, "text": "MemoryError in the server process"}
        seconds = time.monotonic() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        watchdog.cancel()
        print(json.dumps({"id": case["id"], **out, "seconds": seconds, "peak_bytes": peak}), flush=True)
    await client.aclose()
    await app.state.engine.stop()


def run_isolated(cases: list[dict[str, Any]], tmp: Path) -> dict[str, dict[str, Any]]:
    """Results by case id; a case whose child died gets status -2 (killed/timeout) and the rest run again."""
    results: dict[str, dict[str, Any]] = {}
    pending = list(cases)
    while pending:
        spec = tmp / "cases.json"
        spec.write_text(json.dumps(pending))
        proc = subprocess.run([sys.executable, "-m", "tests.fuzz.isolated", str(spec)], cwd=ROOT, capture_output=True,
                              text=True, timeout=CASE_SECONDS * len(pending) + 60)
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                row = json.loads(line)
                results[row["id"]] = row
        pending = [c for c in pending if c["id"] not in results]
        if pending and proc.returncode != 0:
            dead = pending.pop(0)
            results[dead["id"]] = {"id": dead["id"], "status": -2, "seconds": CASE_SECONDS, "peak_bytes": 0,
                                   "text": f"child died rc={proc.returncode}: {proc.stderr[-300:]}"}
        elif pending:
            raise RuntimeError(f"child exited cleanly without answering {pending[0]['id']}: {proc.stderr[-500:]}")
    return results


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    sys.path.insert(0, str(ROOT))
    asyncio.run(_run(json.loads(Path(sys.argv[1]).read_text())))
