"""Bad input is refused with a clear message, audited as denied, and changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from helhet.audit.models import AuditEntry
from helhet.recovery import services
from helhet.recovery.models import Goal, GoalRating, GoalReview, PlanComment, RecoveryPlan

TODAY = dt.date.today()


def _client(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def plan(world):
    plan = services.create_plan(user=world.clinician, person=world.person, created_on=TODAY - dt.timedelta(days=30))
    services.add_goal(user=world.clinician, person=world.person, plan=plan,
                      data={"text": "Bo trygt", "life_area": "housing"})
    return plan


def _snapshot():
    return (RecoveryPlan.objects.count(), list(Goal.objects.order_by("pk").values()), GoalReview.objects.count(),
            GoalRating.objects.count(), PlanComment.objects.count())


def _denied(person, since):
    return AuditEntry.objects.filter(person_pid=person.pid, outcome="denied", seq__gt=since)


def _last_seq():
    last = AuditEntry.objects.order_by("-seq").first()
    return last.seq if last else 0


@pytest.mark.parametrize("rating", ["3", "-3", "+5", "1.5", "two", "99"])
def test_ratings_outside_minus_two_to_plus_two_are_refused(world, plan, rating):
    goal = plan.goals.get()
    before, seq = _snapshot(), _last_seq()
    response = _client(world.clinician).post(f"/recovery/{world.person.pid}/reviews/",
                                             {"reviewed_on": TODAY.isoformat(), f"rating_{goal.pk}": rating})
    assert response.status_code == 400
    assert "Vurder hvert mål fra −2 til +2" in response.content.decode()
    assert _snapshot() == before
    assert _denied(world.person, seq).count() == 1


@pytest.mark.parametrize("weight", ["0", "-1", "abc", "nan", "inf"])
def test_weights_of_zero_or_less_or_not_a_number_are_refused(world, plan, weight):
    before, seq = _snapshot(), _last_seq()
    response = _client(world.clinician).post(f"/recovery/{world.person.pid}/goals/",
                                             {"text": "Jobbe", "life_area": "work", "weight": weight})
    assert response.status_code == 400
    assert "Vekten må være et tall større enn 0" in response.content.decode()
    assert _snapshot() == before and _denied(world.person, seq).count() == 1


def test_weight_zero_is_refused_by_the_service_too(world, plan):
    with pytest.raises(services.PlanRefused, match="Vekten"):
        services.add_goal(user=world.clinician, person=world.person, plan=plan,
                          data={"text": "X", "life_area": "work", "weight": 0})


def test_a_review_before_the_plan_is_refused(world, plan):
    goal = plan.goals.get()
    before, seq = _snapshot(), _last_seq()
    response = _client(world.clinician).post(f"/recovery/{world.person.pid}/reviews/", {
        "reviewed_on": (plan.created_on - dt.timedelta(days=1)).isoformat(), f"rating_{goal.pk}": "0"})
    assert response.status_code == 400
    assert "kan ikke dateres før planen ble laget" in response.content.decode()
    assert _snapshot() == before and _denied(world.person, seq).count() == 1


def test_a_review_in_the_future_or_without_a_rating_is_refused(world, plan):
    goal = plan.goals.get()
    client = _client(world.clinician)
    before = _snapshot()
    tomorrow = (TODAY + dt.timedelta(days=1)).isoformat()
    assert client.post(f"/recovery/{world.person.pid}/reviews/",
                       {"reviewed_on": tomorrow, f"rating_{goal.pk}": "0"}).status_code == 400
    assert client.post(f"/recovery/{world.person.pid}/reviews/",
                       {"reviewed_on": TODAY.isoformat(), f"rating_{goal.pk}": ""}).status_code == 400
    assert _snapshot() == before


def test_a_person_cannot_open_or_change_another_persons_plan(world, plan):
    before, seq = _snapshot(), _last_seq()
    stranger = _client(world.other_user)
    goal = plan.goals.get()
    for url, data in [(f"/recovery/{world.person.pid}/", None),
                      (f"/recovery/{world.person.pid}/goals/", {"text": "Hack", "life_area": "other"}),
                      (f"/recovery/{world.person.pid}/reviews/", {"reviewed_on": TODAY.isoformat(),
                                                                   f"rating_{goal.pk}": "2"}),
                      (f"/recovery/{world.person.pid}/comments/", {"text": "Hei"}),
                      (f"/recovery/{world.person.pid}/pdf/", None)]:
        response = stranger.post(url, data) if data is not None else stranger.get(url)
        assert response.status_code == 403, url
        assert "Bo trygt" not in response.content.decode()
    assert _snapshot() == before
    assert _denied(world.person, seq).count() == 5


def test_a_person_cannot_rate_a_goal_of_another_plan_from_their_own_page(world, plan):
    # Ola has his own plan; he sends a rating for Ronja's goal id through his own URL.
    services.add_goal(user=world.other_user, person=world.other, plan=None, data={"text": "Mitt", "life_area": "work"})
    before, seq = _snapshot(), _last_seq()
    foreign_goal = plan.goals.get()
    response = _client(world.other_user).post(f"/recovery/{world.other.pid}/reviews/",
                                              {"reviewed_on": TODAY.isoformat(), f"rating_{foreign_goal.pk}": "2"})
    assert response.status_code == 400
    assert _snapshot() == before and _denied(world.other, seq).count() == 1


@pytest.mark.parametrize("field,value", [("staff_note", "Jeg skriver internt"), ("status", "active")])
def test_the_person_cannot_write_a_staff_only_field(world, plan, field, value):
    before, seq = _snapshot(), _last_seq()
    response = _client(world.service_user).post(f"/recovery/{world.person.pid}/goals/",
                                                {"text": "Eget mål", "life_area": "health", field: value})
    assert response.status_code == 403
    assert "Bare ansatte kan endre" in response.content.decode()
    assert _snapshot() == before and _denied(world.person, seq).count() == 1


def test_the_person_cannot_write_a_staff_only_comment_or_edit_or_accept(world, plan):
    goal = plan.goals.get()
    client = _client(world.service_user)
    before, seq = _snapshot(), _last_seq()
    assert client.post(f"/recovery/{world.person.pid}/comments/",
                       {"text": "Hemmelig", "staff_only": "on"}).status_code == 403
    assert client.post(f"/recovery/{world.person.pid}/goals/{goal.pk}/",
                       {"text": "Endret av meg", "life_area": "housing"}).status_code == 403
    own = services.add_goal(user=world.service_user, person=world.person, plan=plan,
                            data={"text": "Mitt forslag", "life_area": "leisure"})
    before = _snapshot()
    assert client.post(f"/recovery/{world.person.pid}/proposals/goal/{own.pk}/",
                       {"decision": "accept"}).status_code == 403
    assert client.post(f"/recovery/{world.person.pid}/update/", {"staff_note": "x"}).status_code == 403
    assert _snapshot() == before
    goal.refresh_from_db()
    assert goal.text == "Bo trygt"
    assert _denied(world.person, seq).count() == 4


def test_missing_goal_text_or_life_area_is_a_form_error(world, plan):
    client = _client(world.clinician)
    before = _snapshot()
    response = client.post(f"/recovery/{world.person.pid}/goals/", {"text": "  ", "life_area": "housing"})
    assert response.status_code == 400 and "Skriv målet med dine egne ord" in response.content.decode()
    response = client.post(f"/recovery/{world.person.pid}/goals/", {"text": "Mål", "life_area": "moon"})
    assert response.status_code == 400 and "Velg et livsområde" in response.content.decode()
    assert _snapshot() == before


def test_a_second_active_plan_and_a_future_plan_are_refused(world, plan):
    client = _client(world.clinician)
    assert client.post(f"/recovery/{world.person.pid}/start/", {}).status_code == 400
    assert RecoveryPlan.objects.count() == 1


def test_deciding_a_proposal_twice_or_with_a_bad_decision_is_refused(world, plan):
    own = services.add_goal(user=world.service_user, person=world.person, plan=plan,
                            data={"text": "Mitt", "life_area": "leisure"})
    client = _client(world.clinician)
    assert client.post(f"/recovery/{world.person.pid}/proposals/goal/{own.pk}/",
                       {"decision": "maybe"}).status_code == 400
    assert client.post(f"/recovery/{world.person.pid}/proposals/goal/{own.pk}/",
                       {"decision": "accept"}).status_code == 302
    assert client.post(f"/recovery/{world.person.pid}/proposals/goal/{own.pk}/",
                       {"decision": "accept"}).status_code == 400
