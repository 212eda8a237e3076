"""Recovery plan services: create and change plans, goals, reviews and comments; proposals; the plan overview.

Every function takes the acting `user` and the `person` the edge (view, FHIR handler)
has already opened with `helhet.accounts.access.open_person`. The functions check what
that person may not decide for themselves (staff-only fields and actions), that the
plan and goals belong to the opened person, and the GAS rules (ratings -2..+2,
weights above 0, reviews not before the plan). A refusal raises `PlanRefused` with a
clear message, is audited with outcome "denied", and changes nothing: all checks run
before the first write, and the writes run in one transaction.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Prefetch
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from helhet.accounts.models import Role, User
from helhet.audit.services import AuditEvent, record_one
from helhet.pathways.models import IndividualPlan
from helhet.pathways.models import PlanStatus as IndividualPlanStatus
from helhet.persons.models import Person
from helhet.recovery import gas
from helhet.recovery.models import (
    ACHIEVEMENT_LABELS,
    RATING_LABELS,
    Baseline,
    Goal,
    GoalRating,
    GoalReview,
    GoalStatus,
    LifeArea,
    PlanComment,
    PlanStatus,
    Proposal,
    RecoveryPlan,
    signed,
)

LEVEL_FIELDS = ("level_much_less", "level_less", "level_expected", "level_more", "level_much_more")
GOAL_FIELDS = ("text", "life_area", *LEVEL_FIELDS, "weight", "baseline", "helpers", "review_date", "status",
               "staff_note")
# Fields only staff may write. The person proposes goals; staff decide their status and keep staff-only notes.
STAFF_ONLY_GOAL_FIELDS = frozenset({"staff_note", "status"})
MAX_TEXT = 2000
MAX_LEVEL = 300
PENDING = (Proposal.PENDING, Proposal.DISCUSS)


class PlanRefused(ValueError):
    """A change that is refused: bad input, or something the user may not do. Audited as denied."""

    def __init__(self, message: str, *, field: str = "", event: AuditEvent | None = None,
                 forbidden: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.event = event
        self.forbidden = forbidden  # not allowed for this user (403), rather than bad input (400)
        self.recorded = False

    @property
    def status(self) -> int:
        return 403 if self.forbidden else 400

    def record(self) -> None:
        if self.event is not None and not self.recorded:
            record_one(self.event)
            self.recorded = True


def is_service_user(user: User) -> bool:
    return user.role == Role.SERVICE_USER


def refuse(user: User, person: Person, message: str, *, action: str, resource: str = "recovery plan",
           field: str = "", channel: str = "web", forbidden: bool = False) -> PlanRefused:
    """The refusal to raise, audited at once (or by the edge, after a rollback, inside a transaction)."""
    event = AuditEvent(actor=user.get_username(), actor_role=user.role, action=action, outcome="denied",
                       resource=resource, person_pid=person.pid, purpose=message[:200], channel=channel,
                       detail={"field": field} if field else {})
    refusal = PlanRefused(message, field=field, event=event, forbidden=forbidden)
    if not connection.in_atomic_block:
        refusal.record()
    return refusal


def _audit_change(user: User, person: Person, *, action: str, resource: str, channel: str,
                  detail: dict[str, Any] | None = None) -> None:
    record_one(AuditEvent(actor=user.get_username(), actor_role=user.role, action=action, resource=resource,
                          person_pid=person.pid, purpose="recovery plan", channel=channel, detail=detail or {}))


def _require_staff(user: User, person: Person, *, action: str, channel: str) -> None:
    if is_service_user(user) or user.role not in (Role.CLINICIAN, Role.TEAM_LEADER):
        raise refuse(user, person, _("Only the clinician can do this; you can propose a change or comment."),
                     action=action, channel=channel, forbidden=True)


def _check_plan(user: User, person: Person, plan: RecoveryPlan, *, action: str, channel: str) -> None:
    if plan.person_id != person.pk:
        # Never say whose plan it is.
        raise refuse(user, person, _("This plan does not belong to this person."), action=action,
                     channel=channel, forbidden=True)


def _check_date(user: User, person: Person, value: object, *, what: str, field: str, action: str,
                channel: str, required: bool = True) -> dt.date | None:
    if value in (None, ""):
        if required:
            raise refuse(user, person, _("%(what)s is required.") % {"what": what}, field=field, action=action,
                         channel=channel)
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            raise refuse(user, person, _("%(what)s must be a date (YYYY-MM-DD).") % {"what": what}, field=field,
                         action=action, channel=channel) from None
    if not isinstance(value, dt.date):
        raise refuse(user, person, _("%(what)s must be a date (YYYY-MM-DD).") % {"what": what}, field=field,
                     action=action, channel=channel)
    return value


# ---------------------------------------------------------------------------------------------------- plans

def individual_plan_for(person: Person) -> IndividualPlan | None:
    """The person's current individual plan (IP), when they have accepted one."""
    return (IndividualPlan.objects.filter(person=person,
                                          status__in=[IndividualPlanStatus.ACTIVE, IndividualPlanStatus.REVISED])
            .order_by("-status_date", "-pk").first())


