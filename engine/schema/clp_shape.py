"""The shape of class-level permissions, checked as Parse Server's `validateCLP` does (all failures are 107).

Only shape: what a CLP *means* for a caller is engine.security.clp's job. A malformed CLP stored once would be
read by every request of the class, so nothing reaches storage unchecked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from engine.errors import ErrorCode, ParseError
from engine.schema.limits import shown
from engine.schema.model import BUILTIN_FIELDS, FieldDef, FieldType
from engine.wire import check_denylist, decode_acl

CLP_OPERATIONS = ("find", "count", "get", "create", "update", "delete", "addField")
USER_FIELD_KEYS = ("readUserFields", "writeUserFields")
# `ACL` (the default ACL of new objects) is this engine's addition to Parse's keys.
CLP_KEYS = frozenset({*CLP_OPERATIONS, *USER_FIELD_KEYS, "protectedFields", "ACL"})
MAX_CLP_ENTRIES = 1000  # entities per operation, fields per list: far beyond any real class
_USER_ID_RE = re.compile(r"^[A-Za-z0-9]{1,256}$")  # Parse's auto-id pattern (custom ids off)
_ROLE_RE = re.compile(r"^role:.{1,256}$", re.DOTALL)
_USER_FIELD_RE = re.compile(r"^userField:.{1,256}$", re.DOTALL)


def _invalid(message: str) -> ParseError:
    return ParseError(ErrorCode.INVALID_JSON, message)


def _shown_value(value: object) -> str:
    return shown(value if isinstance(value, str) else repr(value))


def _is_permission_key(key: str) -> bool:
    return key in ("*", "requiresAuthentication", "pointerFields") or bool(
        _ROLE_RE.match(key) or _USER_ID_RE.match(key)
    )


def _is_protected_key(key: str) -> bool:
    return key in ("*", "authenticated") or bool(_USER_FIELD_RE.match(key) or _ROLE_RE.match(key)
                                                 or _USER_ID_RE.match(key))


def _check_pointer_field(name: object, fields: Mapping[str, FieldDef], where: str) -> None:
    """Pointer permissions name a Pointer<_User> or an Array column (array items are checked when applied)."""
    fdef = fields.get(name) if isinstance(name, str) else None
    if fdef is None or not (
        (fdef.type is FieldType.POINTER and fdef.target_class == "_User") or fdef.type is FieldType.ARRAY
    ):
        raise _invalid(f"'{_shown_value(name)}' is not a valid column for class level pointer permissions {where}")


def _list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise _invalid(f"'{_shown_value(value)}' is not a valid value for {what} - expected an array.")
    if len(value) > MAX_CLP_ENTRIES:
        raise _invalid(f"{what} lists more than {MAX_CLP_ENTRIES} entries")
    return value


def _check_protected(value: Mapping[str, Any], fields: Mapping[str, FieldDef]) -> None:
    for entity, names in value.items():
        if not isinstance(entity, str) or not _is_protected_key(entity):
            raise _invalid(f"'{_shown_value(entity)}' is not a valid key for class level permissions")
        for name in _list(names, f"protectedFields[{shown(entity)}]"):
            if not isinstance(name, str):
                raise _invalid(f"'{_shown_value(name)}' is not a valid field name in protectedFields:{shown(entity)}")
            if name in BUILTIN_FIELDS:
                raise _invalid(f"Default field '{name}' can not be protected")
            if name not in fields:
                raise _invalid(f"Field '{shown(name)}' in protectedFields:{shown(entity)} does not exist")


def _check_operation(op: str, value: Mapping[str, Any], fields: Mapping[str, FieldDef]) -> None:
    for entity, permit in value.items():
        if not isinstance(entity, str) or not _is_permission_key(entity):
            raise _invalid(f"'{_shown_value(entity)}' is not a valid key for class level permissions")
        if entity == "pointerFields":
            for name in _list(permit, f"{op}[pointerFields]"):
                _check_pointer_field(name, fields, op)
        elif permit is not True:
            raise _invalid(f"'{_shown_value(permit)}' is not a valid value for class level permissions "
                           f"{op}:{shown(entity)}:{_shown_value(permit)}")


def validate_clp(clp: object, fields: Mapping[str, FieldDef]) -> dict[str, Any]:
    """The CLP as stored, or 107 with Parse's message; ``fields`` are the class's columns after the change."""
    if not isinstance(clp, Mapping):
        raise _invalid("classLevelPermissions must be an object")
    check_denylist(clp)
    for key, value in clp.items():
        if key not in CLP_KEYS:
            raise _invalid(f"{shown(key)} is not a valid operation for class level permissions")
        if key in USER_FIELD_KEYS:
            for name in _list(value, f"class level permissions {key}"):
                _check_pointer_field(name, fields, key)
            continue
        if not isinstance(value, Mapping):
            raise _invalid(f"'{_shown_value(value)}' is not a valid value for class level permissions {key} "
                           "- must be an object")
        if len(value) > MAX_CLP_ENTRIES:
            raise _invalid(f"class level permissions {key} has more than {MAX_CLP_ENTRIES} entries")
        if key == "protectedFields":
            _check_protected(value, fields)
        elif key == "ACL":
            _check_default_acl(value)
        else:
            _check_operation(key, value, fields)
    return dict(clp)


def _check_default_acl(value: Mapping[str, Any]) -> None:
    """Like an object's ACL, plus `currentUser` (the creator); decode_acl raises 123 for a bad entry."""
    decode_acl({("x" if k == "currentUser" else k): v for k, v in value.items()})
