"""Runs the official Parse JS SDK suite (tests/js) against a real `python -m engine serve` process.

The server runs on a free 127.0.0.1 port with a fresh master key and app id, on the in-memory store; node gets
PARSE_SERVER_URL / PARSE_APP_ID / PARSE_MASTER_KEY. The JS dependencies come from `make install` (npm ci).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.server import ROOT, ServerProcess, free_port

JS_DIR = ROOT / "tests" / "js"
# The generic SDK suite runs on the template's schema; the sleep-lab app suite on the shipped one with hooks/.
SEED_SCHEMA = ROOT / "tests" / "fixtures" / "sleeplab-seed-schema.json"
NODE_TIMEOUT = 120.0


@dataclass(frozen=True)
class LiveServer:
    url: str
    app_id: str
    master_key: str


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    app_id = f"compat-{secrets.token_hex(4)}"
    # Hex, not urlsafe: a key starting with "-" would be read by the CLI as a flag (1 run in 64 failed).
    master_key = secrets.token_hex(24)
    server = ServerProcess(
        ["--master-key", master_key, "--app-id", app_id, "--database-uri", "memory://",
         "--schema", str(SEED_SCHEMA), "--cloud", str(JS_DIR / "hooks"),
         "--idempotency-paths", "classes/.*,functions/.*,users,installations"],
        {}, ROOT, tmp_path / "server.log", free_port())
    try:
        yield LiveServer(server.start().url, app_id, master_key)
    finally:
        server.stop()


@pytest.fixture
def app_server(tmp_path: Path) -> Iterator[LiveServer]:
    """The sleep-lab application as shipped: schema/sleeplab.json and hooks/."""
    app_id = f"clinic-{secrets.token_hex(4)}"
    master_key = secrets.token_hex(24)
    server = ServerProcess(
        ["--master-key", master_key, "--app-id", app_id, "--database-uri", "memory://",
         "--schema", str(ROOT / "schema" / "sleeplab.json"), "--cloud", str(ROOT / "hooks")],
        {}, ROOT, tmp_path / "app-server.log", free_port())
    try:
        yield LiveServer(server.start().url, app_id, master_key)
    finally:
        server.stop()


@pytest.fixture
def node() -> str:
    if not (JS_DIR / "node_modules" / "parse").is_dir():
        pytest.fail("tests/js/node_modules is missing: run `make install` (it runs `npm ci` in tests/js)")
    path = shutil.which("node")
    if path is None:
        pytest.fail("node is not on PATH: the JS SDK suite needs Node.js (see tests/js/package.json)")
    return path


def _run_node(node: str, server: LiveServer, target: str, extra_env: dict[str, str]) -> None:
    env = {
        **os.environ,
        "PARSE_SERVER_URL": server.url,
        "PARSE_APP_ID": server.app_id,
        "PARSE_MASTER_KEY": server.master_key,
        "NO_COLOR": "1",
        **extra_env,
    }
    cmd = [node, "--test", "--test-reporter=spec", target]
    try:
        result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=NODE_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        output = "".join(part.decode() if isinstance(part, bytes) else part or "" for part in (exc.stdout, exc.stderr))
        pytest.fail(f"`node --test {target}` did not finish within {NODE_TIMEOUT:.0f}s:\n{output}")
    assert result.returncode == 0, (
        f"`node --test {target}` exited with {result.returncode}:\n{result.stdout}\n{result.stderr}"
    )


@pytest.mark.e2e
def test_parse_js_sdk_suite(node: str, live_server: LiveServer) -> None:
    _run_node(node, live_server, "tests/js/", {"SLEEPLAB_APP_SUITE": "0"})


@pytest.mark.e2e
def test_sleeplab_app_with_the_js_sdk(node: str, app_server: LiveServer) -> None:
    """tests/js/sleeplab.test.mjs: every app rule, allowed and refused, as patients, providers and an admin."""
    _run_node(node, app_server, "tests/js/sleeplab.test.mjs", {"SLEEPLAB_APP_SUITE": "1"})
