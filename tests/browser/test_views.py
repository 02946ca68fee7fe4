"""The starter web views (/app/) in Debian's Chromium against a real server running the sleep-lab app.

A patient and a provider are signed in at once in two browser contexts; what the provider publishes and sends
reaches the patient's open page over LiveQuery, without a reload. A patient who edits the URL to another patient's
id sees nothing of theirs, and the server (not the page) is what refuses. Screenshots go to `artifacts`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.views_world import NIGHTS, OTHER_SECRET, PASSWORD, Clinic, clinic

__all__ = ["clinic"]  # the module-scoped server fixture

TIMEOUT = 15_000  # ms for anything that crosses the server (LiveQuery included); nothing here sleeps


class Watched:
    """A page plus what it logged: CSP violations and uncaught errors fail the test."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on("pageerror", lambda error: self.problems.append(f"pageerror: {error}"))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if message.type == "error" and "status of 404" not in message.text:
            self.problems.append(f"console: {message.text}")


@pytest.fixture
def contexts(browser: Any) -> Iterator[list[Any]]:
    opened: list[Any] = []

    yield opened
    for context in opened:
        context.close()


def new_page(browser: Any, contexts: list[Any], **options: Any) -> Watched:
    context = browser.new_context(**options)
    context.set_default_timeout(TIMEOUT)
    contexts.append(context)
    return Watched(context.new_page())


