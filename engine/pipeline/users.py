"""Users (`_User`): sign-up, log-in, /users/me, self-only updates, password policy, lockout, authData."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from engine.cloud.triggers import TriggerType
from engine.errors import ErrorCode, ParseError
from engine.mail import Mail
from engine.pipeline import hooks
from engine.pipeline.authdata import parse_auth_data
from engine.pipeline.context import RequestContext, Services, require_master
from engine.pipeline.encode import Json, object_to_json
from engine.pipeline.sessions import create_session, revoke_user_sessions
from engine.pipeline.write import ServerFields, run_create, run_delete, run_update
from engine.query.options import FindOptions
from engine.query.where import Compare, Or, Regex, Where
from engine.schema.limits import MAX_EMAIL_LENGTH, MAX_PASSWORD_LENGTH, MAX_USERNAME_LENGTH, check_write_body
from engine.schema.model import ClassDef
from engine.security.auth import Auth
from engine.security.passwords import hash_password, verify_password
from engine.storage.base import Changes, StoredObject
from engine.wire import ACL, decode_acl, new_object_id, now

EMAIL_RE = re.compile(r"^.+@.+$")
ONE = FindOptions(limit=1)
INVALID_LOGIN = "Invalid username/password."
MAX_LOGIN_INPUT = max(MAX_EMAIL_LENGTH, MAX_PASSWORD_LENGTH, MAX_USERNAME_LENGTH)


@dataclass(frozen=True, slots=True)
class UserResult:
    body: Json
    object_id: str
    created: bool  # 201 for a new user, 200 for an authData log-in of an existing one


def _users(svc: Services) -> ClassDef:
    return svc.schemas.require("_User")


async def find_user(svc: Services, where: Where) -> StoredObject | None:
    rows = await svc.storage.find(_users(svc), where, ONE)
    return rows[0] if rows else None


def _exactly(field: str, value: str) -> Where:
    # Parse checks uniqueness case-insensitively (and logs in exactly).
    return Regex((field,), "^" + re.escape(value) + "$", "i")


async def _check_unique(svc: Services, body: Mapping[str, Any], self_id: str | None) -> None:
    for key, code, message in (("username", ErrorCode.USERNAME_TAKEN, "Account already exists for this username."),
                               ("email", ErrorCode.EMAIL_TAKEN, "Account already exists for this email address.")):
        value = body.get(key)
        if isinstance(value, str):
            other = await find_user(svc, _exactly(key, value))
            if other is not None and other.object_id != self_id:
                raise ParseError(code, message)


def _unsets(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("__op") == "Delete"


def _check_email(body: Mapping[str, Any]) -> None:
    # Parse lets a user drop their email (null or a Delete op): an account needs none.
    if "email" in body and body["email"] is not None and not _unsets(body["email"]):
        email = body["email"]
        if not isinstance(email, str) or len(email) > MAX_EMAIL_LENGTH or not EMAIL_RE.match(email):
            raise ParseError(ErrorCode.INVALID_EMAIL_ADDRESS, "Email address format is invalid.")


def check_user_input(body: Mapping[str, Any]) -> None:
    """Bounds checked before any work: the uniqueness check compiles the username and email into a
    case-insensitive regex and bcrypt runs on the password, and both grow with the input."""
    username, password = body.get("username"), body.get("password")
    if isinstance(username, str) and len(username) > MAX_USERNAME_LENGTH:
        raise ParseError(ErrorCode.VALIDATION_ERROR, f"Username must be at most {MAX_USERNAME_LENGTH} characters long.")
    if isinstance(password, str) and len(password) > MAX_PASSWORD_LENGTH:
        raise ParseError(ErrorCode.VALIDATION_ERROR, f"Password must be at most {MAX_PASSWORD_LENGTH} characters long.")
    _check_email(body)
    check_write_body(body)


def check_password_policy(svc: Services, password: str, username: str | None) -> None:
    s = svc.settings
    problem = None
    if len(password) < s.password_min_length:
        problem = f"Password must be at least {s.password_min_length} characters long."
    elif s.password_pattern and not re.search(s.password_pattern, password):
        problem = "Password does not meet the Password Policy requirements."
    elif s.password_do_not_allow_username and username and username.lower() in password.lower():
        problem = "Password cannot contain your username."
    if problem:
        raise ParseError(ErrorCode.VALIDATION_ERROR, problem)


def self_view(svc: Services, user: StoredObject, token: str | None = None) -> Json:
    """A user as they see themselves (all their fields, authData), plus the session token when given."""
    body = object_to_json(_users(svc), user, svc.file_url)
    if token:
        body["sessionToken"] = token
    return body


async def verification_fields(svc: Services) -> dict[str, Any]:
    return {"_email_verify_token": secrets.token_urlsafe(24),
            "_email_verify_token_expires_at": now() + timedelta(seconds=svc.settings.email_verify_token_validity)}


async def send_verification(svc: Services, user: StoredObject, token: str) -> None:
    email = user.fields.get("email")
    if not isinstance(email, str):
        return
    name = user.fields.get("username", "")
    link = (f"{svc.settings.links_url()}/apps/{svc.settings.app_id}/verify_email?token={token}"
            f"&username={name}")
    await svc.mailer.send(Mail(email, f"Please verify your e-mail for {svc.settings.app_name}",
                               f"Hi,\n\nYou are being asked to confirm the e-mail address {email} with "
                               f"{svc.settings.app_name}\n\nClick here to confirm it:\n{link}", link))


async def signup(svc: Services, ctx: RequestContext, body: Mapping[str, Any]) -> UserResult:
    check_user_input(body)
    data = dict(body)
    if data.get("authData") == {}:
        del data["authData"]  # Parse: an empty authData block has nothing to validate or link
    if "authData" in data:
        return await _auth_data_login_or_signup(svc, ctx, data)
    username, password = data.pop("username", None), data.pop("password", None)
    if not isinstance(username, str) or not username:
        raise ParseError(ErrorCode.USERNAME_MISSING, "bad or missing username")
    if not isinstance(password, str) or not password:
        raise ParseError(ErrorCode.PASSWORD_MISSING, "password is required")
    data["username"] = username
    _check_email(data)
    check_password_policy(svc, password, username)
    return await _create_user(svc, ctx, data, {"_hashed_password": await hash_password(password)}, "password")


async def _create_user(
    svc: Services, ctx: RequestContext, data: dict[str, Any], internal: dict[str, Any], provider: str
) -> UserResult:
    auth = ctx.auth
    await _check_unique(svc, data, None)
    user_id = new_object_id()
    acl = None
    if "ACL" not in data:
        read = {user_id} if svc.settings.enforce_private_users else {user_id, "*"}
        acl = ACL(frozenset(read), frozenset({user_id}))
    verify = svc.settings.verify_user_emails and isinstance(data.get("email"), str)
    server_set: dict[str, Any] = {}
    if verify:
        internal.update(await verification_fields(svc))
        server_set["emailVerified"] = False
    try:
        created = await run_create(svc, ctx, "_User", data,
                                   ServerFields(object_id=user_id, acl=acl, internal=internal, fields=server_set))
    except ParseError as exc:
        if exc.code == ErrorCode.DUPLICATE_VALUE:  # lost a race with another sign-up
            raise ParseError(ErrorCode.USERNAME_TAKEN, "Account already exists for this username.") from exc
        raise
    session = await create_session(svc, user_id, action="signup", provider=provider,
                                   installation_id=auth.installation_id)
    if verify:
        await send_verification(svc, created.stored, internal["_email_verify_token"])
    body = dict(created.body)
    body["sessionToken"] = session.fields["sessionToken"]
    return UserResult(body, user_id, created=True)


async def _auth_data_login_or_signup(svc: Services, ctx: RequestContext, data: dict[str, Any]) -> UserResult:
    auth = ctx.auth
    providers = parse_auth_data(svc.settings, data.pop("authData"))
    linked = {p: d for p, d in providers.items() if d is not None}
    if not linked:
        raise ParseError(ErrorCode.UNSUPPORTED_SERVICE, "This authentication method is unsupported.")
    clauses: list[Where] = [Compare((f"_auth_data_{p}", "id"), "eq", d["id"]) for p, d in linked.items()]
    existing = await find_user(svc, clauses[0] if len(clauses) == 1 else Or(tuple(clauses)))
    provider = next(iter(linked))
    if existing is not None:
        session = await create_session(svc, existing.object_id, action="login", provider=provider,
                                       installation_id=auth.installation_id)
        return UserResult(self_view(svc, existing, str(session.fields["sessionToken"])), existing.object_id, False)
    generated = "username" not in data
    data.setdefault("username", secrets.token_urlsafe(19)[:25])
    if "password" in data:
        raise ParseError(ErrorCode.INVALID_KEY_NAME, "password cannot be set together with authData")
    _check_email(data)
    internal: dict[str, Any] = {f"_auth_data_{p}": d for p, d in linked.items()}
    result = await _create_user(svc, ctx, data, internal, provider)
    if generated:
        result.body["username"] = data["username"]  # Parse echoes a username it generated
    return result


def _js_truthy(value: Any) -> bool:
    return value is not None and value is not False and value != "" and not (
        isinstance(value, int | float) and not isinstance(value, bool) and value == 0)


async def _authenticate(svc: Services, params: Mapping[str, Any]) -> StoredObject:
    """The user these credentials name, with lockout and failure counting; 101 with one message otherwise."""
    username, email, password = params.get("username"), params.get("email"), params.get("password")
    # Parse's order and JavaScript truthiness: missing first (200/201), then a present non-string is an
    # ordinary failed log-in (101), so an operator object like {"$ne": 1} never reaches a query.
    if not _js_truthy(username) and not _js_truthy(email):
        raise ParseError(ErrorCode.USERNAME_MISSING, "username/email is required.")
    if not _js_truthy(password):
        raise ParseError(ErrorCode.PASSWORD_MISSING, "password is required.")
    if any(_js_truthy(v) and not isinstance(v, str) for v in (username, email, password)) or not isinstance(
            password, str):
        raise ParseError(ErrorCode.OBJECT_NOT_FOUND, INVALID_LOGIN)
    username = username if _js_truthy(username) else None
    email = email if _js_truthy(email) else None
    if any(isinstance(v, str) and len(v) > MAX_LOGIN_INPUT for v in (username, email, password)):
        # No stored credential can match; answered like any failed log-in, without a lookup or a hash.
        raise ParseError(ErrorCode.OBJECT_NOT_FOUND, INVALID_LOGIN)
    if isinstance(username, str) and isinstance(email, str):
        where: Where = Compare(("username",), "eq", username)
    elif isinstance(username, str):
        where = Or((Compare(("username",), "eq", username), Compare(("email",), "eq", username)))
    else:
        where = Compare(("email",), "eq", email)
    user = await find_user(svc, where)
    _check_lockout(svc, user)
    hashed = user.internal.get("_hashed_password") if user else None
    ok = await verify_password(password, hashed if isinstance(hashed, str) else None)
    if user is None or not ok:
        if user is not None:
            await _count_failure(svc, user)
        raise ParseError(ErrorCode.OBJECT_NOT_FOUND, INVALID_LOGIN)
    if user.acl is not None and not user.acl.read and not user.acl.write:
        # Parse's lock-out idiom: an ACL of `{}` (master key only) locks the account; any other ACL, even one
        # that does not let the user read their own record, still logs in (UsersRouter).
        raise ParseError(ErrorCode.OBJECT_NOT_FOUND, INVALID_LOGIN)
    return user


async def login(svc: Services, ctx: RequestContext, params: Mapping[str, Any]) -> Json:
    auth = ctx.auth
    user = await _authenticate(svc, params)
    if svc.settings.prevent_login_with_unverified_email and user.fields.get("emailVerified") is not True:
        raise ParseError(ErrorCode.EMAIL_NOT_FOUND, "User email is not verified.")
    if user.internal.get("_failed_login_count"):
        await _set_internal(svc, user, {"_failed_login_count": None, "_account_lockout_expires_at": None})
    await hooks.user_trigger(svc, ctx, TriggerType.BEFORE_LOGIN, hooks.to_cloud(_users(svc), user), after=False)
    session = await create_session(svc, user.object_id, action="login", provider="password",
                                   installation_id=auth.installation_id)
    token = str(session.fields["sessionToken"])
    as_user = Auth(user_id=user.object_id, installation_id=auth.installation_id, session_token=token)
    await hooks.user_trigger(svc, ctx.with_auth(as_user), TriggerType.AFTER_LOGIN, hooks.to_cloud(_users(svc), user),
                             after=True)
    return self_view(svc, user, token)


async def login_as(svc: Services, ctx: RequestContext, user_id: Any) -> Json:
    """POST /loginAs (master key): a session for any user, marked as made with the master key."""
    require_master(ctx)
    auth = ctx.auth
    if not isinstance(user_id, str) or not user_id:
        raise ParseError(ErrorCode.INVALID_VALUE, "userId must not be empty, null, or undefined")
    user = await find_user(svc, Compare(("objectId",), "eq", user_id))
    if user is None:
        raise ParseError(ErrorCode.OBJECT_NOT_FOUND, "user not found")
    session = await create_session(svc, user.object_id, action="login", provider="masterkey",
                                   installation_id=auth.installation_id)
    return self_view(svc, user, str(session.fields["sessionToken"]))


async def verify_credentials(svc: Services, params: Mapping[str, Any]) -> Json:
    """POST /verifyPassword: the same checks as log-in (lockout included, so it is no way around it), no session."""
    return self_view(svc, await _authenticate(svc, params))


def _check_lockout(svc: Services, user: StoredObject | None) -> None:
    if user is None or svc.settings.account_lockout_threshold <= 0:
        return
    until = user.internal.get("_account_lockout_expires_at")
    if isinstance(until, datetime) and until > now():
        minutes = svc.settings.account_lockout_duration
        raise ParseError(ErrorCode.OBJECT_NOT_FOUND, "Your account is locked due to multiple failed login attempts. "
                                                     f"Please try again after {minutes} minute(s)")


async def _count_failure(svc: Services, user: StoredObject) -> None:
    threshold = svc.settings.account_lockout_threshold
    if threshold <= 0:
        return
    count = int(user.internal.get("_failed_login_count") or 0) + 1
    changes: dict[str, Any] = {"_failed_login_count": count}
    if count >= threshold:
        changes = {"_failed_login_count": 0,
                   "_account_lockout_expires_at": now() + timedelta(minutes=svc.settings.account_lockout_duration)}
    await _set_internal(svc, user, changes)


async def _set_internal(svc: Services, user: StoredObject, values: Mapping[str, Any]) -> StoredObject | None:
    return await svc.storage.update(_users(svc), Compare(("objectId",), "eq", user.object_id),
                                    Changes(updated_at=user.updated_at, internal=dict(values)))


async def me(svc: Services, ctx: RequestContext) -> Json:
    auth = ctx.auth
    if not auth.user_id or not auth.session_token:
        raise ParseError(ErrorCode.INVALID_SESSION_TOKEN, "Invalid session token")
    user = await find_user(svc, Compare(("objectId",), "eq", auth.user_id))
    if user is None:
        raise ParseError(ErrorCode.INVALID_SESSION_TOKEN, "Invalid session token")
    return self_view(svc, user, auth.session_token)


def _may_change(auth: Auth, object_id: str) -> None:
    if not auth.is_master and auth.user_id != object_id:
        raise ParseError(ErrorCode.SESSION_MISSING, f"Cannot modify user {object_id}.")


async def update_user(svc: Services, ctx: RequestContext, object_id: str, body: Mapping[str, Any]) -> Json:
    auth = ctx.auth
    _may_change(auth, object_id)
    check_user_input(body)
    data = dict(body)
    internal: dict[str, Any] = {}
    current = await find_user(svc, Compare(("objectId",), "eq", object_id))
    if current is None:
        raise ParseError(ErrorCode.OBJECT_NOT_FOUND, "Object not found.")
    if "username" in data and (not isinstance(data["username"], str) or not data["username"]):
        raise ParseError(ErrorCode.USERNAME_MISSING, "bad or missing username")
    _check_email(data)
    await _check_unique(svc, data, object_id)
    password = data.pop("password", None)
    if password is not None:
        if not isinstance(password, str) or not password:
            raise ParseError(ErrorCode.PASSWORD_MISSING, "password is required")
        name = data.get("username", current.fields.get("username"))
        check_password_policy(svc, password, name if isinstance(name, str) else None)
        internal["_hashed_password"] = await hash_password(password)
        internal["_password_changed_at"] = now()
    if data.get("authData") == {}:
        del data["authData"]
    if "authData" in data:
        if data["authData"] is None:
            raise ParseError(ErrorCode.UNSUPPORTED_SERVICE, "This authentication method is unsupported.")
        for provider, stored in parse_auth_data(svc.settings, data.pop("authData")).items():
            internal[f"_auth_data_{provider}"] = stored
    server_set: dict[str, Any] = {}
    new_email = data.get("email")
    if svc.settings.verify_user_emails and isinstance(new_email, str) and new_email != current.fields.get("email"):
        internal.update(await verification_fields(svc))
        server_set["emailVerified"] = False
    acl = None
    if "ACL" in data and not auth.is_master:
        # A user can never lock themselves out of their own account.
        given = decode_acl(data.pop("ACL"))
        acl = ACL(given.read | {object_id}, given.write | {object_id})
    if isinstance(new_email, str) and new_email != current.fields.get("email"):
        # A reset link sent to the old address must not work after the address changed.
        internal.update({"_perishable_token": None, "_perishable_token_expires_at": None})
    response = await run_update(svc, ctx, "_User", object_id, data,
                                ServerFields(acl=acl, internal=internal, fields=server_set))
    if password is not None:
        # Every session ends with the old password; the caller's own is replaced by a fresh one (Parse's rule).
        await revoke_user_sessions(svc, object_id)
        if not auth.is_master and auth.session_token:
            session = await create_session(svc, object_id, action="update", provider="password",
                                           installation_id=auth.installation_id)
            response["sessionToken"] = session.fields["sessionToken"]
    if "_email_verify_token" in internal:
        updated = await find_user(svc, Compare(("objectId",), "eq", object_id))
        if updated is not None:
            await send_verification(svc, updated, internal["_email_verify_token"])
    return response


async def delete_user(svc: Services, ctx: RequestContext, object_id: str) -> None:
    _may_change(ctx.auth, object_id)
    await run_delete(svc, ctx, "_User", object_id)
    await revoke_user_sessions(svc, object_id)

