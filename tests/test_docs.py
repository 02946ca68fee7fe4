"""The README documents every setting (flag and environment variable)."""

from __future__ import annotations

from dataclasses import fields

from engine.cli import _flag
from engine.settings import Settings
from tests.conftest import ROOT


def test_every_setting_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [f.name for f in fields(Settings)
               if f.metadata["env"] not in readme or _flag(f.name) not in readme]
    assert missing == []
