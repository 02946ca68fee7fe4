"""A large file streams through a real server both ways with bounded server memory (peak RSS measured).

The body is far larger than SLEEPLAB_MAX_BODY_BYTES (20 MiB), so this also proves the connection protocol gives
`/files` its own limit. The 1 GB measurement lives in bench/files.py; this keeps the suite fast."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import ROOT, ServerProcess, free_port

SIZE = 128 * 1024 * 1024
CHUNK = 1024 * 1024
# The server holds about one megabyte per transfer; the file is 128 MiB. 64 MiB of growth is a generous bound.
MAX_GROWTH = 64 * 1024 * 1024
MASTER = "streaming-master-key"


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


def body() -> Iterator[bytes]:
    block = bytes(range(256)) * (CHUNK // 256)
    for i in range(SIZE // CHUNK):
        yield block[i % 256:] + block[: i % 256]


@pytest.mark.e2e
def test_a_large_upload_and_download_stream_with_bounded_memory(tmp_path: Path) -> None:
    if not Path("/proc/self/status").exists():
        pytest.skip("peak RSS is read from /proc (Linux only)")
    server = ServerProcess(["--master-key", MASTER, "--app-id", "stream", "--database-uri",
                            f"sqlite:///{tmp_path}/data.db", "--schema", str(ROOT / "schema" / "sleeplab.json")],
                           {}, ROOT, tmp_path / "server.log", free_port())
    server.start()
    try:
        assert server.proc is not None
        headers = {"X-Parse-Application-Id": "stream", "X-Parse-Master-Key": MASTER,
                   "Content-Type": "application/octet-stream"}
        with httpx.Client(base_url=server.url, timeout=120) as client:
            warm = client.post("/files/warm.edf", content=b"x" * 1000, headers=headers)
            assert warm.status_code == 201, warm.text
            assert client.get(warm.json()["url"]).status_code == 200
            before = peak_rss(server.proc.pid)
            expected = hashlib.sha256()
            sent = (expected.update(c) or c for c in body())
            up = client.post("/files/night.edf", content=sent, headers={**headers, "Content-Length": str(SIZE)})
            assert up.status_code == 201, up.text
            got = hashlib.sha256()
            received = 0
            with client.stream("GET", up.json()["url"]) as down:
                assert down.status_code == 200
                assert down.headers["content-length"] == str(SIZE)
                for chunk in down.iter_bytes():
                    got.update(chunk)
                    received += len(chunk)
            assert received == SIZE
            assert got.hexdigest() == expected.hexdigest()
            growth = peak_rss(server.proc.pid) - before
            assert growth < MAX_GROWTH, f"server peak RSS grew by {growth / 2**20:.1f} MiB for a 128 MiB file"
    finally:
        server.stop()
