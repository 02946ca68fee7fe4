"""CPAP usage and titration: who may log what, and `cpapCompliance` (the usual adherence rule).

Patients add CPAPLog entries only for themselves (their device's nightly upload); providers on the care team add
CPAPLog and TitrationLog entries. `cpapCompliance` groups the nights in the store (`req.data.aggregate`, narrowed
to one patient and date range there), so at most one row per night reaches Python.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from engine.cloud import FunctionRequest, SaveRequest, before_save, define
from engine.wire import now, parse_date
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

ADHERENT_MINUTES = 240  # 4 h a night
WINDOW_NIGHTS = 30
ADHERENT_SHARE = 0.7
MAX_RANGE_NIGHTS = 366
DEFAULT_RANGE_NIGHTS = 90
_BOUNDS = {"usageMinutes": (0, 1440), "ahi": (0, 200), "leak": (0, 200), "pressure": (0, 30)}


def _midnight(value: Any, field: str) -> datetime:
    if not isinstance(value, datetime):
        raise invalid(f"{field} must be a Date")
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _check_numbers(obj: Any) -> None:
    for key, (low, high) in _BOUNDS.items():
        value = obj.get(key)
        if value is None and key != "usageMinutes":
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise invalid(f"{key} must be a number from {low} to {high}")


@before_save("CPAPLog")
async def check_cpap_log(req: SaveRequest) -> None:
    log = req.object
    guard_server_owned(req, "patient")
    row = await profile(req.data, pointer_id(log.get("patient"), "PatientProfile", "patient"))
    patient_user = profile_user_id(row)
    if req.original is None and not req.master and caller_id(req) == patient_user:
        pass  # the patient's own device upload
    elif req.original is None and not req.master and not await has_role(req.data, caller_id(req), PROVIDER):
        raise forbidden("Patients add CPAP logs only for themselves.")
    else:
        await require_team_access(req, patient_user)
    log["nightDate"] = _midnight(log.get("nightDate"), "nightDate")
    _check_numbers(log)
    if req.original is None:
        log["loggedAt"] = log.get("loggedAt") or now()
    log.acl = clinical_acl(patient_user)


@before_save("TitrationLog")
async def check_titration(req: SaveRequest) -> None:
    entry = req.object
    guard_server_owned(req, "patient")
    row = await profile(req.data, pointer_id(entry.get("patient"), "PatientProfile", "patient"))
    patient_user = profile_user_id(row)
    await require_team_access(req, patient_user)
    entry.acl = clinical_acl(patient_user)


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, dict) and value.get("__type") == "Date":
        return parse_date(value["iso"]).date()
    return parse_date(value).date()


def _range(params: dict[str, Any]) -> tuple[date, date]:
    def param(key: str) -> date | None:
        value = params.get(key)
        if value is None:
            return None
        try:
            return _day(value)
        except Exception as exc:
            raise invalid(f"{key} must be a date") from exc

    end = param("to") or now().date()
    start = param("from") or end - timedelta(days=DEFAULT_RANGE_NIGHTS - 1)
    nights = (end - start).days + 1
    if nights < 1 or nights > MAX_RANGE_NIGHTS:
        raise invalid(f"from..to must span 1 to {MAX_RANGE_NIGHTS} nights")
    return start, end


def _best_window(minutes: list[float]) -> tuple[int, int]:
    """(start index, adherent nights) of the 30-night window with the most nights of ≥ 4 h (earliest on ties)."""
    good = [1 if m >= ADHERENT_MINUTES else 0 for m in minutes]
    count = sum(good[:WINDOW_NIGHTS])
    best = (0, count)
    for i in range(1, len(good) - WINDOW_NIGHTS + 1):
        count += good[i + WINDOW_NIGHTS - 1] - good[i - 1]
        if count > best[1]:
            best = (i, count)
    return best


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


@define("cpapCompliance", validator={"requireUser": True, "fields": {"patientId": {"type": str, "required": True}}})
async def cpap_compliance(req: FunctionRequest) -> dict[str, Any]:
    """Nightly usage, average hours, AHI trend and the ≥ 4 h on ≥ 70 % of nights in 30 consecutive nights rule."""
    patient = await req.data.get("PatientProfile", req.params["patientId"])  # as the caller: 101 when not theirs
    patient_user = profile_user_id(patient)
    # Admins read profiles to manage care teams; usage data is for the patient and their care team only.
    if not req.master and caller_id(req) != patient_user and not await on_care_team(req.data, patient_user,
                                                                                     caller_id(req)):
        raise forbidden("Only the patient and their care team see CPAP data.")
    start, end = _range(req.params)
    first = datetime(start.year, start.month, start.day, tzinfo=UTC)
    last = datetime(end.year, end.month, end.day, tzinfo=UTC)
    where = {"patient": {"__type": "Pointer", "className": "PatientProfile", "objectId": patient.object_id},
             "nightDate": {"$gte": {"__type": "Date", "iso": first.isoformat().replace("+00:00", "Z")},
                           "$lte": {"__type": "Date", "iso": last.isoformat().replace("+00:00", "Z")}}}
    pipeline: list[dict[str, Any]] = [
        {"$group": {"_id": "$nightDate", "minutes": {"$sum": "$usageMinutes"}, "ahi": {"$avg": "$ahi"}}},
        {"$sort": {"_id": 1}}]
    groups = await req.data.aggregate("CPAPLog", pipeline, where, use_master=True)
    by_day = {_day(g.get("objectId", g.get("_id"))): g for g in groups}
    nights = (end - start).days + 1
    nightly: list[dict[str, Any]] = []
    minutes: list[float] = []
    for i in range(nights):
        day = start + timedelta(days=i)
        g = by_day.get(day)
        used = float(g.get("minutes") or 0) if g else 0.0
        minutes.append(used)
        nightly.append({"date": day.isoformat(), "minutes": used, "hours": round(used / 60, 2),
                        "ahi": g.get("ahi") if g else None, "logged": g is not None})
    ahis = [float(n["ahi"]) for n in nightly if isinstance(n["ahi"], int | float)]
    half = len(ahis) // 2
    early, late = _mean(ahis[:half]), _mean(ahis[half:])
    trend = "unknown" if early is None or late is None else (
        "improving" if late < early - 0.5 else "worsening" if late > early + 0.5 else "stable")
    result: dict[str, Any] = {
        "patientId": patient.object_id, "from": start.isoformat(), "to": end.isoformat(), "nights": nights,
        "nightsLogged": sum(1 for n in nightly if n["logged"]),
        "averageHours": round(sum(minutes) / nights / 60, 2),
        "nightsOver4h": sum(1 for m in minutes if m >= ADHERENT_MINUTES),
        "ahiTrend": {"average": _mean(ahis), "firstHalf": early, "secondHalf": late, "direction": trend},
        "rule": f">= 4 h on >= 70 % of nights in {WINDOW_NIGHTS} consecutive nights",
        "nightly": nightly,
    }
    if nights < WINDOW_NIGHTS:
        result.update(adherent=False, bestWindow=None)
        return result
    index, good = _best_window(minutes)
    window_start = start + timedelta(days=index)
    result["bestWindow"] = {"from": window_start.isoformat(),
                            "to": (window_start + timedelta(days=WINDOW_NIGHTS - 1)).isoformat(),
                            "nightsOver4h": good, "share": round(good / WINDOW_NIGHTS, 3)}
    result["adherent"] = good >= ADHERENT_SHARE * WINDOW_NIGHTS
    return result

