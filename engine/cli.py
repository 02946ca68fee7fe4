"""Composition root: `sleeplab serve | livequery | demo | schema check | audit verify | files orphans`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import resource
import sys
import traceback
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from engine.cloud.audit import AUDIT_CLASS, ChainReport, verify_chain
from engine.cloud.loader import HookImportError, load_hooks
from engine.cloud.registry import Cloud
from engine.parse_options import ParseOptions, from_environment, load_config_file
from engine.pipeline.encode import Json, object_to_json
from engine.query.options import FindOptions, SortKey
from engine.query.where import MATCH_ALL, Compare
from engine.schema.loader import SchemaFileError, load_schema_file
from engine.schema.model import ClassDef
from engine.settings import Settings, coerce_option, ensure_master_key, env_values, settings_from_env
from engine.storage.base import StorageAdapter
from engine.storage.registry import UnsupportedDatabase, effective_uri, is_persistent, open_adapter

if TYPE_CHECKING:
    from engine.http.protocol import ConnectionLimits

log = logging.getLogger("engine")
_FLAG_NAMES = {"schema_path": "schema"}


def _flag(name: str) -> str:
    return "--" + _FLAG_NAMES.get(name, name).replace("_", "-")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sleeplab", description="Parse-compatible sleep-lab backend")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the REST API")
    serve.add_argument("config", nargs="?", default=None,
                       help="a Parse Server JSON config file (Parse's option names); flags and environment win")
    # Parse's ParseLiveQueryServer deployment: websockets only, fed by the API processes through Redis.
    live = sub.add_parser("livequery", help="serve only LiveQuery websockets (needs --live-query-redis-url)")
    demo = sub.add_parser("demo", help="run the cloud job `demo` once, in-process with the master key, against the "
                                        "configured store (with --cloud hooks/ by default) and print its result")
    for command in (serve, live, demo):
        for f in fields(Settings):
            command.add_argument(_flag(f.name), dest=f.name, metavar=f.metadata["env"], help=f.metadata["help"])
    check = sub.add_parser("schema", help="schema tools")
    check.add_argument("action", choices=["check"])
    check.add_argument("path", nargs="?", default=None)
    audit = sub.add_parser("audit", help="audit trail tools")
    audit.add_argument("action", choices=["verify"])
    audit.add_argument("--class", dest="audit_class", default=AUDIT_CLASS, help="the hash-chained class")
    audit.add_argument("--database-uri", dest="database_uri", default=None,
                       metavar="PARSE_SERVER_DATABASE_URI", help="the store to verify (default: the server's)")
    files = sub.add_parser("files", help="file tools (configured by the same environment as `serve`)")
    files.add_argument("action", choices=["orphans"])
    files.add_argument("--delete", action="store_true", help="remove the orphans found")
    files.add_argument("--older-than", type=float, default=3600.0, metavar="SECONDS",
                       help="only files uploaded at least this long ago (default 3600: uploads not yet attached)")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    """Parse's precedence: flags over environment over the Parse Server config file over defaults."""
    from_file = load_config_file(args.config) if getattr(args, "config", None) else ParseOptions({}, ())
    parse_env = from_environment(os.environ)
    for name in (*from_file.ignored, *parse_env.ignored):
        print(f"warning: Parse Server option {name} is not supported by this server; ignored", file=sys.stderr)
    overrides = {f.name: coerce_option(f.name, getattr(args, f.name)) for f in fields(Settings)
                 if getattr(args, f.name, None) is not None}
    return (Settings().with_overrides(from_file.values).with_overrides(parse_env.values)
            .with_overrides(env_values(os.environ)).with_overrides(overrides))


