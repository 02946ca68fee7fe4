"""SQLiteAdapter: the StorageAdapter persisted in one SQLite file (WAL), the whole query language run in SQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

import aiosqlite

from engine.errors import ErrorCode, ParseError
from engine.query.deadline import current_deadline
from engine.query.options import FindOptions
from engine.query.where import Where
from engine.schema.model import ClassDef, FieldType
from engine.storage import sqlite_statistics as statistics
from engine.storage.aggregate_plan import StorePlan
from engine.storage.base import (
    DUPLICATE_MESSAGE,
    INTERNAL_MESSAGE,
    SCHEMA_TOPIC,
    UNIQUE_OVER_DUPLICATES,
    Changes,
    StoredObject,
    topics_for_class,
)
from engine.storage.encoded import EncodedObject
from engine.storage.memory import BUILTIN_UNIQUE, apply_changes
from engine.storage.sql_aggregate import Statement, distinct_statement, group_statement, sqlite_dialect
from engine.storage.sql_compile import Compiler
from engine.storage.sqlite_changes import ChangeCounters, feed_path
from engine.storage.sqlite_codec import (
    INSERT_COLUMNS,
    ROW_COLUMNS,
    decode_row,
    dumps,
    encode_row,
    encoded_columns,
    encoded_row,
    schema_from_text,
    schema_text,
)
from engine.storage.sqlite_commit import GroupCommitter
from engine.storage.sqlite_driver import connect, sqlite3
from engine.storage.sqlite_functions import register_functions
from engine.storage.sqlite_nodes import index_companions, index_expression, index_value_is_scalar, quote_ident
from engine.storage.sqlite_principals import PrincipalTables
from engine.storage.sqlite_readers import ReaderPool, install_deadline_check, reader_count
from engine.storage.sqlite_shadows import (
    ReaderShadows,
    Shadow,
    WriterShadows,
    add_shadows,
    drop_shadows,
    shadow_of,
    shadows_in,
)
from engine.storage.sqlite_write_lock import WriteLock, lock_path
from engine.wire import Value

log = logging.getLogger(__name__)

T = TypeVar("T")
# A read's SQL with the table's shadow columns put in (sqlite_shadows.py).
Shade = Callable[[str], str]

SCHEMA_TABLE = "_SCHEMA"
BUSY_TIMEOUT_MS = 10_000
_JOIN_PREFIX = "_Join:"
# Index names are database-wide in SQLite: these prefixes keep each class's (and ours apart from the schema's).
_SCHEMA_INDEX = "idx:{cls}:{name}"
_BUILTIN_INDEX = "builtin:{cls}:{field}"
_POINTER_INDEX = "pointer:{cls}:{field}"
# Keys the server itself looks objects up by on every request that carries them: a session token (and the
# legacy one kept on the user) is resolved per authenticated request, which must not read the whole table.
_LOOKUP_KEYS = {"_Session": ("sessionToken",), "_User": ("_session_token",), "_Installation": ("installationId",)}


def database_path(uri_or_path: str) -> str:
    """``sqlite:///relative.db``, ``sqlite:////abs/path.db`` (or ``sqlite:/abs``), or a bare filesystem path."""
    text = uri_or_path
    if text.lower().startswith("sqlite:"):
        text = text[len("sqlite:"):]
        if text.startswith("//"):
            text = text[2:]
            if not text.startswith("/"):
                raise ValueError("a sqlite URI names a file: sqlite:///relative/path.db or sqlite:////abs/path.db")
            text = text[1:]  # sqlite:///x is the relative path x; sqlite:////x keeps x's leading slash
        text = unquote(text.split("?", 1)[0])
    if not text or text == ":memory:" or text.startswith("file:"):
        raise ValueError(f"the sqlite storage needs a file path, got {uri_or_path!r}")
    return text


def _join_table(cls: ClassDef, key: str) -> str:
    return f"{_JOIN_PREFIX}{key}:{cls.name}"


@dataclass(frozen=True, slots=True)
class _Index:
    statement: str  # the CREATE statement, as sqlite_master keeps it
    shadows: tuple[Shadow, ...]  # the shadow columns it is built on (sqlite_shadows.py)


# One term of an index: the SQL value, whether it is always a scalar (then a shadow column holds it), direction.
_Term = tuple[str, bool, str]