def current_plan(person: Person) -> RecoveryPlan | None:
    return (RecoveryPlan.objects.filter(person=person, status=PlanStatus.ACTIVE)
            .select_related("individual_plan").order_by("-created_on", "-pk").first())


def create_plan(*, user: User, person: Person, created_on: dt.date | str | None = None, staff_note: str = "",
                channel: str = "web") -> RecoveryPlan:
    """A new active recovery plan, linked to the person's individual plan when there is one."""
    action = "create"
    _require_staff(user, person, action=action, channel=channel)
    today = timezone.localdate()
    day = _check_date(user, person, created_on or today, what=_("The plan date"), field="created_on",
                      action=action, channel=channel)
    assert day is not None
    if day > today:
        raise refuse(user, person, _("The plan cannot be dated in the future."), field="created_on",
                     action=action, channel=channel)
    if current_plan(person) is not None:
        raise refuse(user, person, _("The person already has an active recovery plan."), action=action,
                     channel=channel)
    with transaction.atomic():
        plan = RecoveryPlan.objects.create(person=person, created_on=day, created_by=user,
                                           individual_plan=individual_plan_for(person),
                                           staff_note=staff_note[:MAX_TEXT])
        _audit_change(user, person, action=action, resource=f"RecoveryPlan/{plan.pk}", channel=channel)
    return plan


def update_plan(*, user: User, person: Person, plan: RecoveryPlan, status: str | None = None,
                staff_note: str | None = None, link_individual_plan: bool = False,
                channel: str = "web") -> RecoveryPlan:
    """Staff change the plan's status or staff-only note, or link it to the person's current individual plan."""
    action = "update"
    _require_staff(user, person, action=action, channel=channel)
    _check_plan(user, person, plan, action=action, channel=channel)
    if status not in (None, "") and status not in PlanStatus.values:
        raise refuse(user, person, _("Unknown plan status %(status)r.") % {"status": status}, field="status",
                     action=action, channel=channel)
    individual_plan = individual_plan_for(person) if link_individual_plan else None
    if link_individual_plan and individual_plan is None:
        raise refuse(user, person, _("The person has no active individual plan to link to."),
                     field="link_individual_plan", action=action, channel=channel)
    with transaction.atomic():
        if status:
            plan.status = status
        if staff_note is not None:
            plan.staff_note = staff_note.strip()[:MAX_TEXT]
        if individual_plan is not None:
            plan.individual_plan = individual_plan
        plan.save(update_fields=["status", "staff_note", "individual_plan"])
        _audit_change(user, person, action=action, resource=f"RecoveryPlan/{plan.pk}", channel=channel)
    return plan


# ---------------------------------------------------------------------------------------------------- goals

