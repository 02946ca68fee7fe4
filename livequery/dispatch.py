"""Turn one committed write into per-subscription events: match old and new, check permissions, redact, send.

Subscribe-time checks live here too (``prepare``), so the rules for "may this client see it" sit in one file.
`$relatedTo`, `$inQuery`, `$notInQuery`, `$select`, `$dontSelect` and `$text` are accepted at subscribe but
never match, exactly as Parse's in-memory matcher treats them (they need other rows or a text index).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from engine.errors import ErrorCode, ParseError
from engine.query.match import matches, values_equal
from engine.query.where import And, InQuery, MatchNone, Nor, Or, RelatedTo, Select, Text, Where, parse_where
from engine.schema.model import ClassDef
from engine.security.acl import read_constraint
from engine.security.auth import Auth, SessionLookup
from engine.security.clp import Op, check_class_permission, protected_fields
from engine.security.redact import redact
from engine.storage.base import StoredObject
from engine.wire import Pointer
from livequery import protocol
from livequery.client import Client
from livequery.hooks import AFTER_EVENT, LiveHooks, NoHooks
from livequery.subscriptions import Subscription, SubscriptionIndex

log = logging.getLogger("livequery")
SchemaGetter = Callable[[str], ClassDef | None]
_NEVER = MatchNone()
_ABSENT = object()


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """A committed write as LiveQuery sees it, whichever process made it."""

    class_name: str
    obj: StoredObject
    original: StoredObject | None = None
    deleted: bool = False
    cls: ClassDef | None = None  # the writer's schema, when the event carried it


# ---- subscribe time ----

def evaluable(where: Where) -> Where:
    """The same tree with every node that needs other rows (or a text index) replaced by never-match."""
    if isinstance(where, RelatedTo | InQuery | Select | Text):
        return _NEVER
    if isinstance(where, And | Or | Nor):
        return type(where)(tuple(evaluable(w) for w in where.items))
    return where


def _top_fields(where: Where) -> set[str]:
    if isinstance(where, And | Or | Nor):
        return set().union(*(_top_fields(w) for w in where.items)) if where.items else set()
    path = getattr(where, "path", None)
    return {path[0]} if path else set()


def prepare(cls: ClassDef, query: protocol.Query, auth: Auth, request_id: int,
            session_token: str | None) -> Subscription:
    """Parse and authorise one subscribe; ParseError (102, 119, 209 ...) refuses it."""
    where = parse_where(query.where, master=auth.is_master)
    get_only = set(query.where) == {"objectId"}
    check_class_permission(cls, Op.GET if get_only else Op.FIND, auth)
    forbidden = protected_fields(cls, auth).query_forbidden()
    touched = _top_fields(where) | set(query.watch or ()) | set(query.keys or ())
    if not auth.is_master and forbidden & touched:
        raise ParseError(ErrorCode.OPERATION_FORBIDDEN, "Permission denied: the query touches a protected field.")
    return Subscription(request_id, cls.name, evaluable(where), query.keys, query.watch, session_token, get_only)


# ---- event time ----

def permitted(cls: ClassDef, auth: Auth, obj: StoredObject, *, get_only: bool = False) -> bool:
    """CLP (with pointer permissions), the object's ACL, and `_Session` ownership, for one reader."""
    if auth.is_master:
        return True
    if cls.name == "_Session":
        # A user only ever hears about their own sessions, whatever the where says.
        if not auth.user_id or not values_equal(obj.fields.get("user"), Pointer("_User", auth.user_id)):
            return False
    try:
        constraint = check_class_permission(cls, Op.GET if get_only else Op.FIND, auth)
    except ParseError:
        return False
    return matches(constraint, obj) and matches(read_constraint(auth), obj)


def _matches(where: Where, obj: StoredObject) -> bool:
    try:
        return matches(where, obj)
    except ParseError:
        return False


def _watched_changed(watch: tuple[str, ...], obj: StoredObject, original: StoredObject | None) -> bool:
    for key in watch:
        after = obj.fields.get(key, _ABSENT)
        before = _ABSENT if original is None else original.fields.get(key, _ABSENT)
        if (after is _ABSENT) != (before is _ABSENT):
            return True
        if after is not _ABSENT and not values_equal(after, before):
            return True
    return False


def visible(cls: ClassDef, obj: StoredObject, auth: Auth,
            file_url: protocol.FileUrl | None = None) -> protocol.Json:
    """The object as this reader may see it (protected fields, other users' email stripped)."""
    return redact(cls.name, protocol.object_json(cls, obj, file_url), auth, protected_fields(cls, auth))


def render(cls: ClassDef, obj: StoredObject, auth: Auth, sub: Subscription,
           file_url: protocol.FileUrl | None = None) -> protocol.Json:
    return protocol.only_keys(visible(cls, obj, auth, file_url), sub.keys)


def classify(sub: Subscription, ev: LiveEvent, before: bool, after: bool) -> str | None:
    """The event op for one subscription, given whether it saw the object before and after the write."""
    if ev.deleted:
        return "delete" if after else None
    if before and after:
        op = "update"
    elif before:
        return "leave"
    elif after:
        op = "enter" if ev.original is not None else "create"
    else:
        return None
    if sub.watch and not _watched_changed(sub.watch, ev.obj, ev.original):
        return None
    return op


