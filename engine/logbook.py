"""The server's own log as `/scriptlog` serves it (Parse's winston log): a bounded ring, plus an optional file.

Entries are shaped as Parse's (`{timestamp, level, message}`) and scrubbed before they are kept: logs of a sleep
lab leave the process (Dashboard, log files), so the master keys, session tokens and passwords never enter them.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

# Parse's winston levels; `/scriptlog?level=error` reads its error file, any other level its main file, which holds
# every entry at info and above.
LEVELS = ("error", "warn", "info")
MAX_MESSAGE_CHARS = 2000  # one entry's message; a hook logging a whole payload is cut, not kept whole
MAX_SIZE = 1000  # most entries one /scriptlog answer returns, whatever `size`/`n` asks
DEFAULT_SIZE = 10  # Parse's default `size`
DEFAULT_WINDOW = timedelta(days=7)  # Parse's default `from`: a week before `until`
FILE_MAX_BYTES = 10 * 1024 * 1024
FILE_BACKUPS = 3
MASK = "********"

# Session tokens as this server issues them (`r:` + 32 hex), and key-value spellings of secret fields in any text
# (JSON, query strings, reprs): `"password": "x"`, `password=x`, `'sessionToken': 'x'`, `X-Parse-Master-Key: x`.
_TOKEN_RE = re.compile(r"\br:[0-9a-fA-F]{16,}\b")
_SECRET_KEYS = r"password|sessionToken|session_token|_SessionToken|masterKey|master_key|_MasterKey|" \
               r"x-parse-master-key|x-parse-session-token|x-parse-webhook-key|authorization|_hashed_password"
_PAIR_RE = re.compile(
    rf"""(?P<key>["']?(?:{_SECRET_KEYS})["']?\s*[:=]\s*)(?P<value>"[^"]*"|'[^']*'|[^\s,&}}\]]+)""",
    re.IGNORECASE,
)


def _level_of(record: logging.LogRecord) -> str:
    if record.levelno >= logging.ERROR:
        return "error"
    if record.levelno >= logging.WARNING:
        return "warn"
    return "info"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class LogEntry:
    timestamp: datetime
    level: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"timestamp": _iso(self.timestamp), "level": self.level, "message": self.message}


@dataclass(frozen=True, slots=True)
class LogQuery:
    """`/scriptlog`'s parameters, already bounded (see `log_query`)."""

    level: str = "info"
    size: int = DEFAULT_SIZE
    order: str = "desc"
    since: datetime | None = None  # Parse's `from`
    until: datetime | None = None


def _date(raw: object) -> datetime | None:
    if not isinstance(raw, str) or not raw or len(raw) > 64:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _size(raw: object) -> int:
    try:
        size = int(str(raw)) if raw is not None else DEFAULT_SIZE
    except ValueError:
        return DEFAULT_SIZE  # Parse: `Number(size) || 10`
    return max(1, min(size, MAX_SIZE)) if size else DEFAULT_SIZE


def log_query(level: object = None, size: object = None, n: object = None, order: object = None,
              since: object = None, until: object = None) -> LogQuery:
    """Parse's LoggerController defaults: info, 10 entries, newest first, the week before `until` (now)."""
    return LogQuery(
        level="error" if level == "error" else "info",
        size=_size(n if n is not None else size),
        order="asc" if order == "asc" else "desc",
        since=_date(since),
        until=_date(until),
    )


class Scrubber:
    """Masks the secrets this server knows (its keys) and the ones it can recognise (tokens, password fields)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a key that contains another is masked whole; short values would mask ordinary words.
        self._secrets = sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        text = _TOKEN_RE.sub(MASK, text)
        return _PAIR_RE.sub(lambda m: m.group("key") + MASK, text)


class LogBook:
    """The newest `capacity` entries in memory (thread-safe: sync hooks log from worker threads)."""

    def __init__(self, capacity: int = 1000, scrub: Scrubber | None = None, path: str = "") -> None:
        self._entries: deque[LogEntry] = deque(maxlen=max(1, capacity))
        self._lock = threading.Lock()
        self._scrub = scrub or Scrubber(())
        self._file: logging.Handler | None = None
        if path:
            # Rotated, so the file is bounded too; one JSON object a line, the same scrubbed entries as the ring.
            self._file = logging.handlers.RotatingFileHandler(path, maxBytes=FILE_MAX_BYTES, backupCount=FILE_BACKUPS,
                                                              encoding="utf-8")

    def add(self, level: str, message: str, timestamp: datetime | None = None) -> LogEntry:
        clean = self._scrub(message)
        if len(clean) > MAX_MESSAGE_CHARS:
            clean = clean[:MAX_MESSAGE_CHARS] + "…"
        entry = LogEntry(timestamp or datetime.now(UTC), level if level in LEVELS else "info", clean)
        with self._lock:
            self._entries.append(entry)
        if self._file is not None:
            line = orjson.dumps(entry.to_json()).decode()
            self._file.emit(logging.makeLogRecord({"msg": line, "levelno": logging.INFO}))
        return entry

    def query(self, q: LogQuery, now: datetime | None = None) -> list[dict[str, str]]:
        until = q.until or now or datetime.now(UTC)
        since = q.since or until - DEFAULT_WINDOW
        with self._lock:
            entries = list(self._entries)
        picked = [e for e in reversed(entries)
                  if since <= e.timestamp <= until and (q.level != "error" or e.level == "error")]
        picked = picked[: q.size]
        if q.order == "asc":
            picked.reverse()
        return [e.to_json() for e in picked]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class LogBookHandler(logging.Handler):
    """Feeds a LogBook from Python logging; an exception's type and message are kept, never its traceback."""

    def __init__(self, book: LogBook, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.book = book

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                exc = record.exc_info[1]
                message = f"{message}: {type(exc).__name__}: {exc}"
            self.book.add(_level_of(record), message,
                          datetime.fromtimestamp(record.created, UTC))
        except Exception:  # a log call must never fail the request that made it
            self.handleError(record)


# The loggers whose records the book keeps: the engine's own (hooks log under engine.cloud.hooks) and LiveQuery's.
SOURCES = ("engine", "livequery")


def attach(book: LogBook) -> LogBookHandler:
    handler = LogBookHandler(book)
    for name in SOURCES:
        source = logging.getLogger(name)
        source.addHandler(handler)
        if source.level == logging.NOTSET:
            # Without this the root's WARNING default would drop info records before they reach the book; a level
            # the operator set is kept.
            source.setLevel(logging.INFO)
    return handler


def detach(handler: LogBookHandler) -> None:
    for name in SOURCES:
        logging.getLogger(name).removeHandler(handler)
    handler.book.close()
