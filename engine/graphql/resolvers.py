"""Resolvers: every object operation goes through pipeline/door.py, users and sessions through their own modules,
with the request's explicit RequestContext, so ACL, CLP, protectedFields, hooks, audit and LiveQuery match REST."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import FieldNode, GraphQLResolveInfo

from engine.errors import ErrorCode, ParseError
from engine.graphql.names import global_id, object_id_for, offset_to_cursor, parse_global_id
from engine.graphql.sdl import ClassInfo, Generated
from engine.graphql.selection import connection_needs, include_paths, nested
from engine.graphql.translate import WhereTranslator, acl_from_rest, acl_to_rest, geo_point, order_to_rest, page
from engine.graphql.uploads import UploadedFile, save_upload
from engine.pipeline import door, email_flows, functions, sessions, users
from engine.pipeline.context import RequestContext, Services
from engine.pipeline.encode import Json
from engine.schema.model import FieldType

Info = GraphQLResolveInfo[Any]
MAX_NESTED_CREATES = 100  # createAndLink / createAndAdd objects one mutation may create


@dataclass(frozen=True, slots=True)
class GqlContext:
    """One GraphQL request: the app's services, the caller's RequestContext and the schema it was run against."""

    svc: Services
    ctx: RequestContext
    gen: Generated

    @property
    def where(self) -> WhereTranslator:
        return WhereTranslator(self.svc.schemas.get)


def _g(info: Info) -> GqlContext:
    context = info.context
    assert isinstance(context, GqlContext)
    return context


def as_object(class_name: str, row: Mapping[str, Any]) -> dict[str, Any]:
    return {**row, "className": class_name}


def _include(g: GqlContext, cls: ClassInfo, nodes: list[FieldNode], info: Info) -> dict[str, Any]:
    paths = include_paths(g.gen.classes, cls, nodes, info.fragments)
    return {"include": ",".join(paths)} if paths else {}


def _read_options(args: Mapping[str, Any]) -> dict[str, Any]:
    options = args.get("options") or {}
    return {k: v for k, v in options.items() if v is not None}


# ---- object fields ---------------------------------------------------------------------------------------


def resolve_id(obj: Mapping[str, Any], info: Info) -> str:
    return global_id(obj["className"], obj["objectId"])


def resolve_acl(obj: Mapping[str, Any], info: Info) -> dict[str, Any]:
    return acl_from_rest(obj.get("ACL"))


def resolve_pointer(obj: Mapping[str, Any], info: Info) -> Any:
    # A pointer the caller may not read stays bare after the include: GraphQL shows it as null.
    value = obj.get(info.field_name)
    if isinstance(value, Mapping) and value.get("__type") == "Object":
        return value
    return None


def resolve_array(obj: Mapping[str, Any], info: Info) -> Any:
    value = obj.get(info.field_name)
    if not isinstance(value, list):
        return None
    return [item if isinstance(item, Mapping) and item.get("__type") == "Object"
            else {"__element__": True, "value": item} for item in value]


def resolve_polygon(obj: Mapping[str, Any], info: Info) -> Any:
    value = obj.get(info.field_name)
    if not isinstance(value, Mapping):
        return None
    return [{"latitude": p[0], "longitude": p[1]} for p in value.get("coordinates") or []]


def resolve_class_type(gen: Generated) -> Any:
    def resolve(value: Any, info: Info, abstract: Any) -> str | None:
        if isinstance(value, Mapping) and value.get("__element__"):
            return "Element"
        found = gen.classes.get(value.get("className", "")) if isinstance(value, Mapping) else None
        return found.type_name if found is not None else None
    return resolve


def resolve_relation(owner: ClassInfo, field: str, target: ClassInfo) -> Any:
    async def resolve(obj: Mapping[str, Any], info: Info, **args: Any) -> dict[str, Any]:
        related = {"$relatedTo": {"object": {"__type": "Pointer", "className": owner.class_name,
                                             "objectId": obj["objectId"]}, "key": field}}
        return await connection(_g(info), target, info, args, related)
    return resolve


# ---- reads -----------------------------------------------------------------------------------------------


async def connection(g: GqlContext, cls: ClassInfo, info: Info, args: Mapping[str, Any],
                     extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Relay connection from one door.find (plus one count when `last` needs it), with Parse's offset cursors."""
    where = g.where.where(cls.class_name, args.get("where"))
    if extra:
        where = {"$and": [extra, where]} if where else extra
    needs = connection_needs(list(info.field_nodes), info.fragments)
    pg = page(args.get("skip"), args.get("after"), args.get("first"), args.get("before"), args.get("last"),
              g.svc.settings.max_limit)
    skip, limit = pg.skip, pg.limit
    count: int | None = None
    if pg.pre_count and limit is not None:
        count = await door.count(g.svc, g.ctx, cls.class_name, where)
        if skip + limit < count:
            skip = count - limit
    params: dict[str, Any] = {"where": where, "skip": skip, **_read_options(args)}
    if (order := order_to_rest(args.get("order"))) is not None:
        params["order"] = order
    if not needs.edges:
        limit = 0
    if limit is not None:
        params["limit"] = limit
    if needs.count:
        params["count"] = 1
    params.update(_include(g, cls, needs.nodes, info))
    found = await door.find(g.svc, g.ctx, cls.class_name, params)
    if needs.count:
        count = found.count or 0
    rows = [as_object(cls.class_name, r) for r in found.results]
    edges = [{"cursor": offset_to_cursor(skip + i), "node": row} for i, row in enumerate(rows)]
    total = count or 0
    page_info = {"hasPreviousPage": total > 0 and skip > 0, "hasNextPage": total > skip + len(rows),
                 "startCursor": offset_to_cursor(skip), "endCursor": offset_to_cursor(skip + max(len(rows), 1) - 1)}
    return {"edges": edges, "pageInfo": page_info, "count": count}


