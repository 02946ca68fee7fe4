"""Reads: class → CLP → where (no protected fields) → subqueries → storage(where ∧ CLP ∧ ACL) → include → redact."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, cast

from engine.errors import ErrorCode, ParseError
from engine.pipeline import hooks
from engine.pipeline.context import RequestContext, Services
from engine.pipeline.encode import Json, encoded_to_json, object_to_json, relation_fields
from engine.query.options import FindOptions, find_options
from engine.query.where import (
    All,
    And,
    Compare,
    ContainedBy,
    Exists,
    GeoIntersects,
    In,
    InQuery,
    MatchNone,
    Near,
    Nor,
    Or,
    Path,
    Regex,
    RelatedTo,
    Select,
    Text,
    Where,
    WithinBox,
    WithinPolygon,
    WithinSphere,
    conjoin,
    parse_where,
)
from engine.schema.model import ClassDef, FieldType, is_valid_class_name
from engine.security.acl import read_constraint
from engine.security.auth import Auth
from engine.security.class_access import check_class_access
from engine.security.clp import Op, Protection, check_class_permission, protected_fields
from engine.security.redact import redact
from engine.storage.base import StoredObject
from engine.storage.encoded import EncodedReader
from engine.wire import Pointer

ALWAYS_KEYS = ("objectId", "createdAt", "updatedAt", "ACL")
UNLIMITED = FindOptions(limit=None)
_PATH_NODES = (Compare, In, Regex, All, ContainedBy, Exists, Near, WithinBox, WithinPolygon, WithinSphere,
               GeoIntersects, Text, InQuery, Select)


async def readable_class(svc: Services, auth: Auth, class_name: str) -> ClassDef | None:
    """The class to read, or None when it does not exist yet (a master read then finds nothing)."""
    if not is_valid_class_name(class_name):
        raise ParseError(ErrorCode.INVALID_CLASS_NAME, f"Invalid classname: {class_name}")
    cls = await svc.schemas.lookup(class_name)
    if cls is None and not (auth.is_master or svc.settings.allow_client_class_creation):
        raise ParseError(ErrorCode.INVALID_CLASS_NAME, f"Class {class_name} does not exist.")
    return cls


def _paths(where: Where) -> Iterator[Path]:
    if isinstance(where, And | Or | Nor):
        for item in where.items:
            yield from _paths(item)
    elif isinstance(where, _PATH_NODES):
        yield where.path


def deny_protected(cls: ClassDef, protection: Protection, where: Where, opts: FindOptions | None = None) -> None:
    """Filtering or sorting on a field the caller cannot read would leak it through the result set."""
    forbidden = protection.query_forbidden()
    if not forbidden:
        return
    keys = [p[0] for p in _paths(where)]
    if opts is not None:
        keys += [k.path[0] for k in opts.order]
    for key in keys:
        if key in forbidden:
            raise ParseError(
                ErrorCode.OPERATION_FORBIDDEN, f"This user is not allowed to query {key} on class {cls.name}"
            )


def check_relative_time(cls: ClassDef, where: Any, depth: int = 0) -> None:
    """Parse (MongoTransform): `$relativeTime` compares dates only; on another declared type it is 107."""
    if not isinstance(where, Mapping) or depth > 20:
        return
    for key, value in where.items():
        if key in ("$and", "$or", "$nor") and isinstance(value, list):
            for item in value:
                check_relative_time(cls, item, depth + 1)
            continue
        fdef = cls.field_def(key) if isinstance(key, str) else None
        if fdef is None or fdef.type is FieldType.DATE or not isinstance(value, Mapping):
            continue
        if any(isinstance(arg, Mapping) and "$relativeTime" in arg for arg in value.values()):
            raise ParseError(ErrorCode.INVALID_JSON, "$relativeTime can only be used with Date field")


def _pointer_ids(where: Compare | In, target: str) -> Where:
    """Parse reads a plain object id compared with a pointer field as a pointer to the field's target class
    (MongoTransform's transformTopLevelAtom), e.g. the JS SDK's `containedIn("owner", ["id1", "id2"])`."""
    if isinstance(where, Compare):
        if isinstance(where.value, str) and where.op in ("eq", "ne"):
            return Compare(where.path, where.op, Pointer(target, where.value))
        return where
    values = tuple(Pointer(target, v) if isinstance(v, str) else v for v in where.values)
    return In(where.path, values, negate=where.negate)


class Reader:
    """One caller's read of one class: the CLP constraint and protected fields are computed once."""

    def __init__(self, svc: Services, auth: Auth, cls: ClassDef, op: Op) -> None:
        self.svc, self.auth, self.cls = svc, auth, cls
        self.constraint = check_class_permission(cls, op, auth)
        self.protection = protected_fields(cls, auth)

    async def resolve(self, where: Where) -> Where:
        """Replace subqueries and relation lookups by plain `$in` constraints every adapter can run."""
        if isinstance(where, And | Or | Nor):
            return type(where)(tuple([await self.resolve(w) for w in where.items]))
        if isinstance(where, RelatedTo):
            owner_cls = self.svc.schemas.get(where.owner.class_name)
            fdef = owner_cls.field_def(where.key) if owner_cls else None
            if owner_cls is None or fdef is None or fdef.type is not FieldType.RELATION:
                return MatchNone()
            if not await self._can_read(owner_cls, where.owner.object_id):
                return MatchNone()  # membership of an object you cannot see is not yours to learn (S28)
            ids = await self.svc.storage.related_ids(owner_cls, where.key, [where.owner.object_id])
            return In(("objectId",), tuple(ids))
        if isinstance(where, InQuery | Select):
            return await self._subquery(where)
        if isinstance(where, Compare | In) and len(where.path) == 1:
            fdef = self.cls.field_def(where.path[0])
            if fdef is not None and fdef.type is FieldType.RELATION:
                return await self._relation_membership(where)
            if fdef is not None and fdef.type is FieldType.POINTER and fdef.target_class:
                return _pointer_ids(where, fdef.target_class)
        return where

    async def _can_read(self, cls: ClassDef, object_id: str) -> bool:
        if self.auth.is_master:
            return True
        try:
            owner = Reader(self.svc, self.auth, cls, Op.GET)
        except ParseError:
            return False
        return bool(await owner.find(Compare(("objectId",), "eq", object_id), FindOptions(limit=1)))

    async def _subquery(self, where: InQuery | Select) -> Where:
        sub_cls = self.svc.schemas.get(where.class_name)
        if sub_cls is None:
            rows: list[StoredObject] = []
        else:
            # Subqueries run with the caller's own rights on the other class (class rules, CLP, protected
            # fields, ACL): an `$inQuery` on `_Installation` must not become a device-token oracle.
            check_class_access(sub_cls.name, Op.FIND, self.auth)
            sub = Reader(self.svc, self.auth, sub_cls, Op.FIND)
            if isinstance(where, Select) and where.key in sub.protection.query_forbidden():
                raise ParseError(ErrorCode.OPERATION_FORBIDDEN,
                                 f"This user is not allowed to query {where.key} on class {sub_cls.name}")
            rows = await sub.find(where.where, UNLIMITED)
        if isinstance(where, InQuery):
            return In(where.path, tuple(Pointer(where.class_name, r.object_id) for r in rows), negate=where.negate)
        values = tuple(r.fields[where.key] for r in rows if where.key in r.fields)
        return In(where.path, values, negate=where.negate)

    async def _relation_membership(self, where: Compare | In) -> Where:
        """`{"likes": ptr}` or `{"likes": {"$in": [ptrs]}}` on a Relation column reads the join table."""
        values = (where.value,) if isinstance(where, Compare) else where.values
        ids = [v.object_id for v in values if isinstance(v, Pointer)]
        owners = tuple(await self.svc.storage.owning_ids(self.cls, where.path[0], ids)) if ids else ()
        negate = (isinstance(where, Compare) and where.op == "ne") or (isinstance(where, In) and where.negate)
        return In(("objectId",), owners, negate=negate)

    async def _where(self, where: Where, opts: FindOptions | None) -> Where:
        deny_protected(self.cls, self.protection, where, opts)
        resolved = await self.resolve(where)
        return conjoin(resolved, self.constraint, read_constraint(self.auth))

    async def find(self, where: Where, opts: FindOptions) -> list[StoredObject]:
        return await self.svc.storage.find(self.cls, await self._where(where, opts), opts)

    async def count(self, where: Where) -> int:
        return await self.svc.storage.count(self.cls, await self._where(where, None))

    async def explain(self, where: Where, opts: FindOptions) -> Any:
        """The store's own plan when it can tell (MongoDB, SQLite), else what would be asked of it."""
        final = await self._where(where, opts)
        explainer = getattr(self.svc.storage, "explain", None)
        if explainer is not None:
            return await explainer(self.cls, final, opts)
        return [{"className": self.cls.name, "adapter": type(self.svc.storage).__name__, "where": repr(final),
                 "limit": opts.limit, "skip": opts.skip}]

    async def find_json(self, where: Where, opts: FindOptions) -> list[Json]:
        """find, as the redacted Parse JSON served to this caller; straight from the stored JSON when the store
        can hand it over (no decode into typed values and re-encode per object)."""
        storage = self.svc.storage
        if not _reads_encoded(storage):
            return [self.to_json(r) for r in await self.find(where, opts)]
        final = await self._where(where, opts)
        cls, name, auth, protection, file_url = self.cls, self.cls.name, self.auth, self.protection, self.svc.file_url
        relations = relation_fields(cls)
        return [redact(name, encoded_to_json(cls, obj, file_url, relations), auth, protection)
                for obj in await cast(EncodedReader, storage).find_encoded(cls, final, opts)]

    def to_json(self, obj: StoredObject) -> Json:
        return redact(self.cls.name, object_to_json(self.cls, obj, self.svc.file_url), self.auth, self.protection)


_ENCODED_READERS: dict[type, bool] = {}


def _reads_encoded(storage: object) -> bool:
    # isinstance against a runtime Protocol inspects every member each time: asked once per store type.
    kind = type(storage)
    known = _ENCODED_READERS.get(kind)
    if known is None:
        known = _ENCODED_READERS[kind] = isinstance(storage, EncodedReader)
    return known


async def find_stored(svc: Services, auth: Auth, cls: ClassDef, where: Where, opts: FindOptions) -> list[StoredObject]:
    """A find with every read rule applied, for code inside the engine that needs stored objects."""
    return await Reader(svc, auth, cls, Op.FIND).find(where, opts)


def _options(svc: Services, params: Mapping[str, Any], *, single: bool) -> FindOptions:
    s = svc.settings
    rest = {k: v for k, v in params.items() if not (single and k == "where")}
    return find_options(rest, default_limit=s.default_limit, max_limit=s.max_limit, single=single)


@dataclass(frozen=True, slots=True)
class FindResult:
    results: list[Json]
    count: int | None = None
    redirected_class: str | None = None  # set when `redirectClassNameForKey` moved the query to a relation target
    explain: Any = None


READ_PREFERENCES = frozenset({"PRIMARY", "PRIMARY_PREFERRED", "SECONDARY", "SECONDARY_PREFERRED", "NEAREST"})


def _check_extras(auth: Auth, params: Mapping[str, Any]) -> None:
    """Options Parse accepts on a find: `explain` needs the master key; read preferences must be known names."""
    if params.get("explain") not in (None, False, "false", 0, "0") and not auth.is_master:
        raise ParseError(ErrorCode.INVALID_QUERY, "Using the explain query parameter requires the master key")
    for key in ("readPreference", "includeReadPreference", "subqueryReadPreference"):
        value = params.get(key)
        if value is not None and (not isinstance(value, str) or value.upper() not in READ_PREFERENCES):
            raise ParseError(ErrorCode.INVALID_QUERY, f"{key} must be one of {', '.join(sorted(READ_PREFERENCES))}")
    hint = params.get("hint")
    if hint is not None and not isinstance(hint, str | dict):
        raise ParseError(ErrorCode.INVALID_QUERY, "hint must be an index name or an index spec")


def _redirect(svc: Services, cls: ClassDef | None, key: object) -> ClassDef | None:
    """`redirectClassNameForKey=likes` (the SDK's relation.query()): query the relation's target class instead."""
    if not isinstance(key, str) or cls is None:
        raise ParseError(ErrorCode.INVALID_QUERY, "redirectClassNameForKey must name a relation field")
    fdef = cls.field_def(key)
    if fdef is None or fdef.type is not FieldType.RELATION or not fdef.target_class:
        return cls
    return svc.schemas.get(fdef.target_class)


async def run_find(svc: Services, ctx: RequestContext, class_name: str, params: Mapping[str, Any]) -> FindResult:
    """A find from REST params (`where`, `order`, `limit`...): beforeFind may rewrite them, afterFind the results."""
    auth = ctx.auth
    check_class_access(class_name, Op.FIND, auth)
    cls = await readable_class(svc, auth, class_name)
    params = await hooks.before_find(svc, ctx, class_name, params, is_get=False)
    _check_extras(auth, params)
    redirected = None
    if "redirectClassNameForKey" in params:
        cls = _redirect(svc, cls, params["redirectClassNameForKey"])
        redirected = cls.name if cls is not None else None
        if redirected is not None:
            check_class_access(redirected, Op.FIND, auth)
        params = {k: v for k, v in params.items() if k != "redirectClassNameForKey"}
    opts = _options(svc, params, single=False)
    where = parse_where(params.get("where"), master=auth.is_master)
    if cls is None:
        return FindResult([], 0 if opts.count else None, redirected)
    check_relative_time(cls, params.get("where"))
    count: int | None = None
    if opts.count:
        count = await Reader(svc, auth, cls, Op.COUNT).count(where)
    reader = Reader(svc, auth, cls, Op.FIND)
    if params.get("explain") not in (None, False, "false", 0, "0"):
        return FindResult([], count, redirected, await reader.explain(where, opts))
    if opts.limit == 0:
        return FindResult([], count, redirected)
    results = await reader.find_json(where, opts)
    await _include(svc, ctx, cls, results, opts)
    results = await hooks.after_find(svc, ctx, cls.name, results, is_get=False)
    return FindResult([_project(r, opts) for r in results], count, redirected)


async def run_get(
    svc: Services, ctx: RequestContext, class_name: str, object_id: str, params: Mapping[str, Any]
) -> Json:
    auth = ctx.auth
    check_class_access(class_name, Op.GET, auth)
    cls = await readable_class(svc, auth, class_name)
    if cls is None:
        raise ParseError(ErrorCode.OBJECT_NOT_FOUND, "Object not found.")
    by_id = {"objectId": object_id}
    params = await hooks.before_find(svc, ctx, class_name, {**params, "where": by_id}, is_get=True)
    opts = _options(svc, params, single=True)
    # Unless a beforeFind hook rewrote it, the where is the id from the path: no need to parse it back.
    where = (Compare(("objectId",), "eq", object_id) if params.get("where") is by_id
             else parse_where(params.get("where"), master=auth.is_master))
    reader = Reader(svc, auth, cls, Op.GET)
    results = await reader.find_json(where, replace(opts, limit=1, skip=0, order=()))
    if not results:
        raise ParseError(ErrorCode.OBJECT_NOT_FOUND, "Object not found.")
    await _include(svc, ctx, cls, results, opts)
    results = await hooks.after_find(svc, ctx, class_name, results, is_get=True)
    if not results:
        raise ParseError(ErrorCode.OBJECT_NOT_FOUND, "Object not found.")
    return _project(results[0], opts)


# ---- include -------------------------------------------------------------------------------------------


def _include_paths(cls: ClassDef, opts: FindOptions) -> list[tuple[str, ...]]:
    paths = {tuple(p.split(".")) for p in opts.include}
    if opts.include_all:
        for name, fdef in cls.fields.items():
            if fdef.type in (FieldType.POINTER, FieldType.ARRAY):
                paths.add((name,))
    for key in opts.keys or ():
        parts = tuple(key.split("."))
        if len(parts) > 1:
            paths.add(parts[:-1])  # Parse: `keys=a.b` also includes the pointer `a`
    # Including "a.b" implies including "a" first.
    closed = {p[:i] for p in paths for i in range(1, len(p) + 1)}
    return sorted(closed, key=lambda p: (len(p), p))


def _pointers_at(node: Any, path: tuple[str, ...], out: list[dict[str, Any]]) -> None:
    if isinstance(node, list):
        for item in node:
            _pointers_at(item, path, out)
        return
    if not isinstance(node, dict):
        return
    if not path:
        if node.get("__type") == "Pointer":
            out.append(node)
        return
    _pointers_at(node.get(path[0]), path[1:], out)


async def _fetch_included(svc: Services, ctx: RequestContext, class_name: str, ids: set[str]) -> dict[str, Json]:
    """Included objects come through the normal read path of their class: CLP, ACL, protected fields, and its
    beforeFind/afterFind hooks (security catalog S31)."""
    auth = ctx.auth
    target = svc.schemas.get(class_name)
    if target is None:
        return {}
    try:
        check_class_access(class_name, Op.GET, auth)
        reader = Reader(svc, auth, target, Op.GET)
    except ParseError:
        return {}  # the caller may not read that class: the pointers stay bare
    wanted = sorted(ids)
    by_ids = {"objectId": {"$in": wanted}}
    params = await hooks.before_find(svc, ctx, class_name, {"where": by_ids}, is_get=False)
    # Unless a beforeFind hook rewrote it, the where is the ids just collected: no need to parse them back.
    where = (In(("objectId",), tuple(wanted)) if params.get("where") is by_ids
             else parse_where(params.get("where"), master=auth.is_master))
    found = await hooks.after_find(svc, ctx, class_name, await reader.find_json(where, UNLIMITED), is_get=False)
    return {obj["objectId"]: {"__type": "Object", "className": class_name, **obj}
            for obj in found if isinstance(obj.get("objectId"), str)}


async def _include(svc: Services, ctx: RequestContext, cls: ClassDef, results: list[Json], opts: FindOptions) -> None:
    for path in _include_paths(cls, opts):
        found: list[dict[str, Any]] = []
        for row in results:
            _pointers_at(row, path, found)
        by_class: dict[str, set[str]] = {}
        for ptr in found:
            by_class.setdefault(ptr["className"], set()).add(ptr["objectId"])
        fetched = {(name, oid): obj for name, ids in by_class.items()
                   for oid, obj in (await _fetch_included(svc, ctx, name, ids)).items()}
        # Parse drops an included pointer whose target is missing or unreadable (the SDK then sees
        # `undefined`), also out of arrays: the caller learns neither its fields nor whether it exists.
        dead: set[int] = set()
        for ptr in found:
            full = fetched.get((ptr["className"], ptr["objectId"]))
            if full is None:
                dead.add(id(ptr))
            else:
                ptr.clear()
                ptr.update(full)
        if dead:
            for row in results:
                _drop_dead(row, path, dead)


def _drop_dead(node: Any, path: tuple[str, ...], dead: set[int]) -> None:
    """Remove the pointer dicts named in ``dead`` at ``path`` (from a key, or from an array holding them)."""
    if isinstance(node, list):
        for item in node:
            _drop_dead(item, path, dead)
        return
    if not isinstance(node, dict) or path[0] not in node:
        return
    value = node[path[0]]
    if len(path) > 1:
        _drop_dead(value, path[1:], dead)
    elif isinstance(value, list):
        node[path[0]] = [v for v in value if id(v) not in dead]
    elif id(value) in dead:
        del node[path[0]]


# ---- keys / excludeKeys ----------------------------------------------------------------------------------


def _project(row: Json, opts: FindOptions) -> Json:
    if opts.keys is not None:
        tree: dict[str, Any] = {}
        for key in opts.keys:
            node = tree
            for part in key.split("."):
                node = node.setdefault(part, {})
        row = _select(row, tree)
    for key in opts.exclude_keys:
        if "." in key:
            _exclude_included(row, key.split("."))
        elif key not in ALWAYS_KEYS:
            row.pop(key, None)
    return row


def _exclude_included(node: Any, parts: list[str]) -> None:
    """`excludeKeys=a.b`: Parse removes `b` from the included object `a` (not from a plain Object field)."""
    if isinstance(node, list):
        for item in node:
            _exclude_included(item, parts)
        return
    if not isinstance(node, dict):
        return
    if len(parts) == 1:
        if parts[0] not in ALWAYS_KEYS:
            node.pop(parts[0], None)
        return
    child = node.get(parts[0])
    items = child if isinstance(child, list) else [child]
    for item in items:
        if isinstance(item, dict) and item.get("__type") == "Object":
            _exclude_included(item, parts[1:])


def _select(row: Json, tree: dict[str, Any]) -> Json:
    out = {k: v for k, v in row.items() if k in ALWAYS_KEYS or k in ("__type", "className")}
    for key, sub in tree.items():
        if key not in row:
            continue
        value = row[key]
        if sub and isinstance(value, dict) and value.get("__type") == "Object":
            out[key] = _select(value, sub)
        elif sub and isinstance(value, list):
            out[key] = [_select(v, sub) if isinstance(v, dict) and v.get("__type") == "Object" else v for v in value]
        else:
            out[key] = value
    return out
