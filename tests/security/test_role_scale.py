"""Roles at scale: a user holding many roles (three levels of inheritance) reads exactly what those roles
grant, through a read constraint built once per role set, and a role write is seen at once, in this process
and in another one sharing the database."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from engine.schema.model import new_class
from engine.security.auth import Auth, principals_of
from engine.security.roles import RoleCache
from engine.storage.base import StoredObject
from engine.storage.sqlite import SQLiteAdapter
from engine.wire import now
from tests.conftest import Api

FAN = (4, 4, 4)  # 4 direct roles, 16 parents, 64 grandparents: 84 roles, past the compiler's short-list size


def ptr(cls: str, oid: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": cls, "objectId": oid}


async def _roles(api: Api, bodies: list[dict[str, Any]]) -> list[str]:
    r = await api.post("/batch", {"requests": [
        {"method": "POST", "path": "/parse/roles", "body": {"ACL": {"*": {"read": True}}, **b}} for b in bodies]},
        master=True)
    assert r.status_code == 200, r.text
    return [item["success"]["objectId"] for item in r.json()]


async def _hierarchy(api: Api, user: str) -> tuple[list[str], list[str]]:
    """Returns the direct roles' ids and the grandparents' names."""
    direct = await _roles(api, [{"name": f"d{i}", "users": {"__op": "AddRelation", "objects": [ptr("_User", user)]}}
                                   for i in range(FAN[0])])
    parents = await _roles(api, [{"name": f"p{i}_{j}", "roles": {"__op": "AddRelation",
                                                                    "objects": [ptr("_Role", child)]}}
                                    for i, child in enumerate(direct) for j in range(FAN[1])])
    grand = [f"g{i}_{j}" for i in range(len(parents)) for j in range(FAN[2])]
    await _roles(api, [{"name": name, "roles": {"__op": "AddRelation", "objects": [ptr("_Role", parent)]}}
                          for name, parent in zip(grand, [p for p in parents for _ in range(FAN[2])], strict=True)])
    return direct, grand


async def test_a_user_in_many_inherited_roles_reads_what_each_grants_and_loses_it_at_once(api: Api) -> None:
    uid, token = await api.signup("many")
    other, other_token = await api.signup("none")
    direct, grand = await _hierarchy(api, uid)
    bodies = [{"n": 0, "ACL": {f"role:{grand[0]}": {"read": True}}},     # through the first direct role
              {"n": 1, "ACL": {f"role:{grand[-1]}": {"read": True}}},    # through the last one
              {"n": 2, "ACL": {"role:nobody-holds-this": {"read": True}}},
              {"n": 3, "ACL": {other: {"read": True}}},
              {"n": 4}]                                                  # no ACL: public
    for body in bodies:
        assert (await api.post("/classes/Chart", body, master=True)).status_code == 201
    mine, theirs = api.as_user(token), api.as_user(other_token)

    async def seen(headers: dict[str, str], where: dict[str, Any] | None = None) -> list[int]:
        params = {"order": "n", **({"where": json.dumps(where)} if where else {})}
        r = await api.get("/classes/Chart", headers=headers, params=params)
        assert r.status_code == 200, r.text
        return [row["n"] for row in r.json()["results"]]

    for _ in range(2):  # the second find reuses the cached principals: same answer
        assert await seen(mine) == [0, 1, 4]
    assert await seen(mine, {"n": {"$gte": 1}}) == [1, 4]
    assert await seen(theirs) == [3, 4]
    count = await api.get("/classes/Chart", headers=mine, params={"count": "1", "limit": "0"})
    assert count.json()["count"] == 3
    # Leaving the last direct role drops every role inherited through it, on the very next request.
    r = await api.put(f"/roles/{direct[-1]}", {"users": {"__op": "RemoveRelation", "objects": [ptr("_User", uid)]}},
                      master=True)
    assert r.status_code == 200, r.text
    assert await seen(mine) == [0, 4]


def test_principals_are_built_once_per_role_set_and_follow_a_new_set() -> None:
    names = frozenset(f"r{i}" for i in range(1000))
    first = Auth(user_id="u1", role_names=names).principals()
    assert first[:2] == ("*", "u1") and len(first) == 1002 and list(first[2:]) == sorted(f"role:{n}" for n in names)
    assert Auth(user_id="u1", role_names=names).principals() is first
    # An equal set refilled by the role cache keeps the same tuple (the SQL compiler's cache is keyed by it).
    assert Auth(user_id="u1", role_names=frozenset(set(names))).principals() is first
    fewer = frozenset(list(names)[:-1])
    changed = Auth(user_id="u1", role_names=fewer).principals()
    assert len(changed) == 1001 and changed != first
    assert Auth(user_id="u1", role_names=fewer).holds("role:" + sorted(fewer)[0])
    assert not Auth(user_id="u1", role_names=fewer).holds("role:" + sorted(names - fewer)[0])
    assert principals_of(None, frozenset()) == ("*",)


class _Counting(SQLiteAdapter):
    expansions = 0

    async def owning_ids(self, cls: Any, field: str, ids: Any) -> Any:
        if field == "users":
            type(self).expansions += 1
        await asyncio.sleep(0.01)  # an expansion takes a while: concurrent requests overlap with it
        return await super().owning_ids(cls, field, ids)


async def test_concurrent_misses_for_one_user_share_one_expansion(tmp_path: Path) -> None:
    store = _Counting(str(tmp_path / "roles.db"))
    await store.open()
    try:
        roles = new_class("_Role")
        await store.save_schema(roles)
        stamp = now()
        await store.create(roles, StoredObject("_Role", "r1", stamp, stamp).with_fields({"name": "Tech"}))
        await store.add_relation(roles, "users", "r1", ["u1"])
        cache = RoleCache()
        answers = await asyncio.gather(*(cache.roles_for(store, roles, "u1") for _ in range(20)))
        assert all(a == frozenset({"Tech"}) for a in answers)
        assert _Counting.expansions == 1
        # A role write moves the change count: the next lookup expands again, and sees the new membership.
        await store.add_relation(roles, "users", "r1", ["u2"])
        await store.remove_relation(roles, "users", "r1", ["u1"])
        assert await cache.roles_for(store, roles, "u1") == frozenset()
        assert _Counting.expansions == 2
    finally:
        await store.aclose()


async def test_a_role_write_in_another_process_changes_the_principals_here_at_once(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    store = SQLiteAdapter(path)
    await store.open()
    try:
        roles = new_class("_Role")
        await store.save_schema(roles)
        stamp = now()
        for oid, name in (("r1", "Tech"), ("r2", "Lead")):
            await store.create(roles, StoredObject("_Role", oid, stamp, stamp).with_fields({"name": name}))
        await store.add_relation(roles, "users", "r1", ["u1"])
        cache = RoleCache(ttl=3600)  # only the change feed can make the entry stale within this test
        before = Auth(user_id="u1", role_names=await cache.roles_for(store, roles, "u1")).principals()
        assert before == ("*", "u1", "role:Tech")
        script = textwrap.dedent(f"""
            import asyncio
            from engine.schema.model import new_class
            from engine.storage.sqlite import SQLiteAdapter

            async def main():
                store = SQLiteAdapter({path!r})
                await store.open()
                await store.add_relation(new_class("_Role"), "roles", "r2", ["r1"])  # Tech members inherit Lead
                await store.aclose()

            asyncio.run(main())
        """)
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", script, cwd=Path(__file__).parents[2])
        assert await asyncio.wait_for(proc.wait(), 60) == 0
        after = Auth(user_id="u1", role_names=await cache.roles_for(store, roles, "u1")).principals()
        assert after == ("*", "u1", "role:Lead", "role:Tech")
    finally:
        await store.aclose()