async def get_object(g: GqlContext, cls: ClassInfo, object_id: str, nodes: list[FieldNode],
                     info: Info, args: Mapping[str, Any] | None = None) -> dict[str, Any]:
    params = {**_include(g, cls, nodes, info), **_read_options(args or {})}
    row = await door.get(g.svc, g.ctx, cls.class_name, object_id_for(cls.class_name, object_id), params)
    return as_object(cls.class_name, row)


def resolve_get(cls: ClassInfo) -> Any:
    async def resolve(_: Any, info: Info, **args: Any) -> dict[str, Any]:
        return await get_object(_g(info), cls, args["id"], list(info.field_nodes), info, args)
    return resolve


def resolve_find(cls: ClassInfo) -> Any:
    async def resolve(_: Any, info: Info, **args: Any) -> dict[str, Any]:
        return await connection(_g(info), cls, info, args)
    return resolve


async def resolve_node(_: Any, info: Info, id: str) -> dict[str, Any]:
    g = _g(info)
    parsed = parse_global_id(id)
    cls = g.gen.classes.get(parsed[0]) if parsed is not None else None
    if parsed is None or cls is None:
        raise ParseError(ErrorCode.OBJECT_NOT_FOUND, "Object not found.")
    return await get_object(g, cls, parsed[1], list(info.field_nodes), info)


# ---- writes ----------------------------------------------------------------------------------------------


@dataclass
class _Budget:
    left: int = MAX_NESTED_CREATES

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise ParseError(ErrorCode.INVALID_JSON, f"at most {MAX_NESTED_CREATES} nested objects per mutation")


async def fields_to_rest(g: GqlContext, cls: ClassInfo, fields: Mapping[str, Any] | None, *, update: bool,
                         budget: _Budget) -> dict[str, Any]:
    """Parse's GraphQL field inputs → a REST body; `createAndLink`/`createAndAdd` create their objects first."""
    body: dict[str, Any] = {}
    for name, value in (fields or {}).items():
        fdef = cls.cls.field_def(name)
        if value is None:
            if update:
                body[name] = {"__op": "Delete"}
            continue
        kind = fdef.type if fdef is not None else None
        target = g.gen.classes.get(fdef.target_class or "") if fdef is not None else None
        if name == "ACL":
            body[name] = acl_to_rest(value)
        elif kind is FieldType.POINTER and target is not None:
            body[name] = await _pointer(g, target, name, value, budget)
        elif kind is FieldType.RELATION and target is not None:
            body[name] = await _relation(g, target, value, budget)
        elif kind is FieldType.FILE:
            body[name] = await _file(g, value)
        elif kind is FieldType.GEOPOINT:
            body[name] = geo_point(value)
        elif kind is FieldType.POLYGON:
            body[name] = {"__type": "Polygon", "coordinates": [[p["latitude"], p["longitude"]] for p in value]}
        else:
            body[name] = value
    return body


async def _file(g: GqlContext, value: Mapping[str, Any]) -> dict[str, Any]:
    """`{file}` links a saved file (the door's file-reference rule applies), `{upload}` saves one first."""
    upload, file = value.get("upload"), value.get("file")
    if (upload is None) == (file is None):
        raise ParseError(ErrorCode.FILE_SAVE_ERROR, "A File input needs exactly one of file or upload.")
    if isinstance(upload, UploadedFile):
        saved = await save_upload(g.svc, g.ctx, upload)
        return {"__type": "File", "name": saved["name"], "url": saved["url"]}
    assert isinstance(file, dict)
    return file


