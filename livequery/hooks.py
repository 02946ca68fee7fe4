"""What LiveQuery asks of cloud code (Parse's beforeConnect, beforeSubscribe, afterLiveQueryEvent).

The engine implements it (engine/pipeline/live_hooks.py) and the composition root injects it, so this package
never imports the hook runtime. Every method raises ParseError to refuse; the client receives that error.
"""

from __future__ import annotations

from typing import Any, Protocol

from engine.security.auth import Auth

Json = dict[str, Any]
BEFORE_CONNECT, BEFORE_SUBSCRIBE, AFTER_EVENT = "beforeConnect", "beforeSubscribe", "afterEvent"


class LiveHooks(Protocol):
    def has(self, kind: str, class_name: str | None = None) -> bool:
        """Whether a hook of `kind` is registered (for the class): without one, no request is even built."""
        ...

    async def before_connect(self, auth: Auth, *, client_id: str, session_token: str | None, clients: int) -> None: ...

    async def before_subscribe(self, auth: Auth, *, class_name: str, query: Json, client_id: str, request_id: int,
                               session_token: str | None) -> Json:
        """The query (`className`, `where`, `keys`, `watch`) the subscription will use, possibly rewritten."""
        ...

    async def after_event(self, auth: Auth, *, class_name: str, event: str, obj: Json, original: Json | None,
                          client_id: str, request_id: int, session_token: str | None, clients: int,
                          subscriptions: int) -> tuple[Json, Json | None] | None:
        """The object (and original) to send, or None to drop the event."""
        ...


class NoHooks:
    """No cloud code: every connect and subscribe is accepted as sent, every event sent as rendered."""

    def has(self, kind: str, class_name: str | None = None) -> bool:
        return False

    async def before_connect(self, auth: Auth, *, client_id: str, session_token: str | None, clients: int) -> None:
        return None

    async def before_subscribe(self, auth: Auth, *, class_name: str, query: Json, client_id: str, request_id: int,
                               session_token: str | None) -> Json:
        return query

    async def after_event(self, auth: Auth, *, class_name: str, event: str, obj: Json, original: Json | None,
                          client_id: str, request_id: int, session_token: str | None, clients: int,
                          subscriptions: int) -> tuple[Json, Json | None] | None:
        return obj, original
