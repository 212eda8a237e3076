"""Plans, goals, proposals, reviews and comments through the services: the rules and the T-score per review."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from helhet.audit.models import AuditEntry
from helhet.pathways.models import IndividualPlan
from helhet.pathways.models import PlanStatus as IPStatus
from helhet.recovery import services
from helhet.recovery.gas import AchievementStatus
from helhet.recovery.models import GoalStatus, PlanComment, Proposal

TODAY = dt.date.today()


def _goal(world, plan, text="Get my own flat", **extra):
    data = {"text": text, "life_area": "housing", "level_expected": "A flat with a contract", **extra}
    return services.add_goal(user=world.clinician, person=world.person, plan=plan, data=data)


def test_clinician_writes_a_plan_with_goals_and_a_review_gives_the_t_score(world):
    plan = services.create_plan(user=world.clinician, person=world.person, created_on=TODAY - dt.timedelta(days=90))
    housing = _goal(world, plan, weight="2", helpers="Kari: meets the landlord", review_date=TODAY.isoformat())
    work = _goal(world, plan, text="Work two days a week", life_area="work")
    assert (housing.weight, housing.baseline, housing.by_person, housing.proposal) == (2.0, -1, False, "")
    services.record_review(user=world.clinician, person=world.person, plan=plan,
                           reviewed_on=TODAY - dt.timedelta(days=30), ratings={housing.pk: "+1", work.pk: "-1"})
    services.record_review(user=world.clinician, person=world.person, plan=plan, reviewed_on=TODAY,
                           ratings={housing.pk: "2", work.pk: ""})
    overview = services.plan_overview(plan, for_person=False)
    first, second = overview.reviews
    # w = (2, 1), x = (+1, -1): 50 + 10 * 1 / sqrt(0.7 * 5 + 0.3 * 9)
    assert first.t_score == pytest.approx(50 + 10 / math.sqrt(6.2))
    # Only goals rated at the follow-up count: one goal at +2 -> 70.
    assert second.t_score == pytest.approx(70) and second.rated_goals == 1
    assert overview.latest_t_score == pytest.approx(70)
    rows = {row.goal.pk: row for row in overview.goals}
    assert rows[housing.pk].met and rows[housing.pk].status == AchievementStatus.ACHIEVED
    assert not rows[work.pk].met and rows[work.pk].status == AchievementStatus.NO_CHANGE
    assert second.cells == ["+2", ""] and first.cells == ["+1", "\u22121"]


def test_the_person_proposes_a_goal_and_rates_it_and_the_clinician_accepts(world):
    goal = services.add_goal(user=world.service_user, person=world.person, plan=None,
                             data={"text": "Se datteren min oftere", "life_area": "network"})
    plan = goal.plan
    assert plan.person == world.person and plan.created_on == TODAY  # the person's proposal started the plan
    assert (goal.by_person, goal.proposal, goal.status) == (True, Proposal.PENDING, GoalStatus.PROPOSED)
    own = services.record_review(user=world.service_user, person=world.person, plan=plan, reviewed_on=TODAY,
                                 ratings={goal.pk: "0"})
    assert own.self_rating and own.proposal == Proposal.PENDING
    overview = services.plan_overview(plan, for_person=False)
    assert overview.proposed_goals == [goal] and [r.review for r in overview.proposed_ratings] == [own]
    assert overview.reviews == []  # the person's own rating is not a review
    services.decide_proposal(user=world.clinician, person=world.person, item=goal, decision="accept")
    services.decide_proposal(user=world.clinician, person=world.person, item=own, decision="discuss",
                             note="La oss snakke om dette")
    goal.refresh_from_db()
    own.refresh_from_db()
    assert (goal.proposal, goal.status) == (Proposal.ACCEPTED, GoalStatus.ACTIVE)
    assert own.proposal == Proposal.DISCUSS
    assert PlanComment.objects.get(plan=plan).text == "La oss snakke om dette"
    assert services.plan_overview(plan, for_person=False).pending_count == 1  # the rating, still to discuss


def test_plan_links_to_the_individual_plan_when_there_is_one(world):
    ip = IndividualPlan.objects.create(person=world.person, status=IPStatus.ACTIVE, status_date=TODAY)
    plan = services.create_plan(user=world.clinician, person=world.person)
    assert plan.individual_plan == ip


def test_a_later_individual_plan_can_be_linked(world):
    plan = services.create_plan(user=world.clinician, person=world.person)
    assert plan.individual_plan is None
    ip = IndividualPlan.objects.create(person=world.person, status=IPStatus.REVISED, status_date=TODAY)
    services.update_plan(user=world.clinician, person=world.person, plan=plan, link_individual_plan=True,
                         staff_note="Koordinator informert")
    plan.refresh_from_db()
    assert plan.individual_plan == ip and plan.staff_note == "Koordinator informert"


def test_the_persons_overview_has_no_staff_notes(world):
    plan = services.create_plan(user=world.clinician, person=world.person)
    goal = _goal(world, plan, staff_note="Bekymret for husleien")
    services.add_comment(user=world.clinician, person=world.person, plan=plan, text="Intern vurdering",
                         staff_only=True)
    services.add_comment(user=world.clinician, person=world.person, plan=plan, text="Bra jobba", goal=goal)
    staff = services.plan_overview(plan, for_person=False)
    own = services.plan_overview(plan, for_person=True)
    assert [c.text for c in staff.comments] == ["Intern vurdering", "Bra jobba"]
    assert [c.text for c in own.comments] == ["Bra jobba"]
    assert staff.goals[0].goal.staff_note == "Bekymret for husleien" and own.goals[0].goal.staff_note == ""


def test_changes_are_audited(world):
    plan = services.create_plan(user=world.clinician, person=world.person)
    goal = _goal(world, plan)
    entries = AuditEntry.objects.filter(person_pid=world.person.pid, outcome="allowed")
    assert {e.resource for e in entries} >= {f"RecoveryPlan/{plan.pk}", f"Goal/{goal.pk}"}


def test_rho_is_configurable(world, settings):
    plan = services.create_plan(user=world.clinician, person=world.person)
    a, b = _goal(world, plan), _goal(world, plan, text="B")
    services.record_review(user=world.clinician, person=world.person, plan=plan, reviewed_on=TODAY,
                           ratings={a.pk: 1, b.pk: 1})
    settings.RECOVERY_GAS_RHO = 0.0
    # rho 0: 50 + 10 * 2 / sqrt(2)
    assert services.plan_overview(plan, for_person=False).latest_t_score == pytest.approx(50 + 20 / math.sqrt(2))
