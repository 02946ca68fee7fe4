"""`sleeplab audit verify` run as a command against a SQLite file: an intact chain, then one row altered, one
deleted and one inserted directly in the file (as someone with disk access would), each reported with exit 1."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cloud.audit import entry_hash
from engine.storage.sqlite import database_path
from engine.storage.sqlite_driver import sqlite3
from tests.app.audit_world import create_patients, write_schema
from tests.conftest import ROOT, fresh_database


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database holding a chain of 5 entries (5 patients created), its server stopped."""
    uri = fresh_database()
    asyncio.run(create_patients(uri, write_schema(tmp_path_factory.mktemp("schema")), 5))
    return Path(database_path(uri))


def _copy(source: Path, target_dir: Path) -> Path:
    target = target_dir / "copy.db"
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)  # WAL content included
    return target


def _verify(db: Path) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-m", "engine", "audit", "verify", "--database-uri", f"sqlite:///{db}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    return done.returncode, (done.stdout + done.stderr).strip().splitlines()[-1]


def _rows(db: sqlite3.Connection) -> dict[int, str]:
    return {json.loads(data)["seq"]: oid for oid, data in db.execute('SELECT objectId, data FROM "AuditLog"')}


def test_intact_chain(chain: Path, tmp_path: Path) -> None:
    assert _verify(_copy(chain, tmp_path)) == (0, "chain intact, 5 entries")


def test_altered_row(chain: Path, tmp_path: Path) -> None:
    db = _copy(chain, tmp_path)
    with sqlite3.connect(db) as conn:
        oid = _rows(conn)[3]
        conn.execute("""UPDATE "AuditLog" SET data = json_set(data, '$.ids', json('["someone-else"]'))
                        WHERE objectId = ?""", (oid,))
    assert _verify(db) == (1, f"altered entry seq 3 (objectId {oid}): its content does not match its hash")


def test_deleted_row(chain: Path, tmp_path: Path) -> None:
    db = _copy(chain, tmp_path)
    with sqlite3.connect(db) as conn:
        conn.execute('DELETE FROM "AuditLog" WHERE objectId = ?', (_rows(conn)[2],))
    assert _verify(db) == (1, "missing entry seq 2: the chain jumps from seq 1 to 3")


def test_inserted_rows(chain: Path, tmp_path: Path) -> None:
    db = _copy(chain, tmp_path)
    with sqlite3.connect(db) as conn:
        # A copy of entry 2 without its sequence number: never written by the chain writer.
        conn.execute("""INSERT INTO "AuditLog" (objectId, createdAt, updatedAt, _rperm, _wperm, acl,
                        data, internal) SELECT 'forged0001', createdAt, updatedAt, _rperm, _wperm, acl,
                        json_remove(data, '$.seq'), internal FROM "AuditLog" WHERE objectId = ?""",
                     (_rows(conn)[2],))
    assert _verify(db) == (1, "inserted entry (objectId forged0001): it has no sequence number")
    db = _copy(chain, tmp_path / "..")
    with sqlite3.connect(db) as conn:
        # Appended after the head with a self-consistent hash (the attacker read the hashing rule) that does not
        # link to entry 5: it reuses entry 5's own prevHash.
        data, acl = conn.execute('SELECT data, acl FROM "AuditLog" WHERE objectId = ?', (_rows(conn)[5],)).fetchone()
        row = {**json.loads(data), "seq": 6, "summary": "nothing to see"}
        row["hash"] = entry_hash({**row, "ACL": json.loads(acl)})
        conn.execute("""INSERT INTO "AuditLog" (objectId, createdAt, updatedAt, _rperm, _wperm, acl,
                        data, internal) SELECT 'forged0002', createdAt, updatedAt, _rperm, _wperm, acl, ?,
                        internal FROM "AuditLog" WHERE objectId = ?""", (json.dumps(row), _rows(conn)[5]))
    assert _verify(db) == (1, "altered or inserted entry seq 6 (objectId forged0002): its prevHash does not match "
                              "entry seq 5")


def test_missing_class_and_bad_uri(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert _verify(empty) == (1, "class AuditLog does not exist in this store")
    done = subprocess.run([sys.executable, "-m", "engine", "audit", "verify", "--database-uri", "nosuch://x"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "unsupported database URI" in done.stderr
