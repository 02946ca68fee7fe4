"""Hot-path harness for optimizing the engine: one server, the scenarios of issue 17, wrk load, optional py-spy.

    python bench/profile_hot.py [--rows 10000] [--seconds 5] [--connections 16] [--only find,count]
                                [--profile find] [--keep /tmp/dir]

Starts `python -m engine serve` on a free loopback port (SQLite temp file, under a 2 GiB address-space limit)
with a small schema: `HotItem` (indexed Number `n`, a Pointer `ref`, per-user ACLs) and `HotRef`. It seeds the
rows through the REST API, then drives each scenario with wrk (Debian package `wrk`) and prints req/s and
latency percentiles. `--profile NAME` runs py-spy (in .venv) on the server during that scenario and prints the
functions that take the most time, inclusive and self. This is a tool for before/after comparisons made within
the same minute (the machine is shared), not the benchmark against Parse Server (that is bench/run.py).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
APP = "hot"
USERS = 20
REFS = 100

SCHEMA = {"classes": [
    {"className": "HotRef", "fields": {"label": {"type": "String"}},
     "classLevelPermissions": {op: {"*": True} for op in ("find", "get", "count", "create", "update", "delete")}},
    {"className": "HotItem",
     "fields": {"n": {"type": "Number"}, "text": {"type": "String"},
                "ref": {"type": "Pointer", "targetClass": "HotRef"}},
     "classLevelPermissions": {op: {"requiresAuthentication": True}
                               for op in ("find", "get", "count", "create", "update", "delete")},
     "indexes": {"n_1": {"n": 1}}},
]}


@dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    paths: list[str]
    body: str | None = None
    user: bool = False  # send a session token instead of the master key


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _limit_memory() -> None:
    cap = 2 << 30
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def start_server(workdir: Path, master: str, root: Path = ROOT) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    schema = workdir / "schema.json"
    schema.write_text(json.dumps(SCHEMA))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARSE_SERVER_", "SLEEPLAB_"))}
    cmd = [sys.executable, "-m", "engine", "serve", "--port", str(port), f"--master-key={master}", "--app-id", APP,
           "--database-uri", f"sqlite:///{workdir}/hot.db", "--schema", str(schema)]
    log = open(workdir / "server.log", "wb")
    # `python -m engine` imports the engine of its working directory: --engine-root compares another tree.
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=log, preexec_fn=_limit_memory)
    url = f"http://127.0.0.1:{port}/parse"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/health", timeout=0.5).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the server did not start; see " + str(workdir / "server.log"))


def _check(r: httpx.Response) -> httpx.Response:
    if r.status_code >= 400:
        raise SystemExit(f"{r.request.method} {r.request.url} -> {r.status_code} {r.text[:300]}")
    return r


def seed(url: str, master: str, rows: int) -> dict[str, object]:
    """Users, refs and `rows` items, item i owned (ACL) by user i % USERS; returns ids and a session token."""
    h = {"X-Parse-Application-Id": APP, "X-Parse-Master-Key": master}
    with httpx.Client(base_url=url, headers=h, timeout=120) as c:
        users: list[str] = []
        token = ""
        for i in range(USERS):
            r = _check(c.post("/users", json={"username": f"hot{i}", "password": "pw"}))
            users.append(r.json()["objectId"])
            token = token or r.json()["sessionToken"]
        refs = [_check(c.post("/batch", json={"requests": [
            {"method": "POST", "path": "/parse/classes/HotRef", "body": {"label": f"ref {j}"}}
            for j in range(REFS)]}))][0].json()
        ref_ids = [x["success"]["objectId"] for x in refs]
        item_ids: list[str] = []
        own_ids: list[str] = []
        for start in range(0, rows, 500):
            reqs = []
            for i in range(start, min(rows, start + 500)):
                owner = users[i % USERS]
                reqs.append({"method": "POST", "path": "/parse/classes/HotItem", "body": {
                    "n": i % 1000, "text": f"night {i}",
                    "ref": {"__type": "Pointer", "className": "HotRef", "objectId": ref_ids[i % REFS]},
                    "ACL": {owner: {"read": True, "write": True}}}})
            out = _check(c.post("/batch", json={"requests": reqs})).json()
            for k, x in enumerate(out):
                item_ids.append(x["success"]["objectId"])
                if (start + k) % USERS == 0:
                    own_ids.append(x["success"]["objectId"])
    return {"items": item_ids, "own": own_ids, "token": token}


def scenarios(data: dict[str, object]) -> list[Scenario]:
    rng = random.Random(7)
    items = list(data["items"])  # type: ignore[call-overload]
    own = list(data["own"])  # type: ignore[call-overload]
    where = "where=" + httpx.QueryParams({"w": json.dumps({"n": {"$gt": 500}})})["w"]
    where_q = str(httpx.QueryParams({"where": json.dumps({"n": {"$gt": 500}})}))
    del where
    create = json.dumps({"n": 7, "text": "new night"})
    batch = json.dumps({"requests": [{"method": "POST", "path": "/parse/classes/HotItem",
                                      "body": {"n": i, "text": "batch"}} for i in range(50)]})
    return [
        Scenario("create", "POST", ["/classes/HotItem"], create),
        Scenario("get", "GET", [f"/classes/HotItem/{rng.choice(items)}" for _ in range(500)]),
        Scenario("get_user", "GET", [f"/classes/HotItem/{rng.choice(own)}" for _ in range(200)], user=True),
        Scenario("update", "PUT", [f"/classes/HotItem/{rng.choice(items)}" for _ in range(500)],
                 json.dumps({"n": {"__op": "Increment", "amount": 1}})),
        Scenario("include", "GET", ["/classes/HotItem?include=ref&limit=100"]),
        Scenario("find", "GET", [f"/classes/HotItem?{where_q}&limit=100"]),
        Scenario("batch", "POST", ["/batch"], batch),
        Scenario("find_user", "GET", [f"/classes/HotItem?{where_q}&limit=100"], user=True),
        Scenario("count", "GET", [f"/classes/HotItem?{where_q}&count=1&limit=0"]),
    ]


def _lua(s: Scenario, master: str, token: str) -> str:
    auth = f'wrk.headers["X-Parse-Session-Token"] = "{token}"' if s.user else \
        f'wrk.headers["X-Parse-Master-Key"] = "{master}"'
    body = f"wrk.body = {json.dumps(s.body)}" if s.body else ""
    paths = ", ".join(json.dumps(p) for p in s.paths)
    return f"""
