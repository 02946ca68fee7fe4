"""The hook decorators are typed per trigger kind: mypy refuses a hook whose request type is not its trigger's."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from mypy import api

GOOD = """
from engine.cloud import AfterFindRequest, CloudObject, DeleteRequest, FindRequest, FunctionRequest, SaveRequest
from engine.cloud import TriggerRequest, after_find, before_delete, before_find, before_save, define

@before_save("Night")
async def minutes(req: SaveRequest) -> None:
    req.object["minutes"] = 1  # object is a CloudObject in a beforeSave, never None

@before_delete("Night")
def gone(req: DeleteRequest) -> None:
    print(req.object.object_id)

@before_find("Night")
async def scope(req: FindRequest) -> None:
    req.query.equal_to("owner", "me")

@after_find("Night")
async def trim(req: AfterFindRequest) -> list[CloudObject]:
    return req.objects[:1]

@before_save("Night")
async def generic(req: TriggerRequest) -> None:  # the common base type is accepted by every trigger
    pass

@define("hello")
async def hello(req: FunctionRequest) -> str:
    return "hi"
"""

BAD = """
from engine.cloud import FunctionRequest, SaveRequest, TriggerRequest, before_save, define

@before_save("Night")
async def wrong_kind(req: FunctionRequest) -> None:
    pass

@define("hello")
async def wrong_function(req: SaveRequest) -> str:
    return "hi"

def optional_object(req: TriggerRequest) -> None:
    req.object["minutes"] = 1
"""


def _mypy(tmp_path: Path, source: str) -> tuple[str, int]:
    module = tmp_path / "hook_module.py"
    module.write_text(textwrap.dedent(source))
    stdout, _stderr, status = api.run(["--strict", "--no-incremental", "--follow-imports=silent",
                                       "--cache-dir", str(tmp_path / "cache"), str(module)])
    return stdout, status


@pytest.mark.parametrize("case", ["good", "bad"])
def test_hook_signatures_are_checked(tmp_path: Path, case: str) -> None:
    out, status = _mypy(tmp_path, GOOD if case == "good" else BAD)
    if case == "good":
        assert status == 0, out
        return
    assert status == 1, out
    lines = [line for line in out.splitlines() if ": error:" in line]
    assert len(lines) == 3, out
    assert '"SaveHook"' in lines[0] and "FunctionRequest" in lines[0], out  # a function hook on a beforeSave
    assert '"FunctionHook"' in lines[1] and "SaveRequest" in lines[1], out  # a save hook as a function
    assert "CloudObject | None" in lines[2], out  # the untyped base keeps object Optional