def _number(value: object) -> object:
    """A weight from a form (str, Decimal) or JSON as a number the GAS core can check; anything else as is."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str):
        try:
            return float(Decimal(value.strip().replace(",", ".")))
        except (InvalidOperation, ValueError):
            return value
    return value


def clean_goal(user: User, person: Person, data: Mapping[str, Any], *, action: str, partial: bool = False,
               channel: str = "web") -> dict[str, Any]:
    """Goal fields checked against the rules, or PlanRefused; `partial` allows leaving fields out (updates)."""
    unknown = set(data) - set(GOAL_FIELDS)
    if unknown:
        raise refuse(user, person, _("Unknown goal field(s): %(fields)s.") % {"fields": ", ".join(sorted(unknown))},
                     field=sorted(unknown)[0], action=action, channel=channel)
    if is_service_user(user):
        forbidden = sorted(STAFF_ONLY_GOAL_FIELDS & {k for k, v in data.items() if v not in (None, "")})
        if forbidden:
            raise refuse(user, person, _("Only staff can change %(fields)s.") % {"fields": ", ".join(forbidden)},
                         field=forbidden[0], action=action, channel=channel, forbidden=True)
    cleaned: dict[str, Any] = {}
    if "text" in data or not partial:
        text = str(data.get("text") or "").strip()
        if not text:
            raise refuse(user, person, _("Write the goal in your own words."), field="text", action=action,
                         channel=channel)
        if len(text) > MAX_TEXT:
            raise refuse(user, person, _("The goal is too long (at most %(n)d characters).") % {"n": MAX_TEXT},
                         field="text", action=action, channel=channel)
        cleaned["text"] = text
    if "life_area" in data or not partial:
        area = data.get("life_area") or ""
        if area not in LifeArea.values:
            raise refuse(user, person, _("Choose a life area for the goal."), field="life_area", action=action,
                         channel=channel)
        cleaned["life_area"] = area
    for name in LEVEL_FIELDS:
        if name in data:
            level = str(data.get(name) or "").strip()
            if len(level) > MAX_LEVEL:
                raise refuse(user, person, _("A level description is too long (at most %(n)d characters).")
                             % {"n": MAX_LEVEL}, field=name, action=action, channel=channel)
            cleaned[name] = level
    if data.get("weight") not in (None, ""):
        try:
            cleaned["weight"] = gas.check_weight(_number(data["weight"]))
        except gas.GasError:
            raise refuse(user, person, _("The weight must be a number above 0 (1 is usual)."), field="weight",
                         action=action, channel=channel) from None
    elif not partial:
        cleaned["weight"] = 1.0
    if data.get("baseline") not in (None, ""):
        try:
            baseline = int(str(data["baseline"]))
        except ValueError:
            baseline = None
        if baseline not in Baseline.values:
            raise refuse(user, person, _("The baseline must be −1 (usual) or −2 (if things can get worse)."),
                         field="baseline", action=action, channel=channel)
        cleaned["baseline"] = baseline
    elif not partial:
        cleaned["baseline"] = Baseline.LESS
    if "helpers" in data:
        cleaned["helpers"] = str(data.get("helpers") or "").strip()[:MAX_TEXT]
    if "review_date" in data:
        cleaned["review_date"] = _check_date(user, person, data.get("review_date"), what=_("The review date"),
                                             field="review_date", action=action, channel=channel, required=False)
    if data.get("status") not in (None, ""):
        if data["status"] not in GoalStatus.values:
            raise refuse(user, person, _("Unknown goal status."), field="status", action=action, channel=channel)
        cleaned["status"] = data["status"]
    if "staff_note" in data and not is_service_user(user):
        cleaned["staff_note"] = str(data.get("staff_note") or "").strip()[:MAX_TEXT]
    return cleaned


def add_goal(*, user: User, person: Person, plan: RecoveryPlan | None, data: Mapping[str, Any],
             channel: str = "web") -> Goal:
    """A goal in the plan. Written by the person it is their proposal (pending) until the clinician accepts it.

    A person without a plan yet may still propose a goal: the plan is then started with it.
    """
    action = "create"
    if plan is None and not is_service_user(user):
        raise refuse(user, person, _("Start a recovery plan first."), action=action, channel=channel)
    if plan is not None:
        _check_plan(user, person, plan, action=action, channel=channel)
    cleaned = clean_goal(user, person, data, action=action, channel=channel)
    by_person = is_service_user(user)
    if by_person:
        cleaned["status"] = GoalStatus.PROPOSED
    with transaction.atomic():
        if plan is None:
            plan = RecoveryPlan.objects.create(person=person, created_on=timezone.localdate(), created_by=user,
                                               individual_plan=individual_plan_for(person))
        goal = Goal.objects.create(plan=plan, authored_by=user, by_person=by_person,
                                   proposal=Proposal.PENDING if by_person else Proposal.NONE, **cleaned)
        _audit_change(user, person, action=action, resource=f"Goal/{goal.pk}", channel=channel,
                      detail={"proposal": by_person})
    return goal


def update_goal(*, user: User, person: Person, goal: Goal, data: Mapping[str, Any], channel: str = "web") -> Goal:
    """Staff change a goal (the person proposes changes by commenting or proposing a new goal)."""
    action = "update"
    _require_staff(user, person, action=action, channel=channel)
    _check_plan(user, person, goal.plan, action=action, channel=channel)
    cleaned = clean_goal(user, person, data, action=action, partial=True, channel=channel)
    with transaction.atomic():
        for name, value in cleaned.items():
            setattr(goal, name, value)
        goal.save()
        _audit_change(user, person, action=action, resource=f"Goal/{goal.pk}", channel=channel,
                      detail={"fields": sorted(cleaned)})
    return goal


def decide_proposal(*, user: User, person: Person, item: Goal | GoalReview, decision: str, note: str = "",
                    channel: str = "web") -> None:
    """The clinician accepts a proposal from the person, or marks it for discussion (with a note to the person)."""
    action = "update"
    _require_staff(user, person, action=action, channel=channel)
    _check_plan(user, person, item.plan, action=action, channel=channel)
    if item.proposal not in PENDING:
        raise refuse(user, person, _("This is not an open proposal."), action=action, channel=channel)
    if decision not in ("accept", "discuss"):
        raise refuse(user, person, _("Choose accept or discuss."), field="decision", action=action, channel=channel)
    note = note.strip()[:MAX_TEXT]
    with transaction.atomic():
        if decision == "accept":
            item.proposal = Proposal.ACCEPTED
            if isinstance(item, Goal) and item.status == GoalStatus.PROPOSED:
                item.status = GoalStatus.ACTIVE
        else:
            item.proposal = Proposal.DISCUSS
        item.save()
        if note or decision == "discuss":
            PlanComment.objects.create(
                plan=item.plan, goal=item if isinstance(item, Goal) else None, author=user, by_person=False,
                text=note or _("Let us talk about this together at our next meeting."))
        kind = "Goal" if isinstance(item, Goal) else "GoalReview"
        _audit_change(user, person, action=action, resource=f"{kind}/{item.pk}", channel=channel,
                      detail={"proposal": decision})


# ---------------------------------------------------------------------------------------------------- reviews

def record_review(*, user: User, person: Person, plan: RecoveryPlan, reviewed_on: dt.date | str | None,
                  ratings: Mapping[int, object], note: str = "", channel: str = "web") -> GoalReview:
    """Rate the plan's goals on one day; by the person it is a self-rating (and a proposal for the clinician).

    `ratings` maps goal id to a rating -2..+2, or None/"" for a goal not rated this time. At least one goal
    must be rated; every rating must be an integer from -2 to +2; the day is not before the plan nor in
    the future.
    """
    action = "create"
    resource = "GoalReview"
    _check_plan(user, person, plan, action=action, channel=channel)
    day = _check_date(user, person, reviewed_on, what=_("The review date"), field="reviewed_on", action=action,
                      channel=channel)
    assert day is not None
    if day < plan.created_on:
        raise refuse(user, person, _("A review cannot be dated before the plan was made (%(date)s).")
                     % {"date": plan.created_on.isoformat()}, field="reviewed_on", action=action, resource=resource,
                     channel=channel)
    if day > timezone.localdate():
        raise refuse(user, person, _("A review cannot be dated in the future."), field="reviewed_on",
                     action=action, resource=resource, channel=channel)
    goals = {g.pk: g for g in plan.goals.exclude(status=GoalStatus.CANCELLED)}
    checked: dict[int, int] = {}
    for goal_id, value in ratings.items():
        if goal_id not in goals:
            raise refuse(user, person, _("Goal %(id)s is not a goal in this plan.") % {"id": goal_id},
                         field=f"rating_{goal_id}", action=action, resource=resource, channel=channel)
        if value in (None, ""):
            continue
        if isinstance(value, str):
            value = value.strip().replace("−", "-").lstrip("+")
            try:
                value = int(value)
            except ValueError:
                pass
        try:
            checked[goal_id] = gas.check_rating(value)
        except gas.GasError:
            raise refuse(user, person, _("Rate each goal from −2 to +2 (the goal “%(goal)s” got %(value)s).")
                         % {"goal": goals[goal_id].text[:60], "value": value}, field=f"rating_{goal_id}",
                         action=action, resource=resource, channel=channel) from None
    if not checked:
        raise refuse(user, person, _("Rate at least one goal."), action=action, resource=resource, channel=channel)
    self_rating = is_service_user(user)
    with transaction.atomic():
        review = GoalReview.objects.create(plan=plan, reviewed_on=day, rated_by=user, self_rating=self_rating,
                                           proposal=Proposal.PENDING if self_rating else Proposal.NONE,
                                           note=note.strip()[:MAX_TEXT])
        GoalRating.objects.bulk_create(
            [GoalRating(review=review, goal_id=goal_id, rating=rating) for goal_id, rating in checked.items()])
        _audit_change(user, person, action=action, resource=f"GoalReview/{review.pk}", channel=channel,
                      detail={"self_rating": self_rating, "goals": len(checked)})
    return review


# ---------------------------------------------------------------------------------------------------- comments

def add_comment(*, user: User, person: Person, plan: RecoveryPlan, text: str, goal: Goal | None = None,
                staff_only: bool = False, channel: str = "web") -> PlanComment:
    action = "create"
    _check_plan(user, person, plan, action=action, channel=channel)
    if staff_only and is_service_user(user):
        raise refuse(user, person, _("Only staff can write staff-only notes."), field="staff_only", action=action,
                     channel=channel, forbidden=True)
    if goal is not None and goal.plan_id != plan.pk:
        raise refuse(user, person, _("This goal is not in this plan."), field="goal", action=action, channel=channel)
    text = text.strip()
    if not text:
        raise refuse(user, person, _("Write a comment first."), field="text", action=action, channel=channel)
    if len(text) > MAX_TEXT:
        raise refuse(user, person, _("The comment is too long (at most %(n)d characters).") % {"n": MAX_TEXT},
                     field="text", action=action, channel=channel)
    with transaction.atomic():
        comment = PlanComment.objects.create(plan=plan, goal=goal, author=user, by_person=is_service_user(user),
                                             staff_only=staff_only, text=text)
        _audit_change(user, person, action=action, resource=f"PlanComment/{comment.pk}", channel=channel,
                      detail={"staff_only": staff_only})
    return comment


# ---------------------------------------------------------------------------------------------------- overview

@dataclass
class GoalRow:
    goal: Goal
    latest_rating: int | None = None
    latest_on: dt.date | None = None
    own_rating: int | None = None  # the person's latest self-rating
    own_on: dt.date | None = None
    status: gas.AchievementStatus = gas.AchievementStatus.IN_PROGRESS

    @property
    def met(self) -> bool:
        return self.latest_rating is not None and gas.goal_met(self.latest_rating)

    @property
    def status_label(self) -> str:
        return str(ACHIEVEMENT_LABELS[self.status.value])

    @property
    def own_met(self) -> bool:
        return self.own_rating is not None and gas.goal_met(self.own_rating)

    @property
    def level_text(self) -> str:
        """The described level the latest rating reached, for reading it in plain words."""
        if self.latest_rating is None:
            return ""
        return dict(self.goal.levels)[self.latest_rating]

    @property
    def latest_label(self) -> str:
        return f"{signed(self.latest_rating)} {RATING_LABELS[self.latest_rating]}" if self.latest_rating is not None \
            else ""

    @property
    def own_label(self) -> str:
        return f"{signed(self.own_rating)} {RATING_LABELS[self.own_rating]}" if self.own_rating is not None else ""

    @property
    def levels(self) -> list[LevelRow]:
        """The five described levels, best last, marking the one reached at the latest review and the baseline."""
        return [LevelRow(value=value, sign=signed(value), label=str(RATING_LABELS[value]), text=text,
                         reached=value == self.latest_rating, own=value == self.own_rating,
                         baseline=value == self.goal.baseline)
                for value, text in self.goal.levels]


@dataclass(frozen=True)
class LevelRow:
    value: int
    sign: str
    label: str
    text: str
    reached: bool
    own: bool
    baseline: bool


@dataclass
class ReviewRow:
    review: GoalReview
    t_score: float | None
    rated_goals: int
    ratings: dict[int, int] = field(default_factory=dict)  # goal id -> rating
    cells: list[str] = field(default_factory=list)  # the ratings in the order of the plan's goals, for tables

    @property
    def met_goals(self) -> int:
        return sum(1 for rating in self.ratings.values() if gas.goal_met(rating))


@dataclass
class PlanOverview:
    plan: RecoveryPlan
    goals: list[GoalRow]
    reviews: list[ReviewRow]  # staff reviews, oldest first
    self_ratings: list[ReviewRow]  # the person's own ratings, oldest first
    comments: list[PlanComment]
    proposed_goals: list[Goal]
    proposed_ratings: list[ReviewRow]

    @property
    def latest_t_score(self) -> float | None:
        scored = [row.t_score for row in self.reviews if row.t_score is not None]
        return scored[-1] if scored else None

    @property
    def pending_count(self) -> int:
        return len(self.proposed_goals) + len(self.proposed_ratings)


def gas_rho() -> float:
    """The inter-goal correlation for the T-score: settings.RECOVERY_GAS_RHO, else Kiresuk & Sherman's 0.3."""
    return float(getattr(settings, "RECOVERY_GAS_RHO", gas.DEFAULT_RHO))


