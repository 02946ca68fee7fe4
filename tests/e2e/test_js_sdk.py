"""Runs the official Parse JS SDK suite (tests/js) against a real `python -m engine serve` process.

The server runs on a free 127.0.0.1 port with a fresh master key and app id, on the in-memory store; node gets
PARSE_SERVER_URL / PARSE_APP_ID / PARSE_MASTER_KEY. The JS dependencies come from `make install` (npm ci).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
JS_DIR = ROOT / "tests" / "js"
STARTUP_TIMEOUT = 30.0
NODE_TIMEOUT = 120.0
# The server is configured by flags only: drop inherited settings (a database URI, client keys...) that would
# change what the suite runs against.
SERVER_ENV_PREFIXES = ("PARSE_SERVER_", "SLEEPLAB_")


@dataclass(frozen=True)
class LiveServer:
    url: str
    app_id: str
    master_key: str


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(SERVER_ENV_PREFIXES) and k != "PORT"}
    env.pop("PARSE_SERVER_DATABASE_URI", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with code {proc.returncode} before answering:\n{log.read_text()}")
        try:
            response = httpx.get(f"{url}/health", timeout=1.0)
            if response.status_code == 200:
                return
            last_error = f"HTTP {response.status_code}: {response.text}"
        except httpx.HTTPError as exc:
            last_error = repr(exc)
        time.sleep(0.1)
    pytest.fail(f"server not healthy after {STARTUP_TIMEOUT:.0f}s ({last_error}):\n{log.read_text()}")


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    port = _free_port()
    app_id = f"compat-{secrets.token_hex(4)}"
    master_key = secrets.token_urlsafe(24)
    log = tmp_path / "server.log"
    cmd = [sys.executable, "-m", "engine", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--master-key", master_key, "--app-id", app_id, "--cloud", str(JS_DIR / "hooks")]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=_server_env(), stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/parse"
        _wait_healthy(proc, url, log)
        yield LiveServer(url, app_id, master_key)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def node() -> str:
    if not (JS_DIR / "node_modules" / "parse").is_dir():
        pytest.fail("tests/js/node_modules is missing: run `make install` (it runs `npm ci` in tests/js)")
    path = shutil.which("node")
    if path is None:
        pytest.fail("node is not on PATH: the JS SDK suite needs Node.js (see tests/js/package.json)")
    return path


@pytest.mark.e2e
def test_parse_js_sdk_suite(node: str, live_server: LiveServer) -> None:
    env = {
        **os.environ,
        "PARSE_SERVER_URL": live_server.url,
        "PARSE_APP_ID": live_server.app_id,
        "PARSE_MASTER_KEY": live_server.master_key,
        "NO_COLOR": "1",
    }
    cmd = [node, "--test", "--test-reporter=spec", "tests/js/"]
    try:
        result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=NODE_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        output = "".join(part.decode() if isinstance(part, bytes) else part or "" for part in (exc.stdout, exc.stderr))
        pytest.fail(f"`node --test tests/js/` did not finish within {NODE_TIMEOUT:.0f}s:\n{output}")
    assert result.returncode == 0, (
        f"`node --test tests/js/` exited with {result.returncode}:\n{result.stdout}\n{result.stderr}"
    )
