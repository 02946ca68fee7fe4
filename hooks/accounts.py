"""Roles, accounts and care teams: who is a Patient, a Provider or an Admin, and whose care team they are on.

Patients sign up themselves (``POST /users``) and then create their own PatientProfile, which makes them a
Patient and gives them an empty care team. Provider and Admin accounts are made by an Admin (or the master key)
with ``createStaffAccount``; an Admin adds and removes providers with ``addToCareTeam`` / ``removeFromCareTeam``.
"""

from __future__ import annotations

from typing import Any

from engine.cloud import (
    FunctionRequest,
    JobRequest,
    SaveRequest,
    before_save,
    define,
    on_start,
)
from engine.wire import Pointer, now
from hooks._clinic import (
    ADMIN,
    APP_ROLES,
    PATIENT,
    PROVIDER,
    add_members,
    caller_id,
    care_team_role,
    clinical_acl,
    ensure_role,
    forbidden,
    guard_server_owned,
    has_role,
    invalid,
    new_token,
    pointer_id,
    profile,
    profile_user_id,
    remove_members,
    roles_of,
    team_member_ids,
)

MAX_NAME = 200


@on_start
async def ensure_app_roles(req: JobRequest) -> None:
    for name in APP_ROLES:
        await ensure_role(req.data, name)


async def _require_admin(req: FunctionRequest) -> None:
    if req.master:
        return
    if req.user is None:
        raise forbidden("Sign in first.")
    if not await has_role(req.data, caller_id(req), ADMIN):
        raise forbidden("Only an Admin may do this.")


def _text(params: dict[str, Any], key: str, *, required: bool = True, limit: int = MAX_NAME) -> str | None:
    value = params.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise invalid(f"{key} must be a non-empty string of at most {limit} characters")
    return value.strip()


@define("createStaffAccount")
async def create_staff_account(req: FunctionRequest) -> dict[str, Any]:
    """An Admin (or the master key) makes a Provider or Admin account; patients cannot become staff this way."""
    await _require_admin(req)
    role = req.params.get("role")
    if role not in (PROVIDER, ADMIN):
        raise invalid("role must be Provider or Admin")
    username = _text(req.params, "username")
    password = _text(req.params, "password", limit=1024)
    fields: dict[str, Any] = {"username": username, "password": password}
    for key in ("email", "displayName"):
        value = _text(req.params, key, required=False, limit=320)
        if value is not None:
            fields[key] = value
    user = await req.data.create("_User", fields, use_master=True)
    assert user.object_id is not None
    await add_members(req.data, str(role), [user.object_id])
    return {"objectId": user.object_id, "username": username, "role": role}


async def _team_params(req: FunctionRequest) -> tuple[str, str]:
    patient_id = _text(req.params, "patientId", limit=64)
    provider_id = _text(req.params, "providerId", limit=64)
    assert patient_id is not None and provider_id is not None
    row = await profile(req.data, patient_id)
    if not await has_role(req.data, provider_id, PROVIDER):
        raise invalid("providerId is not a Provider")
    return profile_user_id(row), provider_id


@define("addToCareTeam")
async def add_to_care_team(req: FunctionRequest) -> list[str]:
    await _require_admin(req)
    patient_user, provider_id = await _team_params(req)
    await add_members(req.data, care_team_role(patient_user), [provider_id])
    return await team_member_ids(req.data, patient_user)


@define("removeFromCareTeam")
async def remove_from_care_team(req: FunctionRequest) -> list[str]:
    await _require_admin(req)
    patient_user, provider_id = await _team_params(req)
    await remove_members(req.data, care_team_role(patient_user), [provider_id])
    return await team_member_ids(req.data, patient_user)


@define("careTeam", validator={"requireUser": True, "fields": {"patientId": {"type": str, "required": True}}})
async def care_team(req: FunctionRequest) -> list[dict[str, Any]]:
    """The providers on a patient's team (id, username, displayName), for whoever may read the patient's profile:
    the patient picks whom to message from it."""
    row = await req.data.get("PatientProfile", req.params["patientId"])  # as the caller: 101 when not theirs
    ids = await team_member_ids(req.data, profile_user_id(row))
    users = await req.data.query("_User").contained_in("objectId", ids).find(use_master=True) if ids else []
    return [{"objectId": u.object_id, "username": u.get("username"), "displayName": u.get("displayName")}
            for u in users]


@before_save("PatientProfile")
async def check_profile(req: SaveRequest) -> None:
    obj = req.object
    guard_server_owned(req, "user", "medicalRecordNumber")
    if req.original is not None:
        return
    caller = caller_id(req)
    is_admin = req.master or await has_role(req.data, caller, ADMIN)
    if not is_admin:
        # A patient registers themselves: the profile is always theirs.
        if "user" in obj and pointer_id(obj.get("user"), "_User", "user") != caller:
            raise forbidden("A patient can only create their own profile.")
        assert caller is not None  # the CLP requires authentication
        obj["user"] = Pointer("_User", caller)
    user_id = pointer_id(obj.get("user"), "_User", "user")
    roles = await roles_of(req.data, user_id)
    if PROVIDER in roles or ADMIN in roles:
        raise forbidden("Staff accounts cannot have a patient profile.")
    if await req.data.query("PatientProfile").equal_to("user", Pointer("_User", user_id)).count(use_master=True):
        raise invalid("This user already has a patient profile.")
    if not isinstance(obj.get("displayName"), str) or not obj["displayName"].strip():
        raise invalid("displayName is required")
    if "isActive" not in obj:
        obj["isActive"] = True
    if "medicalRecordNumber" not in obj:
        obj["medicalRecordNumber"] = f"MRN-{now():%Y}-{new_token()}"
    if PATIENT not in roles:
        await add_members(req.data, PATIENT, [user_id])
    await ensure_role(req.data, care_team_role(user_id))
    # Admins manage profiles (not clinical rows): they read and write the profile itself.
    obj.acl = clinical_acl(user_id, writers=("role:" + ADMIN,))
