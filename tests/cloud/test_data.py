"""The hooks' data API: CloudQuery builds Parse where/options JSON; DataApi acts as the request or as master."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from engine.cloud import CloudObject, CloudQuery, DataApi, ParseError
from engine.query.where import parse_where
from engine.wire import ACL, Pointer
from tests.cloud.fakes import FakeAccess

WHEN = datetime(2024, 5, 1, tzinfo=UTC)
PATIENT = CloudObject("_User", "p1", {})
PTR = {"__type": "Pointer", "className": "_User", "objectId": "p1"}
DATE = {"__type": "Date", "iso": "2024-05-01T00:00:00.000Z"}
SUB = CloudQuery("Patient").equal_to("active", True).limit(5)


def q() -> CloudQuery:
    return CloudQuery("SleepStudy")


CASES: list[tuple[str, CloudQuery, dict[str, Any]]] = [
    ("equal_to", q().equal_to("patient", PATIENT), {"patient": PTR}),
    ("equal_to pointer", q().equal_to("patient", Pointer("_User", "p1")), {"patient": PTR}),
    ("equal_to replaces", q().greater_than("n", 1).equal_to("n", 2), {"n": 2}),
    ("not_equal_to", q().not_equal_to("status", "void"), {"status": {"$ne": "void"}}),
    ("less_than", q().less_than("reportedAt", WHEN), {"reportedAt": {"$lt": DATE}}),
    ("less_than_or_equal_to", q().less_than_or_equal_to("n", 3), {"n": {"$lte": 3}}),
    ("greater_than", q().greater_than("n", 3), {"n": {"$gt": 3}}),
    ("greater_than_or_equal_to", q().greater_than_or_equal_to("n", 3), {"n": {"$gte": 3}}),
    ("range on one key", q().greater_than("n", 1).less_than("n", 9), {"n": {"$gt": 1, "$lt": 9}}),
    ("contained_in", q().contained_in("stage", ["N1", "REM"]), {"stage": {"$in": ["N1", "REM"]}}),
    ("contained_in objects", q().contained_in("patient", [PATIENT]), {"patient": {"$in": [PTR]}}),
    ("not_contained_in", q().not_contained_in("stage", ("W",)), {"stage": {"$nin": ["W"]}}),
    ("contains_all", q().contains_all("tags", ["a", "b"]), {"tags": {"$all": ["a", "b"]}}),
    ("exists", q().exists("reportedAt"), {"reportedAt": {"$exists": True}}),
    ("does_not_exist", q().does_not_exist("reportedAt"), {"reportedAt": {"$exists": False}}),
    ("starts_with", q().starts_with("name", "Dr. (A)"), {"name": {"$regex": "^\\QDr. (A)\\E"}}),
    ("matches", q().matches("name", "^ad", "i"), {"name": {"$regex": "^ad", "$options": "i"}}),
    ("matches pattern", q().matches("name", re.compile("^ad", re.I | re.M)),
     {"name": {"$regex": "^ad", "$options": "im"}}),
    ("matches_query", q().matches_query("patient", SUB),
     {"patient": {"$inQuery": {"where": {"active": True}, "className": "Patient", "limit": 5}}}),
    ("does_not_match_query", q().does_not_match_query("patient", CloudQuery("Patient")),
     {"patient": {"$notInQuery": {"where": {}, "className": "Patient"}}}),
    ("or_", CloudQuery.or_(q().equal_to("a", 1), q().greater_than("b", 2)),
     {"$or": [{"a": 1}, {"b": {"$gt": 2}}]}),
    ("and_", CloudQuery.and_(q().equal_to("a", 1), q().exists("b")),
     {"$and": [{"a": 1}, {"b": {"$exists": True}}]}),
]


@pytest.mark.parametrize(("name", "query", "where"), CASES, ids=[c[0] for c in CASES])
def test_where_json(name: str, query: CloudQuery, where: dict[str, Any]) -> None:
    assert query.where_json() == where
    parse_where(query.where_json())  # the engine's own parser accepts every shape the builder emits


def test_options_json() -> None:
    assert q().options_json() == {}
    query = (
        q().descending("reportedAt").add_ascending("name").limit(10).skip(20)
        .include("patient", "clinician.profile").select("score", "patient")
    )
    assert query.options_json() == {
        "order": "-reportedAt,name", "limit": 10, "skip": 20,
        "include": "patient,clinician.profile", "keys": "score,patient",
    }
    assert q().ascending("a", "b").options_json() == {"order": "a,b"}
    assert q().descending("a,b").options_json() == {"order": "-a,-b"}
    with pytest.raises(TypeError):
        q().limit("10")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        q().skip(-1)


def test_from_json_round_trip_keeps_unknown_options() -> None:
    where = {"n": {"$gt": 1}}
    options = {"order": "-n", "limit": 3, "include": "a,b", "keys": "n", "count": 1, "excludeKeys": "secret"}
    query = CloudQuery.from_json("Night", where, options)
    assert query.where_json() == where and query.options_json() == options
    query.equal_to("owner", "u1")  # a beforeFind edit keeps everything else
    assert query.where_json() == {"n": {"$gt": 1}, "owner": "u1"}
    assert query.options_json() == options
    assert query.where_json() is not query.where_json()  # copies, not the internal dict


def test_or_refuses_mixed_classes() -> None:
    with pytest.raises(ValueError):
        CloudQuery.or_(CloudQuery("A"), CloudQuery("B"))


async def test_unbound_query_cannot_run() -> None:
    with pytest.raises(RuntimeError, match="req.data.query"):
        await CloudQuery("Night").find()


async def seeded() -> tuple[FakeAccess, DataApi]:
    access = FakeAccess()
    api = DataApi(access, master=False)
    for i, when in enumerate(["2024-05-01", "2024-05-03", "2024-05-02"]):
        await api.create("SleepStudy", {"patient": PATIENT, "reportedAt": when, "n": i}, use_master=True)
    await api.create("SleepStudy", {"patient": Pointer("_User", "other"), "reportedAt": "2024-05-09"},
                     use_master=True)
    access.calls.clear()
    return access, api


async def test_the_documented_example_runs() -> None:
    access, api = await seeded()
    found = await api.query("SleepStudy").equal_to("patient", PATIENT).descending("reportedAt").find()
    assert [o["reportedAt"] for o in found] == ["2024-05-03", "2024-05-02", "2024-05-01"]
    assert all(isinstance(o, CloudObject) and o["patient"] == Pointer("_User", "p1") for o in found)
    (call,) = access.calls
    assert call.op == "find" and call.master is False
    assert call.args == ({"patient": PTR}, {"order": "-reportedAt"})


async def test_master_propagation() -> None:
    access, user_api = await seeded()
    master_api = DataApi(access, master=True)
    query = user_api.query("SleepStudy")
    await query.find()
    await query.find(use_master=True)
    await query.count()
    await query.count(use_master=True)
    await master_api.query("SleepStudy").find()
    await master_api.query("SleepStudy").find(use_master=False)
    await user_api.as_master().query("SleepStudy").count()
    assert [c.master for c in access.calls] == [False, True, False, True, True, False, True]


async def test_first_get_count() -> None:
    access, api = await seeded()
    query = api.query("SleepStudy").equal_to("patient", PATIENT).ascending("reportedAt")
    first = await query.first()
    assert first is not None and first["reportedAt"] == "2024-05-01"
    assert query.options_json() == {"order": "reportedAt"}  # first() did not leave a limit behind
    assert access.calls[-1].args[1] == {"order": "reportedAt", "limit": 1}
    assert await query.count() == 3
    assert (await query.get(first.object_id)).object_id == first.object_id  # type: ignore[arg-type]
    other = await api.query("SleepStudy").equal_to("reportedAt", "2024-05-09").first()
    assert other is not None
    with pytest.raises(ParseError) as err:
        await query.get(other.object_id)  # exists, but not for this query  # type: ignore[arg-type]
    assert err.value.code == 101
    assert await api.query("Nothing").first() is None


async def test_create_get_save_increment_destroy() -> None:
    access = FakeAccess()
    api = DataApi(access, master=False)
    created = await api.create("Night", {"minutes": 400, "at": WHEN, "ACL": ACL(frozenset({"u1"}))})
    assert created.object_id and created.created_at is not None
    assert access.calls[-1].args[0] == {"minutes": 400, "at": DATE, "ACL": {"u1": {"read": True}}}

    fetched = await api.get("Night", created.object_id, use_master=True)
    assert fetched["minutes"] == 400 and fetched["at"] == WHEN and access.calls[-1].master is True

    fetched["minutes"] = 420
    fetched.unset("at")
    fetched["who"] = PATIENT
    assert await api.save(fetched) is fetched
    call = access.calls[-1]
    assert call.op == "update" and call.master is False
    assert call.args == (created.object_id, {"at": {"__op": "Delete"}, "minutes": 420, "who": PTR})
    assert not fetched.dirty_keys() and fetched.updated_at is not None

    calls = len(access.calls)
    await api.save(fetched)  # nothing dirty: no request
    assert len(access.calls) == calls

    fetched["note"] = "unsaved"
    await api.increment(fetched, "minutes", 5, use_master=True)
    assert fetched["minutes"] == 425 and access.calls[-1].master is True
    assert access.calls[-1].args == (created.object_id, {"minutes": {"__op": "Increment", "amount": 5}})
    assert fetched.dirty_keys() == {"note"}  # the other local edit is still pending

    new = CloudObject("Night", None, {"minutes": 1})
    new.acl = ACL(frozenset({"*"}))
    await api.save(new)
    assert new.object_id and access.calls[-1].op == "create"
    assert access.calls[-1].args[0] == {"minutes": 1, "ACL": {"*": {"read": True}}}

    await api.destroy(new)
    await api.destroy(Pointer("Night", created.object_id), use_master=True)
    assert [(c.op, c.master) for c in access.calls[-2:]] == [("delete", False), ("delete", True)]
    assert access.table("Night") == {}
    with pytest.raises(ValueError):
        await api.destroy(CloudObject("Night"))
    with pytest.raises(ValueError):
        await api.increment(CloudObject("Night"), "n")


async def test_increment_when_the_server_does_not_echo_the_value() -> None:
    class Quiet(FakeAccess):
        async def update(self, class_name: str, object_id: str, fields: Any, *, master: bool) -> CloudObject:
            await super().update(class_name, object_id, fields, master=master)
            return CloudObject(class_name, None, {})

    access = Quiet()
    api = DataApi(access, master=False)
    obj = await api.save(CloudObject("Night", None, {"n": 1}))
    await api.increment(obj, "n", 2)
    assert obj["n"] == 3 and not obj.dirty_keys()
    assert access.table("Night")[obj.object_id]["n"] == 3  # type: ignore[index]
