"""Every access rule × every entry point: REST, /batch, the hook data API (a cloud function acting as the
caller) and LiveQuery subscribe. A rule a way in does not reach must say why in its row, and a new entry point
needs a runner here, so neither can be added without being covered (architecture: "one door")."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

with warnings.catch_warnings():  # Starlette nags about httpx vs httpx2; the suite uses httpx on purpose
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from engine.app import create_app
from engine.cloud import FunctionRequest
from tests.conftest import APP_ID, MASTER, make_settings

LOOPBACK = ("127.0.0.1", 50000)  # the master key is honoured from loopback only
ENTRY_POINTS = ("rest", "batch", "hook", "livequery")
FORBIDDEN, NOT_FOUND, SESSION_MISSING, IMMUTABLE = 119, 101, 206, 136


@dataclass(frozen=True)
class Outcome:
    code: int | None  # the Parse error code, None on success
    body: Any = None  # find → list of objects, get → object, count → int, config → params


@dataclass(frozen=True)
class Rule:
    name: str
    caller: str  # anon | alice | master
    op: str  # find get count create update delete config_get config_put
    cls: str = ""
    target: str = ""  # key into the world's ids
    body: dict[str, Any] | None = None
    where: dict[str, Any] | None = None
    refused: int | None = None  # the code every entry point must answer
    check: Callable[[Any, dict[str, str]], bool] | None = None  # else: what the successful answer must show
    not_applicable: dict[str, str] = field(default_factory=dict)  # entry point → why it cannot reach the rule


LQ_READS_ONLY = "LiveQuery only subscribes: it never writes"
NO_CONFIG_IN_DATA_API = "the hook data API has no config operation (hooks read config with the master key)"


def _ids(rows: Any) -> set[str]:
    return {r["objectId"] for r in rows}


RULES: tuple[Rule, ...] = (
    Rule("_Installation find by a client", "anon", "find", "_Installation", refused=FORBIDDEN),
    Rule("_Installation count by a client", "anon", "count", "_Installation", refused=FORBIDDEN,
         not_applicable={"livequery": "a subscription has no count"}),
    Rule("_Installation delete by a client", "anon", "delete", "_Installation", "installation", refused=FORBIDDEN,
         not_applicable={"livequery": LQ_READS_ONLY}),
    Rule("_Installation $inQuery by a client", "anon", "find", "Open",
         where={"owner": {"$inQuery": {"className": "_Installation", "where": {"deviceToken": "tok-secret"}}}},
         refused=FORBIDDEN, not_applicable={"livequery": "subqueries never match in LiveQuery (Parse's rule)"}),
    Rule("_Session of another user: get", "alice", "get", "_Session", "bob_session", refused=NOT_FOUND,
         not_applicable={"livequery": "a subscription names no object id to get"}),
    Rule("_Session of another user: find", "alice", "find", "_Session",
         check=lambda rows, ids: ids["bob_session"] not in _ids(rows),
         not_applicable={"livequery": "session ownership is checked per event (tests/livequery)"}),
    Rule("_User update by another user", "alice", "update", "_User", "bob", body={"nick": "x"},
         refused=SESSION_MISSING, not_applicable={"livequery": LQ_READS_ONLY}),
    Rule("_User delete by another user", "alice", "delete", "_User", "bob", refused=SESSION_MISSING,
         not_applicable={"livequery": LQ_READS_ONLY}),
    Rule("server-only AuditLog create", "alice", "create", "AuditLog",
         body={"entityType": "x", "entityId": "y", "action": "a", "summary": "s"}, refused=FORBIDDEN,
         not_applicable={"livequery": LQ_READS_ONLY}),
    Rule("server-only AuditLog update", "alice", "update", "AuditLog", "audit", body={"summary": "forged"},
         refused=FORBIDDEN, not_applicable={"livequery": LQ_READS_ONLY}),
    Rule("server-only AuditLog delete", "alice", "delete", "AuditLog", "audit", refused=FORBIDDEN,
         not_applicable={"livequery": LQ_READS_ONLY}),
    Rule("append-only AuditLog update, even by the master key", "master", "update", "AuditLog", "audit",
         body={"summary": "forged"}, refused=FORBIDDEN, not_applicable={"livequery": LQ_READS_ONLY}),
    Rule("append-only AuditLog delete, even by the master key", "master", "delete", "AuditLog", "audit",
         refused=FORBIDDEN, not_applicable={"livequery": LQ_READS_ONLY}),
    Rule("server-only public class create", "alice", "create", "Ledger", body={"n": 2}, refused=FORBIDDEN,
         not_applicable={"livequery": LQ_READS_ONLY}),
    Rule("server-only public class update", "alice", "update", "Ledger", "ledger", body={"n": 3},
         refused=FORBIDDEN, not_applicable={"livequery": LQ_READS_ONLY}),
    Rule("server-only public class delete", "alice", "delete", "Ledger", "ledger", refused=FORBIDDEN,
         not_applicable={"livequery": LQ_READS_ONLY}),
    Rule("_JobStatus find by a client", "alice", "find", "_JobStatus", refused=FORBIDDEN),
    Rule("_JobStatus create by a client", "alice", "create", "_JobStatus", body={"status": "succeeded"},
         refused=FORBIDDEN, not_applicable={"livequery": LQ_READS_ONLY}),
    Rule("_JobStatus update by a client", "alice", "update", "_JobStatus", "job", body={"status": "failed"},
         refused=FORBIDDEN, not_applicable={"livequery": LQ_READS_ONLY}),
    Rule("_JobStatus delete by a client", "alice", "delete", "_JobStatus", "job", refused=FORBIDDEN,
         not_applicable={"livequery": LQ_READS_ONLY}),
    Rule("CLP find refused", "alice", "find", "Locked", refused=FORBIDDEN),
    Rule("CLP count refused", "alice", "count", "Locked", refused=FORBIDDEN,
         not_applicable={"livequery": "a subscription has no count"}),
    Rule("CLP get refused", "alice", "get", "Locked", "locked", refused=FORBIDDEN,
         not_applicable={"livequery": "a subscription names no object id to get"}),
    Rule("CLP create refused", "alice", "create", "Locked", body={"n": 2}, refused=FORBIDDEN,
         not_applicable={"livequery": LQ_READS_ONLY}),
    Rule("CLP update refused", "alice", "update", "Locked", "locked", body={"n": 3}, refused=FORBIDDEN,
         not_applicable={"livequery": LQ_READS_ONLY}),
    Rule("CLP delete refused", "alice", "delete", "Locked", "locked", refused=FORBIDDEN,
         not_applicable={"livequery": LQ_READS_ONLY}),
    Rule("ACL-hidden object: get", "alice", "get", "Open", "hidden", refused=NOT_FOUND,
         not_applicable={"livequery": "a subscription names no object id to get"}),
    Rule("ACL-hidden object: find", "alice", "find", "Open", check=lambda rows, ids: ids["hidden"] not in _ids(rows),
         not_applicable={"livequery": "ACLs are checked per event (tests/livequery/test_dispatch.py)"}),
    Rule("ACL-hidden object: update", "alice", "update", "Open", "hidden", body={"n": 9}, refused=NOT_FOUND,
         not_applicable={"livequery": LQ_READS_ONLY}),
    Rule("ACL-hidden object: delete", "alice", "delete", "Open", "hidden", refused=NOT_FOUND,
         not_applicable={"livequery": LQ_READS_ONLY}),
    Rule("protectedFields: stripped from results", "alice", "find", "Guarded",
         check=lambda rows, ids: bool(rows) and all("secret" not in r for r in rows),
         not_applicable={"livequery": "stripped per event (tests/livequery/test_dispatch.py)"}),
    Rule("protectedFields: no query on them", "alice", "find", "Guarded", where={"secret": "s3"},
         refused=FORBIDDEN),
    Rule("master-only config keys hidden", "alice", "config_get",
         check=lambda params, ids: "hidden" not in params and params.get("open") == 1,
         not_applicable={"hook": NO_CONFIG_IN_DATA_API, "livequery": "config is not a class"}),
    Rule("config write by a client", "alice", "config_put", body={"params": {"open": 2}}, refused=FORBIDDEN,
         not_applicable={"hook": NO_CONFIG_IN_DATA_API, "livequery": "config is not a class"}),
    Rule("_Role name is immutable (even for the master key)", "master", "update", "_Role", "role",
         body={"name": "renamed"}, refused=IMMUTABLE, not_applicable={"livequery": LQ_READS_ONLY}),
)


# ---- the world the rules act on --------------------------------------------------------------------------


@dataclass
class World:
    client: TestClient
    ids: dict[str, str]
    tokens: dict[str, str]

    def headers(self, caller: str) -> dict[str, str]:
        h = {"X-Parse-Application-Id": APP_ID, "Content-Type": "application/json"}
        if caller == "master":
            h["X-Parse-Master-Key"] = MASTER
        elif caller in self.tokens:
            h["X-Parse-Session-Token"] = self.tokens[caller]
        return h


def _ok(r: Any) -> dict[str, Any]:
    assert r.status_code in (200, 201), r.text
    body: dict[str, Any] = r.json()
    return body


async def _door_function(req: FunctionRequest) -> Any:
    """The hook data API as the caller: each operation is the one the matrix row names."""
    p, access, master = req.params, req.data.access, req.data.master
    cls, oid = p.get("className", ""), p.get("objectId", "")
    op = p["op"]
    if op == "find":
        return [o.to_json() for o in await access.find(cls, p.get("where") or {}, {}, master=master)]
    if op == "count":
        return await access.count(cls, p.get("where") or {}, master=master)
    if op == "get":
        return (await access.get(cls, oid, master=master)).to_json()
    if op == "create":
        return (await access.create(cls, p.get("body") or {}, master=master)).to_json()
    if op == "update":
        return (await access.update(cls, oid, p.get("body") or {}, master=master)).to_json()
    await access.delete(cls, oid, master=master)
    return {}


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    app = create_app(make_settings(database_uri="memory://", server_only_classes=("AuditLog", "Ledger")))
    cloud = app.state.engine.cloud
    cloud.define("door")(_door_function)
    cloud.job("noop")(lambda req: None)
    with TestClient(app, client=LOOPBACK) as c:
        hm = {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER}
        ids: dict[str, str] = {}
        tokens: dict[str, str] = {}
        for name in ("alice", "bob"):
            r = _ok(c.post("/parse/users", json={"username": name, "password": "pw-123456"}, headers=hm))
            ids[name], tokens[name] = r["objectId"], r["sessionToken"]
        bob = {"X-Parse-Application-Id": APP_ID, "X-Parse-Session-Token": tokens["bob"]}
        me = _ok(c.get("/parse/sessions/me", headers=bob))
        ids["bob_session"] = me["objectId"]
        ids["installation"] = _ok(c.post("/parse/installations", headers=hm, json={
            "deviceType": "ios", "installationId": "dev-1", "deviceToken": "tok-secret"}))["objectId"]
        ids["audit"] = _ok(c.post("/parse/classes/AuditLog", headers=hm, json={
            "actor": {"__type": "Pointer", "className": "_User", "objectId": ids["alice"]},
            "entityType": "x", "entityId": "y", "action": "a", "summary": "s", "actorKind": "user", "ids": ["y"],
            "loggedAt": {"__type": "Date", "iso": "2026-01-01T00:00:00.000Z"}, "seq": 1, "prevHash": "0" * 64,
            "hash": "0" * 64, "ACL": {"*": {"read": True, "write": True}}}))["objectId"]
        ids["ledger"] = _ok(c.post("/parse/classes/Ledger", headers=hm, json={
            "n": 1, "ACL": {"*": {"read": True, "write": True}}}))["objectId"]
        closed = {op: {} for op in ("find", "count", "get", "create", "update", "delete", "addField")}
        _ok(c.post("/parse/schemas/Locked", headers=hm, json={
            "className": "Locked", "fields": {"n": {"type": "Number"}}, "classLevelPermissions": closed}))
        ids["locked"] = _ok(c.post("/parse/classes/Locked", headers=hm, json={"n": 1}))["objectId"]
        ids["hidden"] = _ok(c.post("/parse/classes/Open", headers=hm, json={
            "n": 1, "owner": {"__type": "Pointer", "className": "_Installation", "objectId": ids["installation"]},
            "ACL": {ids["bob"]: {"read": True, "write": True}}}))["objectId"]
        public = {op: {"*": True} for op in ("find", "count", "get", "create", "update", "delete", "addField")}
        _ok(c.post("/parse/schemas/Guarded", headers=hm, json={
            "className": "Guarded", "fields": {"secret": {"type": "String"}, "n": {"type": "Number"}},
            "classLevelPermissions": {**public, "protectedFields": {"*": ["secret"]}}}))
        ids["guarded"] = _ok(c.post("/parse/classes/Guarded", headers=hm, json={
            "secret": "s3", "n": 1, "ACL": {"*": {"read": True}}}))["objectId"]
        _ok(c.put("/parse/config", headers=hm, json={
            "params": {"open": 1, "hidden": 2}, "masterKeyOnly": {"hidden": True}}))
        ids["role"] = _ok(c.post("/parse/roles", headers=hm, json={
            "name": "staff", "ACL": {"*": {"read": True}}}))["objectId"]
        r = c.post("/parse/jobs/noop", headers=hm, json={})
        assert r.status_code == 200, r.text
        ids["job"] = r.headers["X-Parse-Job-Status-Id"]
        yield World(c, ids, tokens)


# ---- one runner per entry point --------------------------------------------------------------------------


def _rest_request(rule: Rule, world: World) -> tuple[str, str, dict[str, Any] | None, dict[str, Any]]:
    """(method, path below the mount, body, query params) of the rule's operation."""
    oid = world.ids.get(rule.target, "")
    where = {"where": json.dumps(rule.where)} if rule.where else {}
    return {
        "find": ("GET", f"/classes/{rule.cls}", None, where),
        "count": ("GET", f"/classes/{rule.cls}", None, {**where, "count": "1", "limit": "0"}),
        "get": ("GET", f"/classes/{rule.cls}/{oid}", None, {}),
        "create": ("POST", f"/classes/{rule.cls}", rule.body, {}),
        "update": ("PUT", f"/classes/{rule.cls}/{oid}", rule.body, {}),
        "delete": ("DELETE", f"/classes/{rule.cls}/{oid}", None, {}),
        "config_get": ("GET", "/config", None, {}),
        "config_put": ("PUT", "/config", rule.body, {}),
    }[rule.op]


