"""Master-key operations over GraphQL: schema management and Parse.Config.

Schema changes run through the REST /schemas handlers themselves (engine/http/schemas.py: master key, the
append-only guard, Parse's checks and codes), config through pipeline/config.py, so neither API can do what the
other refuses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from engine.errors import ErrorCode, ParseError
from engine.graphql.resolvers import GqlContext, Info
from engine.http import schemas as rest_schemas
from engine.http.call import ApiCall, Handler
from engine.pipeline.config import read_config, update_config
from engine.pipeline.context import refuse_read_only, require_master
from engine.security.auth import Credentials

# Parse's SchemaFieldsInput keys → the Parse field type each adds (addGeoPoint takes one field, not a list).
ADD_KEYS = {"addStrings": "String", "addNumbers": "Number", "addBooleans": "Boolean", "addArrays": "Array",
            "addObjects": "Object", "addDates": "Date", "addFiles": "File", "addGeoPoint": "GeoPoint",
            "addPolygons": "Polygon", "addBytes": "Bytes", "addPointers": "Pointer", "addRelations": "Relation"}


def schema_field_type(value: Any, info: Info, abstract: Any) -> str:
    return f"Schema{value['type']}Field"


def class_out(rest: Mapping[str, Any]) -> dict[str, Any]:
    """Parse's `Class {name, schemaFields}` from the REST schema JSON."""
    fields = rest.get("fields") or {}
    return {"name": rest["className"],
            "schemaFields": [{"name": n, "type": spec["type"], "targetClassName": spec.get("targetClass")}
                             for n, spec in fields.items()]}


def fields_to_rest(schema_fields: Mapping[str, Any] | None, existing: Mapping[str, Any] | None) -> dict[str, Any]:
    """Parse's transformToParse: additions as REST field specs, `remove` as Delete ops on existing fields only."""
    out: dict[str, Any] = {}
    if not schema_fields:
        return out
    removed = {f["name"] for f in schema_fields.get("remove") or []}
    for key, kind in ADD_KEYS.items():
        value = schema_fields.get(key)
        if value is None:
            continue
        for field in [value] if key == "addGeoPoint" else value:
            name = field["name"]
            if name in removed:
                continue
            if name in out or (existing is not None and name in existing):
                raise ParseError(ErrorCode.INVALID_KEY_NAME, f"Duplicated field name: {name}")
            spec: dict[str, Any] = {"type": kind}
            if kind in ("Pointer", "Relation"):
                spec["targetClass"] = field["targetClassName"]
            out[name] = spec
    if existing is not None:
        out.update({name: {"__op": "Delete"} for name in removed if name in existing})
    return out


async def _rest(g: GqlContext, handler: Handler, method: str, name: str,
                body: Mapping[str, Any] | None = None) -> dict[str, Any]:
    if method != "GET":
        refuse_read_only(g.ctx, "update" if method == "PUT" else "create" if method == "POST" else "delete")
    call = ApiCall(method, f"/schemas/{name}", {"class_name": name}, {}, body or {}, g.ctx, Credentials(), g.svc)
    result = await handler(call)
    assert isinstance(result.body, dict)
    return result.body


def _g(info: Info) -> GqlContext:
    context = info.context
    assert isinstance(context, GqlContext)
    return context


async def resolve_class(_: Any, info: Info, name: str) -> dict[str, Any]:
    return class_out(await _rest(_g(info), rest_schemas.get_one, "GET", name))


async def resolve_classes(_: Any, info: Info) -> list[dict[str, Any]]:
    g = _g(info)
    call = ApiCall("GET", "/schemas", {}, {}, {}, g.ctx, Credentials(), g.svc)
    listed = (await rest_schemas.list_all(call)).body
    return [class_out(c) for c in listed["results"]]


async def resolve_create_class(_: Any, info: Info, input: Mapping[str, Any]) -> dict[str, Any]:
    g = _g(info)
    require_master(g.ctx)  # before the input is looked at, as Parse's enforceMasterKeyAccess
    refuse_read_only(g.ctx, "create")
    name = input["name"]
    body = {"className": name, "fields": fields_to_rest(input.get("schemaFields"), None)}
    created = await _rest(g, rest_schemas.create, "POST", name, body)
    return {"class": class_out(created), "clientMutationId": input.get("clientMutationId")}


async def resolve_update_class(_: Any, info: Info, input: Mapping[str, Any]) -> dict[str, Any]:
    g = _g(info)
    name = input["name"]
    current = await _rest(g, rest_schemas.get_one, "GET", name)
    body = {"className": name, "fields": fields_to_rest(input.get("schemaFields"), current.get("fields") or {})}
    updated = await _rest(g, rest_schemas.update, "PUT", name, body)
    return {"class": class_out(updated), "clientMutationId": input.get("clientMutationId")}


async def resolve_delete_class(_: Any, info: Info, input: Mapping[str, Any]) -> dict[str, Any]:
    g = _g(info)
    name = input["name"]
    # Parse answers with the class as it was.
    current = await _rest(g, rest_schemas.get_one, "GET", name)
    await _rest(g, rest_schemas.delete, "DELETE", name)
    return {"class": class_out(current), "clientMutationId": input.get("clientMutationId")}


def _config_text(value: Any) -> str | None:
    # ConfigValue.value is a String in Parse's schema; a non-string parameter is shown as its JSON text.
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


async def resolve_cloud_config(_: Any, info: Info, paramName: str) -> dict[str, Any]:
    """A caller without the master key sees exactly what REST GET /config shows it: no master-key-only params."""
    g = _g(info)
    config = await read_config(g.svc, g.ctx)
    params = config["params"]
    if paramName not in params:
        return {"value": None, "isMasterKeyOnly": None}
    flags = config.get("masterKeyOnly")
    flag = flags.get(paramName) if isinstance(flags, Mapping) else None
    return {"value": _config_text(params[paramName]), "isMasterKeyOnly": flag}


async def resolve_update_cloud_config(_: Any, info: Info, input: Mapping[str, Any]) -> dict[str, Any]:
    g = _g(info)
    name, value = input["paramName"], input["value"]
    flag = bool(input.get("isMasterKeyOnly"))
    refuse_read_only(g.ctx, "update")  # REST refuses it at the route; this API has no routes
    await update_config(g.svc, g.ctx, {"params": {name: value}, "masterKeyOnly": {name: flag}})
    return {"cloudConfig": {"value": value, "isMasterKeyOnly": flag},
            "clientMutationId": input.get("clientMutationId")}
