"""`sleeplab serve --workers 2` on SQLite: both processes serve, and what one worker changes (schema, roles,
sessions, config) is what the other answers with on the very next request.

Which worker owns a connection is read from /proc (the kernel's socket table and each worker's descriptors), so
the server exposes nothing extra for the test."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.server import ROOT, ServerProcess, free_port

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads /proc to tell workers apart")]
MASTER = "workers-master-" + secrets.token_hex(4)
APP = "workers"


def worker_pids(parent: int) -> set[int]:
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return {int(pid) for pid in children}


def _socket_inode(server_port: int, client_port: int) -> str | None:
    """The inode of the server side of the loopback connection from ``client_port``."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        cols = line.split()
        local, remote = cols[1], cols[2]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
            return cols[9]
    return None


def owner_of(server_port: int, client_port: int, pids: set[int]) -> int | None:
    inode = _socket_inode(server_port, client_port)
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in pids:
        fd_dir = Path(f"/proc/{pid}/fd")
        for fd in fd_dir.iterdir():
            try:
                if os.readlink(fd) == target:
                    return pid
            except OSError:
                continue
    return None


class Conn:
    """One keep-alive connection: every request on it is served by the worker that accepted it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        self.http.connect()
        assert self.http.sock is not None
        self.local_port: int = self.http.sock.getsockname()[1]

    def call(self, method: str, path: str, body: Any = None, *, master: bool = False,
             token: str | None = None) -> tuple[int, Any]:
        headers = {"X-Parse-Application-Id": APP, "Content-Type": "application/json"}
        if master:
            headers["X-Parse-Master-Key"] = MASTER
        if token:
            headers["X-Parse-Session-Token"] = token
        self.http.request(method, "/parse" + path, body=None if body is None else json.dumps(body), headers=headers)
        response = self.http.getresponse()
        return response.status, json.loads(response.read() or b"null")

    def close(self) -> None:
        self.http.close()


def connections_per_worker(server: ServerProcess, pids: set[int], tries: int = 64) -> dict[int, Conn]:
    """Open connections until every worker holds one (the kernel spreads them by hash); close the rest."""
    chosen: dict[int, Conn] = {}
    spare: list[Conn] = []
    for _ in range(tries):
        conn = Conn(server.port)
        conn.call("GET", "/health")  # accepted and served before /proc is read
        owner = owner_of(server.port, conn.local_port, pids)
        if owner is not None and owner not in chosen:
            chosen[owner] = conn
        else:
            spare.append(conn)
        if len(chosen) == len(pids):
            break
    for conn in spare:
        conn.close()
    return chosen


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    args = ["--workers", "2", "--keep-alive-timeout", "60", "--schema", str(ROOT / "schema" / "sleeplab.json")]
    proc = ServerProcess(args,
                         {"PARSE_SERVER_DATABASE_URI": f"sqlite:///{tmp_path}/workers.db",
                          "PARSE_SERVER_MASTER_KEY": MASTER, "PARSE_SERVER_APPLICATION_ID": APP},
                         tmp_path, tmp_path / "server.log", free_port())
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def _running(server: ServerProcess) -> int:
    assert server.proc is not None
    return server.proc.pid


def _two_workers(server: ServerProcess) -> dict[int, Conn]:
    deadline = time.monotonic() + 30
    pids = worker_pids(_running(server))
    while len(pids) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
        pids = worker_pids(_running(server))
    assert len(pids) == 2, f"expected 2 workers, found {pids}"
    conns = connections_per_worker(server, pids)
    assert set(conns) == pids, "every worker accepts connections on the shared port"
    return conns


def test_both_workers_serve_and_stop_together(server: ServerProcess) -> None:
    conns = _two_workers(server)
    for conn in conns.values():
        status, body = conn.call("GET", "/health")
        assert (status, body["status"]) == (200, "ok")
    pids = set(conns)
    assert server.proc is not None
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=30) == 0
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2], \
            f"worker {pid} still running after the supervisor stopped"


def test_a_worker_that_dies_is_replaced(server: ServerProcess) -> None:
    first = set(_two_workers(server))
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    pids = worker_pids(_running(server))
    while (victim in pids or len(pids) < 2) and time.monotonic() < deadline:
        time.sleep(0.1)
        pids = worker_pids(_running(server))
    assert victim not in pids and len(pids) == 2
    assert set(_two_workers(server)) == pids


def _setup_data(conn: Conn, suffix: str) -> dict[str, str]:
    cls = f"WorkerNote{suffix}"
    status, _ = conn.call("POST", f"/schemas/{cls}", {"className": cls, "fields": {"text": {"type": "String"}}},
                         master=True)
    assert status == 200
    status, user = conn.call("POST", "/users", {"username": f"nurse{suffix}", "password": "pw-" + suffix})
    assert status == 201
    status, role = conn.call("POST", "/roles", {
        "name": f"night{suffix}", "ACL": {"*": {"read": True}},
        "users": {"__op": "AddRelation", "objects": [{"__type": "Pointer", "className": "_User",
                                                       "objectId": user["objectId"]}]}}, master=True)
    assert status == 201
    status, note = conn.call("POST", f"/classes/{cls}", {"text": "apnea index 31",
                                                         "ACL": {f"role:night{suffix}": {"read": True}}}, master=True)
    assert status == 201
    return {"class": cls, "user": user["objectId"], "token": user["sessionToken"], "role": role["objectId"],
            "note": note["objectId"]}


@pytest.mark.parametrize("direction", ["low-to-high", "high-to-low"])
def test_changes_through_one_worker_are_seen_by_the_other_at_once(server: ServerProcess, direction: str) -> None:
    conns = _two_workers(server)
    writer_pid, reader_pid = sorted(conns) if direction == "low-to-high" else sorted(conns, reverse=True)
    writer, reader = conns[writer_pid], conns[reader_pid]
    data = _setup_data(writer, direction.replace("-", ""))
    note_path = f"/classes/{data['class']}/{data['note']}"
    token = data["token"]

    # The reader fills its caches first: the schema, the user's roles, the session, the config.
    assert reader.call("GET", note_path, token=token)[0] == 200
    assert reader.call("GET", "/users/me", token=token)[0] == 200
    assert reader.call("GET", "/config", token=token) == (200, {"params": {}})

    # A schema change: the class closes to clients.
    status, _ = writer.call("PUT", f"/schemas/{data['class']}", {"classLevelPermissions": {
        "get": {}, "find": {}, "count": {}, "create": {}, "update": {}, "delete": {}, "addField": {}}}, master=True)
    assert status == 200
    status, body = reader.call("GET", note_path, token=token)
    assert (status, body["code"]) == (400, 119), "the other worker still applies the old CLP"
    writer.call("PUT", f"/schemas/{data['class']}", {"classLevelPermissions": {
        "get": {"*": True}, "find": {"*": True}, "count": {"*": True}, "create": {}, "update": {}, "delete": {},
        "addField": {}}}, master=True)
    assert reader.call("GET", note_path, token=token)[0] == 200

    # A role change: the nurse leaves the role that lets her read the note.
    status, _ = writer.call("PUT", f"/roles/{data['role']}", {"users": {"__op": "RemoveRelation", "objects": [
        {"__type": "Pointer", "className": "_User", "objectId": data["user"]}]}}, master=True)
    assert status == 200
    status, body = reader.call("GET", note_path, token=token)
    assert (status, body["code"]) == (404, 101), "the other worker still grants the role"

    # A config change.
    assert writer.call("PUT", "/config", {"params": {"bedtime": "22:30"}}, master=True)[0] == 200
    assert reader.call("GET", "/config", token=token) == (200, {"params": {"bedtime": "22:30"}})

    # A revoked session (log-out through one worker) stops working on the other.
    assert writer.call("POST", "/logout", {}, token=token)[0] == 200
    status, body = reader.call("GET", "/users/me", token=token)
    assert (status, body["code"]) == (400, 209)


def established_per_worker(server_port: int, pids: set[int]) -> dict[int, int]:
    """How many established connections to ``server_port`` each worker holds, from the kernel's socket table."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        cols = line.split()
        if int(cols[1].split(":")[1], 16) == server_port and cols[3] == "01":  # 01: ESTABLISHED
            inodes.add(f"socket:[{cols[9]}]")
    held = dict.fromkeys(pids, 0)
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) in inodes:
                    held[pid] += 1
            except OSError:
                continue
    return held


