"""Long ACL principal lists as temporary tables on reader connections: built once per connection, bounded, and
the reader stays read-only around them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.storage.sqlite_driver import sqlite3
from engine.storage.sqlite_principals import TABLES_PER_CONNECTION, PrincipalTables, table_name


def _reader(tmp_path: Path) -> sqlite3.Connection:
    db = tmp_path / "p.db"
    sqlite3.connect(db).close()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA query_only = 1")
    return conn


def _temp_tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_temp_master WHERE type = 'table'")}


def test_a_set_is_built_once_and_the_reader_stays_read_only(tmp_path: Path) -> None:
    conn, tables = _reader(tmp_path), PrincipalTables()
    names = json.dumps(["*", "u1", *(f"role:r{i}" for i in range(100))])
    name = table_name(names)
    tables.ensure(conn, {name: names})
    assert conn.execute(f'SELECT count(*) FROM temp."{name}"').fetchone()[0] == 102
    assert conn.execute(f"SELECT 'role:r7' IN (SELECT name FROM temp.\"{name}\")").fetchone()[0] == 1
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("CREATE TABLE t (a)")
    tables.ensure(conn, {name: names})  # held: nothing rebuilt
    assert conn.execute(f'SELECT count(*) FROM temp."{name}"').fetchone()[0] == 102


def test_tables_per_connection_are_bounded_least_recently_used_first(tmp_path: Path) -> None:
    conn, tables = _reader(tmp_path), PrincipalTables()
    sets = [json.dumps([f"u{k}", *(f"role:r{i}" for i in range(40))]) for k in range(TABLES_PER_CONNECTION + 5)]
    first = table_name(sets[0])
    tables.ensure(conn, {table_name(sets[0]): sets[0]})
    for s in sets[1:]:
        tables.ensure(conn, {first: sets[0], table_name(s): s})  # the first set stays in use
    held = _temp_tables(conn)
    assert len(held) == TABLES_PER_CONNECTION
    assert first in held
    assert table_name(sets[1]) not in held  # the least recently used went first
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("CREATE TABLE t (a)")


def test_each_connection_gets_its_own_copy(tmp_path: Path) -> None:
    a, b, tables = _reader(tmp_path), _reader(tmp_path), PrincipalTables()
    names = json.dumps([f"role:r{i}" for i in range(50)])
    tables.ensure(a, {table_name(names): names})
    tables.ensure(b, {table_name(names): names})
    assert _temp_tables(a) == _temp_tables(b) == {table_name(names)}
