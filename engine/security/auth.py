"""Who is calling: credentials from a request resolved into one Auth value (also used by LiveQuery)."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import lru_cache

from engine.errors import ErrorCode, HTTPDenied, ParseError
from engine.settings import Settings


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a request presented, from X-Parse-* headers or the JS SDK's `_`-prefixed body keys."""

    app_id: str | None = None
    master_key: str | None = None
    session_token: str | None = None
    installation_id: str | None = None
    client_keys: tuple[str, ...] = ()
    ip: str = ""


@dataclass(frozen=True, slots=True)
class Auth:
    is_master: bool = False
    user_id: str | None = None
    role_names: frozenset[str] = field(default_factory=frozenset)
    installation_id: str | None = None
    session_token: str | None = None
    # Parse's readOnlyMasterKey: reads as the master key, every write refused (119).
    is_read_only: bool = False

    def principals(self) -> tuple[str, ...]:
        """The ACL group: public, the user's id, and every role they hold."""
        return principals_of(self.user_id, self.role_names)

    def holds(self, principal: str) -> bool:
        """Whether an ACL or CLP entry keyed ``principal`` (``*``, a user id, ``role:<name>``) applies."""
        return principal in principal_set_of(self.user_id, self.role_names)


# Built once per (user, roles) rather than per request: a user in 1 000 roles costs a sort and 1 000 strings,
# and the same tuple object lets the SQL compiler reuse its serialized form (engine.storage.sql_compile). An
# entry answers only the very role set it was built from (equal, and normally the same object RoleCache hands
# out), so it is never stale: a role write makes RoleCache (roles.py) answer a new set, in this process and,
# through the store's change feed, in the others.
# ~120 KB for a user in 1 000 roles (tuple, set and strings): at most ~30 MB, and little for ordinary users.
PRINCIPALS_CACHE_SIZE = 256
_principals: dict[str | None, tuple[frozenset[str], tuple[str, ...], frozenset[str]]] = {}


def _entry(user_id: str | None, role_names: frozenset[str]) -> tuple[frozenset[str], tuple[str, ...], frozenset[str]]:
    hit = _principals.get(user_id)
    if hit is not None:
        if hit[0] is role_names:
            return hit
        if hit[0] == role_names:
            # RoleCache refilled with an equal set: keep the same tuple (the compiler's cache knows it) and
            # remember the new set object, so later requests compare by identity, not element by element.
            _principals[user_id] = hit = (role_names, hit[1], hit[2])
            return hit
    out = ["*"]
    if user_id:
        out.append(user_id)
    out.extend(f"role:{name}" for name in sorted(role_names))
    entry = (role_names, tuple(out), frozenset(out))
    if hit is None and len(_principals) >= PRINCIPALS_CACHE_SIZE:
        # Oldest first (dicts keep insertion order): bounded however many users sign in.
        _principals.pop(next(iter(_principals)), None)
    _principals[user_id] = entry
    return entry


def principals_of(user_id: str | None, role_names: frozenset[str]) -> tuple[str, ...]:
    """``*``, the user's id, then ``role:<name>`` for each role held, sorted."""
    return _entry(user_id, role_names)[1]


def principal_set_of(user_id: str | None, role_names: frozenset[str]) -> frozenset[str]:
    return _entry(user_id, role_names)[2]


MASTER = Auth(is_master=True)
# Resolves a session token to the caller's Auth, or None when the token is unknown or expired.
SessionLookup = Callable[[str], Awaitable[Auth | None]]
NOBODY = Auth()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def ip_allowed(ip: str, allowed: tuple[str, ...]) -> bool:
    return _ip_allowed(ip, allowed) if len(ip) <= 64 else _ip_check(ip, allowed)


# Parsing the address and every network took ~20 % of a master-key get; callers come from a handful of addresses.
# Bounded, keyed by short strings only (a client cannot grow it past maxsize).
@lru_cache(maxsize=4096)
def _ip_allowed(ip: str, allowed: tuple[str, ...]) -> bool:
    return _ip_check(ip, allowed)


def _ip_check(ip: str, allowed: tuple[str, ...]) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for entry in allowed:
        try:
            if addr in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def _is_a_master_key(given: str, settings: Settings) -> bool:
    ro = settings.read_only_master_key
    return _same(given, settings.master_key) or (bool(ro) and _same(given, ro))


def check_app(creds: Credentials, settings: Settings) -> None:
    """App id and (when configured) client keys; Parse answers 403 unauthorized without a code."""
    if creds.app_id is None or not _same(creds.app_id, settings.app_id):
        raise HTTPDenied(403, "unauthorized")
    configured = settings.client_keys
    if configured and not (creds.master_key and _is_a_master_key(creds.master_key, settings)):
        if not any(_same(given, key) for given in creds.client_keys for key in configured):
            raise HTTPDenied(403, "unauthorized")


def master_auth(creds: Credentials, settings: Settings) -> Auth | None:
    """The master key counts only from masterKeyIps; elsewhere it is refused outright (403)."""
    if not creds.master_key:
        return None
    read_only = bool(settings.read_only_master_key) and _same(creds.master_key, settings.read_only_master_key)
    if not read_only and not _same(creds.master_key, settings.master_key):
        # A wrong master key is refused, not quietly downgraded to an anonymous caller (S60).
        raise HTTPDenied(403, "unauthorized")
    if not ip_allowed(creds.ip, settings.master_key_ips):
        raise HTTPDenied(403, "unauthorized: master key is not allowed from this IP")
    if creds.installation_id is None and not read_only:
        return MASTER  # frozen: one value serves every plain master-key call
    return Auth(is_master=True, installation_id=creds.installation_id, is_read_only=read_only)


async def resolve_auth(creds: Credentials, settings: Settings, sessions: SessionLookup | None = None) -> Auth:
    master = master_auth(creds, settings)
    if master is not None:
        return master
    if creds.session_token:
        found = await sessions(creds.session_token) if sessions is not None else None
        if found is None:
            raise ParseError(ErrorCode.INVALID_SESSION_TOKEN, "Invalid session token")
        return found
    return NOBODY if creds.installation_id is None else Auth(installation_id=creds.installation_id)


def connect_is_master(creds: Credentials, settings: Settings) -> bool:
    """A LiveQuery `connect`: the same app-id, client-key, master-key and master-IP rules as a REST request.

    Raises HTTPDenied when refused (the websocket answers "Key in request is not valid"); True for the master.
    """
    check_app(creds, settings)
    return master_auth(creds, settings) is not None
