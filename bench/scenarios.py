"""The benchmark's data and requests, through Parse's REST API only, so any Parse-compatible server can be measured.

Seeding goes through `/batch` with the master key (the same requests on every server, untimed). Every scenario is
one `Load` (load.py): the same method, paths, headers and body on both servers."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from bench.load import Load

NOTE, PRIVATE, VISIT, AGG = "BenchNote", "BenchPrivate", "BenchVisit", "BenchAgg"
BUCKET_ROWS = 100  # rows per `bucket` value: an indexed find answers a full page of 100
PRIVATE_OWNERS = 10  # BenchPrivate rows are spread over this many users, each row readable by its owner only
PASSWORD = "bench-password-1"
SEED_BATCH = 500


@dataclass(frozen=True)
class Sizes:
    rows: int = 10_000  # BenchNote and BenchPrivate
    agg_rows: int = 100_000  # BenchAgg, for the $group
    visits: int = 100  # BenchVisit, each pointing at a BenchNote (one include page)


QUICK = Sizes(rows=300, agg_rows=500, visits=100)


@dataclass(frozen=True)
class Server:
    name: str
    url: str
    app_id: str
    master_key: str

    def headers(self, *, master: bool = True, token: str | None = None) -> dict[str, str]:
        h = {"X-Parse-Application-Id": self.app_id, "Content-Type": "application/json"}
        if master:
            h["X-Parse-Master-Key"] = self.master_key
        if token:
            h["X-Parse-Session-Token"] = token
        return h


@dataclass(frozen=True)
class Scenario:
    name: str
    load: Load


@dataclass(frozen=True)
class Seeded:
    note_ids: tuple[str, ...]
    private_ids: tuple[str, ...]  # readable by `token`'s user
    token: str
    username: str
    owners: tuple[tuple[str, str], ...]  # (objectId, sessionToken) of each BenchPrivate owner; owners[0] is `token`


def _check(response: httpx.Response, what: str) -> Any:
    if response.status_code >= 400:
        raise SystemExit(f"{what}: HTTP {response.status_code} {response.text[:300]}")
    return response.json()


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def batch_create(client: httpx.Client, server: Server, cls: str, objects: Sequence[Mapping[str, Any]]) -> list[str]:
    """Create objects through `/batch` (master key: no sub-request cap); their ids, in order."""
    mount = httpx.URL(server.url).path.rstrip("/")
    ids: list[str] = []
    for chunk in _chunks(objects, SEED_BATCH):
        body = {"requests": [{"method": "POST", "path": f"{mount}/classes/{cls}", "body": o} for o in chunk]}
        answers = _check(client.post("/batch", json=body, headers=server.headers()), f"seeding {cls}")
        for answer in answers:
            if "success" not in answer:
                raise SystemExit(f"seeding {cls}: {answer}")
            ids.append(answer["success"]["objectId"])
    return ids


def create_class(client: httpx.Client, server: Server, cls: str, fields: Mapping[str, Any],
                 indexes: Mapping[str, Any] | None = None, clp: Mapping[str, Any] | None = None) -> None:
    """A fresh class (an existing one from an earlier run is emptied first)."""
    body: dict[str, Any] = {"className": cls, "fields": dict(fields)}
    if indexes:
        body["indexes"] = dict(indexes)
    if clp:
        body["classLevelPermissions"] = dict(clp)
    response = client.post(f"/schemas/{cls}", json=body, headers=server.headers())
    if response.status_code >= 400 and response.json().get("code") == 103:  # already there: start it over
        _check(client.delete(f"/purge/{cls}", headers=server.headers()), f"emptying {cls}")
        _check(client.delete(f"/schemas/{cls}", headers=server.headers()), f"dropping {cls}")
        response = client.post(f"/schemas/{cls}", json=body, headers=server.headers())
    _check(response, f"creating {cls}")


def sign_up(client: httpx.Client, server: Server, username: str) -> dict[str, Any]:
    body = {"username": username, "password": PASSWORD}
    result: dict[str, Any] = _check(client.post("/users", json=body, headers=server.headers(master=False)),
                                    f"signing up {username}")
    return {**result, "username": username}  # Parse's sign-up answer leaves it out


def private_clp() -> dict[str, Any]:
    signed_in = {"requiresAuthentication": True}
    return {"get": signed_in, "find": signed_in, "count": signed_in, "create": signed_in, "update": signed_in,
            "delete": {}, "addField": {}}


def seed(client: httpx.Client, server: Server, sizes: Sizes) -> Seeded:
    run = secrets.token_hex(3)
    bucket_index = {"bucket_1": {"bucket": 1}}
    create_class(client, server, NOTE, {"n": {"type": "Number"}, "bucket": {"type": "Number"},
                                        "text": {"type": "String"}, "tags": {"type": "Array"}}, bucket_index)
    create_class(client, server, PRIVATE, {"n": {"type": "Number"}, "bucket": {"type": "Number"},
                                           "text": {"type": "String"}}, bucket_index, private_clp())
    create_class(client, server, VISIT, {"n": {"type": "Number"},
                                         "note": {"type": "Pointer", "targetClass": NOTE}})
    # The index an operator declares for a hot report (on both servers, through /schemas): the grouped key, then
    # the summed field. SQLite walks it in key order instead of sorting every row; PostgreSQL may scan it alone.
    create_class(client, server, AGG, {"n": {"type": "Number"}, "bucket": {"type": "Number"}},
                 {"bucket_n": {"bucket": 1, "n": 1}})
    note_ids = batch_create(client, server, NOTE, [
        {"n": i, "bucket": i // BUCKET_ROWS, "text": f"night {i}", "tags": ["psg", str(i % 7)]}
        for i in range(sizes.rows)])
    owners = [sign_up(client, server, f"bench-{run}-{k}") for k in range(PRIVATE_OWNERS)]
    private_ids = batch_create(client, server, PRIVATE, [
        {"n": i, "bucket": i // BUCKET_ROWS, "text": f"private night {i}",
         "ACL": {owners[i % PRIVATE_OWNERS]["objectId"]: {"read": True, "write": True}}}
        for i in range(sizes.rows)])
    mine = tuple(pid for i, pid in enumerate(private_ids) if i % PRIVATE_OWNERS == 0)
    batch_create(client, server, VISIT, [
        {"n": i, "note": {"__type": "Pointer", "className": NOTE, "objectId": note_ids[i % len(note_ids)]}}
        for i in range(sizes.visits)])
    batch_create(client, server, AGG, [{"n": i, "bucket": i % 100} for i in range(sizes.agg_rows)])
    return Seeded(tuple(note_ids), mine, owners[0]["sessionToken"], owners[0]["username"],
                  tuple((o["objectId"], o["sessionToken"]) for o in owners))


def _query(params: Mapping[str, Any]) -> str:
    return "?" + urlencode({k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()})


def scenarios(server: Server, seeded: Seeded, sizes: Sizes) -> list[Scenario]:
    master = server.headers()
    user = server.headers(master=False, token=seeded.token)
    client = server.headers(master=False)
    buckets = range(max(1, sizes.rows // BUCKET_ROWS))
    ids = seeded.note_ids[:1000]
    mine = seeded.private_ids[:1000]
    note = {"n": 1, "bucket": -1, "text": "night", "tags": ["psg", "1"]}  # outside the buckets finds read
    batch = {"requests": [{"method": "POST", "path": f"{httpx.URL(server.url).path.rstrip('/')}/classes/{NOTE}",
                           "body": note} for _ in range(50)]}
    group = [{"$group": {"_id": "$bucket", "total": {"$sum": "$n"}}}]
    return [
        Scenario("create", Load("POST", (f"/classes/{NOTE}",), json.dumps(note), master)),
        Scenario("update", Load("PUT", tuple(f"/classes/{NOTE}/{i}" for i in ids),
                                json.dumps({"text": "night, rescored"}), master)),
        Scenario("get", Load("GET", tuple(f"/classes/{NOTE}/{i}" for i in ids), None, master)),
        Scenario("find", Load("GET", tuple(f"/classes/{NOTE}" + _query({"where": {"bucket": b}, "limit": "100"})
                                           for b in buckets), None, master)),
        Scenario("get_acl", Load("GET", tuple(f"/classes/{PRIVATE}/{i}" for i in mine), None, user)),
        Scenario("find_acl", Load("GET", tuple(f"/classes/{PRIVATE}" + _query({"where": {"bucket": b},
                                                                                "limit": "100"})
                                               for b in buckets), None, user)),
        Scenario("include", Load("GET", (f"/classes/{VISIT}" + _query({"limit": "100", "include": "note"}),),
                                 None, master)),
        Scenario("count", Load("GET", tuple(f"/classes/{NOTE}" + _query({"where": {"bucket": b}, "count": "1",
                                                                          "limit": "0"})
                                            for b in buckets), None, master)),
        Scenario("batch50", Load("POST", ("/batch",), json.dumps(batch), master)),
        Scenario("function", Load("POST", ("/functions/benchEcho",), json.dumps({"n": 1}), client)),
        Scenario("login", Load("POST", ("/login",), json.dumps({"username": seeded.username,
                                                                 "password": PASSWORD}), client)),
        Scenario("aggregate", Load("GET", (f"/aggregate/{AGG}" + _query({"pipeline": group}),), None, master)),
    ]


def find_acl(server: Server, token: str, sizes: Sizes) -> Load:
    """The signed-in indexed find (per-user ACLs, a CLP) as the given user."""
    return Load("GET", tuple(f"/classes/{PRIVATE}" + _query({"where": {"bucket": b}, "limit": "100"})
                             for b in range(max(1, sizes.rows // BUCKET_ROWS))),
                None, server.headers(master=False, token=token))


def seed_roles(client: httpx.Client, server: Server, user_id: str, fan: tuple[int, int, int] = (10, 9, 10)) -> int:
    """Put the user in fan[0] roles directly, each inherited by fan[1] parents, each by fan[2] grandparents
    (10 + 90 + 900 = 1000 roles, three levels); returns how many roles the user holds."""
    run = secrets.token_hex(3)
    mount = httpx.URL(server.url).path.rstrip("/")
    level = batch_roles(client, server, mount, [
        {"name": f"bench{run}_1_{i}", "users": _add("_User", [user_id])} for i in range(fan[0])])
    total = len(level)
    for depth, width in ((2, fan[1]), (3, fan[2])):
        level = batch_roles(client, server, mount, [
            {"name": f"bench{run}_{depth}_{k}_{j}", "roles": _add("_Role", [child])}
            for k, child in enumerate(level) for j in range(width)])
        total += len(level)
    return total


def _add(cls: str, ids: Sequence[str]) -> dict[str, Any]:
    return {"__op": "AddRelation", "objects": [{"__type": "Pointer", "className": cls, "objectId": i} for i in ids]}


def batch_roles(client: httpx.Client, server: Server, mount: str, roles: Sequence[Mapping[str, Any]]) -> list[str]:
    ids: list[str] = []
    for chunk in _chunks(roles, SEED_BATCH):
        body = {"requests": [{"method": "POST", "path": f"{mount}/roles",
                              "body": {**r, "ACL": {"*": {"read": True}}}} for r in chunk]}
        for answer in _check(client.post("/batch", json=body, headers=server.headers()), "seeding roles"):
            if "success" not in answer:
                raise SystemExit(f"seeding roles: {answer}")
            ids.append(answer["success"]["objectId"])
    return ids


SCENARIOS = ("create", "update", "get", "find", "get_acl", "find_acl", "include", "count", "batch50", "function",
             "login", "aggregate")
