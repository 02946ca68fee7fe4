"""Shadow columns: the scalar JSON values a SQLite table's indexes key on, copied into plain columns of the row.

An index on ``json_extract(data, ...)`` expressions answers searches, but SQLite never counts such an index as
covering: walking it, each entry costs a deferred seek into the table, about a quarter of a `$group` over an
index (20.5 against 15.7 ms per 100 000 entries, measured in one process). An index on plain columns is covering.
Generated columns do not help: SQLite treats an index on one (even STORED) like the expression index.

So every scalar JSON term of an index gets a column holding the same value, and the index is built on the column:

- A shadow column is named ``$`` + the expression it holds, so a table describes its own shadows (PRAGMA
  table_info) whatever schema a process has cached, and one name can only ever mean one value.
- SQLite computes the value on every write from the same JSON text the row stores (the INSERT and UPDATE below
  apply the expression to the bound ``data``/``internal`` parameter): the column can never disagree with the row.
- A query is the compiler's SQL with each shadowed expression replaced by its column (``TableShadows.apply``),
  which only changes which index SQLite can use, never the value read.
- Only scalars are shadowed (a JSON type name, or a field the schema declares a string, number or boolean, or
  the string part of a date, pointer or file): a container read through ``json_extract`` carries a JSON subtype
  that a plain column would lose.
- A shadow column goes with the last index built on it. A reader in another process may still name it in its
  next statement: SQLite refuses that statement ("no such column", which is why the columns are backquoted), and
  the reader rereads the table's columns and runs it again. A reader whose list lacks a column just added reads
  the expression instead, with the same answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from engine.storage.sqlite_driver import sqlite3
from engine.storage.sqlite_nodes import quote_ident

PREFIX: Final = "$"
# The two spellings the compiler and the index builder use for a JSON read of a row (sqlite_nodes.json_get and
# Node.t), with the path as one SQL string literal.
_TERM = re.compile(r"(json_extract|json_type)\((data|internal), ('(?:[^']|'')*')\)")


@dataclass(frozen=True, slots=True)
class Shadow:
    expression: str  # as the compiler spells it, over the row's own column
    function: str
    root: str  # "data" or "internal"
    path: str  # the JSON path, as its SQL literal

    @property
    def name(self) -> str:
        return PREFIX + self.expression

    @property
    def column(self) -> str:
        # Backquoted, never double-quoted: SQLite reads a double-quoted name that is no column as a string literal,
        # so a column missing from the table would compare as text instead of failing.
        return "`" + self.name.replace("`", "``") + "`"

    def over(self, source: str) -> str:
        """The same read over another spelling of the root (a bound parameter)."""
        return f"{self.function}({source}, {self.path})"


def shadow_of(expression: str) -> Shadow | None:
    """The shadow for one of the compiler's JSON reads of a row, or None for anything else."""
    match = _TERM.fullmatch(expression)
    if match is None:
        return None
    function, root, path = match.groups()
    return Shadow(expression, function, root, path)


@dataclass(frozen=True, slots=True)
class TableShadows:
    """The shadow columns one table has, in column order."""

    shadows: tuple[Shadow, ...] = ()
    _columns: dict[str, str] = field(default_factory=dict, compare=False)
    _pattern: re.Pattern[str] | None = field(default=None, compare=False)

    @staticmethod
    def of(shadows: Iterable[Shadow]) -> TableShadows:
        kept = tuple(shadows)
        columns = {s.expression: s.column for s in kept}
        # Longest first, in one pass: no expression is re-read inside a column name already put in.
        pattern = re.compile("|".join(map(re.escape, sorted(columns, key=len, reverse=True)))) if kept else None
        return TableShadows(kept, columns, pattern)

    @property
    def expressions(self) -> frozenset[str]:
        return frozenset(self._columns)

    def apply(self, sql: str) -> str:
        """``sql`` reading the shadow columns in place of the expressions they hold."""
        if self._pattern is None:
            return sql
        columns = self._columns
        return self._pattern.sub(lambda m: columns[m.group(0)], sql)

    def insert_sql(self, table: str, columns: tuple[str, ...]) -> str:
        """An INSERT of ``columns`` (bound positionally) that also fills every shadow column from them."""
        marks = ["?"] * len(columns)
        places = {name: f"?{i}" for i, name in enumerate(columns, start=1)}
        names = [*columns, *(s.column for s in self.shadows)]
        values = [*marks, *(s.over(places[s.root]) for s in self.shadows)]
        return f"INSERT INTO {quote_ident(table)} ({', '.join(names)}) VALUES ({', '.join(values)})"

    def assignments(self, places: dict[str, str]) -> str:
        """``, col = expr`` for an UPDATE whose new ``data``/``internal`` are the parameters in ``places``."""
        return "".join(f", {s.column} = {s.over(places[s.root])}" for s in self.shadows)


