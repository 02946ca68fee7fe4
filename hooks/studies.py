"""Versioned polysomnography reports: status rules, versions kept in SleepStudyVersion, and `studyHistory`.

Status: draft → preliminary → final → amended (plus cancelled). Any change to a report that is no longer a draft
raises `version` by one and first stores the previous state as an immutable SleepStudyVersion row (who changed
it, when). A final report changes only by becoming `amended`. The patient is in a study's ACL only once it is
final or amended, so a draft never reaches them, by query or by LiveQuery; the care team always is.
"""

from __future__ import annotations

from typing import Any

from engine.cloud import (
    CloudObject,
    DeleteRequest,
    FunctionRequest,
    SaveRequest,
    before_delete,
    before_save,
    define,
)
from engine.wire import Pointer, now
from hooks._clinic import (
    caller_id,
    changed_keys,
    clinical_acl,
    forbidden,
    guard_server_owned,
    invalid,
    pointer_id,
    profile,
    profile_user_id,
    require_team_access,
)

STATUSES = ("draft", "preliminary", "final", "amended", "cancelled")
PUBLISHED = frozenset({"final", "amended"})
NEXT: dict[str, frozenset[str]] = {
    "draft": frozenset({"draft", "preliminary", "final", "cancelled"}),
    "preliminary": frozenset({"preliminary", "final", "cancelled"}),
    "final": frozenset({"amended"}),
    "amended": frozenset({"amended"}),
    "cancelled": frozenset(),
}
SNAPSHOT_KEYS = ("status", "results", "reportType", "sleepData", "reportedAt", "studyDate", "provider",
                 "attachments", "version")


def _snapshot(study: CloudObject) -> dict[str, Any]:
    return {k: study[k] for k in SNAPSHOT_KEYS if k in study}


@before_save("SleepStudy")
async def check_study(req: SaveRequest) -> None:
    study, original = req.object, req.original
    guard_server_owned(req, "patient")
    patient_user = profile_user_id(await profile(req.data, pointer_id(study.get("patient"), "PatientProfile",
                                                                        "patient")))
    await require_team_access(req, patient_user)
    status = study.get("status", "draft" if original is None else None)
    if status not in STATUSES:
        raise invalid(f"status must be one of {', '.join(STATUSES)}")
    study["status"] = status
    if original is None:
        if status in ("amended", "cancelled"):
            raise invalid("a new report starts as draft, preliminary or final")
        study["version"] = 1
        if "provider" not in study and caller_id(req):
            study["provider"] = Pointer("_User", str(caller_id(req)))
        study["results"] = study.get("results", "")
    else:
        before = str(original.get("status"))
        changed = changed_keys(req) - {"ACL"}
        if not changed:
            return
        if status not in NEXT.get(before, frozenset()) and not (before == status == "draft"):
            if before in PUBLISHED:
                raise invalid("a final report can only be amended: set status to amended")
            raise invalid(f"a {before} report cannot become {status}")
        if not req.master and "version" in changed:
            raise forbidden("version is set by the server.")
        if before != "draft":
            version = int(original.get("version") or 1)
            row: dict[str, Any] = {
                "study": study.to_pointer(), "patient": original["patient"], "version": version, "status": before,
                "snapshot": _snapshot(original), "changedAt": now(),
                "ACL": clinical_acl(patient_user, patient_reads=before in PUBLISHED)}
            if caller_id(req):
                row["changedBy"] = Pointer("_User", str(caller_id(req)))
            await req.data.create("SleepStudyVersion", row, use_master=True)
            study["version"] = version + 1
    if status in PUBLISHED and (original is None or original.get("status") != status):
        study["reportedAt"] = now()
    study.acl = clinical_acl(patient_user, patient_reads=status in PUBLISHED)


@before_delete("SleepStudy")
async def keep_studies(req: DeleteRequest) -> None:
    if not req.master:
        raise forbidden("Reports are never deleted; cancel them instead.")


@before_save("SleepStudyVersion")
async def versions_are_immutable(req: SaveRequest) -> None:
    if req.original is not None:
        raise forbidden("Report versions are immutable.")


@define("studyHistory", validator={"requireUser": True, "fields": {"studyId": {"type": str, "required": True}}})
async def study_history(req: FunctionRequest) -> list[dict[str, Any]]:
    """Every version of one study, oldest first, the current one last, for a caller who may read the study."""
    study = await req.data.get("SleepStudy", req.params["studyId"])  # as the caller: 101 when they cannot
    rows = await (req.data.query("SleepStudyVersion").equal_to("study", study.to_pointer()).ascending("version")
                  .limit(1000).find(use_master=True))
    out: list[dict[str, Any]] = []
    for row in rows:
        changed_by = row.get("changedBy")
        out.append({**row.get("snapshot", {}), "version": row.get("version"), "status": row.get("status"),
                    "changedBy": changed_by.object_id if isinstance(changed_by, Pointer) else None,
                    "changedAt": row.get("changedAt"), "current": False})
    out.append({**_snapshot(study), "current": True, "changedAt": study.updated_at})
    return out
