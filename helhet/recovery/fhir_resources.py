"""FHIR R4 Goal and CarePlan (category recovery plan): read, search and create, through the same services.

- ``Goal``: one goal of a person's current recovery plan. ``achievementStatus`` is mapped from the latest
  GAS rating at a review (``gas.achievement_status``); the five described GAS levels, the weight, the baseline,
  the latest rating and "who helps with what" travel as extensions. A goal created by a service user's client
  is the person's proposal (lifecycleStatus ``proposed``), exactly as on the page.
- ``CarePlan`` with category ``recovery-plan``: the plan itself, its goals, the latest GAS T-score, and the
  individual plan it belongs to (``partOf``, a logical reference). The individual plan's own CarePlan is
  served by the pathways app; the FHIR registry dispatches between the two by category and id prefix.

Staff-only notes never leave through the API. Every access opens the person first (``open_person``) or lists
only ``visible_persons`` (audited with ``audit_person_list``); refusals become an OperationOutcome (403/400),
audited, with nothing written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Prefetch, Q, QuerySet
from django.utils import translation
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.goal import Goal as FhirGoal
from pydantic import ValidationError

from helhet.accounts.access import audit_person_list, open_person, visible_persons
from helhet.accounts.models import Role, User
from helhet.fhir.errors import FhirError, Issue, invalid, not_found
from helhet.fhir.registry import FhirContext, ResourceHandler, SearchResult, paginate, register
from helhet.pathways.models import IndividualPlan
from helhet.pathways.services import choice_values
from helhet.persons.fhir_resources import PSEUDONYM_SYSTEM
from helhet.persons.models import Person
from helhet.recovery import gas, services
from helhet.recovery.models import (
    Goal,
    GoalRating,
    GoalReview,
    GoalStatus,
    LifeArea,
    PlanStatus,
    Proposal,
    RecoveryPlan,
)
from helhet.recovery.services import PlanRefused

EXT = "urn:helhet:fhir:StructureDefinition/"
EXT_LEVEL = EXT + "gas-level"  # nested: score (integer -2..+2), description (string)
EXT_WEIGHT = EXT + "gas-weight"
EXT_BASELINE = EXT + "gas-baseline"
EXT_RATING = EXT + "gas-rating"  # nested: score, date (the latest review)
EXT_T_SCORE = EXT + "gas-t-score"  # nested: value (decimal), date
EXT_HELPERS = EXT + "goal-helpers"  # who helps with what
LIFE_AREA_SYSTEM = "urn:helhet:CodeSystem/recovery-life-area"
CAREPLAN_CATEGORY_SYSTEM = "urn:helhet:care-plan-category"  # shared with the individual plan's CarePlan
RECOVERY_PLAN_CATEGORY = "recovery-plan"
CAREPLAN_ID_PREFIX = "recovery-"
# Reviews that count: rated by staff with the person, or the person's own rating once the clinician accepted it.
COUNTS_AS_REVIEW = Q(self_rating=False) | Q(proposal=Proposal.ACCEPTED)
COUNTS_AS_REVIEW_VIA_RATING = Q(review__self_rating=False) | Q(review__proposal=Proposal.ACCEPTED)
LEVEL_FIELDS = dict(zip((-2, -1, 0, 1, 2), services.LEVEL_FIELDS, strict=True))
# Service field -> FHIR path, for the expression of a refusal.
FIELD_PATHS = {"text": "Goal.description", "life_area": "Goal.category", "weight": "Goal.extension",
               "baseline": "Goal.extension", "review_date": "Goal.target.dueDate", "status": "Goal.lifecycleStatus",
               "created_on": "CarePlan.created", **{name: "Goal.extension" for name in services.LEVEL_FIELDS}}


def _refusal(refusal: PlanRefused) -> FhirError:
    refusal.record()
    path = FIELD_PATHS.get(refusal.field, "")
    return FhirError(refusal.status, "forbidden" if refusal.forbidden else "invalid", refusal.message,
                     expression=[path] if path else None)


def _pid(value: str) -> str:
    return value.removeprefix("Patient/")


def _subject_pid(resource: dict[str, Any], resource_type: str) -> str:
    subject = resource.get("subject")
    reference = subject.get("reference") if isinstance(subject, dict) else None
    if isinstance(reference, str) and reference.startswith("Patient/") and len(reference) > 8:
        return _pid(reference)
    identifier = subject.get("identifier") if isinstance(subject, dict) else None
    if isinstance(identifier, dict) and identifier.get("system") == PSEUDONYM_SYSTEM and identifier.get("value"):
        return str(identifier["value"])
    raise FhirError(400, "required", "subject must reference the Patient (Patient/<id>)",
                    expression=[f"{resource_type}.subject"])


def _validate(model: Any, resource: dict[str, Any]) -> None:
    name = model.__name__
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        issues = []
        for error in exc.errors()[:10]:
            where = ".".join(str(part) for part in error.get("loc", ()) if not str(part).startswith("function-"))
            issues.append(Issue("error", "structure", f"{where or name}: {error.get('msg')}",
                                [f"{name}.{where}"] if where else []))
        raise FhirError(400, "structure", f"not a valid FHIR R4 {name}", issues=issues) from None
    except (RecursionError, TypeError, ValueError) as exc:
        raise FhirError(400, "structure", f"not a valid FHIR R4 {name}: {exc}") from None


def _check_params(params: dict[str, list[str]], supported: Iterable[str]) -> None:
    unknown = set(params) - set(supported)
    if unknown:
        raise invalid(f"unknown search parameter(s) {', '.join(sorted(unknown))}; "
                      f"supported: {', '.join(supported)}")


def _codes(values: list[str]) -> set[str]:
    return {value.rpartition("|")[2] for raw in values for value in raw.split(",") if value}


def _audit_page(ctx: FhirContext, pids: list[str], resource: str) -> None:
    if pids:
        audit_person_list(ctx.user, sorted(set(pids)), channel=ctx.channel, resource=resource)


def _nested(url: str, **values: tuple[str, Any]) -> dict[str, Any]:
    return {"url": url, "extension": [{"url": name, kind: value} for name, (kind, value) in values.items()]}


# ---------------------------------------------------------------------------------------------------- Goal

def _latest_ratings(goals: QuerySet[Goal]) -> QuerySet[Goal]:
    """Goals with their reviews' ratings (not the person's self-ratings), latest last, in one extra query."""
    ratings = (GoalRating.objects.filter(COUNTS_AS_REVIEW_VIA_RATING).select_related("review")
               .order_by("review__reviewed_on", "review__pk"))
    return goals.prefetch_related(Prefetch("ratings", queryset=ratings, to_attr="review_ratings"))


def goal_resource(goal: Goal) -> dict[str, Any]:
    """The FHIR R4 Goal for one goal; `goal` comes from `_latest_ratings` with plan and person selected."""
    person = goal.plan.person
    ratings: list[GoalRating] = getattr(goal, "review_ratings", [])
    latest = ratings[-1] if ratings else None
    closed = goal.status in (GoalStatus.COMPLETED, GoalStatus.CANCELLED)
    status = gas.achievement_status(latest.rating if latest else None, goal.baseline, closed=closed)
    extensions: list[dict[str, Any]] = [
        _nested(EXT_LEVEL, score=("valueInteger", score), description=("valueString", text))
        for score, text in goal.levels if text
    ]
    extensions += [{"url": EXT_WEIGHT, "valueDecimal": goal.weight},
                   {"url": EXT_BASELINE, "valueInteger": goal.baseline}]
    if latest is not None:
        extensions.append(_nested(EXT_RATING, score=("valueInteger", latest.rating),
                                  date=("valueDate", latest.review.reviewed_on.isoformat())))
    if goal.helpers:
        extensions.append({"url": EXT_HELPERS, "valueString": goal.helpers})
    resource: dict[str, Any] = {
        "resourceType": "Goal",
        "id": str(goal.pk),
        "extension": extensions,
        "lifecycleStatus": goal.status,
        "achievementStatus": {"coding": [{"system": status.system, "code": status.value, "display": status.display}]},
        "category": [{"coding": [{"system": LIFE_AREA_SYSTEM, "code": goal.life_area,
                                  "display": str(LifeArea(goal.life_area).label)}]}],
        "description": {"text": goal.text},
        "subject": {"reference": f"Patient/{person.pid}"},
        "startDate": goal.created_at.date().isoformat() if goal.created_at else goal.plan.created_on.isoformat(),
    }
    if goal.review_date:
        resource["target"] = [{"dueDate": goal.review_date.isoformat()}]
    if goal.by_person:
        resource["expressedBy"] = {"reference": f"Patient/{person.pid}"}
    return resource


def _extension_value(extensions: list[Any], url: str, kind: str) -> Any:
    for extension in extensions:
        if isinstance(extension, dict) and extension.get("url") == url:
            return extension.get(kind)
    return None


def _goal_data(resource: dict[str, Any]) -> dict[str, Any]:
    """The service's goal fields from a FHIR Goal (the service checks them)."""
    description = resource.get("description")
    data: dict[str, Any] = {"text": description.get("text", "") if isinstance(description, dict) else ""}
    codes = [coding.get("code") for concept in resource.get("category") or [] if isinstance(concept, dict)
             for coding in concept.get("coding") or [] if isinstance(coding, dict)
             and coding.get("system") == LIFE_AREA_SYSTEM]
    data["life_area"] = codes[0] if codes else ""
    extensions = resource.get("extension") or []
    for extension in extensions:
        if isinstance(extension, dict) and extension.get("url") == EXT_LEVEL:
            nested = extension.get("extension") or []
            score = _extension_value(nested, "score", "valueInteger")
            if isinstance(score, bool) or score not in LEVEL_FIELDS:
                raise invalid("a GAS level's score must be an integer from -2 to +2", expression=["Goal.extension"])
            data[LEVEL_FIELDS[score]] = _extension_value(nested, "description", "valueString") or ""
    weight = _extension_value(extensions, EXT_WEIGHT, "valueDecimal")
    if weight is not None:
        data["weight"] = weight
    baseline = _extension_value(extensions, EXT_BASELINE, "valueInteger")
    if baseline is not None:
        data["baseline"] = baseline
    helpers = _extension_value(extensions, EXT_HELPERS, "valueString")
    if helpers is not None:
        data["helpers"] = helpers
    targets = resource.get("target") or []
    if targets and isinstance(targets[0], dict) and targets[0].get("dueDate"):
        data["review_date"] = targets[0]["dueDate"]
    return data


