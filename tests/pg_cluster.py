"""A throw-away PostgreSQL cluster for the tests: Debian's initdb + pg_ctl on a free loopback port in a temp dir.

One cluster per test session (started on first use, stopped at exit); each test gets its own Postgres schema
(``?search_path=`` on the URI, which asyncpg passes to the server), which is far cheaper than a database each.

Provisioning the sleep-lab classes (a table, columns and indexes each) was most of what an API test cost on
PostgreSQL, so ``fresh_uri(schema_file=...)`` provisions each schema file once into a template Postgres schema,
dumps it (pg_dump), and gives each test a copy: one multi-statement script on a connection kept open, instead of
some fifty round trips. The engine then finds every declared class already stored and provisions nothing.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import glob
import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class _Runner:
    """An event loop on its own thread holding one connection, so synchronous callers (fixtures building an app
    inside a running loop) can run SQL without starting a psql process each time."""

    def __init__(self, uri: str) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="pg-cluster-runner", daemon=True).start()
        self.busy: asyncio.Lock | None = None  # created on the runner's loop
        import asyncpg

        self.conn = self.run(asyncpg.connect(uri))

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=120)

    def execute(self, sql: str) -> None:
        self.run(self._execute(sql))

    def execute_later(self, sql: str) -> concurrent.futures.Future[None]:
        """Runs in the background, overlapping the test that runs meanwhile (PostgreSQL is another process)."""
        return asyncio.run_coroutine_threadsafe(self._execute(sql), self.loop)

    async def _execute(self, sql: str) -> None:
        if self.busy is None:
            self.busy = asyncio.Lock()
        async with self.busy:  # one statement at a time on the connection
            await self.conn.execute(sql)


@dataclass
class Cluster:
    port: int
    datadir: Path
    _runner: _Runner | None = None
    _templates: dict[str, tuple[str, str]] = field(default_factory=dict)  # schema file key -> (name, dump)
    # template -> a copy made ahead, for the next test
    _ready: dict[str, tuple[str, concurrent.futures.Future[None]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_uri(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def runner(self) -> _Runner:
        with self._lock:
            if self._runner is None:
                self._runner = _Runner(self.base_uri)
            return self._runner

    def fresh_uri(self, schema_file: str | None = None) -> str:
        """A URI onto a new schema of the cluster's database: empty, or (given ``schema_file``) holding the
        classes the engine provisions from that file, as it would have stored them itself."""
        name = "t_" + uuid.uuid4().hex[:16]
        if schema_file is None:
            self.runner().execute(f'CREATE SCHEMA "{name}"')
            return f"{self.base_uri}?search_path={name}"
        template, dump = self._template(schema_file)
        with self._lock:
            ahead = self._ready.pop(template, None)
        if ahead is None:
            self.runner().execute(dump.replace(template, name))
            ready = name
        else:
            ready, made = ahead
            made.result(timeout=120)
        # The next test's copy is made while this one runs; the runner runs it before any later statement.
        upcoming = "t_" + uuid.uuid4().hex[:16]
        made = self.runner().execute_later(dump.replace(template, upcoming))
        with self._lock:
            self._ready[template] = (upcoming, made)
        return f"{self.base_uri}?search_path={ready}"

    def _template(self, schema_file: str) -> tuple[str, str]:
        path = Path(schema_file) if schema_file else None
        key = hashlib.sha256(path.read_bytes()).hexdigest() if path and path.is_file() else f"none:{schema_file}"
        with self._lock:
            if key in self._templates:
                return self._templates[key]
        name = "tmpl_" + uuid.uuid4().hex[:16]
        uri = f"{self.base_uri}?search_path={name}"
        self.runner().execute(f'CREATE SCHEMA "{name}"')
        self.runner().run(_provision(uri, path if path and path.is_file() else None))
        dump = subprocess.run(
            [_binary("pg_dump"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres",
             "--schema", name, "--inserts", "--no-owner", "--no-privileges"],
            capture_output=True, text=True, timeout=120, check=True).stdout
        # Newer pg_dump wraps its output in psql meta-commands (\restrict ...) that the server cannot run.
        dump = "\n".join(line for line in dump.splitlines() if not line.startswith("\\"))
        with self._lock:
            return self._templates.setdefault(key, (name, dump))

    def psql(self, sql: str) -> str:
        out = subprocess.run(
            [_binary("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres",
             "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql],
            capture_output=True, text=True, timeout=60, check=True,
        )
        return out.stdout


async def _provision(uri: str, schema_file: Path | None) -> None:
    from engine.pipeline.schema_store import SchemaStore
    from engine.schema.loader import load_schema_file
    from engine.storage.postgres import PostgresAdapter

    adapter = PostgresAdapter(uri)
    await adapter.open()
    try:
        store = SchemaStore(adapter)
        await store.load()
        await store.provision(load_schema_file(schema_file) if schema_file else [])
    finally:
        await adapter.aclose()


_lock = threading.Lock()
_cluster: Cluster | None = None
_failure: str | None = None


def _bin_dir() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return os.path.dirname(found[-1]) if found else None


def _binary(name: str) -> str:
    directory = _bin_dir()
    return os.path.join(directory, name) if directory else name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(cmd: list[str]) -> list[str]:
    # initdb refuses to run as root: run the server as the postgres user when we are root.
    if os.geteuid() == 0 and shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def unavailable_reason() -> str | None:
    if _bin_dir() is None:
        return "PostgreSQL is not installed (Debian package postgresql: /usr/lib/postgresql/*/bin/initdb)"
    return None


def cluster() -> Cluster:
    """The session's cluster, started on first call; raises RuntimeError if it cannot start."""
    global _cluster, _failure
    with _lock:
        if _cluster is not None:
            return _cluster
        if _failure is not None:
            raise RuntimeError(_failure)
        try:
            _cluster = _start()
        except (OSError, subprocess.SubprocessError) as exc:
            _failure = f"could not start a PostgreSQL cluster: {exc}"
            raise RuntimeError(_failure) from exc
        atexit.register(_stop, _cluster)
        return _cluster


def _start() -> Cluster:
    reason = unavailable_reason()
    if reason:
        raise RuntimeError(reason)
    root = Path(tempfile.mkdtemp(prefix="sleeplab-pg-"))
    datadir = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    subprocess.run(_as_owner([_binary("initdb"), "-D", str(datadir), "-A", "trust", "-U", "postgres",
                              "-E", "UTF8", "--locale=C", "--no-sync"]),
                   capture_output=True, check=True, timeout=120)
    port = _free_port()
    # Durability off: a test cluster trades it for speed (it is deleted at exit).
    options = (f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
               "-c full_page_writes=off -c max_connections=300 -c shared_buffers=32MB")
    subprocess.run(_as_owner([_binary("pg_ctl"), "-D", str(datadir), "-o", options, "-l", str(root / "log"),
                              "-w", "-t", "60", "start"]),
                   capture_output=True, check=True, timeout=90)
    return Cluster(port, datadir)


def _stop(c: Cluster) -> None:
    subprocess.run(_as_owner([_binary("pg_ctl"), "-D", str(c.datadir), "-m", "immediate", "-w", "stop"]),
                   capture_output=True, timeout=60)
    shutil.rmtree(c.datadir.parent, ignore_errors=True)
