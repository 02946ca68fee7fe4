"""GraphQL inputs → REST JSON: `where` (Parse's operator names → `$` operators), `order`, ACLs and paging.

The result is exactly what a REST client would send, so the read pipeline validates and bounds it the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.errors import ErrorCode, ParseError
from engine.graphql.names import cursor_to_offset, global_id, object_id_for
from engine.schema.model import ClassDef, FieldType

ClassLookup = Callable[[str], ClassDef | None]

SIMPLE_OPS = {"equalTo": "$eq", "notEqualTo": "$ne", "lessThan": "$lt", "lessThanOrEqualTo": "$lte",
              "greaterThan": "$gt", "greaterThanOrEqualTo": "$gte", "in": "$in", "notIn": "$nin",
              "exists": "$exists", "matchesRegex": "$regex", "options": "$options", "containedBy": "$containedBy",
              "contains": "$all", "maxDistance": "$maxDistance", "maxDistanceInRadians": "$maxDistanceInRadians",
              "maxDistanceInMiles": "$maxDistanceInMiles", "maxDistanceInKilometers": "$maxDistanceInKilometers"}
ID_OPS = frozenset({"equalTo", "notEqualTo", "lessThan", "lessThanOrEqualTo", "greaterThan", "greaterThanOrEqualTo",
                    "in", "notIn"})
LOGICAL = {"OR": "$or", "AND": "$and", "NOR": "$nor"}
MAX_WHERE_DEPTH = 32  # nested have/OR/inQueryKey levels; the REST parser bounds everything else


def geo_point(value: Mapping[str, Any]) -> dict[str, Any]:
    return {"__type": "GeoPoint", "latitude": value.get("latitude"), "longitude": value.get("longitude")}


def _bad(message: str) -> ParseError:
    return ParseError(ErrorCode.INVALID_QUERY, message)


@dataclass(frozen=True, slots=True)
class WhereTranslator:
    lookup: ClassLookup

    def where(self, class_name: str, where: Mapping[str, Any] | None, depth: int = 0) -> dict[str, Any]:
        if depth > MAX_WHERE_DEPTH:
            raise _bad("where is nested too deeply")
        if where is None:
            return {}
        if not isinstance(where, Mapping):
            raise _bad("where must be an object")
        cls = self.lookup(class_name)
        out: dict[str, Any] = {}
        for key, value in where.items():
            if value is None:
                continue
            if key in LOGICAL:
                if not isinstance(value, list):
                    raise _bad(f"{key} must be a list")
                out[LOGICAL[key]] = [self.where(class_name, w, depth + 1) for w in value]
                continue
            if key in ("id", "objectId"):
                out.setdefault("objectId", {}).update(self._ops(class_name, value, depth, ids=class_name))
                continue
            fdef = cls.field_def(key) if cls is not None else None
            kind = fdef.type if fdef is not None else None
            if kind in (FieldType.POINTER, FieldType.RELATION) and fdef is not None:
                out[key] = self._relational(fdef.target_class or "", value, depth)
            elif kind in (FieldType.OBJECT, FieldType.ACL):
                self._object(key, value, out, depth)
            else:
                out.setdefault(key, {}).update(self._ops(class_name, value, depth))
        return out

    def _relational(self, target: str, value: Any, depth: int) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise _bad("a pointer constraint must be an object")
        ops: dict[str, Any] = {}
        for op, arg in value.items():
            if arg is None:
                continue
            if op == "have":
                ops["$inQuery"] = {"className": target, "where": self.where(target, arg, depth + 1)}
            elif op == "haveNot":
                ops["$notInQuery"] = {"className": target, "where": self.where(target, arg, depth + 1)}
            elif op == "exists":
                ops["$exists"] = arg
            else:
                raise _bad(f"bad constraint: {op}")
        return ops

    def _object(self, key: str, value: Any, out: dict[str, Any], depth: int) -> None:
        if not isinstance(value, Mapping):
            raise _bad("an object constraint must be an object")
        for op, arg in value.items():
            if arg is None:
                continue
            if op == "exists":
                out.setdefault(key, {})["$exists"] = arg
            elif op in ("inQueryKey", "notInQueryKey"):
                out.setdefault(key, {}).update(self._ops("", {op: arg}, depth))
            elif op in ("in", "notIn"):
                grouped: dict[str, list[Any]] = {}
                for kv in arg if isinstance(arg, list) else []:
                    grouped.setdefault(f"{key}.{kv['key']}", []).append(kv["value"])
                for path, values in grouped.items():
                    out.setdefault(path, {})[SIMPLE_OPS[op]] = values
            elif op in SIMPLE_OPS and isinstance(arg, Mapping):
                out.setdefault(f"{key}.{arg['key']}", {})[SIMPLE_OPS[op]] = arg["value"]
            else:
                raise _bad(f"bad constraint: {op}")

    def _ops(self, class_name: str, value: Any, depth: int, ids: str | None = None) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise _bad("a field constraint must be an object")
        ops: dict[str, Any] = {}
        for op, arg in value.items():
            if op in SIMPLE_OPS:
                if ids is not None and op in ID_OPS and arg is not None:
                    arg = ([object_id_for(ids, v) if isinstance(v, str) else v for v in arg]
                           if isinstance(arg, list) else object_id_for(ids, arg) if isinstance(arg, str) else arg)
                ops[SIMPLE_OPS[op]] = arg
            elif op in ("inQueryKey", "notInQueryKey"):
                ops["$select" if op == "inQueryKey" else "$dontSelect"] = self._select(arg, depth)
            elif op == "text":
                search = (arg or {}).get("search") or {}
                ops["$text"] = {"$search": {f"${k}": v for k, v in search.items() if v is not None}}
            elif op == "nearSphere":
                ops["$nearSphere"] = geo_point(arg)
            elif op == "within":
                box = arg["box"]
                ops["$within"] = {"$box": [geo_point(box["bottomLeft"]), geo_point(box["upperRight"])]}
            elif op == "geoWithin":
                if arg.get("polygon") is not None:
                    ops["$geoWithin"] = {"$polygon": [geo_point(p) for p in arg["polygon"]]}
                elif arg.get("centerSphere") is not None:
                    sphere = arg["centerSphere"]
                    ops["$geoWithin"] = {"$centerSphere": [geo_point(sphere["center"]), sphere["distance"]]}
            elif op == "geoIntersects":
                ops["$geoIntersects"] = {"$point": geo_point(arg["point"])}
            else:
                raise _bad(f"bad constraint: {op}")
        return ops

    def _select(self, arg: Any, depth: int) -> dict[str, Any]:
        if not isinstance(arg, Mapping) or not isinstance(arg.get("query"), Mapping):
            raise _bad("inQueryKey needs {query: {className, where}, key}")
        query = arg["query"]
        class_name = query.get("className")
        if not isinstance(class_name, str):
            raise _bad("inQueryKey needs a className")
        return {"query": {"className": class_name, "where": self.where(class_name, query.get("where"), depth + 1)},
                "key": arg.get("key")}


def order_to_rest(order: Sequence[str] | None) -> str | None:
    """`[hours_DESC, title_ASC]` → `-hours,title`; `id_*` sorts by objectId."""
    if not order:
        return None
    keys = []
    for value in order:
        name, _, direction = value.rpartition("_")
        name = "objectId" if name == "id" else name
        keys.append(f"-{name}" if direction == "DESC" else name)
    return ",".join(keys)


def acl_to_rest(value: Mapping[str, Any]) -> dict[str, Any]:
    acl: dict[str, Any] = {}

    def grant(key: str, entry: Mapping[str, Any]) -> None:
        rights = {r: True for r in ("read", "write") if entry.get(r)}
        if rights:
            acl[key] = rights

    for entry in value.get("users") or []:
        grant(object_id_for("_User", str(entry["userId"])), entry)
    for entry in value.get("roles") or []:
        grant(f"role:{entry['roleName']}", entry)
    if value.get("public") is not None:
        grant("*", value["public"])
    return acl


def acl_from_rest(acl: Any) -> dict[str, Any]:
    """REST `{"<userId>": {...}, "role:x": {...}, "*": {...}}` → Parse's GraphQL ACL (user ids as global ids)."""
    if not isinstance(acl, Mapping):
        return {"users": None, "roles": None, "public": {"read": True, "write": True}}
    users, roles, public = [], [], None
    for key, rights in acl.items():
        entry = {"read": bool(rights.get("read")), "write": bool(rights.get("write"))}
        if key == "*":
            public = entry
        elif key.startswith("role:"):
            roles.append({"roleName": key[5:], **entry})
        else:
            users.append({"userId": global_id("_User", key), **entry})
    return {"users": users or None, "roles": roles or None, "public": public}