@register
class GoalHandler(ResourceHandler):
    resource_type = "Goal"
    search_params = {"patient": "reference", "subject": "reference", "_id": "token", "lifecycle-status": "token",
                     "category": "token"}

    def _goals(self) -> QuerySet[Goal]:
        return _latest_ratings(Goal.objects.select_related("plan__person"))

    def read(self, ctx: FhirContext, resource_id: str) -> dict[str, Any]:
        goal = self._goals().filter(pk=int(resource_id)).first() if resource_id.isdigit() else None
        if goal is None:
            raise not_found("Goal", resource_id)
        open_person(ctx.user, goal.plan.person, resource=f"Goal/{goal.pk}", channel=ctx.channel)
        return goal_resource(goal)

    def search(self, ctx: FhirContext, params: dict[str, list[str]], *, offset: int, count: int) -> SearchResult:
        _check_params(params, self.search_params)
        goals = self._goals().filter(plan__person__in=visible_persons(ctx.user)).order_by("pk")
        for name in ("patient", "subject"):
            for value in params.get(name, []):
                goals = goals.filter(plan__person__pid=_pid(value))
        for value in params.get("_id", []):
            goals = goals.filter(pk=int(value)) if value.isdigit() else goals.none()
        if "lifecycle-status" in params:
            goals = goals.filter(status__in=_codes(params["lifecycle-status"]))
        if "category" in params:
            goals = goals.filter(life_area__in=_codes(params["category"]))
        page, total = paginate(goals, offset=offset, count=count)
        _audit_page(ctx, [g.plan.person.pid for g in page], "Goal search")
        return SearchResult([goal_resource(g) for g in page], total)

    def create(self, ctx: FhirContext, resource: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        _validate(FhirGoal, resource)
        person, _relationship = open_person(ctx.user, _subject_pid(resource, "Goal"), action="create",
                                            resource="Goal", channel=ctx.channel)
        data = _goal_data(resource)
        lifecycle = resource.get("lifecycleStatus")
        if not services.is_service_user(ctx.user):
            if lifecycle not in (GoalStatus.ACTIVE, GoalStatus.PROPOSED):
                raise invalid("a new goal's lifecycleStatus must be proposed or active",
                              expression=["Goal.lifecycleStatus"])
            data["status"] = lifecycle
        elif lifecycle != GoalStatus.PROPOSED:
            # The person's own goals are proposals until the clinician accepts them.
            raise _refusal(services.refuse(ctx.user, person, "a goal from the person must have lifecycleStatus "
                                           "proposed; the clinician accepts it", action="create", resource="Goal",
                                           field="status", channel=ctx.channel, forbidden=True))
        try:
            goal = services.add_goal(user=ctx.user, person=person, plan=services.current_plan(person), data=data,
                                     channel=ctx.channel)
        except PlanRefused as refusal:
            raise _refusal(refusal) from None
        stored = self._goals().get(pk=goal.pk)
        return goal_resource(stored), []


# ---------------------------------------------------------------------------------------------------- CarePlan

def _with_reviews(plans: QuerySet[RecoveryPlan]) -> QuerySet[RecoveryPlan]:
    ratings = GoalRating.objects.select_related("goal").order_by("pk")
    return plans.select_related("person").prefetch_related(
        Prefetch("goals", queryset=Goal.objects.order_by("pk"), to_attr="goal_list"),
        Prefetch("reviews", to_attr="review_list",
                 queryset=(GoalReview.objects.filter(COUNTS_AS_REVIEW).order_by("reviewed_on", "pk")
                           .prefetch_related(Prefetch("ratings", queryset=ratings)))),
    )


def care_plan_resource(plan: RecoveryPlan) -> dict[str, Any]:
    goals: list[Goal] = getattr(plan, "goal_list", [])
    reviews = getattr(plan, "review_list", [])
    rho = services.gas_rho()
    resource: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": f"{CAREPLAN_ID_PREFIX}{plan.pk}",
        "status": plan.status,
        "intent": "plan",
        "category": [{"coding": [{"system": CAREPLAN_CATEGORY_SYSTEM, "code": RECOVERY_PLAN_CATEGORY,
                                  "display": "Recovery plan"}]}],
        "title": "Recovery plan",
        "subject": {"reference": f"Patient/{plan.person.pid}"},
        "period": {"start": plan.created_on.isoformat()},
        "created": plan.created_on.isoformat(),
    }
    scored: list[tuple[dt.date, float]] = []
    for review in reviews:
        t = gas.gas_t_score([(r.goal.weight, r.rating) for r in review.ratings.all()], rho)
        if t is not None:
            scored.append((review.reviewed_on, t))
    if scored:
        day, t_score = scored[-1]
        resource["extension"] = [_nested(EXT_T_SCORE, value=("valueDecimal", round(t_score, 2)),
                                         date=("valueDate", day.isoformat()))]
    if goals:
        resource["goal"] = [{"reference": f"Goal/{goal.pk}"} for goal in goals]
    if plan.individual_plan_id is not None:
        # The individual plan's own CarePlan (pathways app), whose id is the plan's database id.
        resource["partOf"] = [{"reference": f"CarePlan/{plan.individual_plan_id}", "display": "Individual plan"}]
    return resource


