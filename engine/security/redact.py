"""Strip what a caller may not see before anything leaves: protected fields, other users' secrets."""

from __future__ import annotations

from typing import Any

from engine.security.auth import Auth
from engine.security.clp import Protection

# Never part of a read, whoever asks: a user's session token is only handed out by sign-up, log-in and /users/me.
USER_SECRETS = ("sessionToken", "password")


def redact(class_name: str, row: dict[str, Any], auth: Auth, protection: Protection) -> dict[str, Any]:
    """Remove, in place, every field this caller may not read from one encoded object."""
    if class_name == "_User":
        for key in USER_SECRETS:
            row.pop(key, None)
        if auth.is_master or (auth.user_id is not None and row.get("objectId") == auth.user_id):
            return row  # a user reads all of themselves (protectedFieldsOwnerExempt)
        row.pop("authData", None)
    if auth.is_master:
        return row
    for name in protection.hidden_for(row, auth.user_id):
        row.pop(name, None)
    return row
