"""Appointments: `endAt > startAt`, a provider is never double-booked, the patient sees their own.

Double-booking is checked and the slot claimed under one per-provider lock: the check (a store query for
overlapping appointments) and a short-lived in-process claim on the interval happen together, and the claim
covers the gap until the row is written, so two concurrent requests to one server process can never both pass.
Across several server processes this is not guaranteed (each has its own locks): run one process, or put a
shared lock in front of it, when appointments are booked through several.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from engine.cloud import DeleteRequest, SaveRequest, before_delete, before_save
from engine.wire import Pointer
from hooks._clinic import (
    PROVIDER,
    caller_id,
    clinical_acl,
    forbidden,
    guard_server_owned,
    has_role,
    invalid,
    on_care_team,
    pointer_id,
    profile,
    profile_user_id,
    require_team_access,
)

STATUSES = ("scheduled", "confirmed", "completed", "cancelled", "no_show")
FREE = frozenset({"cancelled"})
MAX_LENGTH = timedelta(hours=24)
CLAIM_SECONDS = 60.0  # far longer than a write takes; a claim only ever blocks a slot that was just checked free


@dataclass(frozen=True, slots=True)
class Claim:
    start: datetime
    end: datetime
    object_id: str | None
    expires: float


_LOCKS: dict[tuple[int, str], asyncio.Lock] = {}
_CLAIMS: dict[str, list[Claim]] = {}


def _lock(provider_id: str) -> asyncio.Lock:
    key = (id(asyncio.get_running_loop()), provider_id)
    lock = _LOCKS.get(key)
    if lock is None:
        lock = _LOCKS[key] = asyncio.Lock()
    return lock


def _date(value: object, field: str) -> datetime:
    if not isinstance(value, datetime):
        raise invalid(f"{field} must be a Date")
    return value


async def _overlaps(req: SaveRequest, provider_id: str, start: datetime, end: datetime) -> bool:
    own = req.object.object_id
    query = (req.data.query("Appointment").equal_to("provider", Pointer("_User", provider_id))
             .less_than("startAt", end).greater_than("endAt", start).not_contained_in("status", list(FREE)))
    if own:
        query = query.not_equal_to("objectId", own)
    if await query.count(use_master=True):
        return True
    clock = time.monotonic()
    claims = [c for c in _CLAIMS.get(provider_id, []) if c.expires > clock]
    _CLAIMS[provider_id] = claims
    return any(c.start < end and c.end > start and (own is None or c.object_id != own) for c in claims)


@before_save("Appointment")
async def check_appointment(req: SaveRequest) -> None:
    appt = req.object
    guard_server_owned(req, "patient")
    patient_user = profile_user_id(await profile(req.data, pointer_id(appt.get("patient"), "PatientProfile",
                                                                      "patient")))
    await require_team_access(req, patient_user)
    if "provider" not in appt and caller_id(req):
        appt["provider"] = Pointer("_User", str(caller_id(req)))
    provider_id = pointer_id(appt.get("provider"), "_User", "provider")
    if not await has_role(req.data, provider_id, PROVIDER) or not await on_care_team(req.data, patient_user,
                                                                                      provider_id):
        raise invalid("provider must be a Provider on the patient's care team")
    start, end = _date(appt.get("startAt"), "startAt"), _date(appt.get("endAt"), "endAt")
    if end <= start:
        raise invalid("endAt must be after startAt")
    if end - start > MAX_LENGTH:
        raise invalid("an appointment lasts at most 24 hours")
    status = appt.get("status", "scheduled")
    if status not in STATUSES:
        raise invalid(f"status must be one of {', '.join(STATUSES)}")
    appt["status"] = status
    appt.acl = clinical_acl(patient_user, writers=(provider_id,))
    if status in FREE:
        return
    async with _lock(provider_id):
        if await _overlaps(req, provider_id, start, end):
            raise invalid("The provider already has an appointment at that time.")
        _CLAIMS.setdefault(provider_id, []).append(
            Claim(start, end, appt.object_id, time.monotonic() + CLAIM_SECONDS))


@before_delete("Appointment")
async def keep_appointments(req: DeleteRequest) -> None:
    if not req.master:
        raise forbidden("Appointments are cancelled (status cancelled), not deleted.")