def _review_rows(reviews: list[GoalReview], weights: dict[int, float]) -> list[ReviewRow]:
    rows = []
    rho = gas_rho()
    for review in reviews:
        ratings = {r.goal_id: r.rating for r in review.ratings.all()}
        # Only goals rated at this review count (facts file); unknown goals cannot occur (FK).
        t_score = gas.gas_t_score([(weights[goal_id], rating) for goal_id, rating in ratings.items()], rho)
        rows.append(ReviewRow(review=review, t_score=t_score, rated_goals=len(ratings), ratings=ratings))
    return rows


def plan_overview(plan: RecoveryPlan, *, for_person: bool) -> PlanOverview:
    """Everything the plan page shows, in a fixed number of queries (4). `for_person` leaves staff notes out."""
    goals = list(plan.goals.select_related("authored_by").order_by("pk"))
    reviews = list(plan.reviews.select_related("rated_by")
                   .prefetch_related(Prefetch("ratings", queryset=GoalRating.objects.order_by("pk")))
                   .order_by("reviewed_on", "pk"))
    comments_qs = plan.comments.select_related("author", "goal").order_by("created_at", "pk")
    if for_person:
        comments_qs = comments_qs.filter(staff_only=False)
    comments = list(comments_qs)
    if for_person:
        # Defence in depth: the person's templates never show staff notes, and these objects do not carry them.
        for goal in goals:
            goal.staff_note = ""
    weights = {g.pk: g.weight for g in goals}
    rows = _review_rows(reviews, weights)
    for review_row in rows:
        review_row.cells = [signed(review_row.ratings.get(g.pk)) for g in goals]
    # A review counts for the T-score when staff rated it with the person, or accepted the person's own rating.
    staff_rows = [row for row in rows if not row.review.self_rating or row.review.proposal == Proposal.ACCEPTED]
    own_rows = [row for row in rows if row.review.self_rating]
    goal_rows = []
    closed = (GoalStatus.COMPLETED, GoalStatus.CANCELLED)
    for goal in goals:
        row = GoalRow(goal=goal)
        for review_row in staff_rows:
            if goal.pk in review_row.ratings:
                row.latest_rating, row.latest_on = review_row.ratings[goal.pk], review_row.review.reviewed_on
        for review_row in own_rows:
            if goal.pk in review_row.ratings:
                row.own_rating, row.own_on = review_row.ratings[goal.pk], review_row.review.reviewed_on
        row.status = gas.achievement_status(row.latest_rating, goal.baseline, closed=goal.status in closed)
        goal_rows.append(row)
    return PlanOverview(
        plan=plan, goals=goal_rows, reviews=staff_rows, self_ratings=own_rows, comments=comments,
        proposed_goals=[g for g in goals if g.proposal in PENDING],
        proposed_ratings=[row for row in own_rows if row.review.proposal in PENDING],
    )


