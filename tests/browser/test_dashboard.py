"""A team leader opens the indicator dashboard, drills down to the persons and downloads the PDF report."""

import datetime as dt

import pytest

from helhet.accounts.models import Role
from helhet.organisations.models import HealthTrust, UnitKind

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REJECTION = "rop-05a-referral-rejection"


@pytest.fixture(autouse=True)
def fresh_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def test_team_leader_opens_dashboard_drills_down_and_downloads_pdf(page, live_server, login, tmp_path):
    from helhet import testing
    from helhet.pathways.models import Referral

    testing.ensure_reference_data()
    trust = HealthTrust.objects.order_by("code").first()
    unit = testing.make_unit(UnitKind.ACT, code="act-dash", trust=trust)
    persons = []
    for index in range(10):
        person = testing.make_person(given_name="Ida", family_name=f"Dashbord{index}")
        day = dt.date(2025, 4, 7)
        Referral.objects.create(person=person, to_unit=unit, status="rejected" if index < 5 else "accepted",
                                sent_date=day, received_date=day, assessed_date=day + dt.timedelta(days=6))
        testing.make_episode(person, unit)
        persons.append(person)
    testing.make_user(Role.TEAM_LEADER, units=[unit], username="dashleder")

    login(page, "dashleder")
    with page.expect_navigation():
        page.click("nav[aria-label] >> text=Indikatorer")
    assert page.url.endswith("/indicators/unit/act-dash/")
    with page.expect_navigation():
        page.select_option("#period", "2025")
        page.click("form.filters button[type=submit]")
    row = page.locator(f"#indicator-{REJECTION}")
    assert "5 / 10" in row.inner_text()
    assert row.locator("svg").count() == 1  # the trend chart

    with page.expect_navigation():
        row.locator("a.drill").click()
    assert page.inner_text("h1") == "Avviste henvisninger"
    listed = page.inner_text("#persons")
    assert sum(p.family_name in listed for p in persons) == 5  # the five rejected referrals

    with page.expect_navigation():
        page.click("text=Tilbake til oversikten")
    with page.expect_download() as download_info:
        page.click("#download-pdf")
    download = download_info.value
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    assert download.suggested_filename == "indicators-unit-act-dash-2025.pdf"
    assert target.read_bytes().startswith(b"%PDF")