wrk.method = "{s.method}"
wrk.headers["X-Parse-Application-Id"] = "{APP}"
wrk.headers["Content-Type"] = "application/json"
{auth}
{body}
local paths = {{{paths}}}
local base = "{{BASE}}"
local i = 0
request = function()
  i = i + 1
  return wrk.format(nil, base .. paths[(i % #paths) + 1])
end
local errors = 0
response = function(status, headers, body)
  if status >= 400 then errors = errors + 1 end
end
"""


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")


def run_wrk(url: str, s: Scenario, master: str, token: str, seconds: int, connections: int,
            workdir: Path) -> tuple[float, float, float, int]:
    script = workdir / f"{s.name}.lua"
    base = url.split("://", 1)[1].split("/", 1)[1]
    script.write_text(_lua(s, master, token).replace("{BASE}", "/" + base))
    host = url.split("/parse")[0]
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), host],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    # The latency distribution's own lines: "71.50%" in the thread stats must not read as the 50th percentile.
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, p50, p99, int(bad.group(1)) if bad else 0


def profile(pid: int, seconds: int, workdir: Path, gil: bool) -> None:
    spy = ROOT / ".venv" / "bin" / "py-spy"
    raw = workdir / "profile.txt"
    subprocess.run([str(spy), "record", "--format", "raw", "-o", str(raw), "-d", str(seconds), "-r", "200",
                    "-p", str(pid), *(["--gil"] if gil else [])], capture_output=True, check=False)
    if not raw.exists():
        print("py-spy produced nothing (needs ptrace rights)")
        return
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = [re.sub(r" \(.*?/(engine|starlette|uvicorn|aiosqlite|sqlite3|asyncio|json)/", r" (\1/", f)
                  for f in stack.split(";")]
        for f in set(frames):
            inclusive[f] += n
        own[frames[-1]] += n
    print(f"  py-spy: {total} samples")
    print("  inclusive:")
    for f, n in inclusive.most_common(40):
        print(f"    {100 * n / total:5.1f}%  {f}")
    print("  self:")
    for f, n in own.most_common(25):
        print(f"    {100 * n / total:5.1f}%  {f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--profile", default="", help="a scenario to profile with py-spy")
    parser.add_argument("--gil", action="store_true",
                        help="sample only the thread holding the GIL (Python's own time; SQLite runs without it)")
    parser.add_argument("--engine-root", default=str(ROOT),
                        help="a checkout whose engine/ to serve (e.g. `git archive main engine | tar -x -C DIR`)")
    parser.add_argument("--keep", default="", help="work directory to keep (default: a temporary one, removed)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed (apt-get install -y wrk)")
    workdir = Path(args.keep or tempfile.mkdtemp(prefix="profile-hot-"))
    workdir.mkdir(parents=True, exist_ok=True)
    master = secrets.token_hex(16)
    proc, url = start_server(workdir, master, Path(args.engine_root))
    try:
        t0 = time.perf_counter()
        data = seed(url, master, args.rows)
        print(f"seeded {args.rows} rows in {time.perf_counter() - t0:.1f}s")
        only = set(filter(None, args.only.split(",")))
        print(f"{'scenario':<10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
        for s in scenarios(data):
            if only and s.name not in only:
                continue
            spy = None
            if s.name == args.profile:
                import threading
                spy = threading.Thread(target=profile, args=(proc.pid, args.seconds, workdir, args.gil))
                spy.start()
            rps, p50, p99, bad = run_wrk(url, s, master, str(data["token"]), args.seconds, args.connections, workdir)
            print(f"{s.name:<10} {rps:9.0f} {p50:8.2f} {p99:8.2f} {bad:6d}", flush=True)
            if spy is not None:
                spy.join()
    finally:
        proc.terminate()
        proc.wait(10)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
