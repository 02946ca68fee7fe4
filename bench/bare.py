"""The floor for a one-round-trip request: a bare Starlette route making the same store call as the engine's get
by id (SQLiteAdapter.find on objectId, limit 1) and answering the same JSON, with nothing else: no auth, no
schema cache, no CLP/ACL, no hooks. `python bench/bare.py --db FILE --class BenchNote --port P`."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine.pipeline.encode import object_to_json
from engine.query.options import FindOptions
from engine.query.where import Compare
from engine.storage.sqlite import SQLiteAdapter

ONE = FindOptions(limit=1)


def build(db: str, class_name: str) -> Starlette:
    storage = SQLiteAdapter(db)
    classes: dict[str, object] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await storage.open()
        classes.update({c.name: c for c in await storage.load_schemas()})
        yield
        await storage.aclose()

    async def get(request: Request) -> Response:
        cls = classes[class_name]
        rows = await storage.find(cls, Compare(("objectId",), "eq", request.path_params["object_id"]), ONE)  # type: ignore[arg-type]
        if not rows:
            return JSONResponse({"code": 101, "error": "Object not found."}, status_code=404)
        return JSONResponse(object_to_json(cls, rows[0]))  # type: ignore[arg-type]

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/bare/{object_id}", get), Route("/health", health)], lifespan=lifespan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--class", dest="class_name", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(build(args.db, args.class_name), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
