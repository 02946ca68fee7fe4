"""How the suite drives Parse Dashboard 9.2.0's pages: selectors found by exploring the React app (its CSS class
names are hashed per build, so only visible text, placeholders and roles are used)."""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

from tests.browser.dashboard_server import APP_NAME, PASSWORD, USER

UNDEFINED_CELL = re.compile(r"^\(undefined\)$")
# The API Console's master-key switch has no label of its own: it is the toggle in the "Use Master Key?" row.
MASTER_TOGGLE = ("xpath=//div[text()='Use Master Key?']/ancestor::div[contains(@style,'--modal-label-ratio')][1]"
                 "//span")


def app_url(base: str, path: str) -> str:
    return f"{base}/apps/{urllib.parse.quote(APP_NAME)}/{path}"


def log_in(page: Any, base: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=username]", USER)
    page.fill("input[name=password]", PASSWORD)
    page.click("[type=submit]")
    page.wait_for_url("**/apps")


def open_class(page: Any, base: str, class_name: str, visible: str,
               filters: list[dict[str, Any]] | None = None) -> None:
    query = "?filters=" + urllib.parse.quote(json.dumps(filters)) if filters else ""
    page.goto(app_url(base, f"browser/{class_name}") + query)
    page.get_by_text(visible, exact=True).first.wait_for()


def toolbar(page: Any, menu: str, item: str) -> None:
    page.get_by_text(menu, exact=True).click()
    page.get_by_text(item, exact=True).click()


def row_of(page: Any, text: str) -> Any:
    """The grid row showing `text` in one of its cells."""
    return page.locator("div:has(> span > input[type=checkbox])").filter(has=page.get_by_text(text, exact=True))


def edit_cell(page: Any, cell: Any, value: str) -> None:
    cell.dblclick()
    page.keyboard.press("Control+A")
    page.keyboard.type(value)
    page.keyboard.press("Enter")


def add_row(page: Any, column_index: int, value: str) -> None:
    """Add Row, set one cell (`column_index` counts the new row's empty cells: objectId, createdAt, updatedAt,
    then the class's own columns; ACL is not empty), then Add."""
    page.get_by_text("Add Row", exact=True).click()
    page.get_by_role("button", name="Add", exact=True).wait_for()
    page.locator("span", has_text=UNDEFINED_CELL).nth(column_index).dblclick()
    page.keyboard.type(value)
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Add", exact=True).click()

