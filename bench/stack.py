"""The servers a benchmark run starts itself, on free 127.0.0.1 ports: ours (`python -m engine serve`) and the
bare Starlette floor (bare.py); each stopped by the run that started it."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from bench.scenarios import Server

ROOT = Path(__file__).resolve().parent.parent
CLOUD = Path(__file__).resolve().parent / "cloud"
MEMORY_LIMIT = 2 * 1024**3  # bytes of address space per server process (ulimit -v)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _limit_memory() -> None:  # runs in the child before exec
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def wait_healthy(url: str, proc: subprocess.Popen[bytes], seconds: float = 60, log: Path | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            said = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
            raise SystemExit(f"server exited with {proc.returncode}\n{said}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not become healthy")


@contextlib.contextmanager
def ours(db_path: Path, *, workers: int = 1, log: Path | None = None) -> Iterator[tuple[Server, int]]:
    """Our server on a SQLite file, with the bench cloud function; yields it and the supervisor's pid."""
    # token_urlsafe could start with "-", which argparse would read as an option (about one start in 64 failed so).
    port, key = free_port(), secrets.token_urlsafe(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARSE_SERVER_", "SLEEPLAB_", "PARSE_PUBLIC_"))}
    env["PYTHONPATH"] = str(ROOT)
    cmd = [sys.executable, "-m", "engine", "serve", "--host", "127.0.0.1", "--port", str(port),
           f"--master-key={key}", "--app-id", "bench", "--database-uri", f"sqlite:///{db_path}",
           "--schema", str(ROOT / "schema" / "sleeplab.json"), "--cloud", str(CLOUD), "--workers", str(workers)]
    out = log.open("ab") if log else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                            preexec_fn=_limit_memory)
    server = Server(f"sleeplab ({workers} worker{'s' if workers > 1 else ''})",
                    f"http://127.0.0.1:{port}/parse", "bench", key)
    try:
        wait_healthy(server.url, proc, log=log)
        yield server, proc.pid
    finally:
        _stop(proc)
        if log:
            out.close()  # type: ignore[union-attr]


@contextlib.contextmanager
def bare(db_path: Path, class_name: str) -> Iterator[str]:
    """bare.py on the same SQLite file; yields its base URL (GET <url>/<objectId>)."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("bare.py")), "--db", str(db_path),
                             "--class", class_name, "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_limit_memory)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        yield f"http://127.0.0.1:{port}/bare"
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def reachable(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
