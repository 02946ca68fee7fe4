"""The benchmark still works: `python -m bench.run --quick` completes against a real server and reports every
scenario with traffic and no errors. Speed is never asserted here (that is bench/'s job, on a quiet machine)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench import bcrypt_floor
from bench.scenarios import SCENARIOS
from tests.e2e.server import ROOT, SERVER_ENV_PREFIXES


def test_quick_benchmark_reports_every_scenario_without_errors(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(SERVER_ENV_PREFIXES)}
    done = subprocess.run([sys.executable, "-m", "bench.run", "--quick", "--json", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    ours = report["sleeplab"]
    assert sorted(ours) == sorted(SCENARIOS)
    for name, numbers in ours.items():
        assert numbers["requests"] > 0 and numbers["rps"] > 0, f"{name}: no traffic"
        assert numbers["errors"] == 0, f"{name}: {numbers['errors']} errors"
    assert "peer" not in report  # quick mode never reaches for the peer


def test_bcrypt_floor_counts_real_checks() -> None:
    rate = bcrypt_floor.checks_per_second(seconds=0.3, threads=1)
    assert 0 < rate < 1000  # cost 10 is milliseconds per check on any machine, never free
    assert bcrypt_floor.ceiling(26.0, 20.0) == 1.3
