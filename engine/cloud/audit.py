"""The audit trail: append hash-chained AuditLog rows (who did what to which entities), and verify the chain.

Each entry carries `seq` (1, 2, 3, ... under a unique index), `prevHash` (its predecessor's `hash`, or 64 zeros
for the first) and `hash` = SHA-256 over the canonical JSON of everything the entry stores except `objectId`,
`createdAt`, `updatedAt` and `hash` itself. Changing, removing or slipping in a row therefore breaks the chain at
that point, and `verify_chain` names the first break.

Writers never fork the chain: inside one process an asyncio lock serializes "read the head, append after it";
across processes sharing a store, the unique `seq` index refuses the second writer of a sequence number (137),
which then re-reads the head and retries.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from engine.cloud.data import DataApi
from engine.cloud.objects import CloudObject, encode_value
from engine.errors import ErrorCode, ParseError
from engine.wire import ACL, Pointer, format_date, now

AUDIT_CLASS = "AuditLog"
MASTER_ONLY = ACL()  # no entries: only the master key may read or write the row
GENESIS_HASH = "0" * 64
# Server-stamped columns are outside the hash: the writer cannot know them before the row exists.
UNHASHED = frozenset({"objectId", "createdAt", "updatedAt", "hash"})
MAX_APPEND_ATTEMPTS = 100
MAX_IDS = 10_000  # one find returns at most PARSE_SERVER_MAX_LIMIT rows; the array cap of a stored value

_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


def _lock() -> asyncio.Lock:
    # One lock per event loop: an asyncio.Lock belongs to the loop it first waited on.
    loop = asyncio.get_running_loop()
    lock = _locks.get(loop)
    if lock is None:
        lock = _locks[loop] = asyncio.Lock()
    return lock


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the same content always gives the same bytes."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def entry_hash(entry: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of an entry's wire JSON, server-stamped columns and `hash` left out."""
    content = {k: v for k, v in entry.items() if k not in UNHASHED}
    return hashlib.sha256(canonical_json(content)).hexdigest()


async def _head(data: DataApi, class_name: str) -> tuple[int, str]:
    rows = await (data.query(class_name).exists("seq").descending("seq").limit(1)
                  .select("seq", "hash").find(use_master=True))
    if not rows:
        return 0, GENESIS_HASH
    seq, digest = rows[0].get("seq"), rows[0].get("hash")
    if not isinstance(seq, int) or not isinstance(digest, str):
        raise ParseError(ErrorCode.INTERNAL_SERVER_ERROR, "the audit chain's last entry is damaged")
    return seq, digest


async def append_entry(data: DataApi, fields: Mapping[str, Any], *, class_name: str = AUDIT_CLASS) -> CloudObject:
    """Append `fields` (wire JSON) as the chain's next entry, with the master key; returns the row as answered."""
    async with _lock():
        for attempt in range(MAX_APPEND_ATTEMPTS):
            seq, prev = await _head(data, class_name)
            entry = {**fields, "seq": seq + 1, "prevHash": prev}
            entry["hash"] = entry_hash(entry)
            try:
                return await data.create(class_name, entry, use_master=True)
            except ParseError as exc:
                if exc.code != ErrorCode.DUPLICATE_VALUE:
                    raise
                # Another process took this sequence number: wait a little (spread apart) and follow its head.
                await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
    raise ParseError(ErrorCode.INTERNAL_SERVER_ERROR, "the audit chain is too contended to append")