def _key_terms(cls: ClassDef, key: str, direction: str) -> list[_Term]:
    """An index's terms for one key: the value the compiler compares, then what it tests beside it."""
    value = (index_expression(cls, key, False), index_value_is_scalar(cls, key, False), direction)
    return [value, *((companion, True, "") for companion in index_companions(cls, key))]


def _index(cls: ClassDef, name: str, terms: Sequence[_Term], unique: bool = False) -> _Index:
    shadows: list[Shadow] = []
    parts: list[str] = []
    for sql, scalar, direction in terms:
        shadow = shadow_of(sql) if scalar else None
        if shadow is not None:
            shadows.append(shadow)
        parts.append((sql if shadow is None else shadow.column) + direction)
    statement = (f"CREATE {'UNIQUE ' if unique else ''}INDEX {quote_ident(name)} ON {quote_ident(cls.name)} "
                 f"({', '.join(parts)})")
    return _Index(statement, tuple(shadows))


def _indexes(cls: ClassDef) -> dict[str, _Index]:
    """Every index the class should have, by name."""
    out: dict[str, _Index] = {}
    for field in BUILTIN_UNIQUE.get(cls.name, ()):
        key = ".".join(field)
        name = _BUILTIN_INDEX.format(cls=cls.name, field=key)
        out[name] = _index(cls, name, [(index_expression(cls, key, True), index_value_is_scalar(cls, key, True), "")],
                           unique=True)
    for key in _LOOKUP_KEYS.get(cls.name, ()):
        name = _BUILTIN_INDEX.format(cls=cls.name, field=key)
        out[name] = _index(cls, name, _key_terms(cls, key, ""))
    for key, fdef in cls.fields.items():
        if fdef.type is FieldType.POINTER:
            # Pointer equality ("this patient's studies") is the commonest app query, and an includer's
            # `$in`: each declared pointer is indexed by the objectId the compiler compares first.
            name = _POINTER_INDEX.format(cls=cls.name, field=key)
            out[name] = _index(cls, name, _key_terms(cls, key, ""))
    for index_name, spec in cls.indexes.items():
        if index_name == "_id_" or not isinstance(spec, Mapping):
            continue
        unique = spec.get("unique") is True
        keys = [(str(key), " DESC" if direction == -1 else "") for key, direction in spec.items() if key != "unique"]
        if not keys or any(spec[key] not in (1, -1) for key, _ in keys):
            continue  # text and geo indexes have no SQLite counterpart: queries scan
        terms = [(index_expression(cls, key, unique), index_value_is_scalar(cls, key, unique), direction)
                 for key, direction in keys]
        if [sql for sql, _, _ in terms] == ["objectId"] and not unique:
            continue
        if len(keys) == 1 and not unique:
            # One key: the type tests beside it ride along (a unique index keeps comparing whole values only).
            terms = _key_terms(cls, *keys[0])
        name = _SCHEMA_INDEX.format(cls=cls.name, name=index_name)
        out[name] = _index(cls, name, terms, unique)
    return out


def _index_leads(cls: ClassDef) -> frozenset[str]:
    """The SQL values the schema's indexes lead with (as the compiler spells them, before shadowing): a GROUP BY on
    one walks that index in order instead of sorting the rows."""
    leads: set[str] = set()
    for index_name, spec in cls.indexes.items():
        if index_name == "_id_" or not isinstance(spec, Mapping):
            continue
        keys = [str(key) for key in spec if key != "unique"]
        if keys and all(spec[key] in (1, -1) for key in keys):
            leads.add(index_expression(cls, keys[0], spec.get("unique") is True))
    return frozenset(leads)


def _translated(action: str, exc: sqlite3.Error) -> ParseError:
    """A SQLite failure as the ParseError to raise, whose text never carries SQLite's message. (A plain function
    in an except clause: a context manager around every read and write cost a generator each.)"""
    if isinstance(exc, sqlite3.IntegrityError):
        return ParseError(ErrorCode.DUPLICATE_VALUE, DUPLICATE_MESSAGE)
    log.error("SQLite %s failed", action, exc_info=exc)
    return ParseError(ErrorCode.INTERNAL_SERVER_ERROR, INTERNAL_MESSAGE)


