"""Webhooks kept in `_Hooks` (Parse's HooksController): stored through the door, registered into the app's Cloud.

Rows are `{functionName, url}` or `{className, triggerName, url}`. A change made through one process reaches every
process sharing the database before its next request: each request first asks the store's change feed whether
`_Hooks` was written since this process loaded it (a counter read, webhook_sync.py) and, if so, makes its
registrations equal the stored rows again. A store without a feed (MongoDB) re-reads at most every 5 seconds.
Parse Server's hook cache is per process and reloads only at start; here every worker answers alike.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from engine.cloud.triggers import TriggerType
from engine.cloud.webhooks import WEBHOOK_TRIGGERS, WebhookPolicy, check_url, function_hook, trigger_hook
from engine.errors import ErrorCode, ParseError
from engine.pipeline import door
from engine.pipeline.context import RequestContext, Services, require_master
from engine.security.auth import Auth

log = logging.getLogger("engine.cloud.webhooks")

HOOKS = "_Hooks"
MAX_HOOKS = 1000
_KEYS = ("functionName", "className", "triggerName", "url")
Json = dict[str, Any]


def _declaration_error() -> ParseError:
    return ParseError(ErrorCode.WEBHOOK_ERROR, "invalid hook declaration")


def _trigger_type(name: object) -> TriggerType:
    try:
        kind = TriggerType(str(name))
    except ValueError:
        raise _declaration_error() from None
    if kind not in WEBHOOK_TRIGGERS:
        raise _declaration_error()
    return kind


def declaration(body: Mapping[str, Any]) -> Json:
    """Parse's createOrUpdateHook: a function hook or a trigger hook, each with a url, else 143."""
    url, function_name = body.get("url"), body.get("functionName")
    if isinstance(function_name, str) and function_name and url:
        return {"functionName": function_name, "url": url}
    class_name, trigger_name = body.get("className"), body.get("triggerName")
    if isinstance(class_name, str) and class_name and url and trigger_name:
        _trigger_type(trigger_name)
        return {"className": class_name, "triggerName": trigger_name, "url": url}
    raise _declaration_error()


def _register(svc: Services, hook: Mapping[str, Any]) -> None:
    policy = WebhookPolicy.from_settings(svc.settings)
    url = check_url(hook["url"], policy)
    if "functionName" in hook:
        svc.cloud.add_webhook_function(hook["functionName"], function_hook(url, policy), url)
    else:
        kind = _trigger_type(hook["triggerName"])
        svc.cloud.add_webhook_trigger(kind, hook["className"], trigger_hook(kind, url, policy), url)


def _unregister(svc: Services, hook: Mapping[str, Any]) -> None:
    if "functionName" in hook:
        svc.cloud.remove_webhook_function(hook["functionName"])
    else:
        svc.cloud.remove_webhook_trigger(_trigger_type(hook["triggerName"]), hook["className"])


def _public(row: Mapping[str, Any]) -> Json:
    return {k: row[k] for k in _KEYS if isinstance(row.get(k), str)}


async def _rows(svc: Services, ctx: RequestContext, where: Mapping[str, Any]) -> list[Json]:
    # Reading makes nothing (a read-only master key lists hooks too); door.create makes the class on first write.
    if await svc.schemas.lookup(HOOKS) is None:
        return []
    found = await door.find(svc, ctx, HOOKS, {"where": dict(where), "limit": MAX_HOOKS})
    return [dict(row) for row in found.results]


def _where(hook: Mapping[str, Any]) -> Json:
    if "functionName" in hook:
        return {"functionName": hook["functionName"]}
    return {"className": hook["className"], "triggerName": hook["triggerName"]}


Identity = tuple[tuple[str, str], ...]


def _identity(row: Mapping[str, Any]) -> Identity:
    return tuple(sorted(_public(row).items()))


def _key(hook: Mapping[str, Any]) -> tuple[str, str]:
    """A declaration's (kind, name), as the Cloud's Hook holds them."""
    if "functionName" in hook:
        return "function", hook["functionName"]
    return str(_trigger_type(hook["triggerName"])), hook["className"]


def _apply(svc: Services, rows: list[Json]) -> frozenset[Identity]:
    """Make the Cloud's webhooks equal the rows (added, url changed, removed); returns the rows refused. No await
    in here: a request never sees half of a re-sync, and a cancelled one leaves the old set whole."""
    wanted: dict[tuple[str, str], Json] = {}
    refused: dict[Identity, str] = {}
    for row in rows:
        try:
            hook = declaration(row)
            wanted[_key(hook)] = hook
        except ParseError as exc:
            refused[_identity(row)] = exc.message
    registered = {(h.kind, h.name): h.url for h in svc.cloud.webhooks()}
    for (kind, name), url in registered.items():
        stored = wanted.get((kind, name))
        if stored is None or stored["url"] != url:
            _unregister(svc, {"functionName": name} if kind == "function" else {"className": name, "triggerName": kind})
    for key, hook in wanted.items():
        if registered.get(key) == hook["url"]:
            continue
        try:
            _register(svc, hook)  # a host no longer allowed, or a name the app's Python code owns: 143
        except ParseError as exc:
            refused[_identity(hook)] = exc.message
    # Logged when a row is first refused, not at every re-sync (every 5 s without a change feed).
    for identity, message in refused.items():
        if identity not in svc.webhooks.refused:
            log.warning("stored webhook %s not registered: %s", dict(identity), message)
    return frozenset(refused)


