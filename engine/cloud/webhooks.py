"""Webhooks (Parse's HooksController): cloud functions and triggers served by a URL the server POSTs to.

A webhook URL makes this server send requests on someone's behalf (SSRF): only the master key registers one,
every URL must name an allowed host (`webhook_allowed_hosts`; none by default), only http(s) without
credentials, each call is bounded in time and answer size, and redirects are never followed (a redirect could
lead past the host list). What is sent is Parse's body, minus secrets: no session token, password or auth data.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from engine.cloud.objects import CloudObject, encode_result, encode_value
from engine.cloud.request import FunctionRequest, TriggerRequest
from engine.cloud.triggers import TriggerType
from engine.errors import ErrorCode, ParseError
from engine.settings import Settings

log = logging.getLogger("engine.cloud.webhooks")

# The triggers a webhook may serve (Parse's HooksRouter also takes the others; their requests do not carry an
# object to send, so they stay Python-only here).
WEBHOOK_TRIGGERS = frozenset({TriggerType.BEFORE_SAVE, TriggerType.AFTER_SAVE,
                              TriggerType.BEFORE_DELETE, TriggerType.AFTER_DELETE})
MAX_URL_CHARS = 2048
# Never sent: they are credentials, whoever asks.
_SECRET_USER_KEYS = frozenset({"sessionToken", "password", "authData", "_hashed_password", "_auth_data"})


@dataclass(frozen=True, slots=True)
class WebhookPolicy:
    key: str = ""
    allowed_hosts: tuple[str, ...] = ()
    timeout: float = 10.0
    max_response_bytes: int = 1024 * 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookPolicy:
        return cls(settings.webhook_key, tuple(h.strip().lower() for h in settings.webhook_allowed_hosts if h.strip()),
                   settings.webhook_timeout, settings.webhook_max_response_bytes)


def webhook_error(message: str) -> ParseError:
    return ParseError(ErrorCode.WEBHOOK_ERROR, message)


def check_url(url: object, policy: WebhookPolicy) -> str:
    """The URL, if this server may call it; else 143 saying why (the allowed list itself is not echoed)."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_CHARS:
        raise webhook_error("invalid hook declaration")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise webhook_error("invalid webhook url") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise webhook_error("webhook url must be http(s)://host/...")
    if parts.username or parts.password:
        raise webhook_error("webhook url must not carry credentials (use the webhook key)")
    host = parts.hostname.lower()
    allowed = policy.allowed_hosts
    if "*" not in allowed and host not in allowed and (port is None or f"{host}:{port}" not in allowed):
        raise webhook_error(f"webhook host {host} is not allowed (see webhook_allowed_hosts)")
    return url


def _user_json(user: CloudObject | None) -> dict[str, Any] | None:
    if user is None:
        return None
    body = {k: v for k, v in user.to_json().items() if k not in _SECRET_USER_KEYS}
    return {**body, "className": user.class_name}


def _object_json(obj: CloudObject | None) -> dict[str, Any] | None:
    return None if obj is None else {**obj.to_json(), "className": obj.class_name}


def function_body(req: FunctionRequest) -> dict[str, Any]:
    return {"functionName": req.function_name, "params": encode_result(req.params), "master": req.master,
            "user": _user_json(req.user), "installationId": req.installation_id, "ip": req.ip,
            "headers": dict(req.headers)}


def trigger_body(req: TriggerRequest) -> dict[str, Any]:
    body: dict[str, Any] = {"triggerName": str(req.trigger_name), "object": _object_json(req.object),
                            "master": req.master, "user": _user_json(req.user), "installationId": req.installation_id,
                            "ip": req.ip, "headers": dict(req.headers), "context": encode_value(req.context)}
    if req.original is not None:
        body["original"] = _object_json(req.original)
    return body


async def _read_bounded(response: httpx.Response, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.aiter_bytes():
        total += len(chunk)
        if total > limit:
            raise webhook_error(f"webhook answer larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def post(url: str, body: Mapping[str, Any], policy: WebhookPolicy) -> Any:
    """POST Parse's webhook body; the answer's `success`, or its `error` raised (141, or the code it names)."""
    check_url(url, policy)  # again at call time: the host list may have shrunk since the hook was stored
    headers = {"Content-Type": "application/json"}
    if policy.key:
        headers["X-Parse-Webhook-Key"] = policy.key
    else:
        log.warning("Making outgoing webhook request without webhookKey being set!")
    try:
        async with httpx.AsyncClient(timeout=policy.timeout, follow_redirects=False, trust_env=False) as client:
            async with client.stream("POST", url, content=orjson.dumps(body), headers=headers) as response:
                if response.is_redirect:
                    # Following it could lead past the allowed hosts; saying so beats a silent empty result.
                    raise webhook_error("webhook answered with a redirect, which is not followed")
                raw = await _read_bounded(response, policy.max_response_bytes)
    except httpx.HTTPError as exc:
        log.error("webhook %s failed: %s", url, type(exc).__name__)
        raise webhook_error("webhook call failed") from exc
    try:
        answer = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError as exc:
        raise webhook_error("Malformed response") from exc
    if not isinstance(answer, Mapping):
        raise webhook_error("Malformed response")
    if answer.get("error") is not None:
        raise _answer_error(answer["error"])
    return answer.get("success")


def _answer_error(error: Any) -> ParseError:
    """`{"error": "text"}` fails as a thrown string does (141); `{"error": {"code": N, "error": ...}}` keeps N."""
    if isinstance(error, Mapping):
        code = error.get("code")
        message = error.get("error", error.get("message", ""))
        if isinstance(code, int) and not isinstance(code, bool) and 0 < code < 1000:
            return ParseError(code, str(message)[:1000])
        return ParseError(ErrorCode.SCRIPT_FAILED, str(message)[:1000])
    return ParseError(ErrorCode.SCRIPT_FAILED, str(error)[:1000])


def function_hook(url: str, policy: WebhookPolicy) -> Any:
    async def call_webhook(req: FunctionRequest) -> Any:
        return await post(url, function_body(req), policy)

    call_webhook.__qualname__ = f"webhook {url}"
    return call_webhook


def trigger_hook(kind: TriggerType, url: str, policy: WebhookPolicy) -> Any:
    async def call_webhook(req: TriggerRequest) -> None:
        result = await post(url, trigger_body(req), policy)
        if kind == TriggerType.BEFORE_SAVE and isinstance(result, Mapping) and req.object is not None:
            # Parse saves the object the webhook answers; its metadata stays the server's.
            changed = CloudObject.from_json(req.class_name, result)
            for key in changed:
                req.object[key] = changed[key]
            if "ACL" in result:
                req.object.acl = changed.acl

    call_webhook.__qualname__ = f"webhook {url}"
    return call_webhook