@register
class RecoveryCarePlanHandler(ResourceHandler):
    resource_type = "CarePlan"
    category = RECOVERY_PLAN_CATEGORY
    id_prefix = CAREPLAN_ID_PREFIX
    search_params = {"patient": "reference", "subject": "reference", "_id": "token", "status": "token",
                     "category": "token"}

    def _plans(self) -> QuerySet[RecoveryPlan]:
        return _with_reviews(RecoveryPlan.objects.all())

    def _pk(self, resource_id: str) -> int | None:
        number = resource_id.removeprefix(CAREPLAN_ID_PREFIX)
        return int(number) if resource_id.startswith(CAREPLAN_ID_PREFIX) and number.isdigit() else None

    def read(self, ctx: FhirContext, resource_id: str) -> dict[str, Any]:
        pk = self._pk(resource_id)
        plan = self._plans().filter(pk=pk).first() if pk is not None else None
        if plan is None:
            raise not_found("CarePlan", resource_id)
        open_person(ctx.user, plan.person, resource=f"CarePlan/{resource_id}", channel=ctx.channel)
        return care_plan_resource(plan)

    def search(self, ctx: FhirContext, params: dict[str, list[str]], *, offset: int, count: int) -> SearchResult:
        _check_params(params, self.search_params)
        plans = self._plans().filter(person__in=visible_persons(ctx.user)).order_by("pk")
        if "category" in params and RECOVERY_PLAN_CATEGORY not in _codes(params["category"]):
            plans = plans.none()
        for name in ("patient", "subject"):
            for value in params.get(name, []):
                plans = plans.filter(person__pid=_pid(value))
        for value in params.get("_id", []):
            pk = self._pk(value)
            plans = plans.filter(pk=pk) if pk is not None else plans.none()
        if "status" in params:
            plans = plans.filter(status__in=_codes(params["status"]))
        page, total = paginate(plans, offset=offset, count=count)
        _audit_page(ctx, [p.person.pid for p in page], "CarePlan search")
        return SearchResult([care_plan_resource(p) for p in page], total)

    def create(self, ctx: FhirContext, resource: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        _validate(CarePlan, resource)
        codes = {coding.get("code") for concept in resource.get("category") or []
                 for coding in concept.get("coding") or []}
        if RECOVERY_PLAN_CATEGORY not in codes:
            raise invalid(f"category must carry {CAREPLAN_CATEGORY_SYSTEM}|{RECOVERY_PLAN_CATEGORY}",
                          expression=["CarePlan.category"])
        person: Person
        person, _relationship = open_person(ctx.user, _subject_pid(resource, "CarePlan"), action="create",
                                            resource="CarePlan", channel=ctx.channel)
        if resource.get("status") != PlanStatus.ACTIVE or resource.get("intent") != "plan":
            raise invalid("a new recovery plan must have status active and intent plan",
                          expression=["CarePlan.status"])
        if resource.get("goal"):
            raise invalid("add the goals with POST Goal once the plan exists", expression=["CarePlan.goal"])
        created = resource.get("created") or (resource.get("period") or {}).get("start")
        try:
            day = dt.date.fromisoformat(str(created)[:10]) if created else None
        except ValueError:
            raise invalid("created must be a date", expression=["CarePlan.created"]) from None
        try:
            plan = services.create_plan(user=ctx.user, person=person, created_on=day, channel=ctx.channel)
        except PlanRefused as refusal:
            raise _refusal(refusal) from None
        return care_plan_resource(self._plans().get(pk=plan.pk)), []

    def export_resources(self, persons: QuerySet[Person]) -> Iterator[dict[str, Any]]:
        """Bulk export: each plan whole (see `exchange_care_plan`), with a stable identifier."""
        import uuid

        from django.db.models import CharField, Value
        from django.db.models.functions import Cast, Concat

        from helhet.pathways.fhir_resources import CarePlanHandler

        CarePlanHandler().assign_identifiers(persons)  # partOf names the individual plan by its identifier
        prefix = f"{uuid.uuid4().hex[:12]}-"  # unique to this export, so never colliding with another system's
        RecoveryPlan.objects.filter(identifier="", person__in=persons).update(
            identifier=Concat(Value(prefix), Cast("pk", output_field=CharField())))
        for plan in _for_exchange(RecoveryPlan.objects.filter(person__in=persons)).order_by("pk").iterator(
                chunk_size=500):
            yield exchange_care_plan(plan)

    def import_batch(self, ictx: Any, items: list[Any]) -> None:
        with translation.override("en"):  # the goal rules' messages, in English as every FHIR diagnostic
            import_recovery_plans(ictx, items)


# ------------------------------------------------------------------------------------------ bulk exchange
#
# In a bulk exchange (`helhet export` / `helhet import`, transaction Bundles) the recovery plan travels whole,
# as one CarePlan: its goals as contained Goals (the API's Goal, plus the proposal state), its reviews and their
# GAS ratings as `gas-review` extensions, the individual plan it belongs to by identifier. Users (who wrote or
# rated) and staff-only notes and comments stay behind: they mean nothing in another system, or must not leave.

EXT_REVIEW = EXT + "gas-review"  # nested: date, self-rating, proposal, note, rating* (goal, score)
EXT_PROPOSAL = EXT + "proposal"
PLAN_IDENTIFIER_SYSTEM = "urn:helhet:recovery-plan"
INDIVIDUAL_PLAN_IDENTIFIER_SYSTEM = "urn:helhet:individual-plan"


def _for_exchange(plans: QuerySet[RecoveryPlan]) -> QuerySet[RecoveryPlan]:
    ratings = GoalRating.objects.order_by("pk")
    return _with_reviews(plans).select_related("individual_plan").prefetch_related(
        Prefetch("goals", queryset=_latest_ratings(Goal.objects.order_by("pk")), to_attr="exchange_goals"),
        Prefetch("reviews", queryset=GoalReview.objects.order_by("reviewed_on", "pk").prefetch_related(
            Prefetch("ratings", queryset=ratings, to_attr="exchange_ratings")), to_attr="exchange_reviews"))


def exchange_care_plan(plan: RecoveryPlan) -> dict[str, Any]:
    """The recovery plan with its goals, reviews and ratings, as one CarePlan; `plan` from `_for_exchange`."""
    resource = care_plan_resource(plan)
    resource["identifier"] = [{"system": PLAN_IDENTIFIER_SYSTEM, "value": plan.identifier}]
    local = {}
    contained = []
    for index, goal in enumerate(getattr(plan, "exchange_goals", []), start=1):
        local[goal.pk] = f"goal{index}"
        item = goal_resource(goal)
        item["id"] = local[goal.pk]
        if goal.proposal:
            item["extension"].append({"url": EXT_PROPOSAL, "valueCode": goal.proposal})
        contained.append(item)
    if contained:
        resource["contained"] = contained
        resource["goal"] = [{"reference": f"#{item['id']}"} for item in contained]
    reviews = []
    for review in getattr(plan, "exchange_reviews", []):
        parts: list[dict[str, Any]] = [{"url": "date", "valueDate": review.reviewed_on.isoformat()},
                                       {"url": "self-rating", "valueBoolean": review.self_rating}]
        if review.proposal:
            parts.append({"url": "proposal", "valueCode": review.proposal})
        if review.note:
            parts.append({"url": "note", "valueString": review.note})
        parts += [{"url": "rating", "extension": [{"url": "goal", "valueReference": {"reference": f"#{local[r.goal_id]}"}},
                                                  {"url": "score", "valueInteger": r.rating}]}
                  for r in getattr(review, "exchange_ratings", [])]
        reviews.append({"url": EXT_REVIEW, "extension": parts})
    if reviews:
        resource["extension"] = [*resource.get("extension", []), *reviews]
    if plan.individual_plan is not None:
        resource["partOf"] = [{"reference": f"CarePlan/{plan.individual_plan_id}", "display": "Individual plan",
                               "identifier": {"system": INDIVIDUAL_PLAN_IDENTIFIER_SYSTEM,
                                              "value": plan.individual_plan.identifier}}]
    return resource


def _without_ids(value: Any) -> Any:
    """A resource without this server's ids and the displays (in the language of the day), for comparing an
    incoming plan with the stored one."""
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items()
                if k not in ("id", "display") and not (k == "reference" and "identifier" in value)}
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