SYNCHRONOUS_MODES = ("FULL", "NORMAL")
_NO_PRINCIPALS: Mapping[str, str] = MappingProxyType({})
_UPDATE_PLACES = {"data": "?5", "internal": "?6"}


def synchronous_mode(uri_or_path: str) -> str:
    """`?synchronous=NORMAL` on the URI trades power-loss durability for write speed; FULL is the default."""
    query = parse_qs(urlsplit(uri_or_path).query) if uri_or_path.lower().startswith("sqlite:") else {}
    mode = (query.get("synchronous") or ["FULL"])[0].upper()
    if mode not in SYNCHRONOUS_MODES:
        raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}, got {mode!r}")
    return mode


def _setup(conn: sqlite3.Connection, *, writer: bool, synchronous: str = "FULL") -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if writer:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"could not switch the database to WAL mode (got {mode})")
        # FULL: a commit is on disk (WAL fsynced) before it is acknowledged, so it survives a crash or power loss.
        # NORMAL (opt-in): it still survives kill -9 of the server, but the last commits may go with the power.
        assert synchronous in SYNCHRONOUS_MODES
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        # A deleted or overwritten record (a patient's note) is zeroed in the file, not left in free pages for
        # anyone holding a copy of it. Debian builds SQLite with this on; the wheels do not.
        conn.execute("PRAGMA secure_delete = ON")
        conn.execute(f"CREATE TABLE IF NOT EXISTS {quote_ident(SCHEMA_TABLE)} "
                     "(className TEXT PRIMARY KEY, schema TEXT NOT NULL)")
    else:
        conn.execute("PRAGMA query_only = 1")
    register_functions(conn)


