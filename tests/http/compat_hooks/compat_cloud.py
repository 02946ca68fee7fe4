"""Hooks for tests/http/test_compat_cloud.py (loaded with --cloud tests/http/compat_hooks)."""

from __future__ import annotations

from engine.cloud import FunctionRequest, JobRequest, define, job


@define("nothing")
def nothing(req: FunctionRequest) -> None:
    return None


@define("zero")
def zero(req: FunctionRequest) -> int:
    return 0


@job("nightlyReport")
async def nightly_report(req: JobRequest) -> None:
    return None