@dataclass
class _PlanRow:
    item: Any  # bulk.ImportItem
    pid: str
    key: str
    status: str
    created_on: dt.date
    individual_plan: str  # the individual plan's identifier, or ""
    goals: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (local id, goal data)
    reviews: list[dict[str, Any]] = field(default_factory=list)


def _import_actor(user: User | None) -> User:
    """Who the goal rules act as: the importing user, or for a system import an unsaved stand-in (refusals of a
    system import are reported in its summary, never audited under a user's name)."""
    return user if user is not None else User(username="system:import", role=Role.CLINICIAN)


def _parse_exchange(ictx: Any, item: Any) -> _PlanRow:
    from helhet.fhir.bulk import Rejected, first_identifier, invalid_resource, parse_date

    resource = item.resource
    if RECOVERY_PLAN_CATEGORY not in _codes([coding.get("code", "") for concept in resource.get("category") or []
                                             for coding in concept.get("coding") or []]):
        raise invalid_resource(f"CarePlan.category must carry {CAREPLAN_CATEGORY_SYSTEM}|{RECOVERY_PLAN_CATEGORY}")
    key = first_identifier(resource)
    if not key:
        raise invalid_resource("a recovery plan needs an identifier, so that importing it again finds it")
    status = resource.get("status")
    if status not in choice_values(PlanStatus):
        raise Rejected(f"CarePlan.status {status!r} is not supported for a recovery plan; use one of "
                       f"{', '.join(PlanStatus.values)}", code="value")
    created = parse_date(resource.get("created") or (resource.get("period") or {}).get("start"), "CarePlan.created")
    if created > ictx.today:
        raise Rejected(f"CarePlan.created ({created.isoformat()}) is in the future", code="value")
    part_of = resource.get("partOf") or []
    identifier = (part_of[0].get("identifier") or {}).get("value") if part_of else ""
    if part_of and not identifier:
        raise invalid_resource("CarePlan.partOf must name the individual plan by its identifier")
    row = _PlanRow(item=item, pid=ictx.patient_pid(resource.get("subject"), "CarePlan.subject"), key=key,
                   status=str(status), created_on=created, individual_plan=str(identifier or ""))
    for goal in resource.get("contained") or []:
        if goal.get("resourceType") != "Goal":
            raise invalid_resource("CarePlan.contained holds the plan's Goals only")
        data = _goal_data(goal)
        data["status"] = goal.get("lifecycleStatus") or ""
        extra = {"by_person": bool(goal.get("expressedBy")),
                 "proposal": _extension_value(goal.get("extension") or [], EXT_PROPOSAL, "valueCode") or "",
                 "created": goal.get("startDate") or ""}
        if extra["proposal"] not in choice_values(Proposal):
            raise Rejected(f"Goal proposal {extra['proposal']!r} is not supported", code="value")
        row.goals.append((str(goal.get("id") or ""), {"data": data, **extra}))
    goals = {local for local, _goal in row.goals}
    for extension in resource.get("extension") or []:
        if not isinstance(extension, dict) or extension.get("url") != EXT_REVIEW:
            continue
        nested = extension.get("extension") or []
        day = parse_date(_extension_value(nested, "date", "valueDate"), "gas-review.date")
        if day < created or day > ictx.today:
            raise Rejected(f"gas-review.date {day.isoformat()} is before the plan was made or in the future",
                           code="value")
        ratings = []
        for rating in nested:
            if not isinstance(rating, dict) or rating.get("url") != "rating":
                continue
            parts = rating.get("extension") or []
            goal_ref = str((_extension_value(parts, "goal", "valueReference") or {}).get("reference") or "")
            if goal_ref.removeprefix("#") not in goals:
                raise invalid_resource(f"gas-review rating: {goal_ref!r} is not a contained Goal of this plan")
            try:
                ratings.append((goal_ref.removeprefix("#"), gas.check_rating(
                    _extension_value(parts, "score", "valueInteger"))))
            except gas.GasError as exc:
                raise Rejected(f"gas-review rating: {exc}", code="value") from None
        proposal = _extension_value(nested, "proposal", "valueCode") or ""
        if proposal not in choice_values(Proposal):
            raise Rejected(f"gas-review proposal {proposal!r} is not supported", code="value")
        row.reviews.append({"day": day, "self_rating": bool(_extension_value(nested, "self-rating", "valueBoolean")),
                            "proposal": proposal, "note": str(_extension_value(nested, "note", "valueString") or ""),
                            "ratings": ratings})
    return row


