import pytest

from helhet.accounts.models import Role
from helhet.organisations.models import UnitKind

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_clinician_logs_in_finds_and_opens_a_person(page, live_server, login):
    from helhet import testing

    unit = testing.make_unit(UnitKind.ACT, code="act-browser")
    person = testing.make_person(given_name="Sigrid", family_name="Nettlesersen")
    testing.make_episode(person, unit)
    testing.make_user(Role.CLINICIAN, units=[unit], username="nettklinikar")

    login(page, "nettklinikar")
    assert page.url.endswith("/worklist/")
    page.fill("#q", "Nettles")
    page.click("form[role=search] button[type=submit]")
    page.click(f"a[href='/persons/{person.pid}/']")
    page.wait_for_selector("h1")
    assert page.inner_text("h1") == "Sigrid Nettlesersen"
    assert person.pid in page.inner_text(".person-head")


def test_switching_to_english(page, live_server, login):
    from helhet import testing

    testing.make_unit(UnitKind.DPS)
    testing.make_user(Role.CLINICIAN, username="engelsk")
    page.set_extra_http_headers({"Accept-Language": "en-US,en"})  # the browser's language does not decide
    login(page, "engelsk")
    assert page.inner_text("h1") == "Arbeidsliste"  # Norwegian bokmål by default
    with page.expect_navigation():
        page.select_option("#language", "en")
    assert page.inner_text("h1") == "Worklist"
