"""PostgresAdapter: the StorageAdapter on PostgreSQL (asyncpg pool) in Parse Server's own table layout.

A database Parse Server 9.10 wrote is served unchanged and Parse Server reads what this writes (see
postgres_codec.py for the layout). Several engine processes may share one database: every write is one
transaction, an update locks its row (SELECT ... FOR UPDATE) for its read-modify-write, and uniqueness
(username, email, role name, the schema's unique indexes) is enforced by unique indexes, not by a check
that two processes could race past.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import asyncpg

from engine.errors import ErrorCode, ParseError
from engine.query.deadline import check_deadline, deadline_after, query_timeout, running_until
from engine.query.match import matches, near_node, sort_objects
from engine.query.options import FindOptions
from engine.query.where import MatchAll, Where
from engine.schema.model import ClassDef, FieldType
from engine.storage import postgres_text
from engine.storage.aggregate_plan import StorePlan
from engine.storage.base import (
    CHANGE_TOPICS,
    DUPLICATE_MESSAGE,
    INTERNAL_MESSAGE,
    SCHEMA_TOPIC,
    UNIQUE_OVER_DUPLICATES,
    Changes,
    StoredObject,
    create_each,
    topics_for_class,
)
from engine.storage.memory import BUILTIN_UNIQUE, _distance, apply_changes
from engine.storage.postgres_codec import (
    CASTS,
    JOIN_PREFIX,
    SCHEMA_TABLE,
    acl_columns,
    class_from_document,
    column_type,
    decode_row,
    encode_column,
    join_table,
    object_columns,
    quote_ident,
    schema_document,
)
from engine.storage.postgres_query import Compiler, Plan
from engine.storage.sql_aggregate import Statement, distinct_statement, group_statement, postgres_dialect
from engine.storage.sqlite_codec import dumps
from engine.wire import Value

log = logging.getLogger(__name__)

DEFAULT_POOL_MAX = 10
CHANGES_CHANNEL = "parse_engine_changes"  # NOTIFY payload: "<postgres schema>:<topic>"
_RELISTEN_SECONDS = 1.0
_AGGREGATE_UDT = {FieldType.STRING: "text", FieldType.POINTER: "text", FieldType.NUMBER: "float8",
                  FieldType.BOOLEAN: "bool"}
_IDENT_MAX = 63  # PostgreSQL truncates longer identifiers


def _pool_size(uri: str) -> tuple[str, int]:
    """Strips our own ``?max_pool_size=N`` (Parse's option name) from the URI; asyncpg gets the rest."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    size = DEFAULT_POOL_MAX
    kept = []
    for key, value in query:
        if key == "max_pool_size":
            if not value.isdigit() or not 1 <= int(value) <= 1000:
                raise ValueError(f"max_pool_size must be between 1 and 1000, got {value!r}")
            size = int(value)
        else:
            kept.append((key, value))
    scheme = "postgresql" if parts.scheme in ("postgres", "postgresql") else parts.scheme
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(kept), parts.fragment)), size


@dataclass(frozen=True, slots=True, eq=False)
class _Tx:
    """The open transaction of one task on one adapter (see PostgresAdapter.transaction)."""

    adapter: PostgresAdapter
    conn: asyncpg.Connection
    task: asyncio.Task[Any] | None


_CURRENT_TX: ContextVar[_Tx | None] = ContextVar("postgres_tx", default=None)


def _index_name(class_name: str, name: str) -> str:
    full = f"{class_name}_{name}"
    if len(full.encode()) > _IDENT_MAX:
        import hashlib

        full = full[:40] + "_" + hashlib.sha1(full.encode()).hexdigest()[:16]
    return full


