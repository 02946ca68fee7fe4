"""The data API hooks use (engine.cloud.data.DataAccess), served by the same read/write pipeline as HTTP."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.cloud.objects import CloudObject, objects_from_json
from engine.pipeline.context import Services
from engine.pipeline.read import run_find, run_get
from engine.pipeline.users import signup, update_user
from engine.pipeline.write import run_create, run_delete, run_update
from engine.security.auth import Auth


class PipelineAccess:
    """Acts as the request's caller, or with the master key; every trigger fires as for a client write."""

    def __init__(self, svc: Services, auth: Auth) -> None:
        self.svc = svc
        self.auth = auth

    def _as(self, master: bool) -> Auth:
        if master and not self.auth.is_master:
            return Auth(is_master=True, installation_id=self.auth.installation_id)
        return self.auth

    async def find(
        self, class_name: str, where: Mapping[str, Any], options: Mapping[str, Any], *, master: bool
    ) -> list[CloudObject]:
        found = await run_find(self.svc, self._as(master), class_name, {**options, "where": dict(where)})
        return objects_from_json(found.redirected_class or class_name, found.results)

    async def count(self, class_name: str, where: Mapping[str, Any], *, master: bool) -> int:
        found = await run_find(self.svc, self._as(master), class_name, {"where": dict(where), "count": 1, "limit": 0})
        return found.count or 0

    async def get(self, class_name: str, object_id: str, *, master: bool) -> CloudObject:
        return CloudObject.from_json(class_name, await run_get(self.svc, self._as(master), class_name, object_id, {}))

    async def create(self, class_name: str, fields: Mapping[str, Any], *, master: bool) -> CloudObject:
        if class_name == "_User":
            result = await signup(self.svc, self._as(master), fields)
            return CloudObject.from_json(class_name, result.body)
        created = await run_create(self.svc, self._as(master), class_name, fields)
        return CloudObject.from_json(class_name, created.body)

    async def update(
        self, class_name: str, object_id: str, fields: Mapping[str, Any], *, master: bool
    ) -> CloudObject:
        if class_name == "_User":
            body = await update_user(self.svc, self._as(master), object_id, fields)
        else:
            body = await run_update(self.svc, self._as(master), class_name, object_id, fields)
        return CloudObject.from_json(class_name, {"objectId": object_id, **body})

    async def delete(self, class_name: str, object_id: str, *, master: bool) -> None:
        await run_delete(self.svc, self._as(master), class_name, object_id)
