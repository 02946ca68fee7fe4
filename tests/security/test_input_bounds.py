"""Hostile write bodies are refused with a Parse error before any work, and nothing of them is stored."""

from __future__ import annotations

import time
from typing import Any

import pytest

from engine.errors import ParseError
from engine.schema import limits
from engine.schema.limits import check_write_body, shown
from engine.wire import decode, parse_date
from tests.conftest import Api

BIG = "a" * (10 * 1024 * 1024)
# Generous: each case takes well under a second alone; the bound only catches the old minutes-long behaviour.
SLOW = 5.0


async def _refused(api: Api, path: str, body: Any, code: int, **kw: Any) -> dict[str, Any]:
    start = time.monotonic()
    r = await api.post(path, body, **kw)
    assert time.monotonic() - start < SLOW
    assert r.status_code == 400, r.text[:300]
    out = r.json()
    assert out["code"] == code, out
    assert len(r.content) < 1024  # the error never echoes the megabytes back
    return dict(out)


async def _user_count(api: Api) -> int:
    r = await api.get("/classes/_User", params={"count": "1", "limit": "0"}, master=True)
    return int(r.json()["count"])


@pytest.mark.parametrize(("body", "code"), [
    ({"username": "u1", "password": "pw", BIG: 1}, 105),
    ({"username": BIG, "password": "pw"}, 142),
    ({"username": "u3", "password": BIG}, 142),
    ({"username": "u4", "password": "pw", "email": BIG + "@x.org"}, 125),
    ({"username": "u5", "password": "pw", "bio": BIG}, 116),
])
async def test_ten_megabyte_sign_ups_are_refused_quickly(api: Api, body: dict[str, Any], code: int) -> None:
    await api.signup("existing")  # the uniqueness check has a row to compare against
    await _refused(api, "/users", body, code)
    assert await _user_count(api) == 1


async def test_a_second_huge_username_is_refused_before_the_uniqueness_regex(api: Api) -> None:
    # The reported case: one huge name stored, the next sign-up compiled it into a case-insensitive regex.
    name = "b" * (limits.MAX_USERNAME_LENGTH + 1)
    await _refused(api, "/users", {"username": name, "password": "pw"}, 142)
    await _refused(api, "/users", {"username": BIG, "password": "pw"}, 142)
    assert await _user_count(api) == 0


async def test_user_field_caps_apply_to_updates_and_log_in(api: Api) -> None:
    uid, token = await api.signup("ann")
    r = await api.put(f"/users/{uid}", {"password": "p" * (limits.MAX_PASSWORD_LENGTH + 1)},
                      headers=api.as_user(token))
    assert r.status_code == 400 and r.json()["code"] == 142
    r = await api.post("/login", {"username": "ann", "password": BIG})
    assert r.status_code == 404 and r.json() == {"code": 101, "error": "Invalid username/password."}
    assert (await api.post("/login", {"username": "ann", "password": "pw-123456"})).status_code == 200


async def test_caps_at_the_boundary_are_accepted(api: Api) -> None:
    uid, _ = await api.signup("u" * limits.MAX_USERNAME_LENGTH, password="p" * limits.MAX_PASSWORD_LENGTH)
    assert uid
    assert (await api.post("/login", {"username": "u" * limits.MAX_USERNAME_LENGTH,
                                      "password": "p" * limits.MAX_PASSWORD_LENGTH})).status_code == 200


@pytest.mark.parametrize(("field", "value", "code"), [
    ("note", "x" * (limits.MAX_STRING_LENGTH + 1), 116),
    ("items", list(range(limits.MAX_ARRAY_LENGTH + 1)), 116),
    ("meta", {f"k{i}": i for i in range(limits.MAX_OBJECT_KEYS + 1)}, 116),
    ("meta", {"k" * (limits.MAX_NESTED_KEY_LENGTH + 1): 1}, 121),
    ("n", 2**64 - 1, 107),
    ("when", {"__type": "Date", "iso": "0001-01-01T00:00:00+01:00"}, 111),
    ("when", {"__type": "Date", "iso": "9999-12-31T23:59:59-01:00"}, 111),
    ("when", {"__type": "Date", "iso": "0000-01-01T00:00:00Z"}, 111),
    ("owner", {"__type": "Pointer", "className": "_User", "objectId": "x" * 10_000}, 106),
])
async def test_object_values_beyond_the_caps(app_factory: Any, field: str, value: Any, code: int) -> None:
    _, api = await app_factory(allow_client_class_creation=True)
    await _refused(api, "/classes/Probe", {field: value}, code)
    r = await api.get("/classes/Probe", params={"count": "1", "limit": "0"}, master=True)
    assert r.status_code != 200 or r.json()["count"] == 0


async def test_deep_nesting_and_node_count(app_factory: Any) -> None:
    _, api = await app_factory(allow_client_class_creation=True)
    deep: Any = 1
    for _ in range(limits.MAX_VALUE_DEPTH + 1):
        deep = {"d": deep}
    await _refused(api, "/classes/Probe", {"deep": deep}, 116)
    wide = [[0] * 1000 for _ in range(limits.MAX_VALUE_NODES // 1000 + 1)]
    await _refused(api, "/classes/Probe", {"wide": wide}, 116)


async def test_updates_and_ops_are_bounded_too(app_factory: Any) -> None:
    _, api = await app_factory(allow_client_class_creation=True)
    r = await api.post("/classes/Probe", {"tags": ["a"]})
    oid = r.json()["objectId"]
    many = ["x"] * (limits.MAX_ARRAY_LENGTH + 1)
    r = await api.put(f"/classes/Probe/{oid}", {"tags": {"__op": "Add", "objects": many}})
    assert r.status_code == 400 and r.json()["code"] == 116
    r = await api.put(f"/classes/Probe/{oid}", {"n": {"__op": "Increment", "amount": 2**64 - 1}})
    assert r.status_code == 400 and r.json()["code"] == 107
    r = await api.put(f"/classes/Probe/{oid}", {BIG: {"__op": "Delete"}})
    assert r.status_code == 400 and r.json()["code"] == 105 and len(r.content) < 1024
    assert (await api.get(f"/classes/Probe/{oid}")).json()["tags"] == ["a"]


async def test_a_value_at_the_string_cap_is_stored(app_factory: Any) -> None:
    _, api = await app_factory(allow_client_class_creation=True)
    text = "z" * limits.MAX_STRING_LENGTH
    r = await api.post("/classes/Probe", {"note": text})
    assert r.status_code == 201, r.text[:200]
    assert (await api.get(f"/classes/Probe/{r.json()['objectId']}")).json()["note"] == text


def test_shown_truncates_long_names() -> None:
    assert shown("abc") == "abc"
    assert len(shown("x" * 10_000)) == limits.SHOWN_NAME_LENGTH + 1


def test_check_write_body_unit() -> None:
    check_write_body({"a": {"b": [1, "x", {"c": None}]}, "n": 2**63 - 1})
    with pytest.raises(ParseError) as err:
        check_write_body({f"f{i}": 1 for i in range(limits.MAX_BODY_FIELDS + 1)})
    assert err.value.code == 255
    with pytest.raises(ParseError):
        check_write_body({"k": 2**63})


def test_wire_decode_bounds() -> None:
    assert decode(-(2**63)) == -(2**63)
    with pytest.raises(ParseError):
        decode(2**64 - 1)
    with pytest.raises(ParseError) as err:
        parse_date("0001-01-01T00:00:00+00:01")
    assert err.value.code == 111
    assert parse_date("9999-12-31T23:59:59Z").year == 9999
