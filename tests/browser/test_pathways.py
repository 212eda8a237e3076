"""A rejected referral shows up as an alert for the referring unit, and goes away when another unit accepts."""

import datetime as dt

import pytest

from helhet.accounts.models import Role
from helhet.organisations.models import UnitKind

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _logout(page):
    with page.expect_navigation():
        page.click("form[action='/logout/'] button")


def test_rejection_alert_and_its_resolution(page, live_server, login):
    from helhet import testing
    from helhet.pathways import services

    kommune = testing.make_unit(UnitKind.MUNICIPAL, code="k-nett")
    dps = testing.make_unit(UnitKind.DPS, code="dps-nett")
    tsb = testing.make_unit(UnitKind.TSB, code="tsb-nett")
    person = testing.make_person(given_name="Reidun", family_name="Henvisningsen", consent_next_of_kin=False)
    testing.make_episode(person, kommune, start=dt.date.today() - dt.timedelta(days=60))
    sender = testing.make_user(Role.CLINICIAN, units=[kommune], username="kommunen")
    testing.make_user(Role.CLINICIAN, units=[dps], username="dpsen")
    testing.make_user(Role.CLINICIAN, units=[tsb], username="tsben")
    services.send_referral(user=sender, pid=person.pid, from_unit="k-nett", to_unit="dps-nett",
                           sent_date=dt.date.today() - dt.timedelta(days=25))

    # The DPS clinician finds the referral in the unit's referral list and rejects it with a reason.
    login(page, "dpsen")
    page.goto(f"{live_server.url}/pathways/referrals/")
    with page.expect_navigation():
        page.click(f"a[href*='/pathways/{person.pid}/referral/'][href$='/assess/']")
    page.fill("#id_date", (dt.date.today() - dt.timedelta(days=20)).isoformat())
    page.check("input[name=outcome][value=reject]")
    page.select_option("#id_rejection_reason", "wrong_level")
    page.fill("#id_rejection_note", "Kommunal oppfølging først")
    with page.expect_navigation():
        page.click("button.primary")
    page.goto(f"{live_server.url}/pathways/referrals/?status=rejected")
    assert "Kommunal oppfølging først" in page.inner_text("table.referrals")
    _logout(page)

    # The municipal clinician sees the alert, with why and since, and sends a new referral from it.
    login(page, "kommunen")
    page.goto(f"{live_server.url}/pathways/alerts/")
    row = page.locator("tr.alert-row[data-rule=referral_rejected]")
    assert row.count() == 1
    assert "Henvisningsen" in row.inner_text() and "Kommunal oppfølging" not in row.inner_text()
    with page.expect_navigation():
        row.locator("a.action").click()
    page.select_option("#id_to_unit", "tsb-nett")
    with page.expect_navigation():
        page.click("button.primary")
    assert page.url.endswith("/pathways/alerts/")
    assert page.locator("tr.alert-row[data-rule=referral_rejected]").count() == 1  # sent, not yet accepted
    _logout(page)

    # TSB accepts; the alert resolves itself.
    login(page, "tsben")
    page.goto(f"{live_server.url}/pathways/referrals/")
    with page.expect_navigation():
        page.click(f"a[href*='/pathways/{person.pid}/referral/'][href$='/assess/']")
    page.select_option("#id_pathway_type", "D01")
    with page.expect_navigation():
        page.click("button.primary")
    _logout(page)
    login(page, "kommunen")
    page.goto(f"{live_server.url}/pathways/alerts/")
    assert page.locator("tr.alert-row[data-rule=referral_rejected]").count() == 0
    page.goto(f"{live_server.url}/pathways/{person.pid}/")
    timeline = page.inner_text("table.timeline")
    assert "Kommunal oppfølging først" in timeline and "D01" in timeline
