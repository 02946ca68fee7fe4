"""Parse Dashboard 9.2.0 (tests/dashboard, npm) and a real `sleeplab serve` behind it, for the Dashboard suite."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import ROOT, ServerProcess, free_port

DASHBOARD_BIN = ROOT / "tests" / "dashboard" / "node_modules" / "parse-dashboard" / "bin" / "parse-dashboard"
SEED_SCHEMA = ROOT / "tests" / "fixtures" / "sleeplab-seed-schema.json"
APP_ID = "sleeplab-dash"
MASTER = "dash-master-key-for-tests"
APP_NAME = "Sleep Lab"
USER, PASSWORD = "admin", "dash-admin-pw"
STARTUP_TIMEOUT = 60.0


@dataclass(frozen=True)
class DashboardRig:
    server: ServerProcess
    dashboard_url: str

    @property
    def api(self) -> str:
        return self.server.url

    def rest(self, method: str, path: str, body: object = None, **params: str) -> httpx.Response:
        """The server's truth, read with the master key (never through the Dashboard)."""
        headers = {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER}
        return httpx.request(method, self.api + path, json=body, params=params or None, headers=headers, timeout=10)


def _wait(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"parse-dashboard exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"parse-dashboard not up after {STARTUP_TIMEOUT:.0f}s:\n{log.read_text()}")


@contextmanager
def dashboard_rig(workdir: Path) -> Iterator[DashboardRig]:
    node = shutil.which("node")
    if node is None or not DASHBOARD_BIN.exists():
        pytest.skip("parse-dashboard is not installed (make install runs npm ci in tests/dashboard)")
    server = ServerProcess(
        args=["--schema", str(SEED_SCHEMA)],
        env={"PARSE_SERVER_APPLICATION_ID": APP_ID, "PARSE_SERVER_MASTER_KEY": MASTER,
             "PARSE_SERVER_DATABASE_URI": f"sqlite:///{workdir / 'dash.db'}",
             # The Webhooks page lists a webhook the suite registers; it is never called.
             "SLEEPLAB_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"},
        cwd=ROOT, log=workdir / "server.log", port=free_port(),
    ).start()
    port = free_port()
    config = {"apps": [{"serverURL": server.url, "graphQLServerURL": f"http://127.0.0.1:{server.port}/graphql",
                        "appId": APP_ID, "masterKey": MASTER, "appName": APP_NAME}],
              "users": [{"user": USER, "pass": PASSWORD}]}
    config_path = workdir / "dashboard-config.json"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    log = workdir / "dashboard.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARSE_DASHBOARD")}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [node, str(DASHBOARD_BIN), "--config", str(config_path), "--host", "127.0.0.1", "--port", str(port),
             "--allowInsecureHTTP", "--cookieSessionSecret", "dash-cookie-secret"],
            cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait(url + "/login", proc, log)
        yield DashboardRig(server, url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        server.stop()
