"""Fast seeding for the scale mode: rows written straight into our SQLite file with the engine's own row encoder
(engine.storage.sqlite_codec), in large transactions — about two orders of magnitude faster than REST `/batch`.
The class must exist (created through `/schemas`, so its table and indexes are the server's own)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from engine.storage.base import StoredObject
from engine.storage.sqlite_codec import INSERT_COLUMNS, encode_row, schema_from_text
from engine.storage.sqlite_driver import sqlite3
from engine.storage.sqlite_shadows import insert_sql
from engine.wire import new_object_id, now

CHUNK = 50_000


def bulk_insert(db: Path, class_name: str, first: int, count: int,
                make: Callable[[int], Mapping[str, Any]]) -> list[str]:
    """Insert rows ``make(first) .. make(first + count - 1)`` (public ACL); their ids, in order."""
    conn = sqlite3.connect(db, timeout=30, isolation_level=None)
    try:
        text = conn.execute("SELECT schema FROM _SCHEMA WHERE className = ?", (class_name,)).fetchone()
        cls = schema_from_text(text[0]) if text else None
        if cls is None:
            raise SystemExit(f"bulk seeding: class {class_name} does not exist")
        sql = insert_sql(conn, class_name, INSERT_COLUMNS)  # fills the table's shadow columns too
        stamp = now()
        ids: list[str] = []
        for start in range(first, first + count, CHUNK):
            rows = []
            for i in range(start, min(start + CHUNK, first + count)):
                obj = StoredObject(class_name, new_object_id(), stamp, stamp).with_fields(make(i))
                ids.append(obj.object_id)
                rows.append(encode_row(cls, obj))
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, rows)
            conn.execute("COMMIT")
        return ids
    finally:
        conn.close()