def t_score_points(rows: list[ReviewRow]) -> list[gas.TScorePoint]:
    return [gas.TScorePoint(reviewed_on=row.review.reviewed_on, t_score=row.t_score, rated_goals=row.rated_goals)
            for row in rows]


@dataclass
class AssessmentTrend:
    """One instrument's course for the person, first and latest total, told in plain words on their page."""

    instrument_id: str
    title: str
    count: int
    first_total: float | None
    first_on: dt.date | None
    latest_total: float | None
    latest_on: dt.date | None
    latest_band: str
    higher_is_worse: bool = True
    # Smallest change the instrument counts as reliable (Jacobson-Truax or threshold), when it has one.
    reliable_change: float | None = None

    @property
    def change(self) -> str:
        """"better", "worse", "same" (within the reliable-change margin) or "" with one measurement."""
        if self.count < 2 or self.first_total is None or self.latest_total is None:
            return ""
        difference = self.latest_total - self.first_total
        margin = self.reliable_change if self.reliable_change is not None else 0.0
        if abs(difference) <= margin or math.isclose(difference, 0.0, abs_tol=1e-9):
            return "same"
        lower = difference < 0
        return "better" if lower == self.higher_is_worse else "worse"


def _instrument_facts(instrument_id: str, value: float | None, band: str, lang: str
                      ) -> tuple[str, str, bool, float | None]:
    """Title, band text, direction and reliable-change margin from the instrument library, when it knows it."""
    try:
        from helhet.assessment.library import get_instrument

        instrument = get_instrument(instrument_id)
    except (ImportError, LookupError, ValueError):
        return instrument_id, band, True, None
    scoring = instrument.scoring
    band_text = band
    found = scoring.band_for(value) if value is not None else None
    if found is not None:
        band_text = found.display.get(lang)
    margin = None
    rule = scoring.reliable_change
    if rule is not None:
        margin = rule.critical_difference
        if margin is None:
            margin = rule.improvement if rule.improvement is not None else rule.deterioration
    return instrument.title.get(lang), band_text, scoring.higher_is_worse, margin