def import_recovery_plans(ictx: Any, items: list[Any]) -> None:
    """Import recovery plans whole (bulk exchange). A plan already stored under its identifier is not changed: the
    same plan again is skipped, other content refused (409); so is one identifier twice with different content."""
    from helhet.fhir.bulk import Rejected, validate_r4b

    rows: list[_PlanRow] = []
    for item in items:
        try:
            if not item.validated:
                validate_r4b(item.resource, CarePlan)
            rows.append(_parse_exchange(ictx, item))
        except Rejected as exc:
            item.reject(exc)
    persons = ictx.persons([(row.item, row.pid) for row in rows])
    rows = [row for row in rows if not row.item.outcome]
    stored = {plan.identifier: plan for plan in _for_exchange(RecoveryPlan.objects.filter(
        identifier__in=[row.key for row in rows]))}
    individual = {identifier: (pk, person_id) for pk, identifier, person_id in IndividualPlan.objects.filter(
        identifier__in=[row.individual_plan for row in rows if row.individual_plan]).values_list(
        "pk", "identifier", "person_id")}
    actor = _import_actor(ictx.user)
    seen: dict[str, _PlanRow] = {}  # the first of the batch's plans with each identifier
    repeated: list[tuple[_PlanRow, _PlanRow]] = []  # the same plan again: (again, first), as the first fares
    new: list[tuple[_PlanRow, int, int | None, list[tuple[str, dict[str, Any], dict[str, Any]]]]] = []
    for row in rows:
        person = persons[row.pid]
        plan = stored.get(row.key)
        first = seen.get(row.key)
        if first is not None:
            if first.pid == row.pid and _without_ids(first.item.resource) == _without_ids(row.item.resource):
                repeated.append((row, first))
            else:
                row.item.reject(Rejected(f"recovery plan {row.key!r} appears twice with different content",
                                         code="conflict", status=409))
            continue
        if plan is not None:
            if plan.person_id == person.pk and _without_ids(exchange_care_plan(plan)) == \
                    _without_ids(row.item.resource):
                row.item.done("skipped", f"CarePlan/{CAREPLAN_ID_PREFIX}{plan.pk}")
            else:
                row.item.reject(Rejected(f"recovery plan {row.key!r} is already stored with other content (or for "
                                         "another person); an import does not change a stored recovery plan",
                                         code="conflict", status=409))
            continue
        seen[row.key] = row
        link = individual.get(row.individual_plan)
        if row.individual_plan and (link is None or link[1] != person.pk):
            row.item.reject(Rejected(f"CarePlan.partOf: individual plan {row.individual_plan!r} is not known for "
                                     "this patient", code="not-found"))
            continue
        try:
            goals = [(local, services.clean_goal(actor, person, goal["data"], action="create", channel=ictx.channel),
                      goal) for local, goal in row.goals]
        except PlanRefused as refusal:
            row.item.reject(Rejected(f"Goal: {refusal.message}", code="business-rule"))
            continue
        new.append((row, person.pk, link[0] if link else None, goals))
    _write_plans(new)
    for again, first in repeated:
        if first.item.outcome == "rejected":
            again.item.reject(Rejected(first.item.message, code=first.item.code, status=first.item.status))
        else:
            again.item.done("skipped", first.item.location)
    for row in [*(row for row, _person_id, _link, _goals in new), *(again for again, _first in repeated)]:
        if row.item.outcome == "rejected":
            continue
        if row.item.full_url:
            ictx.urns[row.item.full_url] = row.item.location
        ictx.touched.add(row.pid)


