"""Start and stop a real `python -m engine serve` process on a free 127.0.0.1 port, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 30.0
# The server is configured explicitly: inherited settings (a database URI, client keys...) would change what runs.
SERVER_ENV_PREFIXES = ("PARSE_SERVER_", "SLEEPLAB_", "PARSE_PUBLIC_")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    args: list[str]
    env: dict[str, str]
    cwd: Path
    log: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/parse"

    def start(self) -> ServerProcess:
        cmd = [sys.executable, "-m", "engine", "serve", "--host", "127.0.0.1", "--port", str(self.port), *self.args]
        env = {k: v for k, v in os.environ.items() if not k.startswith(SERVER_ENV_PREFIXES) and k != "PORT"}
        env.update(self.env)
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONPATH"] = str(ROOT)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(cmd, cwd=self.cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"server exited with code {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                response = httpx.get(f"{self.url}/health", timeout=1.0)
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.1)
        pytest.fail(f"server not healthy after {STARTUP_TIMEOUT:.0f}s ({last}):\n{self.log.read_text()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
