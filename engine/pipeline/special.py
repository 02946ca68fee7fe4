"""Rules of Parse's system classes that no CLP or ACL can express (_Role names, server-owned columns)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from engine.errors import ErrorCode, ParseError
from engine.security.auth import Auth

ROLE_NAME_RE = re.compile(r"^[A-Za-z0-9_\- ]+$")
# Columns only the server writes: a client that sends them is refused, never silently obeyed.
SERVER_OWNED: Mapping[str, frozenset[str]] = {
    "_User": frozenset({"emailVerified", "sessionToken"}),
    "_Session": frozenset({"sessionToken", "user", "expiresAt", "createdWith", "installationId"}),
}


def check_system_write(class_name: str, body: Mapping[str, Any], auth: Auth, *, is_create: bool) -> None:
    if class_name == "_Role":
        _check_role(body, is_create)
    if class_name == "_User":
        # Passwords and authData are hashed/verified by pipeline/users.py before a write gets here; one that
        # still carries them (a hook's output, say) would store a secret in clear.
        for key in ("password", "authData"):
            if key in body:
                raise ParseError(ErrorCode.INVALID_KEY_NAME, f"{key} can only be set through the users routes.")
    owned = SERVER_OWNED.get(class_name)
    if owned and not auth.is_master:
        for key in body:
            if key in owned:
                if key == "emailVerified":
                    raise ParseError(ErrorCode.OPERATION_FORBIDDEN,
                                     "Clients aren't allowed to manually update email verification.")
                raise ParseError(ErrorCode.OPERATION_FORBIDDEN, f"Clients aren't allowed to set {key}.")


def _check_role(body: Mapping[str, Any], is_create: bool) -> None:
    if not is_create:
        if "name" in body:
            raise ParseError(ErrorCode.CHANGED_IMMUTABLE_FIELD, "A role's name can only be set before it is saved.")
        return
    name = body.get("name")
    if name is None:
        raise ParseError(ErrorCode.INCORRECT_TYPE, "name is required.")
    if not isinstance(name, str) or not ROLE_NAME_RE.match(name) or len(name) > 128:
        raise ParseError(ErrorCode.INVALID_ROLE_NAME,
                         "A role's name can be only contain alphanumeric characters, _, -, and spaces.")
    if "ACL" not in body:
        raise ParseError(ErrorCode.INCORRECT_TYPE, "ACL is required.")