def _trend(instrument_id: str, points: list[tuple[dt.date, float | None, str]], lang: str) -> AssessmentTrend:
    (first_on, first, _band0), (latest_on, latest, band) = points[0], points[-1]
    title, band_text, higher_is_worse, margin = _instrument_facts(instrument_id, latest, band, lang)
    return AssessmentTrend(instrument_id=instrument_id, title=title, count=len(points), first_total=first,
                           first_on=first_on, latest_total=latest, latest_on=latest_on, latest_band=band_text,
                           higher_is_worse=higher_is_worse, reliable_change=margin)


def _points_from_assessment_services(person: Person, lang: str
                                     ) -> dict[str, list[tuple[dt.date, float | None, str]]] | None:
    """Per instrument, (date, headline score, band) oldest first, through the assessment app's services.

    None when that module (latest_results / history) is not there. One query for the list of instruments
    and one per instrument the person has filled in (a handful at most).
    """
    try:
        from helhet.assessment import services as assessment
    except ImportError:
        return None
    latest_results = getattr(assessment, "latest_results", None)
    history = getattr(assessment, "history", None)
    if latest_results is None or history is None:
        return None
    grouped: dict[str, list[tuple[dt.date, float | None, str]]] = {}
    for instrument_id in latest_results(person):
        points = []
        for point in history(person, instrument_id):
            score = point.result.score
            band = point.result.band.display.get(lang) if point.result.band is not None else ""
            points.append((point.effective, float(score) if score is not None else None, band))
        if points:
            grouped[str(instrument_id)] = points
    return grouped


def assessment_trends(person: Person) -> list[AssessmentTrend]:
    """The person's standardized assessments per instrument: the first and the latest headline score.

    Read through the assessment app's `latest_results` / `history` services; without them, from its stored
    total scores (ScoreObservation, part "total") in one query; without the assessment app, nothing.
    """
    lang = "en" if (translation.get_language() or "nb").startswith("en") else "nb"
    grouped = _points_from_assessment_services(person, lang)
    if grouped is None:
        try:
            model = apps.get_model("assessment", "ScoreObservation")
        except LookupError:
            return []
        grouped = {}
        rows = (model.objects.filter(person=person, part="total").order_by("instrument_id", "effective", "pk")
                .values_list("instrument_id", "effective", "value", "band"))
        for instrument_id, day, value, band in rows:
            grouped.setdefault(str(instrument_id), []).append((day, value, str(band or "")))
    trends = [_trend(instrument_id, points, lang) for instrument_id, points in grouped.items()]
    return sorted(trends, key=lambda trend: trend.title)
