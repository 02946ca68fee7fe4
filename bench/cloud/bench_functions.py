"""The cloud function the benchmark calls: the same tiny echo on both servers (peer_cloud.js is its twin)."""

from __future__ import annotations

from typing import Any

from engine.cloud import FunctionRequest, define


@define("benchEcho")
def bench_echo(req: FunctionRequest) -> dict[str, Any]:
    return {"echo": req.params.get("n")}