def _write_plans(new: list[tuple[_PlanRow, int, int | None, list[tuple[str, dict[str, Any], dict[str, Any]]]]]
                 ) -> None:
    """The new plans, their goals, reviews and ratings: one insert each for the whole batch."""
    from helhet.fhir.bulk import insert_rows

    if not new:
        return
    plan_ids = insert_rows(RecoveryPlan, [{"person_id": person_id, "created_on": row.created_on, "status": row.status,
                                           "identifier": row.key, "individual_plan_id": link}
                                          for row, person_id, link, _goals in new])
    goal_rows: list[dict[str, Any]] = []
    started: list[dt.datetime | None] = []
    for plan_id, (_row, _person_id, _link, goals) in zip(plan_ids, new, strict=True):
        for _local, cleaned, goal in goals:
            # The goal's own start date, not the day of the import (noon UTC: the same date in Norway).
            start = (dt.datetime.combine(dt.date.fromisoformat(goal["created"][:10]), dt.time(12), tzinfo=dt.UTC)
                     if goal["created"] else None)
            started.append(start)
            goal_rows.append({"plan_id": plan_id, "proposal": goal["proposal"], "by_person": goal["by_person"],
                              **cleaned, **({"created_at": start} if start else {})})
    goal_ids = insert_rows(Goal, goal_rows)
    if connection.vendor != "postgresql":  # bulk_create stamps auto_now_add fields with the time of the insert
        for start in {start for start in started if start}:
            Goal.objects.filter(pk__in=[pk for pk, s in zip(goal_ids, started, strict=True) if s == start]).update(
                created_at=start)
    goal_of: dict[tuple[int, str], int] = {}
    position = 0
    review_rows: list[dict[str, Any]] = []
    review_ratings: list[list[tuple[int, int]]] = []
    for index, (row, _person_id, _link, goals) in enumerate(new):
        for local, _cleaned, _goal in goals:
            goal_of[(index, local)] = goal_ids[position]
            position += 1
        for review in row.reviews:
            review_rows.append({"plan_id": plan_ids[index], "reviewed_on": review["day"], "note": review["note"],
                                "self_rating": review["self_rating"], "proposal": review["proposal"]})
            review_ratings.append([(goal_of[(index, local)], score) for local, score in review["ratings"]])
    review_ids = insert_rows(GoalReview, review_rows)
    insert_rows(GoalRating, [{"review_id": review_id, "goal_id": goal_id, "rating": score}
                             for review_id, ratings in zip(review_ids, review_ratings, strict=True)
                             for goal_id, score in ratings])
    for plan_id, (row, _person_id, _link, _goals) in zip(plan_ids, new, strict=True):
        row.item.done("created", f"CarePlan/{CAREPLAN_ID_PREFIX}{plan_id}")
