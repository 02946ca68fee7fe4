"""Generic engine pieces the sleep-lab hooks use: `req.data.aggregate` (master only, `where` narrowed in the store)
and `@on_start` hooks (run with the master key before requests are served)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

HOOKS = '''
from engine.cloud import FunctionRequest, JobRequest, define, on_start

@on_start
async def seed(req: JobRequest) -> None:
    if await req.data.query("Night").count(use_master=True) == 0:
        for room, minutes in (("a", 300), ("a", 200), ("b", 50)):
            await req.data.create("Night", {"room": room, "minutes": minutes}, use_master=True)

@define("totals")
async def totals(req: FunctionRequest) -> object:
    pipeline = [{"$group": {"_id": "$room", "total": {"$sum": "$minutes"}}}, {"$sort": {"_id": 1}}]
    return await req.data.aggregate("Night", pipeline, req.params.get("where"), use_master=req.params["master"])
'''


async def test_on_start_and_aggregate(app_factory: Any, tmp_path: Path) -> None:
    hooks = tmp_path / "night_totals.py"
    hooks.write_text(HOOKS)
    _, api = await app_factory(cloud=str(hooks), schema_path="")
    r = await api.post("/functions/totals", {"master": True})
    assert r.json()["result"] == [{"objectId": "a", "total": 500}, {"objectId": "b", "total": 50}]
    r = await api.post("/functions/totals", {"master": True, "where": {"minutes": {"$gte": 100}}})
    assert r.json()["result"] == [{"objectId": "a", "total": 500}]  # 200 and 300: the where narrows first
    r = await api.post("/functions/totals", {"master": False})
    assert r.status_code == 400 and r.json()["code"] == 119
