"""The clinician's plan page, the person's own page, the panel on the person page; query counts locked."""

from __future__ import annotations

import datetime as dt

from django.test import Client

from helhet.assessment.services import record_administration
from helhet.recovery import services
from helhet.recovery.models import Goal, GoalReview, Proposal

TODAY = dt.date.today()


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def _plan_with_goals(world):
    plan = services.create_plan(user=world.clinician, person=world.person, created_on=TODAY - dt.timedelta(days=60),
                                staff_note="STAFFPLANNOTE")
    goal = services.add_goal(user=world.clinician, person=world.person, plan=plan, data={
        "text": "Bo i egen leilighet", "life_area": "housing", "level_much_less": "Mister rommet",
        "level_less": "Bor på hybel", "level_expected": "Leiekontrakt på leilighet", "level_more": "Har møblert",
        "level_much_more": "Har bodd der et halvt år", "helpers": "Boveileder: visning", "staff_note": "STAFFGOALNOTE"})
    services.record_review(user=world.clinician, person=world.person, plan=plan,
                           reviewed_on=TODAY - dt.timedelta(days=10), ratings={goal.pk: 1})
    services.add_comment(user=world.clinician, person=world.person, plan=plan, text="STAFFCOMMENT", staff_only=True)
    return plan, goal


def test_clinician_sees_the_plan_with_staff_notes_and_t_score(world, locked_queries):
    _plan_with_goals(world)
    client = _client(world.clinician)
    with locked_queries("recovery_plan_staff"):
        response = client.get(f"/recovery/{world.person.pid}/")
    body = response.content.decode()
    assert response.status_code == 200
    for text in ("Bo i egen leilighet", "STAFFPLANNOTE", "STAFFGOALNOTE", "STAFFCOMMENT", "<svg", "60,0"):
        assert text in body, text
    assert 'class="goal met"' in body  # rated +1: met, highlighted


def test_the_person_sees_their_plan_without_staff_notes(world, locked_queries):
    _plan_with_goals(world)
    client = _client(world.service_user)
    with locked_queries("recovery_plan_own"):
        response = client.get(f"/recovery/{world.person.pid}/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Min bedringsplan" in body and "Bo i egen leilighet" in body and "Leiekontrakt på leilighet" in body
    for secret in ("STAFFPLANNOTE", "STAFFGOALNOTE", "STAFFCOMMENT", "Ola", "Annensen"):
        assert secret not in body, secret


def test_the_person_sees_own_assessment_trends_in_plain_language(world):
    # PHQ-9 totals 18, then 6 (nine items, answer codes 0-3), recorded through the assessment services.
    for day, answers in ((TODAY - dt.timedelta(days=200), [2] * 9), (TODAY - dt.timedelta(days=5), [1] * 6 + [0] * 3)):
        record_administration(user=world.clinician, person=world.person, instrument_id="phq-9", administered_on=day,
                              answers={f"phq9-{i + 1}": str(code) for i, code in enumerate(answers)},
                              mode="clinician")
    body = _client(world.service_user).get(f"/recovery/{world.person.pid}/").content.decode()
    assert "PHQ-9" in body
    assert "var din skår 6" in body and "Første gang" in body and "har det blitt bedre" in body


def test_panel_on_the_person_page_links_to_the_plan(world):
    _plan_with_goals(world)
    body = _client(world.clinician).get(f"/persons/{world.person.pid}/").content.decode()
    assert f"/recovery/{world.person.pid}/" in body and "Bo i egen leilighet" in body
    own = _client(world.service_user).get(f"/persons/{world.person.pid}/").content.decode()
    assert "Min bedringsplan" in own and "STAFFGOALNOTE" not in own


def test_the_person_proposes_a_goal_and_rates_it_through_the_page(world):
    client = _client(world.service_user)
    response = client.post(f"/recovery/{world.person.pid}/goals/",
                           {"text": "Gå tur hver dag", "life_area": "health", "weight": "1", "baseline": "-1"})
    assert response.status_code == 302
    goal = Goal.objects.get(plan__person=world.person)
    assert goal.by_person and goal.proposal == Proposal.PENDING
    response = client.post(f"/recovery/{world.person.pid}/reviews/",
                           {f"rating_{goal.pk}": "+1", "reviewed_on": TODAY.isoformat()})
    assert response.status_code == 302
    assert GoalReview.objects.get(plan=goal.plan).self_rating
    staff_body = _client(world.clinician).get(f"/recovery/{world.person.pid}/").content.decode()
    assert "Forslag fra personen" in staff_body and "Gå tur hver dag" in staff_body


def test_clinician_accepts_the_proposal_and_edits_the_goal(world):
    goal = services.add_goal(user=world.service_user, person=world.person, plan=None,
                             data={"text": "Jobbe litt", "life_area": "work"})
    client = _client(world.clinician)
    response = client.post(f"/recovery/{world.person.pid}/proposals/goal/{goal.pk}/", {"decision": "accept"})
    assert response.status_code == 302
    response = client.get(f"/recovery/{world.person.pid}/goals/{goal.pk}/")
    assert response.status_code == 200 and "Jobbe litt" in response.content.decode()
    response = client.post(f"/recovery/{world.person.pid}/goals/{goal.pk}/",
                           {"text": "Jobbe to dager i uka", "life_area": "work", "weight": "1.5",
                            "level_expected": "To dager", "status": "active"})
    assert response.status_code == 302
    goal.refresh_from_db()
    assert (goal.text, goal.weight, goal.proposal, goal.level_expected) == ("Jobbe to dager i uka", 1.5,
                                                                            Proposal.ACCEPTED, "To dager")


def test_clinician_starts_a_plan_on_the_page(world):
    client = _client(world.clinician)
    body = client.get(f"/recovery/{world.person.pid}/").content.decode()
    assert "Start en bedringsplan" in body
    response = client.post(f"/recovery/{world.person.pid}/start/", {"created_on": TODAY.isoformat()})
    assert response.status_code == 302 and services.current_plan(world.person) is not None
