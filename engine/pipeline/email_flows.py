"""Email verification and password reset: single-use, expiring tokens sent through the mail adapter."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from engine.errors import ErrorCode, ParseError
from engine.mail import Mail
from engine.pipeline.context import Services
from engine.pipeline.sessions import revoke_user_sessions
from engine.pipeline.users import check_password_policy, find_user, send_verification, verification_fields
from engine.query.where import Compare
from engine.security.passwords import hash_password
from engine.storage.base import Changes, SetValue, StoredObject
from engine.wire import now


def _email(value: Any) -> str:
    if value is None or value == "":
        raise ParseError(ErrorCode.EMAIL_MISSING, "you must provide an email")
    if not isinstance(value, str):
        raise ParseError(ErrorCode.INVALID_EMAIL_ADDRESS, "you must provide a valid email string")
    return value


async def _update(svc: Services, user: StoredObject, changes: Changes) -> None:
    await svc.storage.update(svc.schemas.require("_User"), Compare(("objectId",), "eq", user.object_id), changes)


async def request_password_reset(svc: Services, email: Any) -> None:
    """Always succeeds for unknown addresses, so the endpoint cannot tell who has an account."""
    user = await find_user(svc, Compare(("email",), "eq", _email(email)))
    if user is None:
        return
    token = secrets.token_urlsafe(24)
    expires = now() + timedelta(seconds=svc.settings.reset_token_validity)
    await _update(svc, user, Changes(updated_at=user.updated_at, internal={
        "_perishable_token": token, "_perishable_token_expires_at": expires}))
    query = urlencode({"token": token, "username": user.fields.get("username", "")})
    link = f"{svc.settings.links_url()}/apps/{svc.settings.app_id}/request_password_reset?{query}"
    await svc.mailer.send(Mail(str(user.fields["email"]), f"Password Reset for {svc.settings.app_name}",
                               f"Hi,\n\nYou requested to reset your password for {svc.settings.app_name}.\n\n"
                               f"Click here to reset it:\n{link}", link))


async def request_verification(svc: Services, email: Any) -> None:
    user = await find_user(svc, Compare(("email",), "eq", _email(email)))
    if user is None or user.fields.get("emailVerified") is True:
        return
    fields = await verification_fields(svc)
    await _update(svc, user, Changes(updated_at=user.updated_at, internal=fields))
    await send_verification(svc, user, fields["_email_verify_token"])


def _live(user: StoredObject | None, expiry_key: str) -> bool:
    if user is None:
        return False
    expires = user.internal.get(expiry_key)
    return not isinstance(expires, datetime) or expires > now()


async def verify_email(svc: Services, token: Any) -> bool:
    # Tokens must be strings: an object could carry a query operator (security catalog S09).
    if not isinstance(token, str) or not token:
        return False
    user = await find_user(svc, Compare(("_email_verify_token",), "eq", token))
    if not _live(user, "_email_verify_token_expires_at"):
        return False
    assert user is not None
    await _update(svc, user, Changes(updated_at=now(), ops=((("emailVerified",), SetValue(True)),), internal={
        "_email_verify_token": None, "_email_verify_token_expires_at": None}))
    return True


async def reset_token_user(svc: Services, token: Any) -> StoredObject | None:
    if not isinstance(token, str) or not token:
        return None
    user = await find_user(svc, Compare(("_perishable_token",), "eq", token))
    return user if _live(user, "_perishable_token_expires_at") else None


async def reset_password(svc: Services, token: Any, new_password: Any) -> None:
    user = await reset_token_user(svc, token)
    if user is None:
        raise ParseError(ErrorCode.OTHER_CAUSE, "Failed to reset password: the link is invalid or expired.")
    if not isinstance(new_password, str) or not new_password:
        raise ParseError(ErrorCode.PASSWORD_MISSING, "password is required")
    name = user.fields.get("username")
    check_password_policy(svc, new_password, name if isinstance(name, str) else None)
    await _update(svc, user, Changes(updated_at=now(), internal={
        "_hashed_password": await hash_password(new_password), "_password_changed_at": now(),
        "_perishable_token": None, "_perishable_token_expires_at": None,
        "_failed_login_count": None, "_account_lockout_expires_at": None}))
    await revoke_user_sessions(svc, user.object_id)
