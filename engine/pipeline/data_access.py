"""The data API hooks use (engine.cloud.data.DataAccess), served by the same door as HTTP.

The composition root (engine.app) injects `PipelineAccess` into Services.data_access; the pipeline's hook
step (hooks.py) only calls that factory, so nothing below this module imports it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine.cloud.objects import CloudObject, objects_from_json
from engine.pipeline import door
from engine.pipeline.aggregate import run_aggregate
from engine.pipeline.context import RequestContext, Services


class PipelineAccess:
    """Acts as the request's caller, or with the master key; every rule and trigger applies as for a client."""

    def __init__(self, svc: Services, ctx: RequestContext) -> None:
        self.svc = svc
        self.ctx = ctx

    def _as(self, master: bool) -> RequestContext:
        return self.ctx.as_master() if master else self.ctx

    async def find(
        self, class_name: str, where: Mapping[str, Any], options: Mapping[str, Any], *, master: bool
    ) -> list[CloudObject]:
        found = await door.find(self.svc, self._as(master), class_name, {**options, "where": dict(where)})
        return objects_from_json(found.redirected_class or class_name, found.results)

    async def count(self, class_name: str, where: Mapping[str, Any], *, master: bool) -> int:
        return await door.count(self.svc, self._as(master), class_name, where)

    async def get(self, class_name: str, object_id: str, *, master: bool) -> CloudObject:
        return CloudObject.from_json(class_name, await door.get(self.svc, self._as(master), class_name, object_id, {}))

    async def create(self, class_name: str, fields: Mapping[str, Any], *, master: bool) -> CloudObject:
        saved = await door.create(self.svc, self._as(master), class_name, fields)
        return CloudObject.from_json(class_name, saved.body)

    async def update(
        self, class_name: str, object_id: str, fields: Mapping[str, Any], *, master: bool
    ) -> CloudObject:
        body = await door.update(self.svc, self._as(master), class_name, object_id, fields)
        return CloudObject.from_json(class_name, {"objectId": object_id, **body})

    async def delete(self, class_name: str, object_id: str, *, master: bool) -> None:
        await door.delete(self.svc, self._as(master), class_name, object_id)

    async def aggregate(
        self, class_name: str, pipeline: Sequence[Mapping[str, Any]], where: Mapping[str, Any], *, master: bool
    ) -> list[Any]:
        cls = self.svc.schemas.require(class_name)
        return await run_aggregate(self.svc, self._as(master), cls, list(pipeline), where)


def pipeline_access(svc: Services, ctx: RequestContext) -> PipelineAccess:
    return PipelineAccess(svc, ctx)
