"""Class-level permissions: may this Auth do an operation on a class, and under which extra constraint."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from engine.errors import ErrorCode, ParseError
from engine.query.where import MATCH_ALL, Compare, Or, Where
from engine.schema.model import MASTER_ONLY_CLASSES, ClassDef, FieldType
from engine.security.auth import Auth
from engine.wire import Pointer


class Op(StrEnum):
    FIND = "find"
    GET = "get"
    COUNT = "count"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    ADD_FIELD = "addField"


_READ_OPS = (Op.FIND, Op.GET, Op.COUNT)
_WRITE_OPS = (Op.UPDATE, Op.DELETE)
# Parse's default for the server option `protectedFields`: nobody but the user sees a user's email.
DEFAULT_PROTECTED: Mapping[str, Mapping[str, list[str]]] = {"_User": {"*": ["email"]}}


def _denied(op: Op, cls: ClassDef) -> ParseError:
    return ParseError(ErrorCode.OPERATION_FORBIDDEN, f"Permission denied for action {op.value} on class {cls.name}.")


def _pointer_constraint(cls: ClassDef, fields: Iterable[str], user_id: str) -> Where:
    me = Pointer("_User", user_id)
    parts: list[Where] = []
    for name in fields:
        fdef = cls.field_def(name)
        # An Array field holds the user when it contains the pointer; equality already means "contains".
        if fdef is None or fdef.type in (FieldType.POINTER, FieldType.ARRAY):
            parts.append(Compare((name,), "eq", me))
    if not parts:
        return Or(())
    return parts[0] if len(parts) == 1 else Or(tuple(parts))


def check_class_permission(cls: ClassDef, op: Op, auth: Auth) -> Where:
    """Allow (MATCH_ALL), allow only rows pointing at the caller (pointer permissions), or raise 119/101.

    Both this and the object's ACL must pass; the returned constraint is ANDed into the storage query."""
    if auth.is_master:
        return MATCH_ALL
    if cls.name in MASTER_ONLY_CLASSES:
        raise ParseError(ErrorCode.OPERATION_FORBIDDEN, "Permission denied")
    clp = cls.clp
    perms: Mapping[str, Any] = clp.get(op.value, {}) if clp else {"*": True}
    if not isinstance(perms, Mapping):
        raise _denied(op, cls)
    # Over the CLP's few keys, not the caller's principals: a user may hold 1 000 roles.
    if any(allowed is True and auth.holds(key) for key, allowed in perms.items()):
        return MATCH_ALL
    if perms.get("requiresAuthentication") is True:
        if auth.user_id:
            return MATCH_ALL
        raise ParseError(ErrorCode.OBJECT_NOT_FOUND, "Permission denied, user needs to be authenticated.")
    if op is Op.CREATE or op is Op.ADD_FIELD or not auth.user_id:
        raise _denied(op, cls)
    fields: list[str] = list(perms.get("pointerFields") or [])
    if op in _READ_OPS:
        fields.extend(clp.get("readUserFields") or [])
    if op in _WRITE_OPS:
        fields.extend(clp.get("writeUserFields") or [])
    if not fields:
        raise _denied(op, cls)
    return _pointer_constraint(cls, fields, auth.user_id)


def default_acl_entries(cls: ClassDef) -> Mapping[str, Any] | None:
    """The CLP's `ACL` entry: the default ACL of objects created without one (`currentUser` = the creator)."""
    entry = cls.clp.get("ACL") if cls.clp else None
    return entry if isinstance(entry, Mapping) else None


@dataclass(frozen=True, slots=True)
class Protection:
    """Fields hidden from one caller. ``always`` applies to every object; ``unless_owner`` maps a pointer
    field to the fields that stay hidden unless that field points at the caller (``userField:<ptr>``)."""

    always: frozenset[str]
    by_user_field: Mapping[str, frozenset[str]]

    def hidden_for(self, row: Mapping[str, Any], user_id: str | None) -> frozenset[str]:
        hidden = self.always
        for ptr_field, fields in self.by_user_field.items():
            if user_id and _points_at(row.get(ptr_field), user_id):
                hidden = hidden & fields
        return hidden

    def query_forbidden(self) -> frozenset[str]:
        """Fields the caller may not query or sort on: hidden unless a per-object exemption applies, so
        a filter can never act as an oracle for a value the caller cannot read."""
        return self.always


def _points_at(value: Any, user_id: str) -> bool:
    if isinstance(value, Mapping):
        return value.get("objectId") == user_id and value.get("className") == "_User"
    if isinstance(value, list):
        return any(_points_at(v, user_id) for v in value)
    return False


def protected_fields(
    cls: ClassDef, auth: Auth, server_option: Mapping[str, Mapping[str, list[str]]] = DEFAULT_PROTECTED
) -> Protection:
    """Intersection of every protectedFields group that applies to the caller (Parse's rule)."""
    if auth.is_master:
        return Protection(frozenset(), {})
    groups: dict[str, set[str]] = {}
    for source in (server_option.get(cls.name, {}), (cls.clp or {}).get("protectedFields") or {}):
        for key, names in source.items():
            if isinstance(names, list):
                groups.setdefault(key, set()).update(n for n in names if isinstance(n, str))
    if not groups:
        return Protection(frozenset(), {})
    applicable = ["*"]
    if auth.user_id:
        applicable += ["authenticated", auth.user_id]
    applicable += [f"role:{r}" for r in auth.role_names]
    sets = [frozenset(groups[k]) for k in applicable if k in groups]
    always = frozenset.intersection(*sets) if sets else frozenset()
    by_user_field = {
        key.removeprefix("userField:"): always & frozenset(names)
        for key, names in groups.items() if key.startswith("userField:")
    }
    return Protection(always, by_user_field)