@contextmanager
def _guard(action: str) -> Iterator[None]:
    """Database failures become ParseErrors that never carry PostgreSQL's message."""
    try:
        yield
    except ParseError:
        raise
    except asyncpg.UniqueViolationError:
        raise ParseError(ErrorCode.DUPLICATE_VALUE, DUPLICATE_MESSAGE) from None
    except asyncpg.QueryCanceledError:
        raise query_timeout() from None
    except asyncpg.InvalidRegularExpressionError:
        # A pattern PostgreSQL's engine refuses (e.g. too complex) though the parser accepted it.
        raise ParseError(ErrorCode.INVALID_QUERY, "Invalid regular expression in $regex") from None
    except (asyncpg.SerializationError, asyncpg.DeadlockDetectedError):
        # Parse's code for a transient transaction conflict: the client may retry.
        raise ParseError(ErrorCode.INVALID_LINKED_SESSION, "The transaction conflicted with another; retry it.") \
            from None
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        log.error("PostgreSQL %s failed", action, exc_info=exc)
        raise ParseError(ErrorCode.INTERNAL_SERVER_ERROR, INTERNAL_MESSAGE) from None


class PostgresAdapter:
    """``postgres://user:pass@host:port/db``; ``max_time_ms`` becomes each read's ``statement_timeout``."""

    def __init__(self, uri: str, *, max_time_ms: int | None = None) -> None:
        self.uri, self.pool_size = _pool_size(uri)
        self.max_time_ms = max_time_ms if max_time_ms and max_time_ms > 0 else None
        self._pool: asyncpg.Pool | None = None
        # table -> {column: udt}; refreshed whenever a column or table may be missing from it.
        self._columns: dict[str, dict[str, str]] = {}
        # Change feed (base.ChangeFeed): a dedicated LISTEN connection counts other processes' NOTIFYs.
        self._changes: dict[str, int] = dict.fromkeys(CHANGE_TOPICS, 0)
        self._listener: asyncpg.Connection | None = None
        self._relisten: asyncio.Task[None] | None = None
        self._namespace = ""
        self._icu = False

    # ---- connection ----

    async def open(self) -> None:
        if self._pool is not None:
            return
        with _guard("connect"):
            self._pool = await asyncpg.create_pool(self.uri, min_size=1, max_size=self.pool_size)
            async with self._pool.acquire() as conn:
                await conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {quote_ident(SCHEMA_TABLE)} (\"className\" varchar(120), "
                    "\"schema\" jsonb, \"isParseClass\" boolean, PRIMARY KEY (\"className\"))")
                self._namespace = str(await conn.fetchval("SELECT current_schema()"))
                # Regex and text compile to SQL only with Unicode's character classes and case rules (ICU).
                self._icu = bool(await conn.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu')"))
        if self._icu:
            await asyncio.to_thread(postgres_text.warm)
        await self._listen()

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        relisten, self._relisten = self._relisten, None
        if relisten is not None:
            relisten.cancel()
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.remove_termination_listener(self._on_listener_lost)
            await listener.close()
        if pool is not None:
            await pool.close()

    # ---- change feed ----

    def change_count(self, topic: str) -> int:
        return self._changes.get(topic, 0)

    def _bump_all(self) -> None:
        for topic in self._changes:
            self._changes[topic] += 1

    async def _listen(self) -> None:
        try:
            conn = await asyncpg.connect(self.uri)
            await conn.add_listener(CHANGES_CHANNEL, self._on_notify)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            # Caches fall back to their TTL meanwhile; retried until it works or the adapter closes.
            log.warning("PostgreSQL change feed unavailable, retrying: %s", exc)
            self._schedule_relisten()
            return
        conn.add_termination_listener(self._on_listener_lost)
        self._listener = conn
        self._bump_all()  # whatever happened while nobody listened

    def _on_notify(self, conn: object, pid: int, channel: str, payload: str) -> None:
        namespace, _, topic = payload.rpartition(":")
        if namespace == self._namespace and topic in self._changes:
            self._changes[topic] += 1

    def _on_listener_lost(self, conn: object) -> None:
        self._listener = None
        self._bump_all()
        self._schedule_relisten()

    def _schedule_relisten(self) -> None:
        if self._pool is None or (self._relisten is not None and not self._relisten.done()):
            return
        self._relisten = asyncio.get_running_loop().create_task(self._relisten_later())

    async def _relisten_later(self) -> None:
        await asyncio.sleep(_RELISTEN_SECONDS)
        if self._pool is not None and self._listener is None:
            await self._listen()

    async def _notify_class(self, conn: asyncpg.Connection, cls: ClassDef) -> None:
        # Roles (and membership through _Role's relations) feed every ACL check; _Hooks rows every process's
        # webhook registrations.
        for topic in topics_for_class(cls.name):
            await self._notify(conn, topic)

    async def _notify(self, conn: asyncpg.Connection, topic: str) -> None:
        # Delivered at commit (never for a rolled-back change), to every process listening on the database.
        await conn.execute("SELECT pg_notify($1, current_schema() || ':' || $2)", CHANGES_CHANNEL, topic)

    def _joined(self) -> _Tx | None:
        tx = _CURRENT_TX.get()
        # Only the task that opened it: a task spawned meanwhile inherits the context var, but must not share the
        # connection (asyncpg runs one statement at a time) nor outlive the transaction on it.
        if tx is not None and tx.adapter is self and tx.task is asyncio.current_task():
            return tx
        return None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Every operation this task makes inside the block is one PostgreSQL transaction (base.Transactional)."""
        if self._pool is None:
            raise ParseError(ErrorCode.INTERNAL_SERVER_ERROR, "storage is not open")
        if self._joined() is not None:
            raise ParseError(ErrorCode.INVALID_JSON, "transactions cannot be nested")
        with _guard("begin"):
            conn = await self._pool.acquire()
        try:
            outer = conn.transaction()
            with _guard("begin"):
                await outer.start()
            token = _CURRENT_TX.set(_Tx(self, conn, asyncio.current_task()))
            committed = False
            try:
                try:
                    yield
                finally:
                    _CURRENT_TX.reset(token)
                with _guard("commit"):
                    await outer.commit()
                committed = True
            finally:
                if not committed:
                    # Tables or columns created inside it are gone again.
                    self._columns.clear()
                    if not conn.is_closed() and conn.is_in_transaction():
                        try:
                            await outer.rollback()
                        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
                            log.error("PostgreSQL rollback failed", exc_info=exc)
        finally:
            await self._pool.release(conn)

    @asynccontextmanager
    async def _conn(self, action: str, *, write: bool = False) -> AsyncIterator[asyncpg.Connection]:
        if self._pool is None:
            raise ParseError(ErrorCode.INTERNAL_SERVER_ERROR, "storage is not open")
        tx = self._joined()
        try:
            if tx is not None:
                # A savepoint: a failing statement undoes only itself, not the caller's whole transaction.
                with _guard(action):
                    async with tx.conn.transaction():
                        # SET LOCAL outlives a released savepoint: every operation sets its own.
                        limit = "DEFAULT" if self.max_time_ms is None or write else str(int(self.max_time_ms))
                        await tx.conn.execute(f"SET LOCAL statement_timeout = {limit}")
                        yield tx.conn
                return
            with _guard(action):
                async with self._pool.acquire() as conn, conn.transaction():
                    if self.max_time_ms is not None and not write:
                        await conn.execute(f"SET LOCAL statement_timeout = {int(self.max_time_ms)}")
                    yield conn
        except BaseException:
            if write:
                # Tables or columns a failed write added (then its INSERT was refused) were rolled back with it.
                self._columns.clear()
            raise

    # ---- tables and columns ----

    async def _load_columns(self, conn: asyncpg.Connection, table: str) -> dict[str, str] | None:
        # The catalog, not information_schema: same names (udt_name is pg_type.typname), a fraction of the cost.
        rows = await conn.fetch(
            "SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
            "WHERE a.attrelid = to_regclass(quote_ident(current_schema()) || '.' || quote_ident($1)) "
            "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum", table)
        if not rows:
            self._columns.pop(table, None)
            return None
        cols = {r["attname"]: r["typname"] for r in rows}
        self._columns[table] = cols
        return cols

    async def _columns_of(self, conn: asyncpg.Connection, table: str, cls: ClassDef | None = None) -> dict[
            str, str] | None:
        """The table's columns (None: no table); reloaded when ``cls`` declares a field not among them (another
        process may have added its column)."""
        cached = self._columns.get(table)
        if cached is not None and cls is not None and any(
                name not in cached and column_type(cls, name) is not None
                for name in cls.fields if name not in ("objectId", "createdAt", "updatedAt")):
            cached = None
        return cached if cached is not None else await self._load_columns(conn, table)

    @staticmethod
    def _column_list(cols: Mapping[str, str]) -> str:
        # Named, never `*`: a prepared statement's row shape must not change when a column is added.
        return ", ".join(quote_ident(c) for c in cols)

    async def _ensure_table(self, conn: asyncpg.Connection, cls: ClassDef, extra: Sequence[str] = (), *,
                            indexes: bool = False) -> dict[str, str]:
        """The table exists with a column for every field of the schema and every key in ``extra``; with
        ``indexes``, also every index the schema declares."""
        wanted: dict[str, str] = {}
        for name in (*cls.fields, *extra):
            kind = column_type(cls, name)
            if kind is not None and name not in ("objectId", "createdAt", "updatedAt"):
                wanted[name] = kind
        cols = await self._columns_of(conn, cls.name)
        if cols is not None and all(name in cols for name in wanted) and not indexes:
            return cols
        table = quote_ident(cls.name)
        indexed = False
        if cols is None:
            # One statement with every column: a class's table is created at start-up, per class, so this
            # is most of what provisioning a fresh database costs.
            defs = "".join(f", {quote_ident(name)} {kind}" for name, kind in wanted.items())
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {table} (\"objectId\" text, \"createdAt\" timestamp with time zone, "
                f"\"updatedAt\" timestamp with time zone, \"_rperm\" text[], \"_wperm\" text[]{defs}, "
                "PRIMARY KEY (\"objectId\"))")
            # A table first seen through create() gets the indexes of the ClassDef it came with.
            await self._create_indexes(conn, cls)
            indexed = True
            cols = self._columns.get(cls.name) or {}
        # Columns still missing: added since by the schema, or the table existed already (another process).
        missing = [name for name in wanted if name not in cols]
        for name in missing:
            await conn.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {quote_ident(name)} {wanted[name]}")
        if missing or (indexes and not indexed):
            await self._create_indexes(conn, cls)
            cols = self._columns.get(cls.name) or {}
        for name, fdef in cls.fields.items():
            if fdef.type is FieldType.RELATION:
                await self._ensure_join(conn, join_table(cls.name, name))
        return cols

    async def _ensure_join(self, conn: asyncpg.Connection, name: str) -> None:
        if name in self._columns:
            return
        await conn.execute(f"CREATE TABLE IF NOT EXISTS {quote_ident(name)} (\"relatedId\" varchar(120), "
                           "\"owningId\" varchar(120), PRIMARY KEY (\"relatedId\", \"owningId\"))")
        await self._load_columns(conn, name)

    def _index_statements(self, cls: ClassDef, cols: Mapping[str, str] | None) -> dict[str, str]:
        table = quote_ident(cls.name)
        out: dict[str, str] = {}
        for unique_fields in BUILTIN_UNIQUE.get(cls.name, ()):
            if cols is not None and any(f not in cols for f in unique_fields):
                continue
            # Parse's own names (ensureUniqueness): <class>_unique_<field>
            name = f"{cls.name}_unique_{'_'.join(sorted(unique_fields))}"
            out[name] = (f"CREATE UNIQUE INDEX IF NOT EXISTS {quote_ident(name)} ON {table} "
                         f"({', '.join(quote_ident(f) for f in unique_fields)})")
        for index_name, spec in cls.indexes.items():
            if index_name == "_id_" or not isinstance(spec, Mapping):
                continue
            keys = [(str(k), d) for k, d in spec.items() if k != "unique"]
            if not keys or any(d not in (1, -1) or "." in k for k, d in keys):
                continue  # text and geo indexes, dotted keys: queries scan
            if cols is not None and any(k not in cols for k, _ in keys):
                continue
            unique = spec.get("unique") is True
            terms = ", ".join(quote_ident(k) + (" DESC" if d == -1 else "") for k, d in keys)
            name = _index_name(cls.name, index_name)
            out[name] = (f"CREATE {'UNIQUE ' if unique else ''}INDEX IF NOT EXISTS {quote_ident(name)} "
                         f"ON {table} ({terms})")
        return out

    async def _create_indexes(self, conn: asyncpg.Connection, cls: ClassDef) -> None:
        cols = await self._load_columns(conn, cls.name)
        for statement in self._index_statements(cls, cols).values():
            try:
                async with conn.transaction():
                    await conn.execute(statement)
            except asyncpg.UniqueViolationError:
                raise ParseError(ErrorCode.DUPLICATE_VALUE, UNIQUE_OVER_DUPLICATES) from None

    # ---- schemas ----

    async def load_schemas(self) -> list[ClassDef]:
        async with self._conn("load_schemas") as conn:
            rows = await conn.fetch(
                f'SELECT "className", "schema" FROM {quote_ident(SCHEMA_TABLE)} ORDER BY "className"')
        out = [class_from_document(r["className"], r["schema"]) for r in rows]
        return [cls for cls in out if cls is not None]

    async def save_schema(self, cls: ClassDef) -> None:
        doc = dumps(schema_document(cls))
        async with self._conn("save_schema", write=True) as conn:
            await self._ensure_table(conn, cls, indexes=True)
            await conn.execute(
                f'INSERT INTO {quote_ident(SCHEMA_TABLE)} ("className", "schema", "isParseClass") '
                'VALUES ($1, $2::jsonb, true) ON CONFLICT ("className") DO UPDATE SET "schema" = excluded."schema"',
                cls.name, doc)
            await self._notify(conn, SCHEMA_TOPIC)

    async def drop_class(self, cls: ClassDef) -> None:
        async with self._conn("drop_class", write=True) as conn:
            joins = await conn.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
                "AND table_name LIKE $1", f"{JOIN_PREFIX}%:{cls.name}")
            names = [cls.name] + [r["table_name"] for r in joins if r["table_name"].split(":")[2:] == [cls.name]]
            for name in names:
                await conn.execute(f"DROP TABLE IF EXISTS {quote_ident(name)}")
            await conn.execute(f'DELETE FROM {quote_ident(SCHEMA_TABLE)} WHERE "className" = $1', cls.name)
            await self._notify(conn, SCHEMA_TOPIC)
            await self._notify_class(conn, cls)  # dropping _Role or _Hooks drops what those caches hold
        for name in names:
            self._columns.pop(name, None)

    # ---- objects ----

    def _row_values(self, cls: ClassDef, cols: Mapping[str, str], obj: StoredObject) -> dict[str, Any]:
        read, write = acl_columns(obj.acl)
        values: dict[str, Any] = {"objectId": obj.object_id, "createdAt": obj.created_at,
                                  "updatedAt": obj.updated_at, "_rperm": read, "_wperm": write}
        for name, value in object_columns(cls, obj).items():
            values[name] = encode_column(cols.get(name, "jsonb"), value)
        return values

    def _placeholder(self, cols: Mapping[str, str], name: str, index: int) -> str:
        return f"${index}::{CASTS.get(cols.get(name, 'jsonb'), 'text')}"

    async def create(self, cls: ClassDef, obj: StoredObject) -> None:
        keys = list(object_columns(cls, obj))
        async with self._conn("insert", write=True) as conn:
            cols = await self._ensure_table(conn, cls, keys)
            values = self._row_values(cls, cols, obj)
            names = list(values)
            marks = ", ".join(self._placeholder(cols, n, i) for i, n in enumerate(names, 1))
            await conn.execute(
                f"INSERT INTO {quote_ident(cls.name)} ({', '.join(map(quote_ident, names))}) VALUES ({marks})",
                *values.values())
            await self._notify_class(conn, cls)

    async def create_many(self, cls: ClassDef, objs: Sequence[StoredObject]) -> list[ParseError | None]:
        """One transaction and one notification for all the rows, one INSERT per column set run over its rows.
        A row the database refuses rolls the whole attempt back; the rows are then created one by one, so only
        that row fails."""
        if len(objs) < 2 or self._joined() is not None:
            return await create_each(self.create, cls, objs)
        try:
            async with self._conn("insert", write=True) as conn:
                keys = list(dict.fromkeys(key for obj in objs for key in object_columns(cls, obj)))
                cols = await self._ensure_table(conn, cls, keys)
                by_columns: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
                for obj in objs:
                    values = self._row_values(cls, cols, obj)
                    by_columns.setdefault(tuple(values), []).append(tuple(values.values()))
                for names, rows in by_columns.items():
                    marks = ", ".join(self._placeholder(cols, n, i) for i, n in enumerate(names, 1))
                    await conn.executemany(
                        f"INSERT INTO {quote_ident(cls.name)} ({', '.join(map(quote_ident, names))}) "
                        f"VALUES ({marks})", rows)
                await self._notify_class(conn, cls)
        except ParseError:  # _conn already forgot the columns the rolled-back attempt added
            return await create_each(self.create, cls, objs)
        return [None] * len(objs)

    def _pointer_targets(self, cls: ClassDef) -> dict[str, str]:
        return {n: f.target_class for n, f in cls.fields.items() if f.type is FieldType.POINTER and f.target_class}

    async def _select(self, conn: asyncpg.Connection, cls: ClassDef, where: Where, opts: FindOptions, *,
                      lock: bool = False, first: bool = False) -> list[StoredObject]:
        cols = await self._columns_of(conn, cls.name, cls)
        if cols is None:
            return []
        compiler = self._compiler(cls, cols)
        plan: Plan = compiler.plan(where)
        order = compiler.order_by(opts.order, where)
        exact = isinstance(plan.residual, MatchAll) and order is not None
        sql = f"SELECT {self._column_list(cols)} FROM {quote_ident(cls.name)} WHERE {plan.sql}"
        params = list(compiler.params)  # the order may bind some too ($nearSphere's point)
        sql += " ORDER BY " + (order or '"createdAt", "objectId"')
        if exact:
            limit = 1 if first else opts.limit
            if limit is not None:
                params.append(limit)
                sql += f" LIMIT ${len(params)}"
            if opts.skip > 0 and not first:
                params.append(opts.skip)
                sql += f" OFFSET ${len(params)}"
        if lock:
            sql += " FOR UPDATE"
        rows = [decode_row(cls, cols, r) for r in await conn.fetch(sql, *params)]
        if exact:
            return rows
        # Off the event loop (a slow regex must not stall other requests), within the query budget.
        rows = await asyncio.to_thread(self._residual, rows, plan.residual)
        if order is None:
            if opts.order:
                rows = sort_objects(rows, opts.order)
            else:
                near = near_node(where)
                if near is not None:
                    rows.sort(key=lambda o: _distance(o, near.path, near.point))
        if first:
            return rows[:1]
        end = None if opts.limit is None else opts.skip + max(opts.limit, 0)
        return rows[opts.skip:end]

    def _compiler(self, cls: ClassDef, cols: Mapping[str, str]) -> Compiler:
        opaque = frozenset(n for n, f in cls.fields.items() if f.type in (FieldType.POINTER, FieldType.FILE))
        return Compiler(cols, self._pointer_targets(cls), non_strings=opaque, icu=self._icu)

    def _residual(self, rows: list[StoredObject], residual: Where) -> list[StoredObject]:
        out: list[StoredObject] = []
        with running_until(deadline_after(self.max_time_ms)):
            for i, obj in enumerate(rows):
                if i % 256 == 0:
                    check_deadline()
                if matches(residual, obj):
                    out.append(obj)
        return out

    async def explain(self, cls: ClassDef, where: Where, opts: FindOptions) -> list[dict[str, Any]]:
        """PostgreSQL's plan for the SQL part of a find (`explain=true`, master key only)."""
        async with self._conn("explain") as conn:
            cols = await self._columns_of(conn, cls.name, cls)
            if cols is None:
                return []
            plan = self._compiler(cls, cols).plan(where)
            lines = await conn.fetch(f"EXPLAIN SELECT * FROM {quote_ident(cls.name)} WHERE {plan.sql}", *plan.params)
        steps = [{"detail": str(r[0])} for r in lines]
        if not isinstance(plan.residual, MatchAll):
            steps.append({"detail": "then filtered by the engine's matcher (operators SQL cannot spell exactly)"})
        return steps

    async def find(self, cls: ClassDef, where: Where, opts: FindOptions) -> list[StoredObject]:
        if opts.limit is not None and opts.limit <= 0:
            return []
        async with self._conn("find") as conn:
            return await self._select(conn, cls, where, opts)

    async def count(self, cls: ClassDef, where: Where) -> int:
        async with self._conn("count") as conn:
            cols = await self._columns_of(conn, cls.name)
            if cols is None:
                return 0
            plan = self._compiler(cls, cols).plan(where)
            if isinstance(plan.residual, MatchAll):
                return int(await conn.fetchval(
                    f"SELECT count(*) FROM {quote_ident(cls.name)} WHERE {plan.sql}", *plan.params))
            return len(await self._select(conn, cls, where, FindOptions(limit=None)))

    # ---- aggregation (sql_aggregate.py writes the statements) ----

    async def aggregate(self, cls: ClassDef, plan: StorePlan) -> list[dict[str, Any]] | None:
        group = plan.group
        fields = [f for _, f in group.keys] + [a.field for a in group.accumulators if a.field] if group else []
        return await self._run_aggregate("aggregate", cls, plan.where, fields, lambda condition: group_statement(
            cls, plan, quote_ident(cls.name), condition, postgres_dialect(cls)))

    async def distinct(self, cls: ClassDef, where: Where, field: str) -> list[Value] | None:
        docs = await self._run_aggregate("distinct", cls, where, [field], lambda condition: distinct_statement(
            cls, field, quote_ident(cls.name), condition, postgres_dialect(cls)))
        return None if docs is None else [d["v"] for d in docs]

    async def _run_aggregate(self, action: str, cls: ClassDef, where: Where, fields: Sequence[str],
                             build: Callable[[str], Statement]) -> list[dict[str, Any]] | None:
        """Run one aggregation statement; None (the Python path) when a field has no column of its declared type
        or the where needs the engine's matcher."""
        async with self._conn(action) as conn:
            cols = await self._columns_of(conn, cls.name, cls)
            if cols is None:
                return []
            if any(cols.get(f) != _AGGREGATE_UDT.get(cls.fields[f].type) for f in fields):
                return None
            plan = Compiler(cols, self._pointer_targets(cls)).plan(where)
            if not isinstance(plan.residual, MatchAll):
                return None
            stmt = build(plan.sql)
            rows = await conn.fetch(stmt.sql, *plan.params)
        return [doc for doc in map(stmt.decode, rows) if doc]

    async def update(self, cls: ClassDef, where: Where, changes: Changes) -> StoredObject | None:
        async with self._conn("update", write=True) as conn:
            if await self._columns_of(conn, cls.name) is None:
                return None
            found = await self._select(conn, cls, where, FindOptions(limit=None), lock=True, first=True)
            if not found:
                return None
            # Read, modify and write under the row lock: concurrent updates (other processes too) serialise.
            updated = apply_changes(found[0], changes)
            keys = list(object_columns(cls, updated))
            cols = await self._ensure_table(conn, cls, keys)
            values = self._row_values(cls, cols, updated)
            for name in cols:
                values.setdefault(name, None)  # a key the update removed
            values.pop("objectId")
            values.pop("createdAt")
            names = list(values)
            sets = ", ".join(f"{quote_ident(n)} = {self._placeholder(cols, n, i)}" for i, n in enumerate(names, 2))
            await conn.execute(f'UPDATE {quote_ident(cls.name)} SET {sets} WHERE "objectId" = $1',
                               updated.object_id, *values.values())
            row = await conn.fetchrow(
                f'SELECT {self._column_list(cols)} FROM {quote_ident(cls.name)} WHERE "objectId" = $1',
                updated.object_id)
            await self._notify_class(conn, cls)
            return decode_row(cls, cols, row)

    async def delete(self, cls: ClassDef, where: Where) -> int:
        async with self._conn("delete", write=True) as conn:
            cols = await self._columns_of(conn, cls.name)
            if cols is None:
                return 0
            plan = self._compiler(cls, cols).plan(where)
            table = quote_ident(cls.name)
            if isinstance(plan.residual, MatchAll):
                status = await conn.execute(f"DELETE FROM {table} WHERE {plan.sql}", *plan.params)
            else:
                doomed = [o.object_id for o in
                          await self._select(conn, cls, where, FindOptions(limit=None), lock=True)]
                if not doomed:
                    return 0
                status = await conn.execute(f'DELETE FROM {table} WHERE "objectId" = ANY($1::text[])', doomed)
            deleted = int(status.split()[-1])
            if deleted:
                await self._notify_class(conn, cls)
            return deleted

    # ---- relations ----

    async def add_relation(self, cls: ClassDef, key: str, owning_id: str, related_ids: Sequence[str]) -> None:
        name = join_table(cls.name, key)
        async with self._conn("add_relation", write=True) as conn:
            await self._ensure_join(conn, name)
            await conn.executemany(
                f'INSERT INTO {quote_ident(name)} ("relatedId", "owningId") VALUES ($1, $2) ON CONFLICT DO NOTHING',
                [(rid, owning_id) for rid in related_ids])
            await self._notify_class(conn, cls)

    async def remove_relation(self, cls: ClassDef, key: str, owning_id: str, related_ids: Sequence[str]) -> None:
        name = join_table(cls.name, key)
        if not related_ids:
            return
        async with self._conn("remove_relation", write=True) as conn:
            if await self._columns_of(conn, name) is None:
                return
            await conn.execute(f'DELETE FROM {quote_ident(name)} WHERE "owningId" = $1 AND "relatedId" = ANY($2)',
                               owning_id, list(related_ids))
            await self._notify_class(conn, cls)

    async def related_ids(self, cls: ClassDef, key: str, owning_ids: Sequence[str]) -> list[str]:
        return await self._join_column(join_table(cls.name, key), "owningId", owning_ids, "relatedId")

    async def owning_ids(self, cls: ClassDef, key: str, related_ids: Sequence[str]) -> list[str]:
        return await self._join_column(join_table(cls.name, key), "relatedId", related_ids, "owningId")

    async def _join_column(self, name: str, by: str, values: Sequence[str], wanted: str) -> list[str]:
        if not values:
            return []
        async with self._conn("relation lookup") as conn:
            if await self._columns_of(conn, name) is None:
                return []
            # ctid order is insertion order for rows never updated, which join rows never are.
            rows = await conn.fetch(f"SELECT {quote_ident(wanted)} AS v FROM {quote_ident(name)} "
                                    f"WHERE {quote_ident(by)} = ANY($1::text[]) ORDER BY ctid", list(values))
        return list(dict.fromkeys(r["v"] for r in rows))

