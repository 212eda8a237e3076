"""The person writes a goal and rates it on their phone; the clinician sees the proposal and accepts it."""

import re

import pytest

from helhet.accounts.models import Role
from helhet.organisations.models import UnitKind

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 375, "height": 740}


def test_service_user_adds_and_rates_a_goal_and_the_clinician_sees_the_proposal(page, live_server, login):
    from helhet import testing

    unit = testing.make_unit(UnitKind.FACT, code="fact-recovery")
    person = testing.make_person(given_name="Mari", family_name="Mestringsen")
    testing.make_episode(person, unit)
    testing.make_user(Role.SERVICE_USER, person=person, username="mari")
    testing.make_user(Role.CLINICIAN, units=[unit], username="recoveryklinikar")

    # The person, on a narrow phone screen, from their own page to the plan.
    page.set_viewport_size(PHONE)
    login(page, "mari")
    assert page.url.endswith(f"/persons/{person.pid}/")
    with page.expect_navigation():
        page.click(f"a[href='/recovery/{person.pid}/']")
    assert page.inner_text("h1") == "Min bedringsplan"
    # Labels are tied to their fields; the form fits the phone without sideways scrolling.
    page.get_by_label("Målet, med dine egne ord").fill("Gå tur med hunden hver dag")
    page.get_by_label("Livsområde").select_option("health")
    page.get_by_label("0 Forventet nivå").fill("Tur fem dager i uka")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # Keyboard: the submit button is reachable and works with Enter.
    page.focus("#goal-form button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Målet ditt er foreslått" in page.inner_text(".messages")
    goal = page.locator("article.goal", has_text="Gå tur med hunden hver dag")
    assert "Ditt forslag" in goal.inner_text()

    # The person rates their own progress on the goal.
    page.locator("#rating-form").get_by_label("Gå tur med hunden hver dag").select_option("+1")
    with page.expect_navigation():
        page.click("#rating-form button[type=submit]")
    assert "Vurderingen din er lagret" in page.inner_text(".messages")
    assert "Din egen vurdering" in page.locator("article.goal").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    with page.expect_navigation():
        page.click("header.topbar form[action='/logout/'] button")

    # The clinician sees the proposal and the person's own rating, and accepts the goal.
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, "recoveryklinikar")
    page.goto(f"{live_server.url}/recovery/{person.pid}/")
    proposals = page.locator("#proposals")
    assert "Forslag fra personen" in proposals.inner_text()
    assert "Gå tur med hunden hver dag" in proposals.inner_text()
    assert "Personens egen vurdering" in proposals.inner_text()
    with page.expect_navigation():
        proposals.get_by_role("button", name=re.compile(r"^Godta\W+Gå tur med hunden")).click()
    assert "Forslaget er godtatt" in page.inner_text(".messages")
    assert page.locator("#proposals .goal").count() == 1  # the own rating is still open


def test_the_clinician_records_a_review_and_sees_the_t_score(page, live_server, login):
    import datetime as dt

    from helhet import testing
    from helhet.recovery import services

    unit = testing.make_unit(UnitKind.ACT, code="act-recovery")
    person = testing.make_person(given_name="Per", family_name="Planlegger")
    testing.make_episode(person, unit)
    clinician = testing.make_user(Role.CLINICIAN, units=[unit], username="gasklinikar")
    plan = services.create_plan(user=clinician, person=person, created_on=dt.date.today() - dt.timedelta(days=30))
    goal = services.add_goal(user=clinician, person=person, plan=plan, data={"text": "Få en jobb", "life_area": "work"})

    login(page, "gasklinikar")
    page.goto(f"{live_server.url}/recovery/{person.pid}/")
    page.select_option(f"#id_rating_{goal.pk}", "+2")
    with page.expect_navigation():
        page.click("#review-form button[type=submit]")
    assert "Gjennomgangen er lagret" in page.inner_text(".messages")
    assert "70,0" in page.inner_text("#gas-heading + p")
    assert page.locator("article.goal.met").count() == 1
    assert page.locator("figure.chart svg").count() == 1