def _pointer_json(target: ClassInfo, object_id: str) -> dict[str, Any]:
    return {"__type": "Pointer", "className": target.class_name, "objectId": object_id}


async def _create_nested(g: GqlContext, target: ClassInfo, fields: Mapping[str, Any], budget: _Budget) -> str:
    budget.spend()
    body = await fields_to_rest(g, target, fields, update=False, budget=budget)
    return (await door.create(g.svc, g.ctx, target.class_name, body)).object_id


async def _pointer(g: GqlContext, target: ClassInfo, name: str, value: Mapping[str, Any],
                   budget: _Budget) -> dict[str, Any]:
    link, create = value.get("link"), value.get("createAndLink")
    if (link is None) == (create is None):
        raise ParseError(ErrorCode.INVALID_POINTER,
                         f"You need to provide link OR createLink on the pointer mutation of field {name}")
    if link is not None:
        return _pointer_json(target, object_id_for(target.class_name, link))
    return _pointer_json(target, await _create_nested(g, target, create or {}, budget))


async def _relation(g: GqlContext, target: ClassInfo, value: Mapping[str, Any], budget: _Budget) -> dict[str, Any]:
    added = [_pointer_json(target, object_id_for(target.class_name, i)) for i in value.get("add") or []]
    for fields in value.get("createAndAdd") or []:
        added.append(_pointer_json(target, await _create_nested(g, target, fields, budget)))
    removed = [_pointer_json(target, object_id_for(target.class_name, i)) for i in value.get("remove") or []]
    ops = ([{"__op": "AddRelation", "objects": added}] if added else []) + (
        [{"__op": "RemoveRelation", "objects": removed}] if removed else [])
    if not ops:
        raise ParseError(ErrorCode.INVALID_JSON, "a relation input needs add, remove or createAndAdd")
    return ops[0] if len(ops) == 1 else {"__op": "Batch", "ops": ops}


def _payload_nodes(info: Info, name: str) -> list[FieldNode]:
    return nested(list(info.field_nodes), name, info.fragments)


async def _after_write(g: GqlContext, cls: ClassInfo, object_id: str, info: Info,
                       fallback: Json) -> dict[str, Any]:
    """The saved object as the caller may read it now; a caller who may write but not read gets what it sent."""
    try:
        return await get_object(g, cls, object_id, _payload_nodes(info, cls.get_name), info)
    except ParseError as exc:
        if exc.code != ErrorCode.OBJECT_NOT_FOUND:
            raise
        row = {**fallback, "objectId": object_id}
        row.setdefault("updatedAt", row.get("createdAt"))
        return as_object(cls.class_name, row)


def resolve_create(cls: ClassInfo) -> Any:
    async def resolve(_: Any, info: Info, input: Mapping[str, Any]) -> dict[str, Any]:
        g = _g(info)
        body = await fields_to_rest(g, cls, input.get("fields"), update=False, budget=_Budget())
        saved = await door.create(g.svc, g.ctx, cls.class_name, body)
        obj = await _after_write(g, cls, saved.object_id, info, {**saved.body})
        return {cls.get_name: obj, "clientMutationId": input.get("clientMutationId")}
    return resolve


def resolve_update(cls: ClassInfo) -> Any:
    async def resolve(_: Any, info: Info, input: Mapping[str, Any]) -> dict[str, Any]:
        g = _g(info)
        object_id = object_id_for(cls.class_name, input["id"])
        body = await fields_to_rest(g, cls, input.get("fields"), update=True, budget=_Budget())
        result = await door.update(g.svc, g.ctx, cls.class_name, object_id, body)
        obj = await _after_write(g, cls, object_id, info, {**result})
        return {cls.get_name: obj, "clientMutationId": input.get("clientMutationId")}
    return resolve


def resolve_delete(cls: ClassInfo) -> Any:
    async def resolve(_: Any, info: Info, input: Mapping[str, Any]) -> dict[str, Any]:
        g = _g(info)
        object_id = object_id_for(cls.class_name, input["id"])
        # Parse answers with the object as it was: read it (as the caller) before it goes.
        obj = await get_object(g, cls, object_id, _payload_nodes(info, cls.get_name), info)
        await door.delete(g.svc, g.ctx, cls.class_name, object_id)
        return {cls.get_name: obj, "clientMutationId": input.get("clientMutationId")}
    return resolve


# ---- users, sessions, functions ------------------------------------------------------------------------


