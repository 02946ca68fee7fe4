"""Hooks for the scriptlog and webhook tests: one that logs, one that fails, and code that owns a name."""

from __future__ import annotations

from engine.cloud import before_save, define
from engine.cloud.request import FunctionRequest, SaveRequest


@define("noteNight")
def note_night(req: FunctionRequest) -> str:
    # A hook that logs what it was given, secrets and all: the log must keep the note and drop the secrets.
    req.log.info("night noted for %s password=%s token=%s", req.params.get("patient"),
                 req.params.get("password"), req.params.get("token"))
    return "ok"


@define("explode")
def explode(req: FunctionRequest) -> None:
    raise RuntimeError("sensor feed unreadable")


@define("codeOwned")
def code_owned(req: FunctionRequest) -> str:
    return "from python"


@before_save("TitrationLog")
def titration_guard(req: SaveRequest) -> None:
    return None