def sign_in(watched: Watched, clinic: Clinic, username: str, landing: str) -> Any:
    page = watched.page
    page.goto(clinic.view("index.html"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**/app/{landing}*")
    page.wait_for_selector("body[data-live=ready]")
    return page


def test_provider_publishes_and_messages_and_the_patient_sees_both_live(
        browser: Any, clinic: Clinic, contexts: list[Any], artifacts: Path) -> None:
    doctor_w = new_page(browser, contexts, viewport={"width": 1280, "height": 900})
    patient_w = new_page(browser, contexts, viewport={"width": 1280, "height": 900})
    doctor = sign_in(doctor_w, clinic, clinic.provider, "provider.html")
    patient = sign_in(patient_w, clinic, clinic.patient.username, "patient.html")

    # The provider's list holds exactly the patients on their care teams; opening one is a link with its id.
    links = doctor.locator("#patients a")
    assert sorted(links.all_inner_texts()) == ["Pat One", "Pat Two"]
    doctor.get_by_role("link", name="Pat One").click()
    doctor.wait_for_url(f"**/provider.html?patient={clinic.patient.profile_id}")
    doctor.wait_for_selector("body[data-live=ready]")

    # Both pages stay the same documents from here on: a reload or navigation would lose this marker.
    for page in (patient, doctor):
        page.evaluate("window.__sameDocument = true")
    assert patient.locator("#studies [data-study]").count() == 0

    doctor.get_by_label("Study date").fill("2026-02-03")
    doctor.get_by_label("Findings").fill("Moderate obstructive sleep apnea, AHI 22/h")
    doctor.get_by_role("button", name="Save draft report").click()
    draft = doctor.locator("#studies [data-status=draft]")
    draft.wait_for()
    with doctor.expect_response(lambda r: "/classes/SleepStudy/" in r.url) as saved:
        draft.get_by_role("button", name="Publish final report").click()
    assert saved.value.status == 200
    doctor.locator("#studies [data-status=final]").wait_for()

    published = patient.locator("#studies [data-status=final]")
    published.wait_for()
    assert "AHI 22/h" in published.inner_text()
    # Drafts are not versions: the published report is version 1, and its history (studyHistory) says so.
    published.get_by_role("button", name="Versions (1)").click()
    history = published.locator(".versions li")
    history.first.wait_for()
    assert history.all_inner_texts() == ["v1 · final (current) · Moderate obstructive sleep apnea, AHI 22/h"]

    doctor.get_by_label("Message to Pat One").fill("Please bring your CPAP machine to the next visit.")
    doctor.get_by_role("button", name="Send message").click()
    message = patient.locator("#messages [data-message]", has_text="bring your CPAP machine")
    message.wait_for()
    badge = patient.locator("#unread .badge")
    assert badge.get_attribute("aria-label") == "1 unread"
    assert patient.evaluate("window.__sameDocument") is True
    patient.screenshot(path=str(artifacts / "views-patient-live.png"), full_page=True)
    doctor.screenshot(path=str(artifacts / "views-provider.png"), full_page=True)

    message.get_by_role("button", name="Mark as read").click()
    badge.wait_for(state="detached")

    # And back: the patient writes to their care team; the provider's open page shows it with an unread badge.
    patient.get_by_label("Message to my care team").fill("Will do, thank you.")
    patient.get_by_role("button", name="Send").click()
    doctor.locator("#messages [data-message].unread", has_text="Will do, thank you.").wait_for()
    assert doctor.locator("#patients a", has_text="Pat One").locator(".badge").get_attribute("aria-label") == \
        "1 unread"
    assert doctor.evaluate("window.__sameDocument") is True
    assert doctor_w.problems == [] and patient_w.problems == []


def test_the_cpap_chart_shows_90_nights_and_the_verdict(browser: Any, clinic: Clinic, contexts: list[Any],
                                                        artifacts: Path) -> None:
    patient = sign_in(new_page(browser, contexts), clinic, clinic.patient.username, "patient.html")
    bars = patient.locator("#cpap svg rect[data-night]")
    bars.first.wait_for()
    assert bars.count() == NIGHTS
    assert patient.locator("#cpap svg rect.night.short").count() == NIGHTS // 5  # the 2 h nights
    verdict = patient.get_by_test_id("cpap-verdict").inner_text()
    assert verdict.startswith("Compliant: 24 of 30 nights")
    patient.locator("#cpap").screenshot(path=str(artifacts / "views-cpap.png"))


def test_a_patient_editing_the_url_sees_nothing_of_another_patient(browser: Any, clinic: Clinic,
                                                                    contexts: list[Any], artifacts: Path) -> None:
    watched = new_page(browser, contexts)
    patient = sign_in(watched, clinic, clinic.patient.username, "patient.html")
    other = clinic.other.profile_id
    with patient.expect_response(lambda r: f"/classes/PatientProfile/{other}" in r.url) as refused:
        patient.goto(clinic.view(f"patient.html?patient={other}"))
    assert refused.value.status == 404
    assert refused.value.json()["code"] == 101
    patient.get_by_role("alert").filter(has_text="No patient record").wait_for()
    text = patient.locator("body").inner_text()
    assert "Pat Two" not in text and OTHER_SECRET not in text and "Pat One" not in text

    # The page hides nothing on the server's behalf: the same session asking directly gets refusals and nothing.
    answers = patient.evaluate("""async (id) => {
        const profile = Parse.Object.extend('PatientProfile').createWithoutData(id);
        const codes = [];
        for (const name of ['cpapCompliance', 'careTeam']) {
            try { await Parse.Cloud.run(name, { patientId: id }); codes.push('answered'); }
            catch (e) { codes.push(e.code); }
        }
        const studies = await new Parse.Query('SleepStudy').equalTo('patient', profile).find();
        const messages = await new Parse.Query('Message').equalTo('patient', profile).find();
        return { codes, studies: studies.length, messages: messages.length };
    }""", other)
    assert answers == {"codes": [101, 101], "studies": 0, "messages": 0}
    patient.screenshot(path=str(artifacts / "views-patient-other-id.png"))


def test_keyboard_only_sign_in_on_a_phone_without_horizontal_overflow(browser: Any, clinic: Clinic,
                                                                      contexts: list[Any], artifacts: Path) -> None:
    watched = new_page(browser, contexts, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = watched.page
    page.goto(clinic.view("index.html"))
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "username"
    page.keyboard.type(clinic.patient.username)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Sign in"
    page.keyboard.press("Enter")
    page.wait_for_url("**/app/patient.html")
    page.wait_for_selector("body[data-live=ready]")
    page.locator("#cpap svg").wait_for()
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    page.screenshot(path=str(artifacts / "views-patient-phone.png"), full_page=True)
    assert watched.problems == []


def test_a_dead_session_signs_the_page_out(browser: Any, clinic: Clinic, contexts: list[Any]) -> None:
    watched = new_page(browser, contexts)
    page = sign_in(watched, clinic, clinic.patient.username, "patient.html")
    # End the session on the server, as an expiry or a sign-out elsewhere would; the stored token is now invalid.
    ended = page.evaluate("""async () => {
        const token = Parse.User.current().getSessionToken();
        const config = await (await fetch('config.json')).json();
        const r = await fetch(config.mountPath + '/logout', { method: 'POST', headers: {
            'X-Parse-Application-Id': config.appId, 'X-Parse-Session-Token': token } });
        return r.status;
    }""")
    assert ended == 200
    # The page navigates away as soon as it hears 209, so the answer is read on its way through.
    answers: list[tuple[int, Any]] = []

    def relay(route: Any) -> None:
        response = route.fetch()
        answers.append((response.status, response.json()))
        route.fulfill(response=response)

    page.route("**/parse/classes/_User/*", relay)
    page.reload()
    page.wait_for_url("**/app/index.html")
    assert answers and answers[0][1]["code"] == 209
    assert page.evaluate("localStorage.length") == 0 or page.evaluate(
        "Object.keys(localStorage).every(k => !k.endsWith('currentUser'))")


def test_provider_amends_a_report_logs_titration_and_is_never_double_booked(
        browser: Any, clinic: Clinic, contexts: list[Any], artifacts: Path) -> None:
    watched = new_page(browser, contexts, viewport={"width": 1280, "height": 900})
    doctor = sign_in(watched, clinic, clinic.provider, "provider.html")
    doctor.goto(clinic.view(f"provider.html?patient={clinic.other.profile_id}"))
    doctor.wait_for_selector("body[data-live=ready]")

    # The final report can only be amended; the previous state becomes an immutable version.
    report = doctor.locator("#studies [data-study]", has_text=OTHER_SECRET)
    report.get_by_label("Amended findings").fill(OTHER_SECRET + " (amended)")
    report.get_by_role("button", name="Amend report").click()
    amended = doctor.locator("#studies [data-status=amended]")
    amended.get_by_role("button", name="Versions (2)").click()
    versions = amended.locator(".versions li")
    versions.nth(1).wait_for()
    assert versions.all_inner_texts() == [f"v1 · final · {OTHER_SECRET}",
                                          f"v2 · amended (current) · {OTHER_SECRET} (amended)"]

    doctor.get_by_label("Titration date").fill("2026-02-10")
    doctor.get_by_label("Pressure adjustment").fill("+2 cmH2O")
    doctor.get_by_role("button", name="Add titration entry").click()
    doctor.locator("#titrations li", has_text="2026-02-10 · +2 cmH2O").wait_for()

    form = doctor.locator("#new-appointment")
    for attempt in range(2):
        doctor.get_by_label("Starts at").fill("2026-12-01T09:00")
        doctor.get_by_label("Reason").fill(f"Mask fitting {attempt}")
        with doctor.expect_response(lambda r: r.url.endswith("/classes/Appointment")) as answer:
            doctor.get_by_role("button", name="Schedule").click()
        if attempt == 0:
            assert answer.value.status == 201
            doctor.locator("#appointments li", has_text="Mask fitting 0").wait_for()
        else:
            assert answer.value.json()["code"] == 142
            form.get_by_role("alert").filter(has_text="already has an appointment").wait_for()
    assert doctor.locator("#appointments li", has_text="Mask fitting").count() == 1
    doctor.screenshot(path=str(artifacts / "views-provider-actions.png"), full_page=True)
    assert [p for p in watched.problems if "400" not in p] == []