def _shape(op: str, body: Any) -> Any:
    if op == "find":
        return body["results"]
    if op == "count":
        return body["count"]
    if op == "config_get":
        return body["params"]
    return body


def run_rest(rule: Rule, world: World) -> Outcome:
    method, path, body, params = _rest_request(rule, world)
    r = world.client.request(method, "/parse" + path, json=body, params=params, headers=world.headers(rule.caller))
    if r.status_code >= 400:
        return Outcome(r.json()["code"])
    return Outcome(None, _shape(rule.op, r.json()))


def run_batch(rule: Rule, world: World) -> Outcome:
    method, path, body, params = _rest_request(rule, world)
    if method == "GET":
        body = {k: (json.loads(v) if k == "where" else v) for k, v in params.items()}
    r = world.client.post("/parse/batch", headers=world.headers(rule.caller),
                          json={"requests": [{"method": method, "path": "/parse" + path, "body": body}]})
    assert r.status_code == 200, r.text
    item = r.json()[0]
    if "error" in item:
        return Outcome(item["error"]["code"])
    return Outcome(None, _shape(rule.op, item["success"]))


def run_hook(rule: Rule, world: World) -> Outcome:
    params = {"op": rule.op, "className": rule.cls, "objectId": world.ids.get(rule.target, ""),
              "body": rule.body, "where": rule.where}
    r = world.client.post("/parse/functions/door", json=params, headers=world.headers(rule.caller))
    if r.status_code >= 400:
        return Outcome(r.json()["code"])
    return Outcome(None, r.json()["result"])


