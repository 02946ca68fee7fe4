"""Which SQLite the embedded store runs on: a current one from the sqlean.py wheel when it is installed, else the
one Python was built with.

Debian's Python links SQLite 3.40. A current SQLite (3.50 in the wheel) answers a GROUP BY over an index on JSON
expressions faster, since it reads the indexed values instead of re-extracting them from each row's JSON
(bench/RESULTS.md). Both speak the same DB-API, the same file format and the same SQL the compiler writes; only
the exception classes differ, which is why every module takes ``sqlite3`` from here.

Why this wheel: it keeps temporary b-trees and sort runs on disk past the page cache as Python's build does
(pysqlite3-binary, otherwise faster, holds them all in memory: a DISTINCT over 200 MB of rows took 970 MiB).
Its bundled SQL extensions include reading and writing files, switched on by SQLEAN_ENABLE* environment
variables; they are switched off here before any connection opens, whatever the environment says.

Never open the database file with the other library in the same process while the store has it open: POSIX
file locks belong to the process, and each SQLite library tracks only its own, so closing one library's handle
silently drops the other's locks (seen here as "disk I/O error"). Another process may use either.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import aiosqlite

if TYPE_CHECKING:
    import sqlite3
else:
    try:
        from sqlean import dbapi2 as sqlite3
    except ImportError:  # no wheel for this platform
        import sqlite3
    else:
        for _name in [name for name in os.environ if name.startswith("SQLEAN_ENABLE")]:
            del os.environ[_name]
        os.environ["SQLEAN_ENABLE"] = "0"

__all__ = ["connect", "sqlite3"]


def connect(path: str, **kwargs: Any) -> aiosqlite.Connection:
    """An aiosqlite connection on this driver (``aiosqlite.connect`` always opens the standard library's)."""
    return aiosqlite.Connection(lambda: sqlite3.connect(path, **kwargs), iter_chunk_size=64)
