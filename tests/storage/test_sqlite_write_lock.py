"""The cross-process write lock (sqlite_write_lock.py): processes sharing one SQLite file take turns at writing
through it, lose no write, never answer "database is locked", and a holder killed with -9 blocks nobody."""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from engine.query.options import FindOptions
from engine.query.where import MATCH_ALL, parse_where
from engine.schema.model import FieldDef, FieldType, new_class
from engine.storage.base import Changes, Increment, StoredObject
from engine.storage.sqlite import SQLiteAdapter
from engine.storage.sqlite_write_lock import WriteLock, lock_path

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
COUNTER = new_class("Counter", {"n": FieldDef(FieldType.NUMBER)})
ITEM = new_class("Item", {"who": FieldDef(FieldType.STRING), "i": FieldDef(FieldType.NUMBER)})
ROUNDS = 60  # per process: creates and increments, 16 in flight at a time

_WORKER = textwrap.dedent("""
    import asyncio, sys
    from datetime import UTC, datetime
    from engine.query.where import parse_where
    from engine.schema.model import FieldDef, FieldType, new_class
    from engine.storage.base import Changes, Increment, StoredObject
    from engine.storage.sqlite import SQLiteAdapter

    COUNTER = new_class("Counter", {"n": FieldDef(FieldType.NUMBER)})
    ITEM = new_class("Item", {"who": FieldDef(FieldType.STRING), "i": FieldDef(FieldType.NUMBER)})

    async def main(path, who, rounds):
        db = SQLiteAdapter(path)
        await db.open()
        try:
            print("ready", flush=True)
            sys.stdin.readline()  # both processes start writing together
            async def one(i):
                t = datetime.now(UTC)
                await db.create(ITEM, StoredObject("Item", f"{who}{i:05d}", t, t).with_fields({"who": who, "i": i}))
                bump = Changes(t, ((("n",), Increment(1)),))
                bumped = await db.update(COUNTER, parse_where({"objectId": "c"}), bump)
                assert bumped is not None
            for start in range(0, rounds, 16):
                await asyncio.gather(*(one(i) for i in range(start, min(start + 16, rounds))))
        finally:
            await db.aclose()
        print("done", flush=True)

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
""")

_HOLDER = textwrap.dedent("""
    import sys, time
    from engine.storage.sqlite_write_lock import WriteLock
    lock = WriteLock(sys.argv[1])
    with lock.held():
        print("held", flush=True)
        time.sleep(600)  # until killed
""")


async def _seed(path: Path) -> None:
    db = SQLiteAdapter(str(path))
    await db.open()
    try:
        await db.save_schema(COUNTER)
        await db.save_schema(ITEM)
        t = datetime.now(UTC)
        await db.create(COUNTER, StoredObject("Counter", "c", t, t).with_fields({"n": 0}))
    finally:
        await db.aclose()


def test_two_processes_writing_one_file_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    asyncio.run(_seed(path))
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, str(path), who, str(ROUNDS)], cwd=ROOT, env=ENV,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for who in ("a", "b")]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outcomes = [proc.communicate(timeout=120) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for proc, (out, err) in zip(procs, outcomes, strict=True):
        assert "database is locked" not in err
        assert (proc.returncode, out.strip()) == (0, "done"), err

    async def stored() -> tuple[object, list[str]]:
        db = SQLiteAdapter(str(path))
        await db.open()
        try:
            counter = await db.find(COUNTER, parse_where({"objectId": "c"}), FindOptions(limit=1))
            items = await db.find(ITEM, MATCH_ALL, FindOptions(limit=None))
            return counter[0].fields["n"], sorted(o.object_id for o in items)
        finally:
            await db.aclose()

    n, ids = asyncio.run(stored())
    assert n == 2 * ROUNDS  # every increment of both processes landed: no read-modify-write was lost
    assert ids == sorted(f"{who}{i:05d}" for who in ("a", "b") for i in range(ROUNDS))


def test_a_write_waits_for_the_lock_and_a_killed_holder_releases_it(tmp_path: Path) -> None:
    path = tmp_path / "held.db"
    asyncio.run(_seed(path))
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, lock_path(str(path))], cwd=ROOT, env=ENV,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert asyncio.run(_write_behind(path, holder)) == 5
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


async def _write_behind(path: Path, holder: subprocess.Popen[str]) -> object:
    db = SQLiteAdapter(str(path))
    await db.open()
    try:
        write = asyncio.ensure_future(db.update(COUNTER, parse_where({"objectId": "c"}),
                                                Changes(datetime.now(UTC), ((("n",), Increment(5)),))))
        await asyncio.sleep(0.3)
        assert not write.done()  # queued behind the other process's lock, not racing it
        os.kill(holder.pid, signal.SIGKILL)
        updated = await asyncio.wait_for(write, timeout=30)  # the kernel dropped the dead holder's lock
        assert updated is not None
        return updated.fields["n"]
    finally:
        await db.aclose()


def test_two_openers_in_one_process_exclude_each_other(tmp_path: Path) -> None:
    one, two = WriteLock(str(tmp_path / "db-lock")), WriteLock(str(tmp_path / "db-lock"))
    try:
        with one.held():
            probe = os.open(two.path, os.O_RDWR)
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
                taken = True
            except BlockingIOError:
                taken = False
            finally:
                os.close(probe)
            assert not taken
        with two.held():
            pass  # released by the first: the second gets it without waiting
    finally:
        one.close()
        two.close()