RenderKey = tuple[bool, str | None, frozenset[str], tuple[str, ...] | None, int]
PermKey = tuple[bool, str | None, frozenset[str], bool]


class Dispatcher:
    def __init__(self, index: SubscriptionIndex, clients: Mapping[str, Client], schema: SchemaGetter,
                 sessions: SessionLookup, hooks: LiveHooks | None = None,
                 file_url: protocol.FileUrl | None = None) -> None:
        self.index, self.clients, self.schema, self.sessions = index, clients, schema, sessions
        self.file_url = file_url
        self.hooks: LiveHooks = hooks if hooks is not None else NoHooks()

    async def dispatch(self, ev: LiveEvent) -> int:
        """Send this event to every subscription that should hear it; returns how many messages went out.

        Only the subscriptions the index finds for the object's values are asked (see subscriptions.py)."""
        cls = ev.cls or self.schema(ev.class_name)
        if cls is None or not self.index.has_class(ev.class_name):
            return 0
        memo: dict[str, Auth | None] = {}
        texts: dict[RenderKey, str] = {}
        perms: dict[PermKey, tuple[bool, bool]] = {}
        sent = 0
        for client_id, sub in self.index.candidates(ev.class_name, ev.obj, ev.original):
            client = self.clients.get(client_id)
            if client is None:
                continue
            try:
                message = await self._message(cls, client, sub, ev, memo, texts, perms)
            except Exception:  # one bad subscription must not starve the others
                log.exception("livequery dispatch failed for %s/%s", client_id, sub.request_id)
                continue
            if message is not None:
                client.send(message)
                sent += 1
        return sent

    def _text(self, texts: dict[RenderKey, str], cls: ClassDef, obj: StoredObject, auth: Auth,
              sub: Subscription, which: int) -> str:
        # Readers with the same rights and keys get the same bytes: encode once per event, share the string.
        key = (auth.is_master, auth.user_id, auth.role_names, sub.keys, which)
        text = texts.get(key)
        if text is None:
            text = texts[key] = protocol.dumps(render(cls, obj, auth, sub, self.file_url))
        return text

    async def _message(self, cls: ClassDef, client: Client, sub: Subscription, ev: LiveEvent,
                       memo: dict[str, Auth | None], texts: dict[RenderKey, str],
                       perms: dict[PermKey, tuple[bool, bool]]) -> str | None:
        auth = await client.auth(sub.session_token, self.sessions, memo)
        if auth is None:
            return None  # the session ended (logout, expiry): nothing more for this subscription
        # Readers with the same rights get the same answer: CLP and ACL are checked once per event per reader kind.
        pkey = (auth.is_master, auth.user_id, auth.role_names, sub.get_only)
        known = perms.get(pkey)
        if known is None:
            known = perms[pkey] = (
                permitted(cls, auth, ev.obj, get_only=sub.get_only),
                ev.original is not None and permitted(cls, auth, ev.original, get_only=sub.get_only))
        cur_perm, orig_perm = known
        after = cur_perm and _matches(sub.where, ev.obj)
        before = orig_perm and ev.original is not None and _matches(sub.where, ev.original)
        op = classify(sub, ev, before, after)
        if op is None:
            return None
        shown: StoredObject = ev.obj
        shown_original: StoredObject | None = ev.original if orig_perm else None
        if op == "leave" and not cur_perm:
            # Read access was lost: the client only gets the last state it was allowed to read.
            shown, shown_original = ev.original, None  # type: ignore[assignment]
        if op in ("create", "delete"):
            shown_original = None
        if self.hooks.has(AFTER_EVENT, cls.name):
            return await self._hooked(cls, client, sub, auth, op, shown, shown_original)
        obj_text = self._text(texts, cls, shown, auth, sub, 0 if shown is ev.obj else 1)
        orig_text = None if shown_original is None else self._text(texts, cls, shown_original, auth, sub, 1)
        return protocol.event_text(op, client.id, sub.request_id, obj_text, orig_text, client.installation_id)

    async def _hooked(self, cls: ClassDef, client: Client, sub: Subscription, auth: Auth, op: str,
                      shown: StoredObject, shown_original: StoredObject | None) -> str | None:
        """afterEvent sees what this subscriber may see (redacted; `keys` applies after it, as in Parse) and decides
        what, if anything, goes."""
        obj = visible(cls, shown, auth, self.file_url)
        original = visible(cls, shown_original, auth, self.file_url) if shown_original is not None else None
        try:
            result = await self.hooks.after_event(
                auth, class_name=cls.name, event=op, obj=obj, original=original, client_id=client.id,
                request_id=sub.request_id, session_token=sub.session_token or client.session_token,
                clients=len(self.clients), subscriptions=len(self.index))
        except ParseError as exc:
            return protocol.dumps(protocol.error(exc.code, exc.message, reconnect=False, request_id=sub.request_id))
        if result is None:
            return None
        obj, original = result
        obj = protocol.only_keys({**obj, "className": cls.name}, sub.keys)
        if original is not None:
            original = protocol.only_keys({**original, "className": cls.name}, sub.keys)
        return protocol.dumps(protocol.event(op, client.id, sub.request_id, obj, original, client.installation_id))