def _accepted_by(server: ServerProcess, conn: Conn, pids: set[int]) -> int:
    deadline = time.monotonic() + 10
    while (owner := owner_of(server.port, conn.local_port, pids)) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert owner is not None, "the connection was never accepted"
    return owner


def test_keep_alive_connections_even_out_across_workers(server: ServerProcess) -> None:
    pids = set(_two_workers(server))  # both workers have served a request, so both are on the board
    heavy, light = sorted(pids)
    # As the kernel's hash sometimes places them: twelve connections on one worker, two on the other.
    conns: list[Conn] = []
    counts = dict.fromkeys(pids, 0)
    wanted = {heavy: 12, light: 2}
    while counts != wanted:
        conn = Conn(server.port)
        owner = _accepted_by(server, conn, pids)
        if counts[owner] < wanted[owner]:
            counts[owner] += 1
            conns.append(conn)
        else:
            conn.close()
    assert established_per_worker(server.port, pids)[heavy] >= 12
    held: dict[int, int] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for conn in conns:  # http.client reconnects by itself after a `Connection: close`
            status, body = conn.call("GET", "/health")
            assert (status, body["status"]) == (200, "ok")
        held = established_per_worker(server.port, pids)
        if sum(held.values()) >= len(conns) and max(held.values()) <= len(conns) // 2 + 1:
            break
    # An even share is 7 each; a worker keeps at most one more than that.
    assert max(held.values()) <= len(conns) // 2 + 1, f"connections per worker: {held}"
    for conn in conns:
        conn.close()