def _check_schema(path: str) -> bool:
    try:
        classes = load_schema_file(path)
    except SchemaFileError as exc:
        print(f"schema file {exc.path} is invalid:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return False
    print(f"schema file {path}: {len(classes)} classes OK")
    return True


def connection_limits(settings: Settings) -> ConnectionLimits:
    from engine.http.protocol import ConnectionLimits  # uvicorn is imported only to serve

    # A client that stops reading a response gets as long as one that stops sending a body.
    return ConnectionLimits(header_timeout=settings.header_timeout, body_timeout=settings.body_timeout,
                            max_body_bytes=settings.max_body_bytes, max_connections=settings.max_connections,
                            write_timeout=settings.body_timeout,
                            upload_prefix=("/" + settings.mount_path.strip("/") + "/files/").encode(),
                            max_upload_bytes=settings.max_upload_bytes)


def _raise_open_file_limit(needed: int) -> None:
    """Each connection is a descriptor: a default soft limit of 1024 would refuse sockets long before the caps."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ceiling = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft != resource.RLIM_INFINITY and soft < ceiling:
        resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))
    if hard != resource.RLIM_INFINITY and hard < needed:
        log.warning("open-file limit %d is below the %d the connection caps need: lower SLEEPLAB_MAX_CONNECTIONS "
                    "and SLEEPLAB_MAX_WEBSOCKETS or raise the hard limit (ulimit -Hn)", hard, needed)


def serve(settings: Settings, *, livequery_only: bool = False) -> int:
    import uvicorn

    from engine.app import create_app, create_livequery_app

    if settings.schema_path and not _check_schema(settings.schema_path):
        return 2
    try:
        load_hooks(Cloud("check"), settings.cloud)  # fail before binding the port, with the module's traceback
    except HookImportError as exc:
        # The module's own traceback, so the author sees the line that failed.
        traceback.print_exception(exc.__cause__ or exc, file=sys.stderr)
        print(str(exc), file=sys.stderr)
        return 2
    settings, generated = ensure_master_key(settings)
    if generated:
        print(f"Generated master key (set PARSE_SERVER_MASTER_KEY to keep one): {settings.master_key}", flush=True)
    uri = effective_uri(settings.database_uri)
    if not is_persistent(uri):
        banner = "!" * 78
        print(f"{banner}\n!! {uri}: running on an IN-MEMORY store.\n"
              f"!! NOTHING IS PERSISTED: every object is lost when this process stops.\n{banner}", flush=True)
    else:
        print(f"storage: {uri}", flush=True)
    if livequery_only and not settings.live_query_redis_url:
        print("sleeplab livequery needs --live-query-redis-url (PARSE_SERVER_LIVEQUERY_REDIS_URL): it hears writes "
              "only through Redis", file=sys.stderr)
        return 2
    _raise_open_file_limit(settings.max_connections + settings.max_websockets + 64)
    what = "LiveQuery websockets" if livequery_only else "serving"
    if settings.workers != 1:
        return _serve_workers(settings, livequery_only=livequery_only, what=what)
    try:
        app = create_livequery_app(settings) if livequery_only else create_app(settings)
    except UnsupportedDatabase as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(f"sleeplab {what} {settings.public_url()} (app id {settings.app_id})", flush=True)
    server = uvicorn.Server(_uvicorn_config(settings, app))
    server.run()
    return 0 if server.started else 3


def _uvicorn_config(settings: Settings, app: Any, wrapped: Any = None) -> Any:
    """uvicorn's settings for ``app`` (served as ``wrapped`` when given: the app inside a wrapper)."""
    import uvicorn

    from engine.http.protocol import protocol_for
    from livequery.lean import lean_protocol
    from livequery.protocol import MAX_FRAME

    # LiveQuery's own lean websocket stack (livequery/lean.py); uvicorn's, through ASGI, where deflate is wanted.
    ws: Any = "websockets-sansio" if settings.ws_per_message_deflate else lean_protocol(
        app.state.engine.livequery, settings.mount_path, settings.ws_ping_interval)
    return uvicorn.Config(wrapped or app, host=settings.host, port=settings.port, log_level="info", lifespan="on",
                          access_log=settings.access_log, http=protocol_for(connection_limits(settings)),
                          ws=ws, ws_max_size=MAX_FRAME,
                          ws_ping_interval=settings.ws_ping_interval or None,
                          ws_ping_timeout=settings.ws_ping_interval or None,
                          ws_per_message_deflate=settings.ws_per_message_deflate,
                          timeout_keep_alive=settings.keep_alive_timeout)


def _serve_workers(settings: Settings, *, livequery_only: bool, what: str) -> int:
    """`--workers N`: N forked processes on one port (engine/http/workers.py), each building its own app."""
    import socket

    import uvicorn

    from engine.app import create_app, create_livequery_app
    from engine.http.balance import Shedder, ShedExcess
    from engine.http.workers import Seat, WorkerPlan, check_plan, supervise

    plan = WorkerPlan(settings.workers, settings.host, settings.port)
    problem = check_plan(plan, persistent_store=is_persistent(effective_uri(settings.database_uri)))
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    if effective_uri(settings.database_uri).startswith("mongodb"):
        print("warning: on MongoDB the workers share no change feed yet: a schema or role change made through one "
              "worker reaches the others' caches within 5 s (their TTL), as in Parse Server's cluster mode",
              file=sys.stderr)
    if not settings.live_query_redis_url:
        print("warning: with --workers and no --live-query-redis-url, a LiveQuery subscriber hears only the writes "
              "made through its own worker", file=sys.stderr)

    class ReadyServer(uvicorn.Server):
        def __init__(self, config: uvicorn.Config, ready: Callable[[], None]) -> None:
            super().__init__(config)
            self._ready = ready

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                self._ready()

    def worker(sock: socket.socket, ready: Callable[[], None], seat: Seat) -> int:
        app = create_livequery_app(settings) if livequery_only else create_app(settings)
        shedder = Shedder(seat.board, seat.index, lambda: len(server.server_state.connections))
        server = ReadyServer(_uvicorn_config(settings, app, ShedExcess(app, shedder)), ready)
        server.run(sockets=[sock])
        return 0 if server.started else 3

    print(f"sleeplab {what} {settings.public_url()} (app id {settings.app_id}) with {plan.count} workers", flush=True)
    return supervise(plan, worker)


_PAGE = 1000


async def _every_row(storage: StorageAdapter, cls: ClassDef) -> AsyncIterator[Json]:
    """Every row of the class, a page at a time in objectId order, as the wire JSON they were hashed as. Paged by
    objectId, the key no derived copy stands in for (an index, a SQLite shadow column): the stored rows themselves
    are what is being checked, and a tampered file need not keep its derived copies in step."""
    last: str | None = None
    order = (SortKey(("objectId",)),)
    while True:
        where = MATCH_ALL if last is None else Compare(("objectId",), "gt", last)
        rows = await storage.find(cls, where, FindOptions(limit=_PAGE, order=order))
        for row in rows:
            yield object_to_json(cls, row)
        if len(rows) < _PAGE:
            return
        last = rows[-1].object_id


def _sequence_number(entry: Json) -> int | None:
    seq = entry.get("seq")
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


async def verify_audit_chain(uri: str, class_name: str) -> ChainReport:
    storage = open_adapter(uri)
    await storage.open()
    try:
        cls = next((c for c in await storage.load_schemas() if c.name == class_name), None)
        if cls is None:
            return ChainReport(0, f"class {class_name} does not exist in this store")
        rows = [row async for row in _every_row(storage, cls)]
        chain = sorted((row for row in rows if _sequence_number(row) is not None),
                       key=lambda row: (_sequence_number(row), str(row.get("objectId"))))
        return verify_chain(chain, [row for row in rows if _sequence_number(row) is None])
    finally:
        await storage.aclose()


def audit_verify(uri: str, class_name: str) -> int:
    """`sleeplab audit verify`: 0 and "chain intact, N entries", or 1 and the first altered/inserted/missing entry."""
    try:
        report = asyncio.run(verify_audit_chain(effective_uri(uri), class_name))
    except (UnsupportedDatabase, ValueError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(report.describe(), file=sys.stdout if report.intact else sys.stderr)
    return 0 if report.intact else 1


async def _run_demo(settings: Settings) -> object:
    from engine.app import Engine
    from engine.pipeline.jobs import run_job_inline

    engine = Engine(settings)
    await engine.start()
    try:
        return await run_job_inline(engine.services, "demo", {})
    finally:
        await engine.stop()


def demo(settings: Settings) -> int:
    """`sleeplab demo`: whatever the hooks' `demo` job fills in and returns; the engine knows nothing of it."""
    import asyncio
    import json

    from engine.errors import ParseError

    if not settings.cloud:
        settings = settings.with_overrides({"cloud": "hooks"})
    if settings.schema_path and not _check_schema(settings.schema_path):
        return 2
    settings, _ = ensure_master_key(settings)
    print(f"storage: {effective_uri(settings.database_uri)}", flush=True)
    try:
        result = asyncio.run(_run_demo(settings))
    except (HookImportError, UnsupportedDatabase) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except ParseError as exc:
        print(f"demo failed: {exc.code} {exc.message}", file=sys.stderr)
        return 1
    print(result if isinstance(result, str) else json.dumps(result, indent=2, default=str), flush=True)
    return 0

def files_orphans(settings: Settings, *, delete: bool, older_than: float) -> int:
    """`sleeplab files orphans [--delete]`: one line per file no object references."""
    import asyncio
    from datetime import timedelta

    from engine.app import Engine
    from engine.files.orphans import find_orphans

    async def run() -> int:
        engine = Engine(ensure_master_key(settings)[0])
        await engine.storage.open()
        await engine.files.open()
        try:
            report = await find_orphans(engine.storage, engine.files.adapter, min_age=timedelta(seconds=older_than),
                                        delete=delete)
        finally:
            await engine.files.aclose()
            await engine.storage.aclose()
        for stored in report.orphans:
            print(f"{stored.name}\t{stored.size}\t{stored.created_at.isoformat()}")
        verb = f"deleted {report.deleted} of" if delete else "found"
        print(f"{verb} {len(report.orphans)} orphaned files ({report.referenced} referenced)", file=sys.stderr)
        return 0

    return asyncio.run(run())


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    if args.command == "schema":
        path = args.path or settings_from_env().schema_path
        return 0 if _check_schema(path) else 2
    if args.command == "audit":
        return audit_verify(args.database_uri or settings_from_env().database_uri, args.audit_class)
    if args.command == "files":
        return files_orphans(settings_from_env(), delete=args.delete, older_than=args.older_than)
    try:
        settings = _settings(args)
    except ValueError as exc:
        print(f"invalid option: {exc}", file=sys.stderr)
        return 2
    if args.command == "demo":
        return demo(settings)
    return serve(settings, livequery_only=args.command == "livequery")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
