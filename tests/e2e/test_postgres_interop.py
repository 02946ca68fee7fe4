"""Parse Server 9.10 and this engine on one PostgreSQL database: what either writes (objects, users and their
passwords, roles, relations, pointers, ACLs, geo points) the other reads and queries.

Parse Server is /work/shared/peer/server.js run on the modules of the peer's install (``$PEER_HOME``, default
``~/.cache/parse-server-peer``, made by the peer's start.sh), against a fresh database of the tests' throw-away
cluster. Skipped, with the reason, where any of that is missing (CI machines have no /work/shared)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.storage.postgres import PostgresAdapter
from tests.conftest import Api, make_settings, start_app
from tests.e2e.server import free_port

PEER_DIR = Path(os.environ.get("PEER_DIR", "/work/shared/peer"))
PEER_HOME = Path(os.environ.get("PEER_HOME", str(Path.home() / ".cache" / "parse-server-peer")))
PEER_APP, PEER_MASTER = "peer", "peermaster"


class Peer:
    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, method: str, path: str, body: Any = None, *, master: bool = False,
             token: str | None = None, params: dict[str, Any] | None = None) -> tuple[int, Any]:
        headers = {"X-Parse-Application-Id": PEER_APP, "Content-Type": "application/json"}
        if master:
            headers["X-Parse-Master-Key"] = PEER_MASTER
        if token:
            headers["X-Parse-Session-Token"] = token
        query = "?" + "&".join(f"{k}={urllib.request.quote(json.dumps(v) if not isinstance(v, str) else v)}"
                               for k, v in params.items()) if params else ""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path + query, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")


def _reason_absent() -> str | None:
    from tests import pg_cluster

    if not (PEER_DIR / "server.js").is_file():
        return f"no Parse Server peer at {PEER_DIR} (only on the development machine)"
    if shutil.which("node") is None:
        return "node is not installed"
    if not (PEER_HOME / "node_modules" / "parse-server" / "package.json").is_file():
        return f"Parse Server is not installed in {PEER_HOME} (run {PEER_DIR}/start.sh once, or set PEER_HOME)"
    return pg_cluster.unavailable_reason()


@pytest.fixture(scope="module")
def database() -> str:
    from tests import pg_cluster

    reason = _reason_absent()
    if reason:
        pytest.skip(reason)
    try:
        cluster = pg_cluster.cluster()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    name = "interop_" + uuid.uuid4().hex[:12]
    cluster.psql(f"CREATE DATABASE {name}")
    try:  # Parse Server's geo queries use PostGIS
        subprocess.run([pg_cluster._binary("psql"), "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres",
                        "-d", name, "-qc", "CREATE EXTENSION IF NOT EXISTS postgis"],
                       capture_output=True, check=True, timeout=60)
    except subprocess.CalledProcessError:
        pytest.skip("PostGIS is not installed (Debian package postgis), which Parse Server's geo queries need")
    return f"postgresql://postgres@127.0.0.1:{cluster.port}/{name}"


@pytest.fixture(scope="module")
def peer(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peer]:
    home = tmp_path_factory.mktemp("peer")
    port = free_port()
    env = {**os.environ, "PEER_PORT": str(port), "PEER_APP_ID": PEER_APP, "PEER_MASTER_KEY": PEER_MASTER,
           "PEER_DATABASE_URI": database.replace("postgresql://", "postgres://"),
           "NODE_PATH": str(PEER_HOME / "node_modules")}
    log = (home / "server.log").open("wb")
    proc = subprocess.Popen(["node", str(PEER_DIR / "server.js")], cwd=home, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/parse"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.skip(f"Parse Server did not start: {(home / 'server.log').read_text()[-500:]}")
            try:
                with urllib.request.urlopen(url + "/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.skip("Parse Server did not answer /health within 90 s")
                time.sleep(0.3)
        yield Peer(url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)
        log.close()


@pytest.fixture
async def engine_api(database: str) -> AsyncIterator[Api]:
    # No schema file: the engine serves the classes Parse Server's _SCHEMA holds.
    app, client = await start_app(make_settings(schema_path=""), PostgresAdapter(database))
    async with client:
        yield Api(client)
    await app.state.engine.stop()


def _geo(lat: float, lng: float) -> dict[str, Any]:
    return {"__type": "GeoPoint", "latitude": lat, "longitude": lng}


def _ptr(cls: str, oid: str) -> dict[str, Any]:
    return {"__type": "Pointer", "className": cls, "objectId": oid}


async def test_engine_reads_what_parse_server_wrote(peer: Peer, engine_api: Api) -> None:
    status, alice = peer.call("POST", "/users", {"username": "alice", "password": "pw-alice-1", "email": "a@x.io"})
    assert status == 201, alice
    status, role = peer.call("POST", "/roles", {"name": "Staff", "ACL": {"*": {"read": True}},
                                                "users": {"__op": "AddRelation",
                                                          "objects": [_ptr("_User", alice["objectId"])]}},
                             master=True)
    assert status == 201, role
    status, site = peer.call("POST", "/classes/Site", {"name": "north", "where": _geo(59.9, 10.7)}, master=True)
    assert status == 201, site
    status, far = peer.call("POST", "/classes/Site", {"name": "south", "where": _geo(-33.9, 18.4)}, master=True)
    assert status == 201, far
    status, night = peer.call("POST", "/classes/Night", {
        "hours": 7.5, "tags": ["apnea"], "site": _ptr("Site", site["objectId"]),
        "ACL": {"role:Staff": {"read": True}},
        "sites": {"__op": "AddRelation", "objects": [_ptr("Site", site["objectId"]), _ptr("Site", far["objectId"])]},
    }, master=True)
    assert status == 201, night

    # The password Parse Server hashed logs in here; the role Parse Server stored grants the read.
    r = await engine_api.post("/login", {"username": "alice", "password": "pw-alice-1"})
    assert r.status_code == 200, r.text
    token = r.json()["sessionToken"]
    r0 = await engine_api.get(f"/classes/Night/{night['objectId']}")
    assert r0.status_code == 404, r0.text  # public: hidden
    r = await engine_api.get(f"/classes/Night/{night['objectId']}", headers=engine_api.as_user(token),
                             params={"include": "site"})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["hours"] == 7.5 and got["tags"] == ["apnea"] and got["site"]["name"] == "north"
    r = await engine_api.get("/classes/Site", params={"where": json.dumps({
        "where": {"$nearSphere": _geo(60.0, 10.0), "$maxDistanceInKilometers": 500}})}, master=True)
    assert [o["name"] for o in r.json()["results"]] == ["north"]
    related = {"$relatedTo": {"object": _ptr("Night", night["objectId"]), "key": "sites"}}
    r = await engine_api.get("/classes/Site", params={"where": json.dumps(related), "order": "name"}, master=True)
    assert [o["name"] for o in r.json()["results"]] == ["north", "south"]
    r = await engine_api.get("/roles", params={"where": json.dumps({"name": "Staff"})}, master=True)
    assert r.json()["results"][0]["objectId"] == role["objectId"]


async def test_parse_server_reads_what_the_engine_wrote(peer: Peer, engine_api: Api) -> None:
    user_id, _ = await engine_api.signup("bob", "pw-bob-123", email="b@x.io")
    r = await engine_api.post("/roles", {"name": "Night staff", "ACL": {"*": {"read": True}},
                                         "users": {"__op": "AddRelation", "objects": [_ptr("_User", user_id)]}},
                              master=True)
    assert r.status_code == 201, r.text
    r = await engine_api.post("/classes/Clinic", {"name": "east", "at": _geo(40.7, -74.0)}, master=True)
    clinic = r.json()["objectId"]
    r = await engine_api.post("/classes/Visit", {
        "minutes": 45, "clinic": _ptr("Clinic", clinic), "ACL": {"role:Night staff": {"read": True}},
        "clinics": {"__op": "AddRelation", "objects": [_ptr("Clinic", clinic)]}}, master=True)
    assert r.status_code == 201, r.text
    visit = r.json()["objectId"]

    status, login = peer.call("POST", "/login", {"username": "bob", "password": "pw-bob-123"})
    assert status == 200, login
    token = login["sessionToken"]
    status, _ = peer.call("GET", f"/classes/Visit/{visit}")
    assert status == 404  # the engine's ACL holds on Parse Server too
    status, got = peer.call("GET", f"/classes/Visit/{visit}", token=token, params={"include": "clinic"})
    assert status == 200, got
    assert got["minutes"] == 45 and got["clinic"]["name"] == "east"
    status, near = peer.call("GET", "/classes/Clinic", master=True, params={
        "where": {"at": {"$nearSphere": _geo(40.0, -74.0), "$maxDistanceInKilometers": 200}}})
    assert status == 200 and [o["name"] for o in near["results"]] == ["east"], near
    status, rel = peer.call("GET", "/classes/Clinic", master=True, params={
        "where": {"$relatedTo": {"object": _ptr("Visit", visit), "key": "clinics"}}})
    assert status == 200 and [o["objectId"] for o in rel["results"]] == [clinic], rel
