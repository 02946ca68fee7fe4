"""Parse Dashboard 9.2.0 against a real `sleeplab serve` (issue 18): every page a lab admin uses, each step checked
on the page AND in what the server stored (read back over REST with the master key). Screenshots go to artifacts.

The steps share one server and one logged-in page and run in file order, as an admin's session would.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.dashboard_pages import (
    MASTER_TOGGLE,
    add_row,
    app_url,
    edit_cell,
    log_in,
    open_class,
    row_of,
    toolbar,
)
from tests.browser.dashboard_server import APP_ID, APP_NAME, DashboardRig, dashboard_rig

PATIENTS = [("Ada", 52), ("Ben", 38), ("Cy", 61)]


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardRig]:
    with dashboard_rig(tmp_path_factory.mktemp("dashboard")) as running:
        # A clinical class as a lab declares it, three patients, one chart only the master key may read, a nurse
        # with a session (the API Console's "Run as" borrows one), and a webhook for the Webhooks page.
        fields = {"name": {"type": "String"}, "age": {"type": "Number"}, "notes": {"type": "String"}}
        assert running.rest("POST", "/schemas/Patient", {"className": "Patient", "fields": fields}).status_code == 200
        for name, age in PATIENTS:
            assert running.rest("POST", "/classes/Patient", {"name": name, "age": age}).status_code == 201
        assert running.rest("POST", "/classes/Patient", {"name": "Zed", "age": 70, "ACL": {}}).status_code == 201
        signup = httpx.post(running.api + "/users", json={"username": "nurse", "password": "pw-nurse-1"},
                            headers={"X-Parse-Application-Id": APP_ID}, timeout=10)
        assert signup.status_code == 201
        hook = {"functionName": "scoreNight", "url": "http://127.0.0.1:9/score"}
        assert running.rest("POST", "/hooks/functions", hook).status_code == 200
        yield running


@pytest.fixture(scope="module")
def page(rig: DashboardRig, browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    context.set_default_timeout(15000)
    tab = context.new_page()
    yield tab
    context.close()


def _patients(rig: DashboardRig, **where: Any) -> list[dict[str, Any]]:
    r = rig.rest("GET", "/classes/Patient", where=json.dumps(where), order="name")
    assert r.status_code == 200, r.text
    return list(r.json()["results"])


def test_log_in_and_see_the_app(rig: DashboardRig, page: Any, artifacts: Path) -> None:
    log_in(page, rig.dashboard_url)
    page.get_by_text(APP_NAME, exact=True).first.wait_for()
    page.screenshot(path=str(artifacts / "dashboard-01-apps.png"))


def test_browse_users_and_a_clinical_class(rig: DashboardRig, page: Any, artifacts: Path) -> None:
    open_class(page, rig.dashboard_url, "_User", "nurse")
    page.get_by_text("1 objects", exact=True).first.wait_for()
    open_class(page, rig.dashboard_url, "Patient", "Ada")
    page.get_by_text("4 objects", exact=True).first.wait_for()  # the master key sees the restricted chart too
    for name, _ in PATIENTS:
        assert page.get_by_text(name, exact=True).count() == 1
    # Parse hides its internal classes from the browser, as from /schemas.
    sidebar = page.locator("body").inner_text()
    assert "_GlobalConfig" not in sidebar and "_JobStatus" not in sidebar and "_Hooks" not in sidebar
    page.screenshot(path=str(artifacts / "dashboard-02-patients.png"))
    assert len(_patients(rig)) == 4


def test_add_edit_and_delete_rows(rig: DashboardRig, page: Any, artifacts: Path) -> None:
    open_class(page, rig.dashboard_url, "Patient", "Ada")
    add_row(page, 3, "Eve")  # the new row's empty cells: objectId, createdAt, updatedAt, name...
    page.get_by_text("5 objects", exact=True).first.wait_for()
    assert [p["name"] for p in _patients(rig, name="Eve")] == ["Eve"]

    edit_cell(page, page.get_by_text("Ben", exact=True), "Benjamin")
    page.get_by_text("Benjamin", exact=True).wait_for()
    assert [p["age"] for p in _patients(rig, name="Benjamin")] == [38]
    assert _patients(rig, name="Ben") == []

    row_of(page, "Eve").locator("input[type=checkbox]").check()
    toolbar(page, "Edit", "Delete this row")
    page.get_by_role("button", name="Delete", exact=True).click()
    page.get_by_text("4 objects", exact=True).first.wait_for()
    assert page.get_by_text("Eve", exact=True).count() == 0
    assert _patients(rig, name="Eve") == []
    page.screenshot(path=str(artifacts / "dashboard-03-rows.png"))


def test_add_a_column(rig: DashboardRig, page: Any) -> None:
    open_class(page, rig.dashboard_url, "Patient", "Ada")
    toolbar(page, "Edit", "Add a column")
    page.get_by_placeholder("Give it a good name...").fill("room")
    page.get_by_role("button", name="Add", exact=True).click()
    page.get_by_text("room", exact=True).wait_for()
    assert rig.rest("GET", "/schemas/Patient").json()["fields"]["room"]["type"] == "String"


def test_filter_shows_matching_rows_and_count(rig: DashboardRig, page: Any, artifacts: Path) -> None:
    open_class(page, rig.dashboard_url, "Patient", "Ada", filters=[{"field": "age", "constraint": "gt",
                                                                     "compareTo": 40}])
    page.get_by_text("3 objects", exact=True).first.wait_for()  # Ada 52, Cy 61, Zed 70
    assert page.get_by_text("Benjamin", exact=True).count() == 0
    assert page.get_by_text("Cy", exact=True).count() == 1
    assert sorted(p["name"] for p in _patients(rig, age={"$gt": 40})) == ["Ada", "Cy", "Zed"]
    page.screenshot(path=str(artifacts / "dashboard-04-filter.png"))


def test_save_a_class_level_permission_change(rig: DashboardRig, page: Any, artifacts: Path) -> None:
    open_class(page, rig.dashboard_url, "Patient", "Ada")
    toolbar(page, "Security", "Class Level Permissions")
    public_row = page.locator("div:has(> div:text-is('Public'))")
    public_row.locator("span:has(> span:text-is('Write'))").click()  # public may no longer write patients
    page.screenshot(path=str(artifacts / "dashboard-05-clp.png"))
    page.get_by_role("button", name="Save CLP").click()
    page.get_by_role("button", name="Save CLP").wait_for(state="detached")
    clp = rig.rest("GET", "/schemas/Patient").json()["classLevelPermissions"]
    assert clp["find"].get("*") is True and clp["get"].get("*") is True
    for op in ("create", "update", "delete"):
        assert "*" not in clp[op], (op, clp)
    # The server enforces what was saved: an anonymous write is refused now.
    r = httpx.post(rig.api + "/classes/Patient", json={"name": "Mallory"},
                   headers={"X-Parse-Application-Id": APP_ID}, timeout=10)
    assert r.status_code in (400, 403) and r.json()["code"] == 119


def test_export_all_rows_as_csv(rig: DashboardRig, page: Any, artifacts: Path) -> None:
    open_class(page, rig.dashboard_url, "Patient", "Ada")
    toolbar(page, "Data", "Export all rows")
    page.get_by_placeholder("export all").fill("export all")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export", exact=True).click()
    path = artifacts / "dashboard-export.csv"
    download.value.save_as(str(path))
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert sorted(r["name"] for r in rows) == sorted(p["name"] for p in _patients(rig))
    assert {r["objectId"] for r in rows} == {p["objectId"] for p in _patients(rig)}


def test_create_and_delete_a_class(rig: DashboardRig, page: Any, artifacts: Path) -> None:
    open_class(page, rig.dashboard_url, "Patient", "Ada")
    page.get_by_text("Create a class", exact=True).click()
    page.get_by_placeholder("Give it a good name...").fill("LabTmp")
    page.get_by_role("button", name="Create", exact=True).click()
    page.wait_for_url("**/browser/LabTmp")
    page.get_by_text("No data to display").wait_for()
    assert rig.rest("GET", "/schemas/LabTmp").status_code == 200
    toolbar(page, "Edit", "Delete this class")
    page.get_by_placeholder("Current class name").fill("LabTmp")
    page.get_by_role("button", name="Delete", exact=True).click()
    page.wait_for_url(lambda url: "LabTmp" not in url)
    assert rig.rest("GET", "/schemas/LabTmp").json()["code"] == 103
    page.screenshot(path=str(artifacts / "dashboard-06-class-deleted.png"))


def test_create_a_config_parameter(rig: DashboardRig, page: Any, artifacts: Path) -> None:
    page.goto(app_url(rig.dashboard_url, "config"))
    page.get_by_text("Create your first parameter").click()
    page.get_by_placeholder("New parameter").fill("sleepGoalHours")
    page.locator("textarea").fill("8")
    page.get_by_role("button", name="Create", exact=True).click()
    page.get_by_text("sleepGoalHours", exact=True).wait_for()
    page.screenshot(path=str(artifacts / "dashboard-07-config.png"))
    assert rig.rest("GET", "/config").json()["params"]["sleepGoalHours"] == "8"


def test_api_console_as_master_and_as_a_user(rig: DashboardRig, page: Any, artifacts: Path) -> None:
    page.goto(app_url(rig.dashboard_url, "api_console"))
    page.get_by_placeholder("classes/_User").fill("classes/Patient")
    page.get_by_placeholder('where={"username":"johndoe"}').fill("order=name")
    page.locator(MASTER_TOGGLE).last.click()
    with page.expect_response(lambda r: "/classes/Patient" in r.url and r.request.method == "GET") as sent:
        page.get_by_role("button", name="Send Query").click()
    assert sent.value.request.headers.get("x-parse-master-key")
    page.get_by_text('"Zed"').wait_for()  # the master key reads the restricted chart
    page.screenshot(path=str(artifacts / "dashboard-08-console-master.png"))

    page.locator(MASTER_TOGGLE).last.click()
    with page.expect_response(lambda r: "/classes/_Session" in r.url):
        page.get_by_placeholder("Username or ID").fill("nurse")
        page.get_by_placeholder("Username or ID").press("Tab")
    with page.expect_response(lambda r: "/classes/Patient" in r.url and r.request.method == "GET") as sent:
        page.get_by_role("button", name="Send Query").click()
    assert sent.value.request.headers.get("x-parse-session-token", "").startswith("r:")
    assert "x-parse-master-key" not in sent.value.request.headers
    page.get_by_text('"Benjamin"').wait_for()
    assert page.get_by_text('"Zed"').count() == 0  # the nurse's own rights: the ACL hides it
    page.screenshot(path=str(artifacts / "dashboard-09-console-user.png"))
    assert "Zed" not in json.dumps(sent.value.json())


def test_jobs_logs_config_and_webhooks_pages(rig: DashboardRig, page: Any, artifacts: Path) -> None:
    page.goto(app_url(rig.dashboard_url, "jobs"))
    page.get_by_text("Jobs", exact=True).first.wait_for()
    assert page.get_by_text("Feature unavailable").count() == 0
    page.screenshot(path=str(artifacts / "dashboard-10-jobs.png"))

    newest = rig.rest("GET", "/scriptlog", level="info", n="100").json()
    assert newest, "the server logged its start"
    page.goto(app_url(rig.dashboard_url, "logs/info"))
    page.get_by_text(newest[-1]["message"]).first.wait_for()
    page.screenshot(path=str(artifacts / "dashboard-11-logs.png"))

    page.goto(app_url(rig.dashboard_url, "config"))
    page.get_by_text("sleepGoalHours", exact=True).wait_for()
    assert page.get_by_text("Feature unavailable").count() == 0

    page.goto(app_url(rig.dashboard_url, "webhooks"))
    page.get_by_text("scoreNight").wait_for()
    assert page.get_by_text("http://127.0.0.1:9/score").count() >= 1
    assert rig.rest("GET", "/hooks/functions").json() == [{"functionName": "scoreNight",
                                                          "url": "http://127.0.0.1:9/score"}]
    page.screenshot(path=str(artifacts / "dashboard-12-webhooks.png"))