async def _viewer(g: GqlContext, info: Info, token: str, nodes: list[FieldNode]) -> dict[str, Any]:
    """`{sessionToken, user}`: the user read as themselves through the door (their session, their ACL)."""
    auth = await sessions.lookup_session(g.svc, token, g.ctx.auth.installation_id)
    if auth is None or auth.user_id is None:
        raise ParseError(ErrorCode.INVALID_SESSION_TOKEN, "Invalid session token")
    as_user = GqlContext(g.svc, g.ctx.with_auth(auth), g.gen)
    user_nodes = nested(nodes, "user", info.fragments)
    user = await get_object(as_user, g.gen.classes["_User"], auth.user_id, user_nodes, info)
    return {"sessionToken": token, "user": user}


async def resolve_viewer(_: Any, info: Info) -> dict[str, Any]:
    g = _g(info)
    token = g.ctx.auth.session_token
    if not token or not g.ctx.auth.user_id:
        raise ParseError(ErrorCode.INVALID_SESSION_TOKEN, "Permission denied")
    return await _viewer(g, info, token, list(info.field_nodes))


async def resolve_sign_up(_: Any, info: Info, input: Mapping[str, Any]) -> dict[str, Any]:
    g = _g(info)
    body = await fields_to_rest(g, g.gen.classes["_User"], input.get("fields"), update=False, budget=_Budget())
    saved = await door.create(g.svc, g.ctx, "_User", body)
    token = saved.body.get("sessionToken")
    if not isinstance(token, str):
        raise ParseError(ErrorCode.INTERNAL_SERVER_ERROR, "sign-up made no session")
    viewer = await _viewer(g, info, token, _payload_nodes(info, "viewer"))
    return {"viewer": viewer, "clientMutationId": input.get("clientMutationId")}


async def resolve_log_in(_: Any, info: Info, input: Mapping[str, Any]) -> dict[str, Any]:
    g = _g(info)
    params = {k: input.get(k) for k in ("username", "password", "authData") if input.get(k) is not None}
    body = await users.login(g.svc, g.ctx, params)
    viewer = await _viewer(g, info, str(body["sessionToken"]), _payload_nodes(info, "viewer"))
    return {"viewer": viewer, "clientMutationId": input.get("clientMutationId")}


async def resolve_log_out(_: Any, info: Info, input: Mapping[str, Any]) -> dict[str, Any]:
    g = _g(info)
    await sessions.logout(g.svc, g.ctx)
    return {"ok": True, "clientMutationId": input.get("clientMutationId")}


async def resolve_reset_password(_: Any, info: Info, input: Mapping[str, Any]) -> dict[str, Any]:
    await email_flows.request_password_reset(_g(info).svc, input.get("email"))
    return {"ok": True, "clientMutationId": input.get("clientMutationId")}


async def resolve_confirm_reset(_: Any, info: Info, input: Mapping[str, Any]) -> dict[str, Any]:
    await email_flows.reset_password(_g(info).svc, input.get("token"), input.get("password"))
    return {"ok": True, "clientMutationId": input.get("clientMutationId")}


async def resolve_send_verification(_: Any, info: Info, input: Mapping[str, Any]) -> dict[str, Any]:
    await email_flows.request_verification(_g(info).svc, input.get("email"))
    return {"ok": True, "clientMutationId": input.get("clientMutationId")}


async def resolve_call_cloud_code(_: Any, info: Info, input: Mapping[str, Any]) -> dict[str, Any]:
    g = _g(info)
    result = await functions.call_function(g.svc, g.ctx, input["functionName"], input.get("params") or {})
    return {"result": result, "clientMutationId": input.get("clientMutationId")}


def resolve_health(_: Any, info: Info) -> bool:
    return True


async def resolve_create_file(_: Any, info: Info, input: Mapping[str, Any]) -> dict[str, Any]:
    g = _g(info)
    upload = input.get("upload")
    if not isinstance(upload, UploadedFile):
        raise ParseError(ErrorCode.FILE_SAVE_ERROR, "Invalid file upload.")
    saved = await save_upload(g.svc, g.ctx, upload)
    return {"fileInfo": saved, "clientMutationId": input.get("clientMutationId")}


async def resolve_log_in_with(_: Any, info: Info, input: Mapping[str, Any]) -> dict[str, Any]:
    """Parse's logInWith: a `_User` create carrying authData, which signs up or logs in (users.signup)."""
    g = _g(info)
    body = await fields_to_rest(g, g.gen.classes["_User"], input.get("fields"), update=False, budget=_Budget())
    body["authData"] = input["authData"]
    saved = await door.create(g.svc, g.ctx, "_User", body)
    token = saved.body.get("sessionToken")
    if not isinstance(token, str):
        raise ParseError(ErrorCode.INTERNAL_SERVER_ERROR, "log-in made no session")
    viewer = await _viewer(g, info, token, _payload_nodes(info, "viewer"))
    return {"viewer": viewer, "clientMutationId": input.get("clientMutationId")}
