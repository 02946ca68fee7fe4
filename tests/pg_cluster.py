"""A throw-away PostgreSQL cluster for the tests: Debian's initdb + pg_ctl on a free loopback port in a temp dir.

One cluster per test session (started on first use, stopped at exit); each test gets its own Postgres schema
(``?search_path=`` on the URI, which asyncpg passes to the server), which is far cheaper than a database each.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Cluster:
    port: int
    datadir: Path

    @property
    def base_uri(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def fresh_uri(self) -> str:
        """A URI onto a new, empty schema of the cluster's database."""
        name = "t_" + uuid.uuid4().hex[:16]
        self.psql(f'CREATE SCHEMA "{name}"')
        return f"{self.base_uri}?search_path={name}"

    def psql(self, sql: str) -> str:
        out = subprocess.run(
            [_binary("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres",
             "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql],
            capture_output=True, text=True, timeout=60, check=True,
        )
        return out.stdout


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
