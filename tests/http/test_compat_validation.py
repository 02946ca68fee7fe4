"""Parse compatibility: field and schema validation leftovers (issue 14, item 6)."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import Api


async def test_relative_time_only_on_dates(app_factory: Any) -> None:
    _, api = await app_factory(allow_client_class_creation=True)
    await api.post("/classes/Reading", {"n": 1}, master=True)
    for where in ({"n": {"$gt": {"$relativeTime": "in 1 day"}}},
                  {"$or": [{"n": {"$lt": {"$relativeTime": "1 day ago"}}}]}):
        r = await api.get("/classes/Reading", master=True, params={"where": json.dumps(where)})
        assert r.status_code == 400
        assert r.json() == {"code": 107, "error": "$relativeTime can only be used with Date field"}
    r = await api.get("/classes/Reading", master=True,
                      params={"where": json.dumps({"createdAt": {"$lt": {"$relativeTime": "in 1 day"}}})})
    assert r.status_code == 200 and len(r.json()["results"]) == 1


async def test_ordering_on_internal_columns_is_105(api: Api) -> None:
    for order in ("_hashed_password", "-_email_verify_token", "_rperm", "_p_user"):
        r = await api.get("/users", master=True, params={"order": order})
        assert r.status_code == 400 and r.json() == {"code": 105, "error": f"Invalid field name: {order.lstrip('-')}."}
    r = await api.get("/users", params={"where": json.dumps({"_hashed_password": "x"})})
    assert r.json()["code"] == 105  # the master key may filter on internal columns, as in Parse


async def test_relation_fields_take_no_required_or_default(api: Api) -> None:
    for option in ({"required": True}, {"defaultValue": {"__type": "Relation", "className": "_User"}}):
        body = {"className": "Team", "fields": {"members": {"type": "Relation", "targetClass": "_User", **option}}}
        r = await api.post("/schemas/Team", body, master=True)
        assert r.status_code == 400 and r.json()["code"] == 111, r.text
