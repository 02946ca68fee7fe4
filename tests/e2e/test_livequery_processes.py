"""LiveQuery across real processes: `sleeplab serve` ×2 and `sleeplab livequery` sharing one database and a real
Redis (Debian's redis-server on a free loopback port), a Redis restart under a subscriber, and a slow consumer.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect as ws_connect

from tests.e2e.server import ROOT, ServerProcess, free_port

pytestmark = pytest.mark.e2e
EVENT_WAIT = 20.0  # generous: two loaded cores


@dataclass
class Redis:
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Redis:
        binary = shutil.which("redis-server")
        assert binary is not None
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        pytest.fail("redis-server did not answer PING")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
def redis() -> Iterator[Redis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian package redis-server, listed in .ci/debian-packages.txt)")
    server = Redis(free_port()).start()
    try:
        yield server
    finally:
        server.stop()


class LiveQueryProcess(ServerProcess):
    """`python -m engine livequery`: the same start/health/stop, another subcommand."""

    def start(self) -> ServerProcess:
        cmd = [sys.executable, "-m", "engine", "livequery", "--host", "127.0.0.1", "--port", str(self.port),
               *self.args]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PARSE_SERVER_", "SLEEPLAB_"))}
        env.update(self.env, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT))
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(cmd, cwd=self.cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        self._wait_healthy()
        return self


@dataclass(frozen=True)
class Cluster:
    app_id: str
    master_key: str
    args: list[str]
    tmp: Path

    def server(self, name: str, cls: type[ServerProcess] = ServerProcess) -> ServerProcess:
        return cls(self.args, {}, ROOT, self.tmp / f"{name}.log", free_port()).start()

    def rest(self, server: ServerProcess, method: str, path: str, body: Any = None, *, master: bool = True,
             token: str | None = None) -> dict[str, Any]:
        headers = {"X-Parse-Application-Id": self.app_id}
        if master:
            headers["X-Parse-Master-Key"] = self.master_key
        if token:
            headers["X-Parse-Session-Token"] = token
        r = httpx.request(method, f"{server.url}/{path}", json=body, headers=headers, timeout=10)
        assert r.status_code in (200, 201), r.text
        out: dict[str, Any] = r.json()
        return out

    @contextlib.contextmanager
    def socket(self, server: ServerProcess, token: str | None = None) -> Iterator[ClientConnection]:
        with ws_connect(server.url.replace("http", "ws"), open_timeout=10, compression=None) as ws:
            hello: dict[str, Any] = {"op": "connect", "applicationId": self.app_id}
            if token:
                hello["sessionToken"] = token
            ws.send(json.dumps(hello))
            assert json.loads(ws.recv(timeout=10))["op"] == "connected"
            yield ws


def subscribe(ws: ClientConnection, rid: int, class_name: str, where: dict[str, Any]) -> None:
    ws.send(json.dumps({"op": "subscribe", "requestId": rid, "query": {"className": class_name, "where": where}}))
    assert json.loads(ws.recv(timeout=10))["op"] == "subscribed"


@pytest.fixture
def cluster(tmp_path: Path, redis: Redis) -> Cluster:
    app_id, master_key = f"lq-{secrets.token_hex(4)}", secrets.token_hex(24)
    args = ["--app-id", app_id, "--master-key", master_key, "--database-uri", f"sqlite:///{tmp_path / 'db.sqlite'}",
            "--live-query-redis-url", redis.url, "--schema", ""]
    return Cluster(app_id, master_key, args, tmp_path)


def test_two_serve_processes_deliver_each_others_events(cluster: Cluster) -> None:
    a, b = cluster.server("a"), cluster.server("b")
    try:
        user = cluster.rest(a, "POST", "users", {"username": "tech", "password": "pw-123456"}, master=False)
        with cluster.socket(b, user["sessionToken"]) as ws:
            subscribe(ws, 1, "Vitals", {"bed": 4})
            # Hidden from this user by its ACL: never delivered; the visible one after it is the first event.
            cluster.rest(a, "POST", "classes/Vitals", {"bed": 4, "spo2": 88, "ACL": {}})
            cluster.rest(a, "POST", "classes/Vitals", {"bed": 5, "spo2": 97})
            cluster.rest(a, "POST", "classes/Vitals", {"bed": 4, "spo2": 95})
            ev = json.loads(ws.recv(timeout=EVENT_WAIT))
            assert ev["op"] == "create" and ev["object"]["spo2"] == 95
    finally:
        a.stop()
        b.stop()


def test_livequery_process_alone_hears_the_api_process(cluster: Cluster) -> None:
    api = cluster.server("api")
    live = cluster.server("live", LiveQueryProcess)
    try:
        with cluster.socket(live) as ws:
            subscribe(ws, 3, "Vitals", {})
            created = cluster.rest(api, "POST", "classes/Vitals", {"bed": 1})
            ev = json.loads(ws.recv(timeout=EVENT_WAIT))
            assert ev == {"op": "create", "clientId": ev["clientId"], "requestId": 3, "object": ev["object"]}
            assert ev["object"]["objectId"] == created["objectId"]
    finally:
        api.stop()
        live.stop()


def test_livequery_process_refuses_to_start_without_redis(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "engine", "livequery", "--database-uri", "memory://",
                          "--master-key", "k"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={k: v for k, v in os.environ.items() if not k.startswith(("PARSE_SERVER_", "SLEEPLAB_"))})
    assert out.returncode == 2 and "--live-query-redis-url" in out.stderr


def test_redis_restart_keeps_the_subscription(cluster: Cluster, redis: Redis) -> None:
    a, b = cluster.server("a"), cluster.server("b")
    try:
        with cluster.socket(b) as ws:
            subscribe(ws, 1, "Vitals", {})
            redis.stop()
            redis.start()
            # Each process reconnects on its own schedule: write until one event comes through, then one more.
            deadline = time.monotonic() + EVENT_WAIT
            got: dict[str, Any] | None = None
            n = 0
            while got is None and time.monotonic() < deadline:
                n += 1
                httpx.post(f"{a.url}/classes/Vitals", json={"n": n}, timeout=10, headers={
                    "X-Parse-Application-Id": cluster.app_id, "X-Parse-Master-Key": cluster.master_key})
                try:
                    got = json.loads(ws.recv(timeout=0.5))
                except TimeoutError:
                    continue
            assert got is not None and got["op"] == "create", "no event after Redis restarted"
            cluster.rest(a, "POST", "classes/Vitals", {"n": -1})
            while (ev := json.loads(ws.recv(timeout=EVENT_WAIT)))["object"]["n"] != -1:
                pass
            assert ev["requestId"] == 1
    finally:
        a.stop()
        b.stop()


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_slow_consumer_is_disconnected_and_memory_stays_bounded(tmp_path: Path) -> None:
    app_id, master_key = f"lq-{secrets.token_hex(4)}", secrets.token_hex(24)
    server = ServerProcess(["--app-id", app_id, "--master-key", master_key, "--database-uri", "memory://",
                            "--schema", "", "--live-query-max-queue", "20"], {}, ROOT, tmp_path / "s.log",
                           free_port()).start()
    assert server.proc is not None
    try:
        headers = {"X-Parse-Application-Id": app_id, "X-Parse-Master-Key": master_key}
        stack = contextlib.ExitStack()
        ws = stack.enter_context(ws_connect(server.url.replace("http", "ws"), open_timeout=10, compression=None,
                                            max_size=None))
        ws.send(json.dumps({"op": "connect", "applicationId": app_id}))
        assert json.loads(ws.recv(timeout=10))["op"] == "connected"
        subscribe(ws, 1, "Blob", {})
        # The socket is never read from now on: 400 updates of 100 KB (40 MB of events) are offered to it. One
        # object is rewritten, so the store itself holds 100 KB, not 40 MB.
        with httpx.Client(headers=headers, timeout=10) as http:
            r = http.post(f"{server.url}/classes/Blob", json={"i": -1})
            assert r.status_code == 201
            path = f"{server.url}/classes/Blob/{r.json()['objectId']}"
            base = _rss_kib(server.proc.pid)
            peak = base
            for i in range(400):
                blob = f"{i:04d}" + "x" * 100_000
                assert http.put(path, json={"i": i, "blob": blob}).status_code == 200
                if i % 20 == 0:
                    peak = max(peak, _rss_kib(server.proc.pid))
            peak = max(peak, _rss_kib(server.proc.pid))
        print(f"slow consumer: server RSS {base} KiB before, peak {peak} KiB (+{peak - base} KiB) for 40 MB offered")
        # The queue (20 events, 2 MB) and the socket buffers bound it; 40 MB of events would show.
        assert peak - base < 30_000
        # Reading now: whatever was buffered, then the error, then the close.
        frames: list[dict[str, Any]] = []
        with pytest.raises(Exception) as closed:
            while True:
                frames.append(json.loads(ws.recv(timeout=EVENT_WAIT)))
        assert "ConnectionClosed" in type(closed.value).__name__
        assert len(frames) < 400
        errors = [f for f in frames if f["op"] == "error"]
        assert not errors or errors[-1]["code"] == 155
        stack.close()
    finally:
        server.stop()
