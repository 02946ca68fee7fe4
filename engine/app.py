"""create_app(settings): the Starlette app — storage opened, schema provisioned, routes under the mount path."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from engine.cloud.loader import load_hooks
from engine.cloud.registry import Cloud
from engine.files.service import FileService, file_service
from engine.graphql.endpoint import GraphQLEndpoint
from engine.http import files as files_http
from engine.http.cors import CorsHeaders, CORSMiddleware
from engine.http.edge import handle
from engine.http.front import EngineApp, RestMount
from engine.http.static_app import view_routes
from engine.logbook import LogBook, LogBookHandler, Scrubber, attach, detach
from engine.mail import load_mail_adapter
from engine.pipeline.context import Services
from engine.pipeline.data_access import pipeline_access
from engine.pipeline.jobs import run_start_hooks
from engine.pipeline.live_hooks import PipelineLiveHooks
from engine.pipeline.schema_store import SchemaStore
from engine.pipeline.sessions import lookup_session
from engine.pipeline.webhook_store import load_webhooks
from engine.schema.loader import load_schema_file
from engine.schema.model import ClassDef
from engine.security.auth import Auth
from engine.settings import Settings
from engine.storage.base import StorageAdapter
from engine.storage.mongo import MongoAdapter
from engine.storage.registry import effective_uri, open_adapter
from livequery.server import LiveQueryServer, WebsocketFront

log = logging.getLogger("engine")
METHODS = ["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "HEAD"]


class Engine:
    """The app's runtime: one storage, one schema store, started and stopped with the server."""

    def __init__(self, settings: Settings, storage: StorageAdapter | None = None) -> None:
        self.settings = settings
        self.storage = storage if storage is not None else open_adapter(
            settings.database_uri, max_time_ms=settings.database_max_time_ms)
        self.schemas = SchemaStore(self.storage)
        self.cloud = Cloud(settings.app_id)
        self.files = _files(settings, self.storage)
        # The hook data API is the pipeline's own door, injected here so the pipeline never imports it back.
        self.logbook = LogBook(settings.log_ring_size, _scrubber(settings), settings.log_file)
        self.services = Services(settings, self.storage, self.schemas, mailer=load_mail_adapter(settings.mail_adapter),
                                 cloud=self.cloud, data_access=pipeline_access, files=self.files,
                                 logbook=self.logbook)
        self._log_handler: LogBookHandler | None = None
        self.livequery = LiveQueryServer(settings, self.schemas.get, self._lookup_session,
                                         hooks=PipelineLiveHooks(self.services), file_url=self.services.file_url)
        self.started = False

    async def _lookup_session(self, token: str) -> Auth | None:
        return await lookup_session(self.services, token)

    def declared_classes(self) -> list[ClassDef]:
        if not self.settings.schema_path:
            return []
        return load_schema_file(Path(self.settings.schema_path))

    async def start(self) -> list[str]:
        self._log_handler = attach(self.logbook)
        load_hooks(self.cloud, self.settings.cloud)
        await self.storage.open()
        await self.files.open()
        await self.schemas.load()
        changes = await self.schemas.provision(self.declared_classes())
        await load_webhooks(self.services)  # after the Python hooks, which win a name clash
        await run_start_hooks(self.services)
        await self.livequery.start()
        self.services.events.subscribe(self.livequery.publish, self.livequery.wants)
        self.started = True
        return changes

    async def stop(self) -> None:
        self.services.events.unsubscribe(self.livequery.publish)
        await self.livequery.stop()
        await self.storage.aclose()
        await self.files.aclose()
        if self._log_handler is not None:
            detach(self._log_handler)
            self._log_handler = None
        self.started = False


def _scrubber(settings: Settings) -> Scrubber:
    # Every key this server holds; tokens and password fields are recognised by the scrubber itself.
    return Scrubber((settings.master_key, settings.read_only_master_key, settings.webhook_key, settings.file_key,
                     settings.rest_api_key, settings.javascript_key, settings.client_key, settings.dotnet_key,
                     *settings.file_old_keys))


def _files(settings: Settings, storage: StorageAdapter) -> FileService:
    uri = effective_uri(settings.database_uri)
    # GridFS only beside a real MongoDB database (not a test double handed in for another URI).
    mongo = storage._database() if isinstance(storage, MongoAdapter) and uri.startswith("mongodb") else None
    return file_service(settings, uri, mongo)


def create_app(settings: Settings, storage: StorageAdapter | None = None) -> Starlette:
    engine = Engine(settings, storage)
    mount = "/" + settings.mount_path.strip("/")

    async def endpoint(request: Request) -> Response:
        return await handle(request, engine.services, request.path_params.get("rest", ""))

    async def files_endpoint(request: Request) -> Response:
        return await files_http.endpoint(request, engine.services, request.path_params.get("rest", ""))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        for change in await engine.start():
            log.info("schema: %s", change)
        try:
            yield
        finally:
            await engine.stop()

    routes: list[BaseRoute] = [
        # Before the generic route: file bodies stream past the JSON body reader and its limit.
        Route(mount + "/files/{rest:path}", files_endpoint, methods=METHODS),
        Route(mount, endpoint, methods=METHODS),
        Route(mount + "/{rest:path}", endpoint, methods=METHODS),
        *engine.livequery.routes(mount),  # websocket scopes only: the HTTP routes above never match them
        *view_routes(settings),  # the starter web views at /app/
    ]
    if settings.mount_graphql:
        graphql = GraphQLEndpoint(engine.services)
        # Beside the REST mount, not under it, as Parse's graphQLPath; OPTIONS is answered by the CORS layer.
        routes.insert(0, Route("/" + settings.graphql_path.strip("/"), graphql.handle, methods=["GET", "POST"]))
    app = EngineApp(routes=routes, lifespan=lifespan)
    app.add_middleware(CORSMiddleware, allow_origin=settings.allow_origin)
    app.add_middleware(WebsocketFront, server=engine.livequery, path=mount)  # outermost: see WebsocketFront
    if mount != "/":
        # REST calls skip the stack above (same answers, a fraction of the work); the routes stay for the rest.
        graphql_path = "/" + settings.graphql_path.strip("/") if settings.mount_graphql else None
        app.rest = RestMount(engine.services, mount, CorsHeaders(settings.allow_origin),
                             skip=(mount + "/files/",), graphql=graphql_path)
    app.state.engine = engine
    return app


def create_livequery_app(settings: Settings, storage: StorageAdapter | None = None) -> Starlette:
    """`sleeplab livequery`: the websocket server alone (Parse's ParseLiveQueryServer). It reads sessions and the
    schema from the shared database and hears writes through Redis; `/health` answers for process managers."""
    engine = Engine(settings, storage)
    mount = "/" + settings.mount_path.strip("/")

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await engine.start()
        try:
            yield
        finally:
            await engine.stop()

    routes: list[BaseRoute] = [Route(mount + "/health", health, methods=["GET"]), *engine.livequery.routes(mount)]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(WebsocketFront, server=engine.livequery, path=mount)
    app.state.engine = engine
    return app