async def _resync(svc: Services) -> None:
    sync = svc.webhooks
    change = sync.begin(svc.storage)
    rows: list[Json] = []
    # No class, no webhook ever stored: it is made on first use, not at every start. The cached schema answers:
    # the request refreshed it just before (a class another process made shows up through the schema's own feed
    # or TTL), and a miss must not spend the schema store's once-a-second re-read that the request's own class
    # lookup may need next.
    if svc.schemas.get(HOOKS) is not None:
        master = RequestContext(Auth(is_master=True))
        found = await door.find(svc, master, HOOKS, {"limit": MAX_HOOKS})
        rows = [dict(row) for row in found.results]
    sync.refused = _apply(svc, rows)
    sync.loaded(change)


async def load_webhooks(svc: Services) -> None:
    """At start, after the app's Python hooks: a stored webhook the code shadows, or whose host is no longer
    allowed, is logged and left unregistered."""
    async with svc.webhooks.lock:
        await _resync(svc)


async def refresh_webhooks(svc: Services) -> None:
    """Before a request dispatches: re-read `_Hooks` if another process (or this one) wrote it since the last load.
    Callers check ``svc.webhooks.stale(svc.storage)`` first, so the usual request costs a counter read."""
    sync = svc.webhooks
    async with sync.lock:
        if sync.stale(svc.storage):  # else a request that held the lock before this one re-synced already
            await _resync(svc)


async def list_functions(svc: Services, ctx: RequestContext, name: str | None = None) -> Json | list[Json]:
    require_master(ctx)
    if name is None:
        return [_public(r) for r in await _rows(svc, ctx, {"functionName": {"$exists": True}})]
    rows = await _rows(svc, ctx, {"functionName": name})
    if not rows:
        raise ParseError(ErrorCode.WEBHOOK_ERROR, f"no function named: {name} is defined")
    return _public(rows[0])


async def list_triggers(svc: Services, ctx: RequestContext, class_name: str | None = None,
                        trigger_name: str | None = None) -> Json | list[Json]:
    require_master(ctx)
    if class_name is None:
        where = {"className": {"$exists": True}, "triggerName": {"$exists": True}}
        return [_public(r) for r in await _rows(svc, ctx, where)]
    rows = await _rows(svc, ctx, {"className": class_name, "triggerName": trigger_name})
    if not rows:
        raise ParseError(ErrorCode.WEBHOOK_ERROR, f"class {class_name} does not exist")
    return _public(rows[0])


async def create_hook(svc: Services, ctx: RequestContext, body: Mapping[str, Any]) -> Json:
    require_master(ctx)
    if body.get("functionName") is None and body.get("className") is None:
        raise _declaration_error()
    hook = declaration(body)
    if await _rows(svc, ctx, _where(hook)):
        if "functionName" in hook:
            raise ParseError(ErrorCode.WEBHOOK_ERROR, f"function name: {hook['functionName']} already exists")
        raise ParseError(ErrorCode.WEBHOOK_ERROR,
                         f"class {hook['className']} already has trigger {hook['triggerName']}")
    _register(svc, hook)  # refused (143) before anything is stored: bad host, or the app's code owns the name
    try:
        await door.create(svc, ctx, HOOKS, hook)
    except BaseException:
        _unregister(svc, hook)
        raise
    return hook


async def update_hook(svc: Services, ctx: RequestContext, body: Mapping[str, Any]) -> Json:
    require_master(ctx)
    hook = declaration(body)
    rows = await _rows(svc, ctx, _where(hook))
    if not rows:
        if "functionName" in hook:
            raise ParseError(ErrorCode.WEBHOOK_ERROR, f"no function named: {hook['functionName']} is defined")
        raise ParseError(ErrorCode.WEBHOOK_ERROR, f"class {hook['className']} does not exist")
    _register(svc, hook)
    await door.update(svc, ctx, HOOKS, rows[0]["objectId"], {"url": hook["url"]})
    return hook


async def delete_hook(svc: Services, ctx: RequestContext, where: Mapping[str, str]) -> Json:
    require_master(ctx)
    for row in await _rows(svc, ctx, where):
        await door.delete(svc, ctx, HOOKS, row["objectId"])
    hook = dict(where)
    if "functionName" in hook:
        svc.cloud.remove_webhook_function(hook["functionName"])
    elif hook.get("triggerName") in {str(t) for t in WEBHOOK_TRIGGERS}:
        svc.cloud.remove_webhook_trigger(TriggerType(hook["triggerName"]), hook["className"])
    return {}
