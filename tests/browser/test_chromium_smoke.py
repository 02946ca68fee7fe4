"""The browser harness itself works: Debian's Chromium starts headless, runs a page's script, takes a screenshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def test_chromium_runs_a_page_and_screenshots(browser: Any, artifacts: Path) -> None:
    page = browser.new_page()
    page.set_content("<button onclick=\"this.textContent='clicked'\">press</button>")
    page.get_by_role("button", name="press").click()
    assert page.text_content("button") == "clicked"
    shot = artifacts / "smoke.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 0
    page.close()
