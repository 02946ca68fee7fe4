"""The audit trail as a client and an auditor see it: every PHI create, update, delete, get and find leaves a
hash-chained AuditLog entry (actor, action, class, ids, ip, installation, user agent); the log is append-only for
every caller and every way in, master key included; writers racing in one process or across processes keep one
linear chain."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from engine.cli import verify_audit_chain
from engine.cloud import DataApi, FunctionRequest
from engine.cloud.audit import append_entry, entry_hash, verify_chain
from engine.errors import ErrorCode, ParseError
from tests.app.audit_world import AUDIT_HOOKS, create_patients, write_schema
from tests.cloud.fakes import FakeAccess
from tests.conftest import ROOT, Api, fresh_database

AGENT = "SleepLabApp/2.1 (iPad)"


async def _start(app_factory: Any, tmp_path: Path, **overrides: Any) -> tuple[Any, Api, str]:
    uri = fresh_database()
    app, api = await app_factory(database_uri=uri, schema_path=write_schema(tmp_path), cloud=AUDIT_HOOKS,
                                 **overrides)
    return app, api, uri


async def _log(api: Api) -> list[dict[str, Any]]:
    r = await api.get("/classes/AuditLog", master=True, params={"order": "seq", "limit": "1000"})
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()["results"]
    return rows


async def _intact(uri: str) -> str:
    report = await verify_audit_chain(uri, "AuditLog")
    assert report.intact, report.describe()
    return report.describe()


async def test_each_phi_action_leaves_an_entry(app_factory: Any, tmp_path: Path) -> None:
    _, api, uri = await _start(app_factory, tmp_path)
    uid, token = await api.signup("dr_lee")
    h = api.as_user(token, **{"X-Parse-Installation-Id": "ipad-7", "User-Agent": AGENT})
    pid = (await api.post("/classes/PatientProfile", {"name": "Ada"}, headers=h)).json()["objectId"]
    other = (await api.post("/classes/PatientProfile", {"name": "Bob"}, headers=h)).json()["objectId"]
    assert (await api.get(f"/classes/PatientProfile/{pid}", headers=h)).status_code == 200
    found = (await api.get("/classes/PatientProfile", headers=h, params={"order": "name"})).json()["results"]
    assert [p["objectId"] for p in found] == [pid, other]
    assert (await api.put(f"/classes/PatientProfile/{pid}", {"name": "Ada L."}, headers=h)).status_code == 200
    assert (await api.delete(f"/classes/PatientProfile/{other}", headers=h)).status_code == 200

    rows = await _log(api)
    assert [(r["action"], r["entityId"], r["ids"]) for r in rows] == [
        ("create", pid, [pid]), ("create", other, [other]), ("get", pid, [pid]), ("find", "*", [pid, other]),
        ("update", pid, [pid]), ("delete", other, [other]),
    ]
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5, 6]
    for row in rows:
        assert row["entityType"] == "PatientProfile"
        assert row["actor"] == {"__type": "Pointer", "className": "_User", "objectId": uid}
        assert row["actorKind"] == "user"
        assert row["metadata"]["ip"] == "127.0.0.1"
        assert row["metadata"]["installationId"] == "ipad-7"
        assert row["metadata"]["userAgent"] == AGENT
    assert rows[4]["metadata"]["fields"] == ["name"]
    assert rows[3]["summary"] == "find PatientProfile: 2 objects"
    assert await _intact(uri) == "chain intact, 6 entries"


async def test_master_anonymous_and_included_reads_are_logged(app_factory: Any, tmp_path: Path) -> None:
    _, api, _ = await _start(app_factory, tmp_path)
    pid = (await api.post("/classes/PatientProfile", {"name": "Ada"}, master=True)).json()["objectId"]
    patient = {"__type": "Pointer", "className": "PatientProfile", "objectId": pid}
    aid = (await api.post("/classes/Appointment", {"patient": patient})).json()["objectId"]
    r = await api.get("/classes/Appointment", params={"include": "patient"})
    assert r.json()["results"][0]["patient"]["name"] == "Ada"
    rows = await _log(api)
    assert [(r["actorKind"], r["action"], r["entityType"], r["ids"]) for r in rows] == [
        ("master", "create", "PatientProfile", [pid]),
        ("anonymous", "create", "Appointment", [aid]),
        # The included patient is read through its own class's afterFind: a PHI row reached by a pointer counts.
        ("anonymous", "find", "PatientProfile", [pid]),
        ("anonymous", "find", "Appointment", [aid]),
    ]
    assert all("actor" not in r for r in rows)


async def test_only_admins_read_the_log(app_factory: Any, tmp_path: Path) -> None:
    _, api, _ = await _start(app_factory, tmp_path)
    _, token = await api.signup("nurse")
    admin_id, admin_token = await api.signup("auditor")
    await api.post("/classes/PatientProfile", {"name": "Ada"}, headers=api.as_user(token))
    r = await api.post("/roles", {"name": "Admin", "ACL": {"*": {"read": True}}, "users": {
        "__op": "AddRelation", "objects": [{"__type": "Pointer", "className": "_User", "objectId": admin_id}]}},
        master=True)
    assert r.status_code == 201, r.text
    for path in ("/classes/AuditLog", "/classes/AuditLog/whatever"):
        r = await api.get(path, headers=api.as_user(token))
        assert r.json()["code"] == ErrorCode.OPERATION_FORBIDDEN, r.text
    assert (await api.get("/classes/AuditLog")).json()["code"] == ErrorCode.OPERATION_FORBIDDEN
    r = await api.get("/classes/AuditLog", headers=api.as_user(admin_token))
    assert [e["action"] for e in r.json()["results"]] == ["create"]


async def _tamper(req: FunctionRequest) -> Any:
    rows = await req.data.query("AuditLog").find(use_master=True)
    if req.params["op"] == "update":
        rows[0]["summary"] = "nothing happened"
        await req.data.save(rows[0], use_master=True)
    else:
        await req.data.destroy(rows[0], use_master=True)
    return "done"


async def test_the_log_is_append_only_for_the_master_key_everywhere(app_factory: Any, tmp_path: Path) -> None:
    app, api, uri = await _start(app_factory, tmp_path)
    app.state.engine.cloud.define("tamper")(_tamper)
    await api.post("/classes/PatientProfile", {"name": "Ada"}, master=True)
    (entry,) = await _log(api)
    path = f"/classes/AuditLog/{entry['objectId']}"
    refused = [
        await api.put(path, {"summary": "forged"}, master=True),
        await api.delete(path, master=True),
        await api.delete("/purge/AuditLog", master=True),
        await api.delete("/schemas/AuditLog", master=True),
        await api.put("/schemas/AuditLog", {"fields": {"summary": {"__op": "Delete"}}}, master=True),
        await api.put("/schemas/AuditLog", {"indexes": {"seq_1": {"__op": "Delete"}}}, master=True),
        await api.post("/functions/tamper", {"op": "update"}, master=True),
        await api.post("/functions/tamper", {"op": "delete"}, master=True),
    ]
    for r in refused:
        assert (r.status_code, r.json()["code"]) == (400, ErrorCode.OPERATION_FORBIDDEN), r.text
        assert "append-only" in r.json()["error"]
    batch = await api.post("/batch", {"requests": [
        {"method": "PUT", "path": f"/parse{path}", "body": {"summary": "forged"}},
        {"method": "DELETE", "path": f"/parse{path}"},
    ]}, master=True)
    assert [item["error"]["code"] for item in batch.json()] == [119, 119]
    # Appending outside the chain writer is refused too: the chain fields are required.
    r = await api.post("/classes/AuditLog", {"entityType": "X", "entityId": "y", "action": "a", "summary": "s",
                                             "actorKind": "master", "ids": []}, master=True)
    assert r.json()["code"] == ErrorCode.VALIDATION_ERROR
    assert await _log(api) == [entry]
    assert await _intact(uri) == "chain intact, 1 entries"


async def test_append_only_is_a_setting(app_factory: Any, tmp_path: Path) -> None:
    _, api, _ = await _start(app_factory, tmp_path, append_only_classes=())
    await api.post("/classes/PatientProfile", {"name": "Ada"}, master=True)
    (entry,) = await _log(api)
    r = await api.put(f"/classes/AuditLog/{entry['objectId']}", {"summary": "edited"}, master=True)
    assert r.status_code == 200, r.text


async def test_concurrent_writes_and_reads_form_one_linear_chain(app_factory: Any, tmp_path: Path) -> None:
    _, api, uri = await _start(app_factory, tmp_path)
    _, token = await api.signup("dr_lee")
    h = api.as_user(token)
    created = await asyncio.gather(*(api.post("/classes/PatientProfile", {"name": f"p{i}"}, headers=h)
                                     for i in range(30)))
    ids = [r.json()["objectId"] for r in created]
    await asyncio.gather(*(api.get(f"/classes/PatientProfile/{oid}", headers=h) for oid in ids))
    rows = await _log(api)
    assert [r["seq"] for r in rows] == list(range(1, 61))
    assert all(r["prevHash"] == prev["hash"] for prev, r in zip(rows, rows[1:], strict=False))
    assert sorted(r["entityId"] for r in rows if r["action"] == "get") == sorted(ids)
    assert await _intact(uri) == "chain intact, 60 entries"


async def test_two_processes_on_one_sqlite_file_keep_one_chain(tmp_path: Path) -> None:
    uri, schema = fresh_database(), write_schema(tmp_path)
    await create_patients(uri, schema, 1)  # provisions the file before the two writers race
    procs = [await asyncio.create_subprocess_exec(sys.executable, "-m", "tests.app.audit_world", uri, schema, "25",
                                                  cwd=ROOT) for _ in range(2)]
    codes = await asyncio.wait_for(asyncio.gather(*(p.wait() for p in procs)), timeout=120)
    assert codes == [0, 0]
    assert await _intact(uri) == "chain intact, 51 entries"


class RacingAccess(FakeAccess):
    """A store with a unique `seq`, where another process appends just before our first attempt lands."""

    def __init__(self) -> None:
        super().__init__()
        self.raced = False

    async def create(self, class_name: str, fields: Any, *, master: bool) -> Any:
        if not self.raced:
            self.raced = True
            theirs = {**fields, "summary": "the other process"}
            theirs["hash"] = entry_hash(theirs)
            await super().create(class_name, theirs, master=master)
        if any(r.get("seq") == fields["seq"] for r in self.table(class_name).values()):
            raise ParseError(ErrorCode.DUPLICATE_VALUE, "A duplicate value for a field with unique values was provided")
        return await super().create(class_name, fields, master=master)


async def test_a_writer_that_loses_the_race_follows_the_new_head() -> None:
    access = RacingAccess()
    row = await append_entry(DataApi(access, master=False), {"action": "get", "summary": "ours"})
    rows = sorted(access.table("AuditLog").values(), key=lambda r: r["seq"])
    assert [(r["seq"], r["summary"]) for r in rows] == [(1, "the other process"), (2, "ours")]
    assert row.object_id == rows[1]["objectId"]
    assert verify_chain(rows).describe() == "chain intact, 2 entries"
