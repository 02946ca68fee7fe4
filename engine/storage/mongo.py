"""MongoAdapter: the StorageAdapter over motor, reading and writing Parse Server's own MongoDB layout."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from engine.errors import ErrorCode, ParseError
from engine.query.deadline import query_timeout
from engine.query.options import FindOptions
from engine.query.where import Near, Text, Where
from engine.schema.model import ClassDef, FieldType
from engine.storage.aggregate_plan import StorePlan
from engine.storage.base import (
    DUPLICATE_MESSAGE,
    INTERNAL_MESSAGE,
    UNIQUE_OVER_DUPLICATES,
    Changes,
    StoredObject,
    create_each,
)
from engine.storage.mongo_aggregate import distinct_pipeline, distinct_value, group_pipeline
from engine.storage.mongo_codec import (
    SCHEMA_COLLECTION,
    class_from_schema_document,
    decode_document,
    encode_document,
    index_keys,
    path_key,
    schema_document,
)
from engine.storage.mongo_query import sort_spec, translate_where, update_document, walk
from engine.wire import Value

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_DATABASE = "parse"
_DRIVER_MODULES = frozenset({"pymongo", "bson", "motor", "mongomock", "gridfs"})
_DUPLICATE_KEY = 11000
# IndexOptionsConflict, IndexKeySpecsConflict, IndexAlreadyExists: an index of that name is already there.
_INDEX_CONFLICTS = frozenset({68, 85, 86})
_INDEX_NOT_FOUND = 27
_MAX_TIME_EXPIRED = 50  # MaxTimeMSExpired: the server stopped a query at its maxTimeMS
# The indexes Parse Server creates itself (DatabaseController.performInitialization), with its names and options,
# so a database Parse created sees no conflict: (class, field, name, options). Its unique indexes are all sparse.
_UNIQUE = {"unique": True, "sparse": True}
_CASE_INSENSITIVE = {"sparse": True, "collation": {"locale": "en_US", "strength": 2}}
_BUILTIN_INDEXES: tuple[tuple[str, str, str, Mapping[str, Any]], ...] = (
    ("_User", "username", "username_1", _UNIQUE),
    ("_User", "username", "case_insensitive_username", _CASE_INSENSITIVE),
    ("_User", "email", "email_1", _UNIQUE),
    ("_User", "email", "case_insensitive_email", _CASE_INSENSITIVE),
    ("_Role", "name", "name_1", _UNIQUE),
    ("_Idempotency", "reqId", "reqId_1", _UNIQUE),
    ("_Idempotency", "expire", "ttl", {"sparse": True, "expireAfterSeconds": 0}),
)


def database_name(uri: str) -> str:
    """The database named by the URI path (``mongodb://host/<db>?...``), else Parse's default."""
    path = urlsplit(uri).path.lstrip("/")
    return unquote(path) if path else DEFAULT_DATABASE


def _is_driver_error(exc: BaseException) -> bool:
    return any(t.__module__.split(".")[0] in _DRIVER_MODULES for t in type(exc).__mro__)


def _error_code(exc: BaseException) -> int | None:
    code = getattr(exc, "code", None)
    if code is None:
        # BulkWriteError keeps the per-document codes in its details.
        details = getattr(exc, "details", None) or {}
        errors = details.get("writeErrors") if isinstance(details, Mapping) else None
        if errors:
            code = errors[0].get("code")
    return code if isinstance(code, int) else None


@contextmanager
def _guard(action: str) -> Iterator[None]:
    """Driver failures become ParseErrors whose text never carries the driver's message."""
    try:
        yield
    except ParseError:
        raise
    except Exception as exc:
        if not _is_driver_error(exc):
            raise
        if _error_code(exc) == _DUPLICATE_KEY:
            raise ParseError(ErrorCode.DUPLICATE_VALUE, DUPLICATE_MESSAGE) from None
        if _error_code(exc) == _MAX_TIME_EXPIRED:
            raise query_timeout() from None
        log.error("MongoDB %s failed", action, exc_info=exc)
        raise ParseError(ErrorCode.INTERNAL_SERVER_ERROR, INTERNAL_MESSAGE) from None


def _failed_documents(exc: BaseException) -> set[int] | None:
    """The indexes of an unordered insert_many's documents refused as duplicates; None when anything else failed
    (a write error of another kind, or no per-document detail at all)."""
    details = getattr(exc, "details", None)
    errors = details.get("writeErrors") if isinstance(details, Mapping) else None
    if not errors or (isinstance(details, Mapping) and details.get("writeConcernErrors")):
        return None
    if any(not isinstance(e, Mapping) or e.get("code") != _DUPLICATE_KEY or not isinstance(e.get("index"), int)
           for e in errors):
        return None
    return {int(e["index"]) for e in errors}


def _missing_query_index(exc: BaseException) -> bool:
    if not _is_driver_error(exc):
        return False
    text = str(exc)
    return "geoNear" in text or "text index required" in text or _error_code(exc) in (17007, 291)


class MongoAdapter:
    """One database; collection names are ``collection_prefix`` + the class name, as in Parse Server.

    ``max_time_ms`` is sent as ``maxTimeMS`` with every query (find, count, relation lookup), as Parse Server's
    ``databaseOptions.maxTimeMS``: the server stops the query there and the client gets 124. None or 0: unbounded."""

    def __init__(self, uri: str, *, client: Any | None = None, collection_prefix: str = "",
                 max_time_ms: int | None = None) -> None:
        # Only the keyword each call takes: pymongo refuses maxTimeMS=None on count_documents.
        limit = max_time_ms if max_time_ms and max_time_ms > 0 else None
        self._find_limit: dict[str, int] = {} if limit is None else {"max_time_ms": limit}
        self._count_limit: dict[str, int] = {} if limit is None else {"maxTimeMS": limit}
        self._uri = uri
        self._client = client
        self._owns_client = client is None
        self._prefix = collection_prefix
        self._db_name = database_name(uri)
        self._db: Any = None

    # ---- connection ----

    def _database(self) -> Any:
        if self._db is None:
            if self._client is None:
                try:
                    from motor.motor_asyncio import AsyncIOMotorClient
                except ImportError as exc:
                    log.error("the mongodb:// storage needs the motor package (pip install motor)")
                    raise ParseError(ErrorCode.INTERNAL_SERVER_ERROR, INTERNAL_MESSAGE) from exc
                # tz_aware: dates come back as UTC datetimes, as every other adapter returns them.
                self._client = AsyncIOMotorClient(self._uri, tz_aware=True)
            self._db = self._client[self._db_name]
        return self._db

    def _collection(self, name: str) -> Any:
        return self._database()[self._prefix + name]

    def _join(self, cls: ClassDef, key: str) -> Any:
        return self._collection(f"_Join:{key}:{cls.name}")

    async def open(self) -> None:
        self._database()

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None
        self._db = None

    # ---- schemas ----

    async def load_schemas(self) -> list[ClassDef]:
        with _guard("load_schemas"):
            docs = await self._collection(SCHEMA_COLLECTION).find({}).to_list(None)
        out = []
        for doc in docs:
            cls = class_from_schema_document(doc)
            if cls is None:
                log.warning("ignoring a _SCHEMA document without a class name")
            else:
                out.append(cls)
        return out

    async def save_schema(self, cls: ClassDef) -> None:
        schemas = self._collection(SCHEMA_COLLECTION)
        with _guard("save_schema"):
            previous = await schemas.find_one({"_id": cls.name})
            # Indexes first: a unique index refused over duplicates must leave the stored schema unchanged.
            await self._sync_indexes(cls, previous)
            await schemas.replace_one({"_id": cls.name}, schema_document(cls), upsert=True)

    async def _sync_indexes(self, cls: ClassDef, previous: Mapping[str, Any] | None) -> None:
        coll = self._collection(cls.name)
        old_meta = (previous or {}).get("_metadata")
        old_indexes = old_meta.get("indexes") if isinstance(old_meta, Mapping) else None
        for name in old_indexes if isinstance(old_indexes, Mapping) else ():
            if name != "_id_" and name not in cls.indexes:
                await self._drop_index(coll, name)
        for name, spec in cls.indexes.items():
            if name == "_id_" or not isinstance(spec, Mapping):
                continue
            keys, unique = index_keys(cls, spec)
            if not keys:
                continue
            # Sparse, as Parse's own unique indexes: objects lacking every indexed field never collide.
            await self._create_index(coll, keys, name, _UNIQUE if unique else {}, required=True)
        for class_name, fname, name, options in _BUILTIN_INDEXES:
            if class_name == cls.name:
                await self._create_index(coll, [(fname, 1)], name, options, required=False)
        for fname, fdef in cls.fields.items():
            if fdef.type is FieldType.POLYGON:
                # As Parse's createIndexesIfNeeded: $geoIntersects on GeoJSON wants a 2dsphere index.
                await self._create_index(coll, [(fname, "2dsphere")], f"{fname}_2dsphere", {}, required=False)

    async def _create_index(
        self, coll: Any, keys: list[tuple[str, Any]], name: str, options: Mapping[str, Any], *, required: bool
    ) -> None:
        try:
            await coll.create_index(keys, name=name, background=True, **options)
        except Exception as exc:
            if not _is_driver_error(exc):
                raise
            code = _error_code(exc)
            if code in _INDEX_CONFLICTS:
                log.warning("index %s on %s already exists with another definition; kept", name, coll.name)
            elif code == _DUPLICATE_KEY and required:
                raise ParseError(ErrorCode.DUPLICATE_VALUE, UNIQUE_OVER_DUPLICATES) from None
            elif not required:
                log.warning("could not create index %s on %s", name, coll.name, exc_info=exc)
            else:
                raise

    async def _drop_index(self, coll: Any, name: str) -> None:
        try:
            await coll.drop_index(name)
        except Exception as exc:
            if not _is_driver_error(exc) or _error_code(exc) != _INDEX_NOT_FOUND:
                raise

    async def drop_class(self, cls: ClassDef) -> None:
        db = self._database()
        with _guard("drop_class"):
            names = await db.list_collection_names()
            joins = set()
            for name in names:
                parts = name[len(self._prefix):].split(":") if name.startswith(self._prefix) else []
                if len(parts) == 3 and parts[0] == "_Join" and parts[2] == cls.name:
                    joins.add(name)
            for name in sorted(joins):
                await db[name].drop()
            await self._collection(cls.name).drop()
            await self._collection(SCHEMA_COLLECTION).delete_one({"_id": cls.name})

    # ---- objects ----

    async def create(self, cls: ClassDef, obj: StoredObject) -> None:
        doc = encode_document(cls, obj)
        with _guard("insert"):
            await self._collection(cls.name).insert_one(doc)

    async def create_many(self, cls: ClassDef, objs: Sequence[StoredObject]) -> list[ParseError | None]:
        """One unordered insert_many: every document is tried, and the duplicate-key errors name the ones that
        failed. Any other driver failure is retried one document at a time, each failing alone."""
        if len(objs) < 2:
            return await create_each(self.create, cls, objs)
        try:
            await self._collection(cls.name).insert_many([encode_document(cls, obj) for obj in objs], ordered=False)
        except Exception as exc:
            if not _is_driver_error(exc):
                raise
            failed = _failed_documents(exc)
            if failed is None:
                return await create_each(self.create, cls, objs)
            return [ParseError(ErrorCode.DUPLICATE_VALUE, DUPLICATE_MESSAGE) if i in failed else None
                    for i in range(len(objs))]
        return [None] * len(objs)

    async def find(self, cls: ClassDef, where: Where, opts: FindOptions) -> list[StoredObject]:
        if opts.limit == 0:
            return []  # Mongo reads limit(0) as "no limit"
        filt = translate_where(cls, where)
        sort = sort_spec(cls, opts.order)
        coll = self._collection(cls.name)

        async def run() -> list[Mapping[str, Any]]:
            cursor = coll.find(filt, **self._find_limit)
            if sort:
                cursor = cursor.sort(sort)
            if opts.skip:
                cursor = cursor.skip(opts.skip)
            if opts.limit is not None:
                cursor = cursor.limit(opts.limit)
            found: list[Mapping[str, Any]] = await cursor.to_list(None)
            return found

        with _guard("find"):
            docs = await self._with_query_indexes(cls, where, run)
        return [decode_document(cls, d) for d in docs]

    async def explain(self, cls: ClassDef, where: Where, opts: FindOptions) -> Any:
        """MongoDB's own explain output for the query a find would run (`explain=true`, master key only)."""
        filt = translate_where(cls, where)
        sort = sort_spec(cls, opts.order)
        cursor = self._collection(cls.name).find(filt)
        if sort:
            cursor = cursor.sort(sort)
        if opts.skip:
            cursor = cursor.skip(opts.skip)
        if opts.limit:
            cursor = cursor.limit(opts.limit)
        explain = getattr(cursor, "explain", None)
        if explain is None:  # mongomock has no query planner
            return {"queryPlanner": {"namespace": cls.name, "parsedQuery": repr(filt)}}
        with _guard("explain"):
            return await explain()

    async def count(self, cls: ClassDef, where: Where) -> int:
        filt = translate_where(cls, where, counting=True)
        coll = self._collection(cls.name)

        async def run() -> int:
            if not filt:
                return int(await coll.estimated_document_count(**self._count_limit))
            return int(await coll.count_documents(filt, **self._count_limit))

        with _guard("count"):
            return await self._with_query_indexes(cls, where, run)

    # ---- aggregation (mongo_aggregate.py writes the pipelines) ----

    async def aggregate(self, cls: ClassDef, plan: StorePlan) -> list[dict[str, Any]] | None:
        docs = await self._aggregate(cls, plan.where, group_pipeline(cls, plan))
        # MongoDB's $count of nothing is no document; mongomock answers a count of 0.
        return [d for d in docs if plan.count is None or d.get(plan.count)]

    async def distinct(self, cls: ClassDef, where: Where, field: str) -> list[Value] | None:
        docs = await self._aggregate(cls, where, distinct_pipeline(cls, where, field))
        return [distinct_value(cls, field, d["_id"]) for d in docs]

    async def _aggregate(self, cls: ClassDef, where: Where, pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
        coll = self._collection(cls.name)

        async def run() -> list[dict[str, Any]]:
            # maxTimeMS as Parse Server sends it with every aggregate.
            docs: list[dict[str, Any]] = await coll.aggregate(pipeline, **self._count_limit).to_list(None)
            return docs

        with _guard("aggregate"):
            return await self._with_query_indexes(cls, where, run)

    async def _with_query_indexes(self, cls: ClassDef, where: Where, run: Callable[[], Awaitable[T]]) -> T:
        """Run once; if Mongo wants a geo or text index the query needs, create it (as Parse does) and rerun."""
        try:
            return await run()
        except Exception as exc:
            if not _missing_query_index(exc) or not await self._create_query_indexes(cls, where):
                raise
        return await run()

    async def _create_query_indexes(self, cls: ClassDef, where: Where) -> bool:
        coll = self._collection(cls.name)
        created = False
        for node in walk(where):
            if isinstance(node, Near):
                key = path_key(cls, node.path)
                await self._create_index(coll, [(key, "2d")], f"{key}_2d", {}, required=False)
                created = True
            elif isinstance(node, Text):
                key = path_key(cls, node.path)
                await self._create_index(coll, [(key, "text")], f"{key}_text", {}, required=False)
                created = True
        return created

    async def update(self, cls: ClassDef, where: Where, changes: Changes) -> StoredObject | None:
        filt = translate_where(cls, where)
        update = update_document(cls, changes)
        with _guard("update"):
            # return_document=True is pymongo's ReturnDocument.AFTER, spelled without importing pymongo.
            doc = await self._collection(cls.name).find_one_and_update(filt, update, return_document=True)
        return None if doc is None else decode_document(cls, doc)

    async def delete(self, cls: ClassDef, where: Where) -> int:
        filt = translate_where(cls, where)
        with _guard("delete"):
            result = await self._collection(cls.name).delete_many(filt)
        return int(result.deleted_count)

    # ---- relations ----

    async def add_relation(self, cls: ClassDef, key: str, owning_id: str, related_ids: Sequence[str]) -> None:
        join = self._join(cls, key)
        with _guard("add_relation"):
            for related_id in dict.fromkeys(related_ids):
                pair = {"owningId": owning_id, "relatedId": related_id}
                # An upsert keyed by the pair keeps adding idempotent, as Parse's upsertOneObject does.
                await join.update_one(pair, {"$set": pair}, upsert=True)

    async def remove_relation(self, cls: ClassDef, key: str, owning_id: str, related_ids: Sequence[str]) -> None:
        if not related_ids:
            return
        with _guard("remove_relation"):
            await self._join(cls, key).delete_many({"owningId": owning_id, "relatedId": {"$in": list(related_ids)}})

    async def related_ids(self, cls: ClassDef, key: str, owning_ids: Sequence[str]) -> list[str]:
        return await self._join_column(cls, key, "owningId", owning_ids, "relatedId")

    async def owning_ids(self, cls: ClassDef, key: str, related_ids: Sequence[str]) -> list[str]:
        return await self._join_column(cls, key, "relatedId", related_ids, "owningId")

    async def _join_column(
        self, cls: ClassDef, key: str, by: str, values: Sequence[str], wanted: str
    ) -> list[str]:
        if not values:
            return []
        with _guard("relation lookup"):
            docs = await self._join(cls, key).find(
                {by: {"$in": list(values)}}, {wanted: 1}, **self._find_limit).to_list(None)
        return list(dict.fromkeys(str(d[wanted]) for d in docs if d.get(wanted) is not None))