def run_livequery(rule: Rule, world: World) -> Outcome:
    assert rule.op == "find", "LiveQuery only subscribes"
    with world.client.websocket_connect("/parse") as ws:
        connect: dict[str, Any] = {"op": "connect", "applicationId": APP_ID}
        if rule.caller == "master":
            connect["masterKey"] = MASTER
        elif rule.caller in world.tokens:
            connect["sessionToken"] = world.tokens[rule.caller]
        ws.send_json(connect)
        assert ws.receive_json()["op"] == "connected"
        ws.send_json({"op": "subscribe", "requestId": 1, "query": {"className": rule.cls, "where": rule.where or {}}})
        msg = ws.receive_json()
    if msg["op"] == "error":
        return Outcome(msg["code"])
    return Outcome(None, [])


RUNNERS: dict[str, Callable[[Rule, World], Outcome]] = {
    "rest": run_rest, "batch": run_batch, "hook": run_hook, "livequery": run_livequery,
}


def test_every_entry_point_has_a_runner_and_every_gap_a_reason() -> None:
    assert set(RUNNERS) == set(ENTRY_POINTS)
    for rule in RULES:
        assert set(rule.not_applicable) <= set(ENTRY_POINTS), rule.name
        assert all(reason.strip() for reason in rule.not_applicable.values()), rule.name
        assert (rule.refused is None) != (rule.check is None), f"{rule.name}: refuse or check, not both"


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_rule_holds_at_every_door(rule: Rule, entry: str, world: World) -> None:
    if entry in rule.not_applicable:
        pytest.skip(rule.not_applicable[entry])
    outcome = RUNNERS[entry](rule, world)
    if rule.refused is not None:
        assert outcome.code == rule.refused, f"{entry}: {outcome}"
    else:
        assert rule.check is not None
        assert outcome.code is None, f"{entry}: {outcome}"
        assert rule.check(outcome.body, world.ids), f"{entry}: {outcome.body}"
