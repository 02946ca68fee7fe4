"""Event classification and per-client permissions, on hand-built StoredObjects (no server, no storage)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from engine.errors import ParseError
from engine.schema.model import ClassDef, FieldDef, FieldType, new_class
from engine.security.auth import Auth
from engine.storage.base import StoredObject, freeze
from engine.wire import ACL, Pointer
from livequery.client import Client
from livequery.dispatch import Dispatcher, LiveEvent, prepare
from livequery.protocol import Query
from livequery.subscriptions import SubscriptionIndex

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 1, 2, tzinfo=UTC)
USERS = {"t-alice": Auth(user_id="alice", session_token="t-alice"), "t-bob": Auth(user_id="bob")}


def obj(cls: str = "Msg", acl: ACL | None = None, t: datetime = T0, **fields: Any) -> StoredObject:
    return StoredObject(cls, "o1", T0, t, acl, freeze(fields))


async def lookup(token: str) -> Auth | None:
    return USERS.get(token)


class Hub:
    def __init__(self, *classes: ClassDef) -> None:
        self.schemas = {c.name: c for c in classes} or {"Msg": new_class("Msg")}
        self.index = SubscriptionIndex()
        self.clients: dict[str, Client] = {}
        self.dispatcher = Dispatcher(self.index, self.clients, self.schemas.get, lookup)

    async def sub(self, where: dict[str, Any] | None = None, *, cls: str = "Msg", token: str | None = None,
                  master: bool = False, **query: Any) -> Client:
        client = Client(is_master=master, session_token=token, installation_id="inst")
        self.clients[client.id] = client
        auth = await client.auth(None, lookup)
        assert auth is not None
        self.index.add(client.id, prepare(self.schemas[cls], Query(cls, where or {}, **query), auth, 1, None))
        return client

    async def fire(self, obj: StoredObject, original: StoredObject | None = None, deleted: bool = False) -> None:
        await self.dispatcher.dispatch(LiveEvent(obj.class_name, obj, original, deleted))


def ops(client: Client) -> list[str]:
    return [m["op"] for m in drain(client)]


def drain(client: Client) -> list[dict[str, Any]]:
    return [json.loads(text) for text in client.take()]


async def test_classification() -> None:
    hub = Hub()
    c = await hub.sub({"room": "a"})
    await hub.fire(obj(room="a"))
    await hub.fire(obj(room="a", t=T1, x=1), obj(room="a"))
    await hub.fire(obj(room="b"), obj(room="a"))
    await hub.fire(obj(room="a"), obj(room="b"))
    await hub.fire(obj(room="b"), obj(room="c"))  # matched neither side: nothing
    await hub.fire(obj(room="a"), deleted=True)
    await hub.fire(obj(room="b"), deleted=True)
    assert ops(c) == ["create", "update", "leave", "enter", "delete"]


async def test_event_shape() -> None:
    hub = Hub()
    c = await hub.sub()
    await hub.fire(obj(text="new", t=T1), obj(text="old"))
    (msg,) = drain(c)
    assert msg["installationId"] == "inst" and msg["requestId"] == 1 and msg["clientId"] == c.id
    assert msg["object"]["text"] == "new" and msg["original"]["text"] == "old"
    assert msg["object"]["className"] == "Msg" and msg["object"]["updatedAt"] == "2026-01-02T00:00:00.000Z"


async def test_watch_and_keys() -> None:
    hub = Hub()
    c = await hub.sub(watch=("text",), keys=("text",))
    await hub.fire(obj(text="a", other=1, t=T1), obj(text="a", other=0))  # watched field unchanged
    await hub.fire(obj(text="b", other=2, t=T1), obj(text="a", other=1))
    (msg,) = drain(c)
    assert msg["op"] == "update" and "other" not in msg["object"] and msg["object"]["text"] == "b"


async def test_acl_per_client_and_master() -> None:
    hub = Hub()
    alice, bob, anon = await hub.sub(token="t-alice"), await hub.sub(token="t-bob"), await hub.sub()
    master = await hub.sub(master=True)
    await hub.fire(obj(acl=ACL(frozenset({"alice"}))))
    assert (ops(alice), ops(bob), ops(anon), ops(master)) == (["create"], [], [], ["create"])
    # alice loses read access: a leave carrying only the state she could read
    await hub.fire(obj(acl=ACL(frozenset({"bob"})), secret="new", t=T1), obj(acl=ACL(frozenset({"alice"}))))
    (leave,) = drain(alice)
    assert leave["op"] == "leave" and "secret" not in leave["object"] and "original" not in leave
    assert ops(bob) == ["enter"]


async def test_invalid_session_gets_nothing() -> None:
    hub = Hub()
    c = await hub.sub(token="t-alice")
    c.session_token = "t-gone"  # as after a logout: the lookup now finds nothing
    await hub.fire(obj())
    assert ops(c) == []


async def test_clp_denial_and_pointer_permissions() -> None:
    cls = new_class("Msg", {"owner": FieldDef(FieldType.POINTER, "_User")}).with_clp(
        {"find": {"pointerFields": ["owner"]}, "get": {}})
    hub = Hub(cls)
    with pytest.raises(ParseError) as exc:
        await hub.sub()  # anonymous: no user for the pointer permission
    assert exc.value.code == 119
    alice = await hub.sub(token="t-alice")
    await hub.fire(obj(owner=Pointer("_User", "bob")))
    await hub.fire(obj(owner=Pointer("_User", "alice")))
    (msg,) = drain(alice)
    assert msg["object"]["owner"]["objectId"] == "alice"


async def test_protected_fields_stripped_and_refused_in_queries() -> None:
    cls = new_class("Msg").with_clp({"find": {"*": True}, "get": {"*": True}, "protectedFields": {"*": ["ssn"]}})
    hub = Hub(cls)
    c = await hub.sub()
    await hub.fire(obj(ssn="123", name="x"))
    (msg,) = drain(c)
    assert "ssn" not in msg["object"] and msg["object"]["name"] == "x"
    for query in ({"where": {"ssn": "123"}}, {"where": {"$or": [{"ssn": "1"}]}}, {"watch": ("ssn",)}):
        with pytest.raises(ParseError) as exc:
            await hub.sub(**query)
        assert exc.value.code == 119
    master = await hub.sub({"ssn": "123"}, master=True)
    await hub.fire(obj(ssn="123"))
    assert drain(master)[0]["object"]["ssn"] == "123"


async def test_session_subscriptions_are_scoped_to_the_user() -> None:
    hub = Hub(new_class("_Session"))
    alice = await hub.sub(cls="_Session", token="t-alice")
    await hub.fire(obj("_Session", user=Pointer("_User", "bob")))
    await hub.fire(obj("_Session", user=Pointer("_User", "alice")))
    assert ops(alice) == ["create"]


async def test_subquery_and_text_nodes_never_match() -> None:
    hub = Hub()
    c = await hub.sub({"tag": {"$inQuery": {"className": "Other", "where": {}}}})
    d = await hub.sub({"$or": [{"x": 1}, {"body": {"$text": {"$search": {"$term": "hello"}}}}]})
    await hub.fire(obj(tag="a", body="hello"))
    await hub.fire(obj(x=1))
    assert ops(c) == [] and ops(d) == ["create"]


async def test_redos_pattern_does_not_hang() -> None:
    hub = Hub()
    c = await hub.sub({"s": {"$regex": "^(a+)+$"}})
    started = time.monotonic()
    await hub.fire(obj(s="a" * 40 + "!"))
    assert time.monotonic() - started < 2.0 and ops(c) == []
