"""Streams a 1 GB file up and down through a real server and reports throughput and the server's peak RSS.

    python bench/files.py [--mib 1024]

Starts `python -m engine serve` on a throwaway SQLite directory, uploads with a streamed raw body (the JS SDK's
saveBinary path), downloads through the signed URL, checks the sha256, and reads VmHWM from /proc. Not a test."""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.server import ROOT, ServerProcess, free_port

CHUNK = 1024 * 1024
MASTER = "bench-files-master"


def rss(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=1024)
    args = parser.parse_args()
    size = args.mib * CHUNK
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(["--master-key", MASTER, "--app-id", "bench", "--database-uri",
                                f"sqlite:///{tmp}/data.db"], {}, ROOT, Path(tmp) / "server.log", free_port())
        server.start()
        assert server.proc is not None
        pid = server.proc.pid
        try:
            headers = {"X-Parse-Application-Id": "bench", "X-Parse-Master-Key": MASTER,
                       "Content-Type": "application/octet-stream"}
            with httpx.Client(base_url=server.url, timeout=600) as client:
                warm = client.post("/files/warm.edf", content=b"x" * 1000, headers=headers).json()
                client.get(warm["url"])
                base = rss(pid, "VmHWM")
                sent = hashlib.sha256()

                def body() -> Iterator[bytes]:
                    block = bytes(range(256)) * (CHUNK // 256)
                    for _ in range(args.mib):
                        sent.update(block)
                        yield block

                t0 = time.perf_counter()
                up = client.post("/files/night.edf", content=body(), headers={**headers, "Content-Length": str(size)})
                t_up = time.perf_counter() - t0
                assert up.status_code == 201, up.text
                after_up = rss(pid, "VmHWM")
                got = hashlib.sha256()
                t0 = time.perf_counter()
                with client.stream("GET", up.json()["url"]) as down:
                    for chunk in down.iter_bytes():
                        got.update(chunk)
                t_down = time.perf_counter() - t0
                assert got.hexdigest() == sent.hexdigest(), "downloaded bytes differ"
                peak = rss(pid, "VmHWM")
        finally:
            server.stop()
    mib = 1024 * 1024
    print(f"file: {args.mib} MiB")
    print(f"upload:   {t_up:6.1f} s  {args.mib / t_up:7.1f} MiB/s")
    print(f"download: {t_down:6.1f} s  {args.mib / t_down:7.1f} MiB/s")
    print(f"server peak RSS: {base / mib:.1f} MiB before, {after_up / mib:.1f} after upload, {peak / mib:.1f} after "
          f"download (growth {(peak - base) / mib:.1f} MiB)")


if __name__ == "__main__":
    main()
