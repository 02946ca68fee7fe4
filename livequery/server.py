"""The websocket endpoint: accept, speak the protocol, feed committed writes through pub/sub to dispatch."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.responses import JSONResponse
from starlette.routing import WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from engine.errors import ErrorCode, HTTPDenied, ParseError
from engine.events import Event
from engine.schema.model import is_valid_class_name, new_class
from engine.security.auth import Auth, Credentials, SessionLookup, connect_is_master
from engine.security.class_access import check_class_access
from engine.security.clp import Op
from engine.settings import Settings
from livequery import protocol
from livequery.client import Client
from livequery.dispatch import Dispatcher, LiveEvent, SchemaGetter, prepare
from livequery.hooks import BEFORE_CONNECT, BEFORE_SUBSCRIBE, LiveHooks, NoHooks
from livequery.pubsub import PubSub, decode_event, encode_event, open_pubsub
from livequery.subscriptions import SubscriptionIndex

log = logging.getLogger("livequery")
BAD_KEYS_MESSAGE = "Key in request is not valid"
CONNECT_TIMEOUT_CLOSE = 1008  # policy violation: the socket never sent `connect`
TRY_AGAIN_LATER_CLOSE = 1013
NOT_CONNECTED = "Can not find this client, make sure you connect to server before subscribing"
SLOW_CONSUMER = "Too many events waiting: the client reads too slowly"
# Events waiting for dispatch: writers never wait for delivery; past this a burst is dropped (and logged), not
# buffered without bound.
EVENT_BACKLOG = 10_000


async def _receive_until(websocket: WebSocket, deadline: float) -> Message | None:
    """The next message, or None once the loop's clock passes `deadline`."""
    remaining = deadline - asyncio.get_running_loop().time()
    if remaining <= 0:
        return None
    try:
        return await asyncio.wait_for(websocket.receive(), remaining)
    except TimeoutError:
        return None