@dataclass(frozen=True, slots=True)
class Page:
    skip: int
    limit: int | None
    pre_count: bool


def page(skip: Any, after: Any, first: Any, before: Any, last: Any, max_limit: int) -> Page:
    """Parse's calculateSkipAndLimit: cursors are offsets; `last` without `first` needs a count first."""
    s: int | None = None
    limit: int | None = None
    if skip is not None:
        if skip < 0:
            raise _bad("Skip should be a positive number")
        s = skip
    if after is not None:
        offset = cursor_to_offset(after)
        if offset is None:
            raise _bad("After is not a valid cursor")
        s = (s or 0) + offset + 1
    if first is not None:
        if first < 0:
            raise _bad("First should be a positive number")
        limit = first
    if before is not None:
        offset = cursor_to_offset(before)
        if offset is None:
            raise _bad("Before is not a valid cursor")
        if (s or 0) >= offset:
            limit = 0
        elif limit is None or (s or 0) + limit > offset:
            limit = offset - (s or 0)
    pre_count = False
    if last is not None:
        if last < 0:
            raise _bad("Last should be a positive number")
        last = min(last, max_limit)
        if limit is not None:
            if last < limit:
                s = (s or 0) + (limit - last)
                limit = last
        elif last == 0:
            limit = 0
        else:
            limit = last
            pre_count = True
    if limit is not None:
        limit = min(limit, max_limit)
    return Page(s or 0, limit, pre_count)
