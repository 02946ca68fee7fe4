"""Shared by the sleep-lab hook modules: roles, care teams, and the ACL every clinical row gets.

Who may see a patient's rows is decided by ACLs the server writes (clients can never set or change one):
the patient's own user id (read) and the role ``careTeam_<patientUserId>`` (read/write). A care team is one
role whose ``users`` relation holds the patient's providers, so adding or removing a provider is one role write
that takes effect at once for every row, with no row rewritten. (The loader skips ``_``-modules: no hooks here.)
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from engine.cloud import CloudObject, DataApi, ErrorCode, ParseError, SaveRequest
from engine.wire import ACL, Pointer

PATIENT, PROVIDER, ADMIN = "Patient", "Provider", "Admin"
APP_ROLES = (PATIENT, PROVIDER, ADMIN)
MASTER_ONLY = ACL()  # roles are changed by the server only (cloud functions acting for an Admin)


def care_team_role(patient_user_id: str) -> str:
    return f"careTeam_{patient_user_id}"


def forbidden(message: str) -> ParseError:
    return ParseError(ErrorCode.OPERATION_FORBIDDEN, message)


def invalid(message: str) -> ParseError:
    return ParseError(ErrorCode.VALIDATION_ERROR, message)


def new_token(size: int = 8) -> str:
    return secrets.token_hex(size // 2 + 1)[:size].upper()


# -- roles ---------------------------------------------------------------------------------------------------------


async def find_role(data: DataApi, name: str) -> CloudObject | None:
    return await data.query("_Role").equal_to("name", name).first(use_master=True)


async def ensure_role(data: DataApi, name: str) -> CloudObject:
    """The role ``name``, created master-only when missing (a concurrent start creating it too is fine)."""
    role = await find_role(data, name)
    if role is not None:
        return role
    try:
        return await data.create("_Role", {"name": name, "ACL": MASTER_ONLY}, use_master=True)
    except ParseError as exc:
        if exc.code != ErrorCode.DUPLICATE_VALUE:
            raise
        found = await find_role(data, name)
        if found is None:
            raise
        return found


async def _members_op(data: DataApi, role: CloudObject, op: str, user_ids: Iterable[str]) -> None:
    assert role.object_id is not None
    objects = [{"__type": "Pointer", "className": "_User", "objectId": uid} for uid in user_ids]
    await data.access.update("_Role", role.object_id, {"users": {"__op": op, "objects": objects}}, master=True)


async def add_members(data: DataApi, role_name: str, user_ids: Iterable[str]) -> None:
    await _members_op(data, await ensure_role(data, role_name), "AddRelation", user_ids)


async def remove_members(data: DataApi, role_name: str, user_ids: Iterable[str]) -> None:
    role = await find_role(data, role_name)
    if role is not None:
        await _members_op(data, role, "RemoveRelation", user_ids)


async def roles_of(data: DataApi, user_id: str | None) -> frozenset[str]:
    """Names of the roles that list ``user_id`` directly (the app's roles are flat)."""
    if not user_id:
        return frozenset()
    rows = await (data.query("_Role").equal_to("users", Pointer("_User", user_id)).limit(1000)
                  .find(use_master=True))
    return frozenset(str(r.get("name")) for r in rows)


async def has_role(data: DataApi, user_id: str | None, name: str) -> bool:
    return name in await roles_of(data, user_id)


async def team_member_ids(data: DataApi, patient_user_id: str) -> list[str]:
    role = await find_role(data, care_team_role(patient_user_id))
    if role is None:
        return []
    users = await _related_users(data, role)
    return [u.object_id for u in users if u.object_id]


async def _related_users(data: DataApi, role: CloudObject) -> list[CloudObject]:
    where = {"$relatedTo": {"object": {"__type": "Pointer", "className": "_Role", "objectId": role.object_id},
                            "key": "users"}}
    return await data.access.find("_User", where, {"limit": 1000}, master=True)


# -- patients ------------------------------------------------------------------------------------------------------


def pointer_id(value: Any, class_name: str, field: str) -> str:
    """The objectId of a pointer field's value, refusing anything else (142)."""
    if isinstance(value, Pointer) and value.class_name == class_name:
        return value.object_id
    if isinstance(value, CloudObject) and value.class_name == class_name and value.object_id:
        return value.object_id
    raise invalid(f"{field} must be a pointer to {class_name}")


async def profile(data: DataApi, profile_id: str) -> CloudObject:
    """The PatientProfile row (master view); 142 when there is none, so an id cannot be probed for rows."""
    found = await data.query("PatientProfile").equal_to("objectId", profile_id).first(use_master=True)
    if found is None:
        raise invalid("patient does not exist")
    return found


def profile_user_id(row: CloudObject) -> str:
    return pointer_id(row.get("user"), "_User", "PatientProfile.user")


async def on_care_team(data: DataApi, patient_user_id: str, user_id: str | None) -> bool:
    return bool(user_id) and care_team_role(patient_user_id) in await roles_of(data, user_id)


def caller_id(req: Any) -> str | None:
    user = req.user
    return user.object_id if user is not None else None


async def require_team_access(req: SaveRequest | Any, patient_user_id: str) -> None:
    """Master, or a caller on the patient's care team (a provider outside it gets 119)."""
    if req.master:
        return
    if not await on_care_team(req.data, patient_user_id, caller_id(req)):
        raise forbidden("Only the patient's care team may do this.")


def clinical_acl(patient_user_id: str, *, patient_reads: bool = True, patient_writes: bool = False,
                 writers: Iterable[str] = ()) -> ACL:
    """Care team reads and writes; the patient reads (writes only where said); ``writers`` also read and write."""
    team = "role:" + care_team_role(patient_user_id)
    read = {team, *writers}
    write = {team, *writers}
    if patient_reads:
        read.add(patient_user_id)
    if patient_writes:
        write.add(patient_user_id)
    return ACL(read=frozenset(read), write=frozenset(write))


def changed_keys(req: SaveRequest) -> frozenset[str]:
    """What this save changes: on create every key sent (and ``ACL`` when one was sent), on update the keys whose
    value differs from the stored row. (The hook's object carries the client's values as its starting state, so
    ``dirty_keys()`` only tells what a hook changed.)"""
    obj, original = req.object, req.original
    if original is None:
        return frozenset(obj.keys()) | ({"ACL"} if obj.acl is not None else frozenset())
    keys = {k for k in set(obj.keys()) | set(original.keys()) if obj.get(k) != original.get(k)}
    if obj.acl != original.acl:
        keys.add("ACL")
    return frozenset(keys)


def guard_server_owned(req: SaveRequest, *keys: str) -> None:
    """Clients never set a clinical row's ACL, nor change the keys that decide who sees it."""
    if req.master:
        return
    changed = changed_keys(req)
    if "ACL" in changed:
        raise forbidden("The ACL of this class is set by the server.")
    if req.original is None:
        return
    for key in keys:
        if key in changed:
            raise forbidden(f"{key} cannot be changed.")
