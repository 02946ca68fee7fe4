"""Parse compatibility: geo queries in the forms Parse accepts (issue 14, item 11)."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from tests.conftest import Api

pytestmark = pytest.mark.skipif(os.environ.get("TEST_STORE") == "mongo",
                                reason="mongomock cannot run geo operators; test_mongo_adapter.py checks the filters")


def gp(lat: float, lng: float) -> dict[str, Any]:
    return {"__type": "GeoPoint", "latitude": lat, "longitude": lng}


async def _places(api: Api) -> None:
    for name, lat, lng in (("inside", 5, 5), ("north", 20, 5), ("east", 5, 20)):
        r = await api.post("/classes/Place", {"name": name, "loc": gp(lat, lng)}, master=True)
        assert r.status_code == 201, r.text


async def _names(api: Api, where: dict[str, Any]) -> list[str]:
    r = await api.get("/classes/Place", master=True, params={"where": json.dumps(where)})
    assert r.status_code == 200, r.text
    return sorted(o["name"] for o in r.json()["results"])


async def test_within_polygon_with_coordinate_pairs(api: Api) -> None:
    await _places(api)
    # Pairs are [longitude, latitude], as Parse's MongoDB and PostgreSQL adapters both read them.
    square = [[0, 0], [10, 0], [10, 10], [0, 10]]
    assert await _names(api, {"loc": {"$geoWithin": {"$polygon": square}}}) == ["inside"]
    tall = [[0, 0], [10, 0], [10, 30], [0, 30]]  # 10° of longitude by 30° of latitude
    assert await _names(api, {"loc": {"$geoWithin": {"$polygon": tall}}}) == ["inside", "north"]
    mixed = [gp(0, 0), [10, 0], gp(10, 10), [0, 10]]  # GeoPoints and pairs together
    assert await _names(api, {"loc": {"$geoWithin": {"$polygon": mixed}}}) == ["inside"]
    r = await api.get("/classes/Place", master=True,
                      params={"where": json.dumps({"loc": {"$geoWithin": {"$polygon": [[0, 0], [10, 95], [1, 1]]}}})})
    assert r.status_code == 400 and r.json()["code"] == 107  # latitude 95 is out of range


async def test_geo_box_corners_in_either_order(api: Api) -> None:
    await _places(api)
    for corners in ([gp(0, 0), gp(10, 10)], [gp(10, 10), gp(0, 0)], [gp(10, 0), gp(0, 10)]):
        assert await _names(api, {"loc": {"$within": {"$box": corners}}}) == ["inside"], corners
