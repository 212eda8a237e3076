"""A clinician fills in PHQ-9 in the browser, sees the result, then the profile; then a locked self-report."""

import datetime as dt

import pytest

from helhet.accounts.models import Role
from helhet.organisations.models import UnitKind

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# PHQ-9 answers (item scores) for items 1–9: total 12, moderate; item 9 = 1 raises the self-harm flag.
PHQ9 = [2, 2, 1, 1, 1, 2, 1, 1, 1]


def _world(username: str):
    from helhet import testing

    unit = testing.make_unit(UnitKind.DPS, code=f"dps-{username}")
    person = testing.make_person(given_name="Siri", family_name="Skjermsen", sex="female")
    testing.make_episode(person, unit, start=dt.date.today() - dt.timedelta(days=200))
    testing.make_user(Role.CLINICIAN, units=[unit], username=username)
    return person


def test_clinician_fills_in_phq9_and_sees_result_and_profile(page, live_server, login):
    person = _world("kartlegger")
    login(page, "kartlegger")
    page.goto(f"{live_server.url}/persons/{person.pid}/")
    assert "Ingen kartlegginger ennå." in page.inner_text("#profile")
    with page.expect_navigation():
        page.click("#profile a:has-text('Ny kartlegging')")
    with page.expect_navigation():
        page.click("a.fill[data-instrument='phq-9']")
    assert "Lite interesse for eller glede av å gjøre ting" in page.inner_text("#instrument-form")
    for number, score in enumerate(PHQ9, start=1):
        page.check(f"input[name='item_phq9-{number}'][value='{score}']")
    with page.expect_navigation():
        page.click("#instrument-form button[type=submit]")
    assert page.inner_text("#score") == "12"
    assert page.inner_text("#band") == "Moderat"
    assert "Tanker om død eller selvskading" in page.inner_text("[role=alert]")
    assert "Positiv" in page.inner_text("#cutoffs")
    with page.expect_navigation():
        page.click("a:has-text('Se den samlede profilen')")
    trend = page.locator("article[data-instrument='phq-9']")
    assert trend.locator(".latest-score").inner_text() == "12"
    assert trend.locator(".latest-band").inner_text() == "Moderat"
    assert "Tanker om død eller selvskading" in trend.inner_text()


def test_self_report_on_the_tablet_updates_the_profile_and_returns_to_login(page, live_server, login):
    person = _world("nettbrett")
    login(page, "nettbrett")
    page.goto(f"{live_server.url}/assessment/{person.pid}/")
    with page.expect_navigation():
        page.click("button.tablet[data-instrument='gad-7']")
    assert page.locator(".topbar").count() == 0  # nothing but the questionnaire
    assert "Skjermsen" not in page.content()
    for number in range(1, 8):
        page.check(f"input[name='item_gad7-{number}'][value='2']")
    with page.expect_navigation():
        page.click("#instrument-form button[type=submit]")
    assert page.url.endswith("/login/")
    assert "Takk! Svarene dine er lagret." in page.inner_text("main")
    # The clinician takes the tablet back, logs in again and sees the new score in the profile.
    login(page, "nettbrett")
    page.goto(f"{live_server.url}/persons/{person.pid}/")
    trend = page.locator("article[data-instrument='gad-7']")
    assert trend.locator(".latest-score").inner_text() == "14"
    assert trend.locator(".latest-band").inner_text() == "Moderat"
