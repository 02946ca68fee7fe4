"""Third-party log-in (`authData`): the anonymous provider and OpenID-Connect ID tokens checked with pyjwt."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jwt

from engine.errors import ErrorCode, ParseError
from engine.settings import Settings

OIDC = "oidc"
_MAX_TOKEN = 16 * 1024


def _provider_id(provider: str, data: Mapping[str, Any]) -> str:
    # A non-string id could smuggle a query operator into the lookup (security catalog S10).
    ident = data.get("id")
    if not isinstance(ident, str) or not ident or len(ident) > 512:
        raise ParseError(ErrorCode.INCORRECT_TYPE, f"authData.{provider}.id must be a non-empty string")
    return ident


def _oidc_key(settings: Settings, token: str) -> Any:
    raw = settings.oidc_keys.strip()
    if raw and not raw.startswith(("{", "-----")) and Path(raw).is_file():
        raw = Path(raw).read_text(encoding="utf-8").strip()
    if raw.startswith("-----"):
        return raw
    try:
        jwks = jwt.PyJWKSet.from_dict(json.loads(raw))
    except (ValueError, jwt.PyJWTError) as exc:
        raise ParseError(ErrorCode.UNSUPPORTED_SERVICE, "OpenID-Connect keys are not configured") from exc
    kid = jwt.get_unverified_header(token).get("kid")
    for key in jwks.keys:
        if kid is None or key.key_id == kid:
            return key.key
    raise ParseError(ErrorCode.OBJECT_NOT_FOUND, "OpenID-Connect token was signed by an unknown key")


def _verify_oidc(settings: Settings, data: Mapping[str, Any]) -> str:
    if not settings.oidc_issuer or not settings.oidc_keys:
        raise ParseError(ErrorCode.UNSUPPORTED_SERVICE, "OpenID-Connect log-in is not configured.")
    ident = _provider_id(OIDC, data)
    token = data.get("id_token") or data.get("token")
    if not isinstance(token, str) or len(token) > _MAX_TOKEN:
        raise ParseError(ErrorCode.OBJECT_NOT_FOUND, "OpenID-Connect auth requires an id_token.")
    try:
        key = _oidc_key(settings, token)
        claims = jwt.decode(
            token, key, algorithms=["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"],
            issuer=settings.oidc_issuer, audience=settings.oidc_audience or None,
            options={"require": ["exp", "iss", "sub"], "verify_aud": bool(settings.oidc_audience)},
        )
    except jwt.PyJWTError as exc:
        raise ParseError(ErrorCode.OBJECT_NOT_FOUND, "OpenID-Connect auth is invalid for this user.") from exc
    if claims.get("sub") != ident:
        raise ParseError(ErrorCode.OBJECT_NOT_FOUND, "OpenID-Connect auth is invalid for this user.")
    return ident


def validate_auth_data(settings: Settings, provider: str, data: object) -> dict[str, Any]:
    """Check one provider's authData and return what is stored in `_auth_data_<provider>`."""
    if not isinstance(data, Mapping):
        raise ParseError(ErrorCode.UNSUPPORTED_SERVICE, "This authentication method is unsupported.")
    if provider == "anonymous":
        if not settings.enable_anonymous_users:
            raise ParseError(ErrorCode.UNSUPPORTED_SERVICE, "This authentication method is unsupported.")
        return {"id": _provider_id(provider, data)}
    if provider == OIDC:
        return {"id": _verify_oidc(settings, data)}
    raise ParseError(ErrorCode.UNSUPPORTED_SERVICE, "This authentication method is unsupported.")


def parse_auth_data(settings: Settings, value: object) -> dict[str, dict[str, Any] | None]:
    """`{"provider": {...} | null}`; null unlinks. The stored data never includes tokens."""
    if not isinstance(value, Mapping) or not value:
        raise ParseError(ErrorCode.UNSUPPORTED_SERVICE, "This authentication method is unsupported.")
    out: dict[str, dict[str, Any] | None] = {}
    for provider, data in value.items():
        if not isinstance(provider, str) or not provider.isidentifier():
            raise ParseError(ErrorCode.UNSUPPORTED_SERVICE, "This authentication method is unsupported.")
        out[provider] = None if data is None else validate_auth_data(settings, provider, data)
    return out
