"""Denial-of-service and bypass guards from the security catalog (S14, S15, S31, S62, S64)."""

from __future__ import annotations

import json
from typing import Any

from tests.cloud.hook_events import EVENTS
from tests.conftest import ROOT, Api


def _nested(depth: int) -> dict[str, Any]:
    where: dict[str, Any] = {"a": 1}
    for _ in range(depth):
        where = {"$or": [where]}
    return where


async def _find_by_body(api: Api, where_json: str) -> Any:
    """The JS SDK's style: a POST with `_method: GET` carries the query in the body (no URL length limit)."""
    body = '{"_method":"GET","where":' + where_json + "}"
    return await api.client.post("/parse/classes/SleepStudy", content=body, headers=api.headers())


async def test_deep_queries_are_refused_not_crashed(api: Api) -> None:
    r = await api.get("/classes/SleepStudy", params={"where": json.dumps(_nested(20))})
    assert r.status_code == 200
    r = await api.get("/classes/SleepStudy", params={"where": json.dumps(_nested(40))})
    assert r.status_code == 400 and r.json()["code"] in (102, 107)
    for depth in (200, 2000, 5000):
        r = await _find_by_body(api, '{"$or":[' * depth + "{}" + "]}" * depth)
        assert r.status_code == 400 and r.json()["code"] in (102, 107), depth
    body = '{"a":' * 3000 + "1" + "}" * 3000
    r = await api.client.post("/parse/classes/SleepStudy", content=body, headers=api.headers())
    assert r.status_code == 400 and r.json()["code"] == 107


async def test_query_complexity_caps(api: Api) -> None:
    big = {"results": {"$in": [str(i) for i in range(10_001)]}}
    r = await _find_by_body(api, json.dumps(big))
    assert r.status_code == 400 and r.json()["code"] == 102
    r = await api.get("/classes/SleepStudy", params={"include": ",".join(f"p{i}" for i in range(51))})
    assert r.json()["code"] == 102
    r = await api.get("/classes/SleepStudy", params={"include": ".".join(["p"] * 11)})
    assert r.json()["code"] == 102
    r = await api.get("/classes/SleepStudy", params={"limit": "100000000"})
    assert r.status_code == 200


async def test_field_count_is_bounded(app_factory: Any) -> None:
    _, api = await app_factory(allow_client_class_creation=True)
    r = await api.post("/classes/Wide", {f"f{i}": i for i in range(600)})
    assert r.status_code == 400 and r.json()["code"] == 255
    assert (await api.get("/schemas/Wide", master=True)).json()["fields"].keys() == {
        "objectId", "createdAt", "updatedAt", "ACL"}


async def test_include_runs_the_target_class_find_hooks(app_factory: Any) -> None:
    _, api = await app_factory(cloud=str(ROOT / "tests" / "cloud" / "hookdir"))
    await api.post("/schemas/Night", {"className": "Night"}, master=True)
    hidden = (await api.post("/classes/Night", {"label": "h", "hidden": True})).json()["objectId"]
    shown = (await api.post("/classes/Night", {"label": "s"})).json()["objectId"]
    body = {"nights": [{"__type": "Pointer", "className": "Night", "objectId": i} for i in (hidden, shown)]}
    holder = (await api.post("/classes/Holder", body, master=True)).json()["objectId"]
    EVENTS.clear()
    got = (await api.get(f"/classes/Holder/{holder}", params={"include": "nights"})).json()
    (only,) = got["nights"]  # beforeFind filtered the hidden one out: dropped, as Parse drops it
    assert only["label"] == "s" and only["seenByAfterFind"] is True and hidden not in str(got)
    assert EVENTS == ["beforeFind:Night", "afterFind:Night"]