def read_shadows(conn: sqlite3.Connection, table: str) -> TableShadows:
    """The shadow columns ``table`` has now (none when it does not exist)."""
    names = [row[1] for row in conn.execute(f"PRAGMA table_info({quote_ident(table)})")]
    found = [shadow_of(name[len(PREFIX):]) for name in names if name.startswith(PREFIX)]
    return TableShadows.of(s for s in found if s is not None)


def insert_sql(conn: sqlite3.Connection, table: str, columns: tuple[str, ...]) -> str:
    """For code that writes rows itself (bulk loads, tools): the INSERT that keeps ``table``'s shadows filled."""
    return read_shadows(conn, table).insert_sql(table, columns)


def add_shadows(conn: sqlite3.Connection, table: str, wanted: Iterable[Shadow]) -> TableShadows:
    """Give ``table`` a filled column for each of ``wanted`` it lacks (inside the caller's transaction); returns
    every shadow the table then has."""
    have = read_shadows(conn, table)
    present = have.expressions
    missing = [s for s in dict.fromkeys(wanted) if s.expression not in present]
    for shadow in missing:
        conn.execute(f"ALTER TABLE {quote_ident(table)} ADD COLUMN {shadow.column}")
    if missing:
        fill = ", ".join(f"{s.column} = {s.expression}" for s in missing)
        conn.execute(f"UPDATE {quote_ident(table)} SET {fill}")
        have = TableShadows.of((*have.shadows, *missing))
    return have


def drop_shadows(conn: sqlite3.Connection, table: str, keep: Iterable[Shadow]) -> None:
    """Drop ``table``'s shadow columns that are not in ``keep`` (no index may use them any more)."""
    kept = {s.expression for s in keep}
    for shadow in read_shadows(conn, table).shadows:
        if shadow.expression not in kept:
            conn.execute(f"ALTER TABLE {quote_ident(table)} DROP COLUMN {shadow.column}")


class WriterShadows:
    """The writer connection's view of each table's shadow columns, exact inside its transaction: checked against
    SQLite's schema version at the start of every group transaction (another process may have added columns),
    and cleared by this process's own schema changes (``clear``), whether they commit or roll back. ``columns``:
    what the store's INSERT binds, positionally."""

    def __init__(self, columns: tuple[str, ...]) -> None:
        self._columns = columns
        self._tables: dict[str, tuple[TableShadows, str]] = {}
        self._version = -1

    def begin(self, conn: sqlite3.Connection) -> None:
        version = int(conn.execute("PRAGMA schema_version").fetchone()[0])
        if version != self._version:
            self._tables.clear()
            self._version = version

    def clear(self) -> None:
        self._tables.clear()

    def _entry(self, conn: sqlite3.Connection, table: str) -> tuple[TableShadows, str]:
        entry = self._tables.get(table)
        if entry is None:
            shadows = read_shadows(conn, table)
            entry = self._tables[table] = (shadows, shadows.insert_sql(table, self._columns))
        return entry

    def get(self, conn: sqlite3.Connection, table: str) -> TableShadows:
        return self._entry(conn, table)[0]

    def insert_sql(self, conn: sqlite3.Connection, table: str) -> str:
        """The INSERT of the columns into ``table`` (positional parameters) that fills its shadow columns."""
        return self._entry(conn, table)[1]


class ReaderShadows:
    """The readers' view of each table's shadow columns, read from the table on first use and forgotten when the
    schema changes (``view`` is given the schema topic's change count). A view older than another process's new
    index lacks its columns, which only costs speed; one older than a dropped and re-made table may name a column
    gone with it, which the reader answers by reading the table's columns again (``refresh``)."""

    def __init__(self) -> None:
        self._tables: dict[str, TableShadows] = {}
        self._stamp = -1

    def view(self, stamp: int) -> dict[str, TableShadows]:
        """The cache for this change count; a reader thread fills it (dict updates are atomic)."""
        if stamp != self._stamp:
            self._tables, self._stamp = {}, stamp
        return self._tables


def shadows_in(cache: dict[str, TableShadows], conn: sqlite3.Connection, table: str, *,
               refresh: bool = False) -> TableShadows:
    shadows = None if refresh else cache.get(table)
    if shadows is None:
        shadows = cache[table] = read_shadows(conn, table)
    return shadows
