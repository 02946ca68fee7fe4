"""/schemas operations (master key only, whichever way in): list, read, create, change and drop declared classes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.pipeline.context import RequestContext, Services, require_master
from engine.schema.model import MASTER_ONLY_CLASSES, ClassDef
from engine.security.class_access import check_append_only_schema


def list_classes(svc: Services, ctx: RequestContext) -> list[ClassDef]:
    require_master(ctx)
    # Parse keeps its internal classes (`_JobStatus`, `_Idempotency`, ...) out of `_SCHEMA`, so the listing never
    # shows them; each can still be read by name.
    return [c for c in svc.schemas.all() if c.name not in MASTER_ONLY_CLASSES]


def get_class(svc: Services, ctx: RequestContext, name: str) -> ClassDef:
    require_master(ctx)
    return svc.schemas.require(name)


async def create_class(svc: Services, ctx: RequestContext, body: Mapping[str, Any], name: str | None) -> ClassDef:
    require_master(ctx)
    return await svc.schemas.create_class(body, name)


async def update_class(svc: Services, ctx: RequestContext, name: str, body: Mapping[str, Any]) -> ClassDef:
    require_master(ctx)
    if _deletes_something(body):
        # A field delete unsets it on every object; an index delete could drop the guard that keeps a chain linear.
        check_append_only_schema(name, svc.settings.append_only_classes, "deleting a field or an index")
    return await svc.schemas.update_class(name, body)


async def delete_class(svc: Services, ctx: RequestContext, name: str) -> None:
    require_master(ctx)
    check_append_only_schema(name, svc.settings.append_only_classes, "dropping the class")
    await svc.schemas.delete_class(name)


def _deletes_something(body: Mapping[str, Any]) -> bool:
    return any(isinstance(part, dict) and any(isinstance(spec, dict) and spec.get("__op") == "Delete"
                                              for spec in part.values())
               for part in (body.get("fields"), body.get("indexes")))