def _table_names(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _table_exists(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone()
    return row is not None


class SQLiteAdapter:
    """One database file. Writes go through one connection, one transaction at a time (aiosqlite runs each
    connection on its own thread, and a whole write runs there in one call); reads go to a pool of read-only
    connections (sqlite_readers.py), which WAL lets run beside the writer and beside each other.

    ``max_time_ms`` bounds each read (Parse Server's ``databaseOptions.maxTimeMS``); None or 0: unbounded."""

    def __init__(self, uri_or_path: str, *, max_time_ms: int | None = None) -> None:
        self.path = database_path(uri_or_path)
        self.synchronous = synchronous_mode(uri_or_path)
        self.readers = reader_count(uri_or_path)
        self.max_time_ms = max_time_ms if max_time_ms and max_time_ms > 0 else None
        self._writer: aiosqlite.Connection | None = None
        self._pool: ReaderPool | None = None
        # Tables known to exist: touched on the writer thread after commit, read anywhere (set ops are atomic).
        self._tables: set[str] = set()
        self._committer: GroupCommitter | None = None
        # Change feed (base.ChangeFeed) shared with every process serving the same file (sqlite_changes.py).
        self._changes: ChangeCounters | None = None
        # Shared with every process serving the same file: their group transactions take turns through it.
        self._lock: WriteLock | None = None
        self._principals = PrincipalTables()  # long ACL principal lists kept on each reader connection
        self._statistics_clock = statistics.WriteClock(statistics.WRITES_BETWEEN)
        self._refreshing: asyncio.Task[None] | None = None
        self._writer_shadows = WriterShadows(INSERT_COLUMNS)  # the writer thread's alone
        self._reader_shadows = ReaderShadows()

    # ---- connection ----

    async def open(self) -> None:
        if self._writer is not None:
            return
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        lock = WriteLock(lock_path(self.path))
        try:
            writer = await connect(self.path, isolation_level=None)
        except BaseException:
            lock.close()
            raise
        readers: list[aiosqlite.Connection] = []
        try:
            await _call(writer, lambda conn: _setup(conn, writer=True, synchronous=self.synchronous))
            for _ in range(self.readers):
                reader = await connect(self.path, isolation_level=None)
                readers.append(reader)
                await _call(reader, self._setup_reader)
            self._tables = await _call(writer, _table_names)
        except BaseException:
            for conn in (*readers, writer):
                await conn.close()
            lock.close()
            raise
        self._writer, self._pool, self._lock = writer, ReaderPool(readers, self.max_time_ms), lock
        self._principals = PrincipalTables()  # new connections hold none (an old one's id may come back)
        self._changes = ChangeCounters(feed_path(self.path))
        # Beside the first requests, not before them: another process may hold the write lock for a while.
        self._refreshing = asyncio.get_running_loop().create_task(self._maintain_at_open())

    async def _maintain_at_open(self) -> None:
        await self._upgrade_indexes()
        await self._refresh_statistics()

    async def _upgrade_indexes(self) -> None:
        """Give each class the indexes this version builds, where its table has others: a file written before shadow
        columns gets them, filled, with its indexes rebuilt on them (one class per write, so requests' writes
        interleave). Until then its queries run on the old indexes, with the same answers."""
        def run(conn: sqlite3.Connection, created: set[str], name: str) -> bool:
            # The schema as it is now, inside the write: a save_schema since the listing must not be undone.
            row = conn.execute(f"SELECT schema FROM {quote_ident(SCHEMA_TABLE)} WHERE className = ?",
                               (name,)).fetchone()
            cls = schema_from_text(row[0]) if row else None
            if cls is None or not _table_exists(conn, name) or not self._sync_indexes(conn, cls):
                return False
            conn.execute(f"ANALYZE {quote_ident(name)}")  # the new indexes' planner statistics
            return True

        try:
            for cls in await self.load_schemas():
                if await self._write("upgrade indexes", run, cls.name) and self._changes is not None:
                    self._changes.bump((SCHEMA_TOPIC,))  # every process's readers then read the new columns
        except ParseError:
            log.warning("could not upgrade the indexes", exc_info=True)  # queries keep the old ones

    def _start_statistics_refresh(self) -> None:
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.get_running_loop().create_task(self._refresh_statistics())

    async def _refresh_statistics(self) -> None:
        try:
            await self._write("statistics", statistics.refresh)
        except ParseError:
            log.warning("could not refresh the planner statistics", exc_info=True)  # plans only get worse

    def _setup_reader(self, conn: sqlite3.Connection) -> None:
        _setup(conn, writer=False)
        if self.max_time_ms is not None:
            # Readers only: interrupting a write would roll back the whole group transaction it shares.
            install_deadline_check(conn)

    async def aclose(self) -> None:
        refreshing, self._refreshing = self._refreshing, None
        if refreshing is not None:
            await asyncio.gather(refreshing, return_exceptions=True)
        writer, pool = self._writer, self._pool
        self._writer, self._pool = None, None
        self._committer = None
        changes, self._changes = self._changes, None
        if changes is not None:
            changes.close()
        for conn in (*(pool.connections if pool else ()), writer):
            if conn is not None:
                await conn.close()
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.close()  # after the writer's thread finished its last group

    def _connection(self, conn: aiosqlite.Connection | None) -> aiosqlite.Connection:
        if conn is None:
            raise ParseError(ErrorCode.INTERNAL_SERVER_ERROR, "storage is not open")
        return conn

    def change_count(self, topic: str) -> int:
        return self._changes.count(topic) if self._changes is not None else 0

    async def _write(self, action: str, fn: Callable[..., T], *args: Any, topics: tuple[str, ...] = ()) -> T:
        """Run ``fn(conn, created, *args)`` on the writer thread, in a transaction shared with the writes queued
        beside it (sqlite_commit.py); it returns once that transaction committed, after bumping ``topics`` in the
        change feed so every process's caches see the change before this one is acknowledged."""
        conn = self._connection(self._writer)
        if self._committer is None:
            assert self._lock is not None  # opened with the writer
            self._committer = GroupCommitter(lambda job: _call(conn, job), self._tables.update, self._lock.held,
                                             self._writer_shadows.begin)
        try:
            result: T = await self._committer.submit(fn, *args)
        except sqlite3.Error as exc:
            raise _translated(action, exc) from None
        if topics and self._changes is not None:
            self._changes.bump(topics)
        if self._statistics_clock.tick():
            self._start_statistics_refresh()
        return result

    async def _read(self, action: str, table: str, fn: Callable[[sqlite3.Connection, Shade], T], empty: T,
                    principals: Mapping[str, str] = _NO_PRINCIPALS) -> T:
        """Run a read on a reader thread, within the query budget (124 past it); a class whose table does not
        exist (yet, or any more) is empty. ``fn`` passes its SQL through the shade it is given (the table's
        shadow columns). ``principals``: the compiler's principal tables the statement reads
        (sqlite_principals.py), made on the reader's connection first."""
        pool = self._pool
        if pool is None:
            raise ParseError(ErrorCode.INTERNAL_SERVER_ERROR, "storage is not open")
        shadows = self._reader_shadows.view(self.change_count(SCHEMA_TOPIC))

        def shaded(raw: sqlite3.Connection) -> T:
            try:
                return fn(raw, shadows_in(shadows, raw, table).apply)
            except sqlite3.OperationalError as exc:
                if not str(exc).startswith("no such column"):
                    raise
                # A shadow column another process dropped (with its last index, or its table) since this view
                # was read.
                return fn(raw, shadows_in(shadows, raw, table, refresh=True).apply)

        wrapped = self._principals.wrap(principals, shaded)

        def run(raw: sqlite3.Connection) -> T:
            if table not in self._tables:
                if not _table_exists(raw, table):
                    return empty
                self._tables.add(table)
            try:
                return wrapped(raw)
            except sqlite3.OperationalError:
                deadline = current_deadline()
                if deadline is not None and deadline.passed():
                    raise  # the pool answers the timeout; the table is not the question
                if not _table_exists(raw, table):  # dropped meanwhile (maybe by another process)
                    self._tables.discard(table)
                    return empty
                raise

        try:
            return await pool.run(run)
        except sqlite3.Error as exc:
            raise _translated(action, exc) from None

    # ---- tables and indexes ----

    def _ensure_table(self, conn: sqlite3.Connection, created: set[str], cls: ClassDef) -> None:
        if cls.name in self._tables or cls.name in created:
            return
        table = quote_ident(cls.name)
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {table} (objectId TEXT PRIMARY KEY, createdAt TEXT NOT NULL, "
            "updatedAt TEXT NOT NULL, _rperm TEXT, _wperm TEXT, acl TEXT, data TEXT NOT NULL, internal TEXT NOT NULL)"
        )
        try:
            for name, index in _indexes(cls).items():
                # A table first seen through create() gets the indexes of the ClassDef it came with.
                if not self._index_sql(conn, name):
                    self._create_index(conn, cls.name, index)
        finally:
            self._writer_shadows.clear()  # whatever it added, or rolled back with it
        created.add(cls.name)

    def _index_sql(self, conn: sqlite3.Connection, name: str) -> str | None:
        row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)).fetchone()
        return row[0] if row else None

    def _create_index(self, conn: sqlite3.Connection, table: str, index: _Index) -> None:
        add_shadows(conn, table, index.shadows)
        try:
            conn.execute(index.statement)
        except sqlite3.IntegrityError:
            raise ParseError(ErrorCode.DUPLICATE_VALUE, UNIQUE_OVER_DUPLICATES) from None

    def _sync_indexes(self, conn: sqlite3.Connection, cls: ClassDef) -> bool:
        """Drop the class's indexes the schema no longer asks for (or asks for differently), create the rest, and
        drop the shadow columns no index is built on any more; True when anything changed."""
        wanted = _indexes(cls)
        existing = {
            name: sql
            for name, sql in conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
                (cls.name,),
            )
        }
        changed = False
        try:
            for name, sql in existing.items():
                index = wanted.get(name)
                if index is None or index.statement != sql:
                    conn.execute(f"DROP INDEX {quote_ident(name)}")
                    changed = True
            for name, index in wanted.items():
                if existing.get(name) != index.statement:
                    self._create_index(conn, cls.name, index)
                    changed = True
            if changed:
                drop_shadows(conn, cls.name, (s for index in wanted.values() for s in index.shadows))
        finally:
            self._writer_shadows.clear()
        return changed

    # ---- schemas ----

    async def load_schemas(self) -> list[ClassDef]:
        def run(conn: sqlite3.Connection, shade: Shade) -> list[str]:
            return [r[0] for r in conn.execute(f"SELECT schema FROM {quote_ident(SCHEMA_TABLE)} ORDER BY rowid")]

        texts: list[str] = await self._read("load_schemas", SCHEMA_TABLE, run, [])
        return [cls for cls in map(schema_from_text, texts) if cls is not None]

    async def save_schema(self, cls: ClassDef) -> None:
        text = schema_text(cls)

        def run(conn: sqlite3.Connection, created: set[str]) -> None:
            self._ensure_table(conn, created, cls)
            self._sync_indexes(conn, cls)
            conn.execute(
                f"INSERT INTO {quote_ident(SCHEMA_TABLE)} (className, schema) VALUES (?, ?) "
                "ON CONFLICT (className) DO UPDATE SET schema = excluded.schema",
                (cls.name, text),
            )

        await self._write("save_schema", run, topics=(SCHEMA_TOPIC,))

    async def drop_class(self, cls: ClassDef) -> None:
        def run(conn: sqlite3.Connection, created: set[str]) -> list[str]:
            dropped = [cls.name]
            for name in _table_names(conn):
                parts = name.split(":")
                if len(parts) == 3 and name.startswith(_JOIN_PREFIX) and parts[2] == cls.name:
                    dropped.append(name)
            self._writer_shadows.clear()
            for name in dropped:
                conn.execute(f"DROP TABLE IF EXISTS {quote_ident(name)}")
            conn.execute(f"DELETE FROM {quote_ident(SCHEMA_TABLE)} WHERE className = ?", (cls.name,))
            return dropped

        for name in await self._write("drop_class", run, topics=(SCHEMA_TOPIC, *topics_for_class(cls.name))):
            self._tables.discard(name)

    # ---- objects ----

    async def create(self, cls: ClassDef, obj: StoredObject) -> None:
        row = encode_row(cls, obj)

        def run(conn: sqlite3.Connection, created: set[str]) -> None:
            self._ensure_table(conn, created, cls)
            conn.execute(self._writer_shadows.insert_sql(conn, cls.name), row)

        await self._write("insert", run, topics=topics_for_class(cls.name))

    async def create_many(self, cls: ClassDef, objs: Sequence[StoredObject]) -> list[ParseError | None]:
        """One writer job for all the rows: one statement run over them, so the writer thread takes the GIL
        back once rather than three times a row. A row that breaks a unique index sends the job back over the
        rows one at a time, each in its own savepoint, so only that row fails."""
        if not objs:
            return []
        rows = [encode_row(cls, obj) for obj in objs]

        def run(conn: sqlite3.Connection, created: set[str]) -> list[ParseError | None]:
            self._ensure_table(conn, created, cls)
            sql = self._writer_shadows.insert_sql(conn, cls.name)
            conn.execute("SAVEPOINT rows")
            try:
                conn.executemany(sql, rows)
            except sqlite3.IntegrityError:
                conn.execute("ROLLBACK TO rows")
                return [_insert_alone(conn, sql, row) for row in rows]
            finally:
                conn.execute("RELEASE rows")
            return [None] * len(rows)

        return await self._write("insert", run, topics=topics_for_class(cls.name))

    def _select(self, cls: ClassDef, where: Where, opts: FindOptions,
                columns: str = ROW_COLUMNS) -> tuple[str, dict[str, Any], Mapping[str, str]]:
        compiler = Compiler(cls, principal_tables=True)
        condition = compiler.where(where)
        order = compiler.order_by(opts.order, where)
        params = compiler.params
        params["_limit"] = -1 if opts.limit is None else opts.limit
        params["_skip"] = max(opts.skip, 0)
        sql = (f"SELECT {columns} FROM {quote_ident(cls.name)} WHERE {condition} "
               f"ORDER BY {order} LIMIT :_limit OFFSET :_skip")
        return sql, params, compiler.principal_sets

    async def find(self, cls: ClassDef, where: Where, opts: FindOptions) -> list[StoredObject]:
        if opts.limit is not None and opts.limit <= 0:
            return []
        sql, params, sets = self._select(cls, where, opts)

        def run(conn: sqlite3.Connection, shade: Shade) -> list[StoredObject]:
            return [decode_row(cls.name, row) for row in conn.execute(shade(sql), params)]

        return await self._read("find", cls.name, run, [], sets)

    async def find_encoded(self, cls: ClassDef, where: Where, opts: FindOptions) -> list[EncodedObject]:
        """find, answered with the stored JSON itself (engine.storage.encoded): what serving a find needs."""
        if opts.limit is not None and opts.limit <= 0:
            return []
        sql, params, sets = self._select(cls, where, opts, encoded_columns(cls.name))

        def run(conn: sqlite3.Connection, shade: Shade) -> list[EncodedObject]:
            return [encoded_row(cls.name, row) for row in conn.execute(shade(sql), params)]

        return await self._read("find", cls.name, run, [], sets)

    async def explain(self, cls: ClassDef, where: Where, opts: FindOptions) -> list[dict[str, Any]]:
        """SQLite's own plan for the query a find would run (`explain=true`, master key only)."""
        sql, params, sets = self._select(cls, where, opts)

        def run(conn: sqlite3.Connection, shade: Shade) -> list[dict[str, Any]]:
            rows = conn.execute("EXPLAIN QUERY PLAN " + shade(sql), params).fetchall()
            return [{"id": r[0], "parent": r[1], "detail": r[3]} for r in rows]

        return await self._read("explain", cls.name, run, [], sets)

    async def count(self, cls: ClassDef, where: Where) -> int:
        compiler = Compiler(cls, principal_tables=True)
        condition = compiler.where(where)
        sql = f"SELECT count(*) FROM {quote_ident(cls.name)} WHERE {condition}"

        def run(conn: sqlite3.Connection, shade: Shade) -> int:
            return int(conn.execute(shade(sql), compiler.params).fetchone()[0])

        return await self._read("count", cls.name, run, 0, compiler.principal_sets)

    # ---- aggregation (sql_aggregate.py writes the statements) ----

    async def aggregate(self, cls: ClassDef, plan: StorePlan) -> list[dict[str, Any]] | None:
        compiler = Compiler(cls, principal_tables=True)
        stmt = group_statement(cls, plan, quote_ident(cls.name), compiler.where(plan.where),
                               sqlite_dialect(cls, _index_leads(cls)))
        empty: list[dict[str, Any]] | None = []
        return await self._read("aggregate", cls.name,
                                lambda conn, shade: _run_statement(conn, shade, stmt, compiler.params),
                                empty, compiler.principal_sets)

    async def distinct(self, cls: ClassDef, where: Where, field: str) -> list[Value] | None:
        compiler = Compiler(cls, principal_tables=True)
        stmt = distinct_statement(cls, field, quote_ident(cls.name), compiler.where(where), sqlite_dialect(cls))
        empty: list[dict[str, Any]] | None = []
        docs = await self._read("distinct", cls.name,
                                lambda conn, shade: _run_statement(conn, shade, stmt, compiler.params),
                                empty, compiler.principal_sets)
        return None if docs is None else [d["v"] for d in docs]

    async def update(self, cls: ClassDef, where: Where, changes: Changes) -> StoredObject | None:
        compiler = Compiler(cls)
        condition = compiler.where(where)
        table = quote_ident(cls.name)
        select = f"SELECT rowid, {ROW_COLUMNS} FROM {table} WHERE {condition} ORDER BY rowid LIMIT 1"
        write = f"UPDATE {table} SET updatedAt = ?, _rperm = ?, _wperm = ?, acl = ?, data = ?, internal = ?"

        def run(conn: sqlite3.Connection, created: set[str]) -> StoredObject | None:
            if cls.name not in self._tables and not _table_exists(conn, cls.name):
                return None
            shadows = self._writer_shadows.get(conn, cls.name)
            row = conn.execute(shadows.apply(select), compiler.params).fetchone()
            if row is None:
                return None
            # Read, modify and write in one transaction: the memory adapter's semantics, atomically.
            target = decode_row(cls.name, row[1:])
            updated = apply_changes(target, changes)
            encoded = encode_row(cls, updated)
            # The new data and internal are ?5 and ?6; the shadow columns are read from them.
            conn.execute(write + shadows.assignments(_UPDATE_PLACES) + " WHERE rowid = ?", (*encoded[2:], row[0]))
            # What a later find returns (e.g. a File column keeps only its name).
            return decode_row(cls.name, (*encoded[:3], *encoded[5:]))

        return await self._write("update", run, topics=topics_for_class(cls.name))

    async def delete(self, cls: ClassDef, where: Where) -> int:
        compiler = Compiler(cls)
        sql = f"DELETE FROM {quote_ident(cls.name)} WHERE {compiler.where(where)}"

        def run(conn: sqlite3.Connection, created: set[str]) -> int:
            if cls.name not in self._tables and not _table_exists(conn, cls.name):
                return 0
            shadows = self._writer_shadows.get(conn, cls.name)
            return int(conn.execute(shadows.apply(sql), compiler.params).rowcount)

        return await self._write("delete", run, topics=topics_for_class(cls.name))

    # ---- relations ----

    async def add_relation(self, cls: ClassDef, key: str, owning_id: str, related_ids: Sequence[str]) -> None:
        name = _join_table(cls, key)
        table = quote_ident(name)

        def run(conn: sqlite3.Connection, created: set[str]) -> None:
            if name not in self._tables:
                conn.execute(f"CREATE TABLE IF NOT EXISTS {table} "
                             "(owningId TEXT NOT NULL, relatedId TEXT NOT NULL, PRIMARY KEY (owningId, relatedId))")
                conn.execute(f"CREATE INDEX IF NOT EXISTS {quote_ident(name + ':relatedId')} ON {table} (relatedId)")
                created.add(name)
            conn.executemany(f"INSERT OR IGNORE INTO {table} (owningId, relatedId) VALUES (?, ?)",
                             [(owning_id, rid) for rid in related_ids])

        await self._write("add_relation", run, topics=topics_for_class(cls.name))

    async def remove_relation(self, cls: ClassDef, key: str, owning_id: str, related_ids: Sequence[str]) -> None:
        name = _join_table(cls, key)
        if not related_ids:
            return
        sql = (f"DELETE FROM {quote_ident(name)} WHERE owningId = ? "
               "AND relatedId IN (SELECT value FROM json_each(?))")

        def run(conn: sqlite3.Connection, created: set[str]) -> None:
            if name in self._tables or _table_exists(conn, name):
                conn.execute(sql, (owning_id, dumps(list(related_ids))))

        await self._write("remove_relation", run, topics=topics_for_class(cls.name))

    async def related_ids(self, cls: ClassDef, key: str, owning_ids: Sequence[str]) -> list[str]:
        return await self._join_column(_join_table(cls, key), "owningId", owning_ids, "relatedId")

    async def owning_ids(self, cls: ClassDef, key: str, related_ids: Sequence[str]) -> list[str]:
        return await self._join_column(_join_table(cls, key), "relatedId", related_ids, "owningId")

    async def _join_column(self, name: str, by: str, values: Sequence[str], wanted: str) -> list[str]:
        if not values:
            return []
        # rowid order is insertion order, which is the order the memory adapter answers in.
        sql = f"SELECT {wanted} FROM {quote_ident(name)} WHERE {by} IN (SELECT value FROM json_each(?)) ORDER BY rowid"
        arg = dumps(list(values))

        def run(conn: sqlite3.Connection, shade: Shade) -> list[str]:
            return list(dict.fromkeys(r[0] for r in conn.execute(sql, (arg,))))

        return await self._read("relation lookup", name, run, [])



def _insert_alone(conn: sqlite3.Connection, sql: str, row: tuple[object, ...]) -> ParseError | None:
    conn.execute("SAVEPOINT row")
    try:
        conn.execute(sql, row)
    except sqlite3.IntegrityError as exc:
        conn.execute("ROLLBACK TO row")
        return _translated("insert", exc)
    finally:
        conn.execute("RELEASE row")
    return None


def _run_statement(conn: sqlite3.Connection, shade: Shade, stmt: Statement,
                   params: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    try:
        rows = conn.execute(shade(stmt.sql), params).fetchall()
    except sqlite3.OperationalError as exc:
        if "integer overflow" in str(exc):
            return None  # a sum past 64 bits: the Python stages widen it to a double, as Mongo does
        raise
    return [doc for doc in map(stmt.decode, rows) if doc]


async def _call(conn: aiosqlite.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``fn`` on the connection's own thread with its sqlite3 connection, as one queued call.

    aiosqlite exposes no public way to run a function there; ``_execute`` and ``_conn`` are what its own
    methods use. One call per operation is what makes a read-modify-write atomic and keeps writes in order."""
    result: T = await conn._execute(lambda: fn(conn._conn))  # type: ignore[no-untyped-call]
    return result