async def write_audit(
    data: DataApi,
    *,
    actor: Pointer | CloudObject | None,
    action: str,
    entity_type: str,
    entity_id: str,
    summary: str,
    metadata: Mapping[str, Any] | None = None,
    acl: ACL | None = MASTER_ONLY,
    ids: Sequence[str] | None = None,
    actor_kind: str | None = None,
) -> CloudObject:
    """Append one AuditLog entry to the hash chain and return it as stored.

    Always written with the master key: the caller usually may not write (or even read) the audit trail, and an
    audit entry must not depend on the caller's permissions. By default the row gets an empty ACL, so only the
    master key can read it whatever the class's CLPs say; pass ``acl`` to let e.g. an auditor role read it
    (``acl=None`` leaves the server's default ACL). ``actor=None`` (a system or master-key action) leaves the field
    unset; ``actor_kind`` says who acted ("user", "master", "anonymous", "system"; default: "user" with an actor,
    else "system"). ``ids`` lists every object the action touched or returned (default: ``[entity_id]``).
    """
    for name, value in (("action", action), ("entity_type", entity_type), ("entity_id", entity_id)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"write_audit: {name} must be a non-empty string")
    if not isinstance(summary, str):
        raise ValueError("write_audit: summary must be a string")
    touched = [entity_id] if ids is None else list(ids)
    if len(touched) > MAX_IDS or not all(isinstance(i, str) for i in touched):
        raise ValueError(f"write_audit: ids must be at most {MAX_IDS} strings")
    fields: dict[str, Any] = {
        "action": action,
        "entityType": entity_type,
        "entityId": entity_id,
        "ids": touched,
        "summary": summary,
        "metadata": encode_value(dict(metadata or {})),
        "actorKind": actor_kind or ("user" if actor is not None else "system"),
        "loggedAt": {"__type": "Date", "iso": format_date(now())},
    }
    if acl is not None:
        fields["ACL"] = acl.to_json()
    if actor is not None:
        if not isinstance(actor, Pointer | CloudObject):
            raise ValueError("write_audit: actor must be a Pointer, a CloudObject or None")
        pointer = actor.to_pointer() if isinstance(actor, CloudObject) else actor
        fields["actor"] = encode_value(pointer)
    return await append_entry(data, fields)


# ---- verification ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChainReport:
    entries: int
    problem: str | None = None  # the first altered, inserted or missing entry; None when the chain is intact

    @property
    def intact(self) -> bool:
        return self.problem is None

    def describe(self) -> str:
        return f"chain intact, {self.entries} entries" if self.problem is None else self.problem


def _label(entry: Mapping[str, Any]) -> str:
    return f"objectId {entry.get('objectId', '?')}"


def verify_chain(entries: Iterable[Mapping[str, Any]], unsequenced: Iterable[Mapping[str, Any]] = ()) -> ChainReport:
    """Walk `entries` (wire JSON, in ascending `seq` order) and report the first break in the chain.

    `unsequenced` are rows of the class without an integer `seq`: never written by the chain writer, so inserted.
    A deleted last entry leaves no trace in the chain itself; compare the reported count with a copy kept
    elsewhere to catch that.
    """
    count, prev_seq, prev_hash = 0, 0, GENESIS_HASH
    for entry in entries:
        count += 1
        seq = entry.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool):
            return ChainReport(count, f"inserted entry ({_label(entry)}): it has no sequence number")
        if seq <= prev_seq:
            return ChainReport(count, f"inserted entry seq {seq} ({_label(entry)}): the sequence number repeats")
        if seq > prev_seq + 1:
            gap = f"seq {prev_seq + 1}" if seq == prev_seq + 2 else f"seq {prev_seq + 1} to {seq - 1}"
            return ChainReport(count, f"missing entry {gap}: the chain jumps from seq {prev_seq} to {seq}")
        stored = entry.get("hash")
        if stored != entry_hash(entry):
            return ChainReport(count, f"altered entry seq {seq} ({_label(entry)}): its content does not match "
                                      "its hash")
        if entry.get("prevHash") != prev_hash:
            return ChainReport(count, f"altered or inserted entry seq {seq} ({_label(entry)}): its prevHash does "
                                      f"not match entry seq {prev_seq}")
        prev_seq, prev_hash = seq, str(stored)
    for entry in unsequenced:
        return ChainReport(count + 1, f"inserted entry ({_label(entry)}): it has no sequence number")
    return ChainReport(count)