async def _refuse_upgrade(websocket: WebSocket) -> None:
    """Over the websocket cap: a Parse-shaped 503 where the server can send one, else a close before accept."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        body = {"code": ErrorCode.REQUEST_LIMIT_EXCEEDED.value, "error": "Too many websocket connections"}
        await websocket.send_denial_response(JSONResponse(body, status_code=503, headers={"retry-after": "1"}))
    else:
        await websocket.close(TRY_AGAIN_LATER_CLOSE)


class LiveQueryServer:
    """All connections of one process; `publish` is the EventBus listener, `routes` the websocket endpoints."""

    def __init__(self, settings: Settings, schema: SchemaGetter, sessions: SessionLookup,
                 pubsub: PubSub | None = None, hooks: LiveHooks | None = None,
                 file_url: protocol.FileUrl | None = None) -> None:
        self.settings = settings
        self.sessions = sessions
        self.schema = schema
        self.pubsub = pubsub if pubsub is not None else open_pubsub(settings.live_query_redis_url)
        self.hooks: LiveHooks = hooks if hooks is not None else NoHooks()
        self.index = SubscriptionIndex()
        self.clients: dict[str, Client] = {}
        self.dispatcher = Dispatcher(self.index, self.clients, schema, sessions, self.hooks, file_url)
        self.channel = f"{settings.app_id}:livequery"
        self.classes = frozenset(settings.live_query_classes)
        self.open_sockets = 0
        self._events: asyncio.Queue[LiveEvent] | None = None
        self._worker: asyncio.Task[None] | None = None
        self.dropped_events = 0

    async def start(self) -> None:
        self._events = asyncio.Queue(EVENT_BACKLOG)
        self._worker = asyncio.create_task(self._dispatch_events(self._events))
        await self.pubsub.subscribe(self.channel, self._received)
        await self.pubsub.start()

    async def stop(self) -> None:
        for client in list(self.clients.values()):
            client.close()
        await self.pubsub.stop()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None

    async def _dispatch_events(self, events: asyncio.Queue[LiveEvent]) -> None:
        while True:
            ev = await events.get()
            try:
                await self.dispatcher.dispatch(ev)
            except Exception:
                log.exception("livequery dispatch failed")

    def wants(self, class_name: str) -> bool:
        """Only classes that publish, and with a local pub/sub only while someone here is subscribed to them."""
        if self.classes and class_name not in self.classes:
            return False
        return not self.pubsub.local_only or self.index.has_class(class_name)

    async def publish(self, event: Event) -> None:
        if self.wants(event.cls.name):
            await self.pubsub.publish(self.channel, encode_event(event))

    async def _received(self, data: bytes) -> None:
        """Queue the event and return at once: the writer (or the Redis reader) never waits for delivery."""
        try:
            ev = decode_event(data)
        except (ValueError, KeyError, TypeError, ParseError):
            log.warning("livequery: undecodable event dropped")
            return
        if self._events is None:
            await self.dispatcher.dispatch(ev)  # not started (unit use): deliver inline
            return
        try:
            self._events.put_nowait(ev)
        except asyncio.QueueFull:
            self.dropped_events += 1
            log.warning("livequery: %d events waiting, event on %s dropped", EVENT_BACKLOG, ev.class_name)

    def routes(self, path: str) -> list[WebSocketRoute]:
        """Parse accepts an upgrade on any path; the SDK uses the serverURL's path (e.g. /parse)."""
        path = "/" + path.strip("/")
        return [WebSocketRoute(path, self.endpoint), WebSocketRoute(path.rstrip("/") + "/{rest:path}", self.endpoint)]

    # ---- one connection ----

    async def endpoint(self, websocket: WebSocket) -> None:
        cap = self.settings.max_websockets
        if cap > 0 and self.open_sockets >= cap:
            await _refuse_upgrade(websocket)
            return
        self.open_sockets += 1
        try:
            await self._serve(websocket)
        finally:
            self.open_sockets -= 1

    async def _serve(self, websocket: WebSocket) -> None:
        await websocket.accept()
        serving = asyncio.current_task()
        assert serving is not None

        def overflowed() -> None:
            serving.cancel()  # wakes the receive below; the connection ends there

        client = Client(sender=websocket.send_text, on_overflow=overflowed,
                        max_messages=self.settings.live_query_max_queue)
        try:
            await self._converse(websocket, client)
        except asyncio.CancelledError:
            if not client.overflowed:
                raise
            serving.uncancel()
            log.warning("livequery client %s dropped: more than %d events waiting", client.id, client.max_messages)
            client.overflowed = False
            client.send(protocol.error(ErrorCode.REQUEST_LIMIT_EXCEEDED.value, SLOW_CONSUMER, reconnect=True))
            # A reader that stopped reading may never take these: bounded waits, then the transport closes.
            await client.flush(1.0)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(websocket.close(CONNECT_TIMEOUT_CLOSE, "slow consumer"), 1.0)
        finally:
            self.forget(client)

    async def _converse(self, websocket: WebSocket, client: Client) -> None:
        # A socket that never says `connect` holds memory and a file descriptor for nothing: it gets a deadline.
        connect_by = asyncio.get_running_loop().time() + self.settings.live_query_connect_timeout
        host = websocket.client.host if websocket.client else ""
        while True:
            connected = self.clients.get(client.id) is client
            received = await (websocket.receive() if connected else _receive_until(websocket, connect_by))
            if received is None:
                await websocket.close(CONNECT_TIMEOUT_CLOSE, "connect timed out")
                return
            if received["type"] == "websocket.disconnect":
                return
            frame = received.get("text") if received.get("text") is not None else received.get("bytes")
            if frame is not None:
                await self.on_message(client, frame, host)

    async def on_message(self, client: Client, frame: str | bytes, host: str) -> None:
        """One message from a socket, whichever websocket stack carried it; errors go back to the client."""
        try:
            parsed = protocol.parse_message(frame)
            if parsed is None:
                return
            if isinstance(parsed, protocol.Connect):
                await self._connect(client, parsed, host)
            elif self.clients.get(client.id) is not client:
                rid = parsed.request_id
                raise protocol.ProtocolError(protocol.UNKNOWN_CLIENT, NOT_CONNECTED, request_id=rid)
            elif isinstance(parsed, protocol.Subscribe):
                await self._subscribe(client, parsed)
            else:
                self._unsubscribe(client, parsed)
        except protocol.ProtocolError as exc:
            client.send(protocol.error(exc.code, exc.message, reconnect=exc.reconnect, request_id=exc.request_id))

    def forget(self, client: Client) -> None:
        """The socket ended: its subscriptions and queue go at once."""
        self.index.remove_client(client.id)
        if self.clients.get(client.id) is client:
            del self.clients[client.id]
        client.close()

    async def _connect(self, client: Client, msg: protocol.Connect, host: str) -> None:
        # The REST edge's own rules (security/auth.py). Parse never compares the app id; we do, so one server
        # cannot be subscribed to with another app's id.
        creds = Credentials(app_id=msg.application_id, master_key=msg.master_key,
                            client_keys=tuple(msg.client_keys), ip=host)
        try:
            is_master = connect_is_master(creds, self.settings)
        except HTTPDenied as exc:
            raise protocol.ProtocolError(protocol.BAD_KEYS, BAD_KEYS_MESSAGE) from exc
        # As Parse's keyPairs: the master key counts on a websocket only where the server is told to honour it.
        client.is_master = is_master and self.settings.live_query_master_key
        client.session_token = msg.session_token
        client.installation_id = msg.installation_id
        if self.hooks.has(BEFORE_CONNECT):
            # An invalid token is no user, as in Parse (the subscribe will refuse it); the hook decides the rest.
            auth = await client.auth(None, self.sessions) or Auth(installation_id=msg.installation_id)
            try:
                await self.hooks.before_connect(auth, client_id=client.id, session_token=msg.session_token,
                                                clients=len(self.clients))
            except ParseError as exc:
                raise protocol.ProtocolError(exc.code, exc.message, reconnect=False) from exc
        self.clients[client.id] = client
        client.send(protocol.connected(client.id))

    async def _subscribe(self, client: Client, msg: protocol.Subscribe) -> None:
        rid, name = msg.request_id, msg.query.class_name
        try:
            if not is_valid_class_name(name):
                raise ParseError(ErrorCode.INVALID_CLASS_NAME, f"Invalid class name: {name}")
            auth = await client.auth(msg.session_token, self.sessions)
            if auth is None:
                raise ParseError(ErrorCode.INVALID_SESSION_TOKEN, "Invalid session token")
            check_class_access(name, Op.FIND, auth)  # the class rules of a REST find (e.g. `_Installation`)
            # A class may be created after the subscription (Parse allows that): check it as a public class.
            query = msg.query
            if self.hooks.has(BEFORE_SUBSCRIBE, name):
                query = await self._before_subscribe(client, msg, auth)
            cls = self.schema(name) or new_class(name)
            sub = prepare(cls, query, auth, rid, msg.session_token)
        except ParseError as exc:
            raise protocol.ProtocolError(exc.code, exc.message, reconnect=False, request_id=rid) from exc
        self.index.add(client.id, sub)
        client.send(protocol.subscribed(client.id, rid))

    async def _before_subscribe(self, client: Client, msg: protocol.Subscribe, auth: Auth) -> protocol.Query:
        q = msg.query
        sent: protocol.Json = {"className": q.class_name, "where": dict(q.where)}
        if q.keys is not None:
            sent["keys"] = list(q.keys)
        if q.watch is not None:
            sent["watch"] = list(q.watch)
        got = await self.hooks.before_subscribe(
            auth, class_name=q.class_name, query=sent, client_id=client.id, request_id=msg.request_id,
            session_token=msg.session_token or client.session_token)
        got["className"] = q.class_name  # a hook may narrow the query, never move it to another class
        try:
            return protocol.query(got, msg.request_id)
        except protocol.ProtocolError as exc:
            raise ParseError(ErrorCode.SCRIPT_FAILED, f"beforeSubscribe returned an invalid query: {exc}") from exc

    def _unsubscribe(self, client: Client, msg: protocol.Unsubscribe) -> None:
        if self.index.remove(client.id, msg.request_id) is None:
            raise protocol.ProtocolError(
                protocol.UNKNOWN_CLIENT, f"Cannot find subscription with requestId {msg.request_id}",
                request_id=msg.request_id)
        client.send(protocol.unsubscribed(client.id, msg.request_id))


class WebsocketFront:
    """ASGI middleware: upgrades under the mount path go straight to LiveQuery. Skipping the router and the HTTP
    middleware means fewer coroutine frames held for the whole life of every (mostly idle) connection."""

    def __init__(self, app: ASGIApp, server: LiveQueryServer, path: str) -> None:
        self.app, self.server = app, server
        self.path = "/" + path.strip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            path = scope.get("path", "")
            if path == self.path or path.startswith(self.path.rstrip("/") + "/"):
                await self.server.endpoint(WebSocket(scope, receive, send))
                return
        await self.app(scope, receive, send)
