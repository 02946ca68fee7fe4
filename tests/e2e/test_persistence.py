"""The default store persists across a restart with no storage flags, and every acknowledged write survives kill -9."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import ROOT, ServerProcess, free_port

MASTER = "persist-master-key"
HEADERS = {"X-Parse-Application-Id": "sleeplab", "X-Parse-Master-Key": MASTER}


def _server(tmp_path: Path) -> ServerProcess:
    # Configured only through the environment, as `make serve` is: no storage flag, the default data/ directory.
    return ServerProcess([], {"PARSE_SERVER_MASTER_KEY": MASTER}, tmp_path, tmp_path / "server.log", free_port())


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "schema", tmp_path / "schema")
    return tmp_path


@pytest.mark.e2e
def test_restart_keeps_data_with_no_flags(workdir: Path) -> None:
    server = _server(workdir).start()
    try:
        r = httpx.post(f"{server.url}/classes/Persisted", headers=HEADERS, json={"note": "kept"})
        assert r.status_code == 201
        oid = r.json()["objectId"]
    finally:
        server.stop()
    assert (workdir / "data" / "sleeplab.db").exists()
    server = _server(workdir).start()
    try:
        r = httpx.get(f"{server.url}/classes/Persisted/{oid}", headers=HEADERS)
        assert r.status_code == 200 and r.json()["note"] == "kept"
    finally:
        server.stop()


@pytest.mark.e2e
def test_acknowledged_writes_survive_kill_9(workdir: Path) -> None:
    server = _server(workdir).start()
    acknowledged: list[str] = []
    try:
        for i in range(30):
            r = httpx.post(f"{server.url}/classes/Durable", headers=HEADERS, json={"i": i})
            assert r.status_code == 201
            acknowledged.append(r.json()["objectId"])
    finally:
        server.stop(signal.SIGKILL)
    server = _server(workdir).start()
    try:
        r = httpx.get(f"{server.url}/classes/Durable", headers=HEADERS, params={"limit": "1000"})
        assert sorted(o["objectId"] for o in r.json()["results"]) == sorted(acknowledged)
    finally:
        server.stop()
