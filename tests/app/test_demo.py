"""`sleeplab demo`: a realistic clinic, the logins printed, nothing duplicated by a second run."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main
from engine.storage.sqlite_driver import sqlite3
from tests.conftest import APP_SCHEMA

EXPECTED = {"_User": 9, "PatientProfile": 6, "SleepStudy": 6, "SleepStudyVersion": 9, "CPAPLog": 540,
            "TitrationLog": 6, "Message": 18, "Appointment": 6}


def counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in EXPECTED}


def test_demo_fills_a_clinic_once(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARSE_SERVER_CLOUD", raising=False)
    db = tmp_path / "demo.db"
    argv = ["demo", "--database-uri", f"sqlite:///{db}", "--master-key", "demo-master", "--schema", str(APP_SCHEMA)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "password 'sleeplab-demo'" in out and "dr.okafor" in out and "maria.silva" in out
    assert counts(db) == EXPECTED
    assert main(argv) == 0
    assert "0 CPAP logs added" in capsys.readouterr().out
    assert counts(db) == EXPECTED
