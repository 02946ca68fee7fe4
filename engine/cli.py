"""Composition root: `sleeplab serve | livequery | schema check` — argv and environment → Settings → app → uvicorn."""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Sequence
from dataclasses import fields
from typing import TYPE_CHECKING

from engine.cloud.loader import HookImportError, load_hooks
from engine.cloud.registry import Cloud
from engine.schema.loader import SchemaFileError, load_schema_file
from engine.settings import Settings, coerce_option, ensure_master_key, settings_from_env
from engine.storage.registry import UnsupportedDatabase, effective_uri, is_persistent

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
    # Parse's ParseLiveQueryServer deployment: websockets only, fed by the API processes through Redis.
    live = sub.add_parser("livequery", help="serve only LiveQuery websockets (needs --live-query-redis-url)")
    for command in (serve, live):
        for f in fields(Settings):
            command.add_argument(_flag(f.name), dest=f.name, metavar=f.metadata["env"], help=f.metadata["help"])
    check = sub.add_parser("schema", help="schema tools")
    check.add_argument("action", choices=["check"])
    check.add_argument("path", nargs="?", default=None)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    base = settings_from_env()
    overrides = {f.name: coerce_option(f.name, getattr(args, f.name)) for f in fields(Settings)
                 if getattr(args, f.name, None) is not None}
    return base.with_overrides(overrides)


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
                            write_timeout=settings.body_timeout)


def serve(settings: Settings, *, livequery_only: bool = False) -> int:
    import uvicorn

    from engine.app import create_app, create_livequery_app
    from engine.http.protocol import protocol_for
    from livequery.protocol import MAX_FRAME

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
    try:
        app = create_livequery_app(settings) if livequery_only else create_app(settings)
    except UnsupportedDatabase as exc:
        print(str(exc), file=sys.stderr)
        return 2
    what = "LiveQuery websockets" if livequery_only else "serving"
    print(f"sleeplab {what} {settings.public_url()} (app id {settings.app_id})", flush=True)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info", lifespan="on",
                            access_log=settings.access_log, http=protocol_for(connection_limits(settings)),
                            ws="websockets-sansio", ws_max_size=MAX_FRAME,
                            ws_ping_interval=settings.ws_ping_interval or None,
                            ws_ping_timeout=settings.ws_ping_interval or None,
                            ws_per_message_deflate=settings.ws_per_message_deflate,
                            timeout_keep_alive=settings.keep_alive_timeout)
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 3


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    if args.command == "schema":
        path = args.path or settings_from_env().schema_path
        return 0 if _check_schema(path) else 2
    try:
        settings = _settings(args)
    except ValueError as exc:
        print(f"invalid option: {exc}", file=sys.stderr)
        return 2
    return serve(settings, livequery_only=args.command == "livequery")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
