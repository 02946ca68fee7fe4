"""`sleeplab serve --workers N`: N forked server processes on one port, supervised by the parent.

Each worker binds its own listening socket with SO_REUSEPORT, so the kernel spreads new connections evenly over
the workers (one shared socket would let whichever worker wakes first accept a whole burst of connections). Each
opens its own store connections in its own lifespan; what must stay coherent between them (schema and role
caches, webhook registrations) travels through the store's change feed (storage/base.ChangeFeed). Sessions and
Parse.Config are read from the store on every request, so a revoked session or a config change is seen by every
worker at once.

The parent only supervises: it starts the workers one after the other (each waits for the previous one to finish
its start-up, so only one provisions the schema at a time), restarts a worker that dies unexpectedly (bounded), and
on SIGTERM or SIGINT asks every worker to finish its requests and stop, killing any still running after the grace
period. The workers leave the terminal's process group, so a Ctrl-C reaches them once, through the parent, and
ask the kernel to stop them if the parent dies."""

from __future__ import annotations

import ctypes
import logging
import os
import select
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from engine.http.balance import ABSENT, LoadBoard

log = logging.getLogger("engine")

MAX_WORKERS = 64
START_TIMEOUT = 120.0  # seconds one worker may take to open its store and provision the schema
GRACE_SECONDS = 30.0  # after SIGTERM: time the workers get to finish their requests
RESTARTS_PER_MINUTE = 5  # a worker that keeps dying is a broken deployment, not bad luck
_READY = b"R"
_PR_SET_PDEATHSIG = 1

@dataclass(frozen=True)
class Seat:
    """Where a forked worker sits: its index and the board its load goes on (engine/http/balance.py)."""

    index: int
    board: LoadBoard


# Runs one worker in the forked child: given its listening socket, a callback to report it is serving and its
# seat, returns the process's exit code.
WorkerMain = Callable[[socket.socket, Callable[[], None], Seat], int]


@dataclass(frozen=True)
class WorkerPlan:
    count: int
    host: str
    port: int
    grace_seconds: float = GRACE_SECONDS


def check_plan(plan: WorkerPlan, *, persistent_store: bool) -> str | None:
    """Why these workers cannot serve, or None."""
    if not 1 <= plan.count <= MAX_WORKERS:
        return f"--workers must be between 1 and {MAX_WORKERS}"
    if plan.count > 1 and plan.port == 0:
        return "--workers needs a fixed --port: every worker binds the same one"
    if plan.count > 1 and not persistent_store:
        return "--workers needs a shared store (SQLite file, PostgreSQL or MongoDB): memory:// is per process"
    if plan.count > 1 and not hasattr(socket, "SO_REUSEPORT"):
        return "--workers needs SO_REUSEPORT (Linux, BSD, macOS)"
    return None


def listening_socket(host: str, port: int) -> socket.socket:
    """This worker's own socket on the shared port; the kernel balances connections across the group."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(2048)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class _Supervisor:
    def __init__(self, plan: WorkerPlan, main: WorkerMain) -> None:
        self.plan = plan
        self.main = main
        self.pids: dict[int, int] = {}  # pid -> worker index
        self.stopping = False
        self.restarts: list[float] = []
        self.board = LoadBoard(plan.count)  # before any fork: every worker shares this memory

    # ---- the parent ----

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            for index in range(self.plan.count):
                if self.stopping or not self._start(index):
                    return self._stop(3)
            log.info("%d workers serving on port %d (pids %s)", self.plan.count, self.plan.port,
                     ", ".join(map(str, sorted(self.pids))))
            return self._watch()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if not self.stopping:
            log.info("%s: stopping %d workers", signal.Signals(signum).name, len(self.pids))
        self.stopping = True
        self._signal_all(signal.SIGTERM)

    def _signal_all(self, sig: int) -> None:
        for pid in list(self.pids):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def _start(self, index: int) -> bool:
        """Fork worker ``index`` and wait until it serves; False when it died or hung on the way."""
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child's path is exercised by tests/e2e/test_workers.py
            os.close(read_end)
            os._exit(self._child(write_end, index))
        os.close(write_end)
        self.pids[pid] = index
        try:
            ready, _, _ = select.select([read_end], [], [], START_TIMEOUT)
            if ready and os.read(read_end, 1) == _READY:
                return True
        except InterruptedError:
            pass
        finally:
            os.close(read_end)
        log.error("worker %d (pid %d) did not start", index, pid)
        return False

    def _watch(self) -> int:
        # Polled, not a blocking wait: a stop request must also reach workers that hang instead of exiting.
        while True:
            if self.stopping:
                return self._stop(0)
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return 0
            if pid == 0:
                time.sleep(0.2)
                continue
            index = self.pids.pop(pid, None)
            if index is None or self.stopping:
                continue
            self.board.post(index, ABSENT)
            log.error("worker %d (pid %d) exited with %d; restarting it", index, pid,
                      os.waitstatus_to_exitcode(status))
            now = time.monotonic()
            self.restarts = [t for t in self.restarts if now - t < 60] + [now]
            if len(self.restarts) > RESTARTS_PER_MINUTE or not self._start(index):
                log.error("workers keep failing: stopping")
                return self._stop(3)

    def _stop(self, code: int) -> int:
        self.stopping = True
        self._signal_all(signal.SIGTERM)
        deadline = time.monotonic() + self.plan.grace_seconds
        while self.pids and time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.pids.clear()
                break
            if pid:
                self.pids.pop(pid, None)
            else:
                time.sleep(0.05)
        if self.pids:
            log.warning("killing %d workers still running after %.0f s", len(self.pids), self.plan.grace_seconds)
            self._signal_all(signal.SIGKILL)
            for pid in list(self.pids):
                os.waitpid(pid, 0)
            self.pids.clear()
        return code

    # ---- a child ----

    def _child(self, ready_fd: int, index: int) -> int:  # pragma: no cover - runs in the forked worker
        try:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, signal.SIG_DFL)
            os.setpgid(0, 0)  # out of the terminal's group: a Ctrl-C reaches the workers once, through the parent
            _die_with_parent()
            sock = listening_socket(self.plan.host, self.plan.port)

            def ready() -> None:
                os.write(ready_fd, _READY)
                os.close(ready_fd)

            return self.main(sock, ready, Seat(index, self.board))
        except BaseException:
            log.exception("worker failed")
            return 3
        finally:
            for stream in (sys.stdout, sys.stderr):
                stream.flush()  # os._exit skips the interpreter's own flush


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked worker
    """Linux: the kernel sends SIGTERM to this worker if the supervisor dies (even by SIGKILL)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the call
        os._exit(0)


def supervise(plan: WorkerPlan, main: WorkerMain) -> int:
    """Run ``plan.count`` workers until SIGTERM/SIGINT; the exit code is 0 after a requested stop."""
    return _Supervisor(plan, main).run()
