"""Teams: who may see a team, the team's figures, fidelity reviews, the FACT board, exports.

Views and the CLI stay thin over these functions. The scoring itself is the pure
`fidelity.score_review`; pre-fill is the pure `prefill.suggest_scores`, fed by
`team_figures`, which reads the team's own records (episodes, contacts, admissions,
staff memberships) with a fixed number of queries.

Access: team pages need a role in the team today (a clinician or team leader with a
staff membership of the unit); the regional view needs an analyst. Persons appear only
through `helhet.accounts.access` (the FACT board), and every refusal is audited.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.apps import apps
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from helhet.accounts.access import (
    AccessDenied,
    audit_person_list,
    system_event,
    user_unit_ids,
    visible_persons,
)
from helhet.accounts.models import STAFF_ROLES, Role, StaffMembership, User
from helhet.audit.services import AuditEvent, record_one
from helhet.organisations.models import ServiceUnit, UnitKind
from helhet.pathways.models import (
    ContactMode,
    Encounter,
    EncounterKind,
    EpisodeOfCare,
    EpisodeStatus,
    responsible_episodes,
)
from helhet.persons.models import Person
from helhet.teams.fidelity import (
    FidelityResult,
    FidelityScale,
    ItemChange,
    ItemResult,
    ReviewError,
    ScaleError,
    compare_reviews,
    load_scale,
    score_review,
    shipped_scales,
)
from helhet.teams.models import (
    BoardPlacement,
    FidelityItemScore,
    FidelityReview,
    StaffingDetail,
    TeamProfile,
)
from helhet.teams.prefill import (
    NOT_COUNTED_AS_TEAM_STAFF,
    ClientContacts,
    Profession,
    Suggestion,
    TeamFigures,
    suggest_scores,
)

TEAM_KINDS = (UnitKind.ACT, UnitKind.FACT)
NO_TEAM_ROLE_MESSAGE = gettext_noop("You have no role in this team.")
ANALYSTS_ONLY_MESSAGE = gettext_noop("The regional view is for analysts.")
REVIEW_RESOURCE = "fidelity review"

# Pre-fill windows. DACTS rates contacts from recent charts; Helhet uses the 4 weeks before the review.
CONTACT_PERIOD_DAYS = 28
TEAM_APPROACH_DAYS = 14  # DACTS H2: more than one staff member in a 2-week period
INTAKE_MONTHS = 6  # DACTS O2: the last 6 months
ADMISSION_WINDOW_DAYS = 365
# An admission counts as involving the team when the team recorded a contact with the person from
# this many days before the admission until the discharge (Helhet's operational reading of DACTS O5).
INVOLVEMENT_LEAD_DAYS = 7
FACE_TO_FACE_MODES = (ContactMode.FACE_TO_FACE, ContactMode.HOME_VISIT)
# 2017 Norwegian report on ACT/FACT coverage: catchment areas of at least 40,000 adults.
RECOMMENDED_CATCHMENT_ADULTS = 40_000
SOMATIC_INSTRUMENT = "somatic-health"
GP_CONTACT_ITEM = "soma-gp-contact"
GP_CONTACT_WITHIN_YEAR = ("within-6-months", "6-12-months")

# Free-text professions in StaffMembership (as the users CLI and demo write them) -> Profession.
_PROFESSION_WORDS = {
    "psychiatrist": Profession.PSYCHIATRIST, "psykiater": Profession.PSYCHIATRIST,
    "nurse": Profession.NURSE, "sykepleier": Profession.NURSE,
    "psychologist": Profession.PSYCHOLOGIST, "psykolog": Profession.PSYCHOLOGIST,
    "substance specialist": Profession.SUBSTANCE_SPECIALIST, "ruskonsulent": Profession.SUBSTANCE_SPECIALIST,
    "employment specialist": Profession.VOCATIONAL_SPECIALIST, "vocational specialist": Profession.VOCATIONAL_SPECIALIST,
    "jobbspesialist": Profession.VOCATIONAL_SPECIALIST, "peer specialist": Profession.PEER_SPECIALIST,
    "erfaringskonsulent": Profession.PEER_SPECIALIST, "social worker": Profession.SOCIAL_WORKER,
    "sosionom": Profession.SOCIAL_WORKER, "case manager": Profession.CASE_MANAGER,
    "team leader": Profession.TEAM_LEADER, "teamleder": Profession.TEAM_LEADER, "gp": Profession.GP,
    "fastlege": Profession.GP, "lege": Profession.GP, "administrative": Profession.ADMINISTRATIVE,
}  # fmt: skip


class ReviewRefused(ValueError):
    """A fidelity review (or board change) that cannot be recorded; the message says why."""


# --- scales --------------------------------------------------------------------------------


def licensed_scales_dir() -> Path | None:
    """Where a service that holds a licence puts its scale files (HELHET_FIDELITY_SCALES_DIR)."""
    raw = os.environ.get("HELHET_FIDELITY_SCALES_DIR", "")
    return Path(raw) if raw else None


def available_scales() -> dict[str, FidelityScale]:
    """The shipped scales plus the licensed ones this installation holds, by id."""
    scales = dict(shipped_scales())
    directory = licensed_scales_dir()
    if directory is not None and directory.is_dir():
        for path in sorted(directory.glob("*.json")):
            scale = load_scale(path)
            if scale.id in scales:
                raise ScaleError(f"{path}: id: {scale.id!r} is also used by {scales[scale.id].source}")
            scales[scale.id] = scale
    return scales


def get_scale(scale_id: str) -> FidelityScale:
    scale = available_scales().get(scale_id)
    if scale is None:
        raise ReviewRefused(_("Unknown fidelity scale %(scale)s.") % {"scale": scale_id})
    return scale


# --- access --------------------------------------------------------------------------------


def _actor(user: User) -> tuple[str, str]:
    return (user.get_username(), user.role) if user.is_authenticated else ("anonymous", "")


def has_team_role(user: User, team: ServiceUnit) -> bool:
    return user.is_authenticated and user.role in STAFF_ROLES and team.pk in user_unit_ids(user)


def open_team(user: User, code: str, *, action: str = "read", resource: str = "team") -> ServiceUnit:
    """The ACT/FACT team with this code, if the user has a role in it; AccessDenied (audited) otherwise."""
    team = (ServiceUnit.objects.filter(code=code, kind__in=TEAM_KINDS)
            .select_related("trust__region").prefetch_related("municipalities").first())
    if team is None or not has_team_role(user, team):
        actor, role = _actor(user)
        raise AccessDenied(NO_TEAM_ROLE_MESSAGE, AuditEvent(
            actor=actor, actor_role=role, action=action, outcome="denied", resource=f"{resource} {code}"[:120],
            purpose="no role in the team" if team is not None else "no such team", channel="web"))
    return team


def require_analyst(user: User, *, resource: str) -> None:
    if not user.is_authenticated or user.role != Role.ANALYST:
        actor, role = _actor(user)
        raise AccessDenied(ANALYSTS_ONLY_MESSAGE, AuditEvent(
            actor=actor, actor_role=role, action="read", outcome="denied", resource=resource,
            purpose="not an analyst", channel="web"))


def user_teams(user: User) -> list[ServiceUnit]:
    if not user.is_authenticated or user.role not in STAFF_ROLES:
        return []
    return list(ServiceUnit.objects.filter(pk__in=user_unit_ids(user), kind__in=TEAM_KINDS).order_by("name"))


# --- staffing ------------------------------------------------------------------------------


def active_memberships(team: ServiceUnit, day: dt.date) -> QuerySet[StaffMembership]:
    return (StaffMembership.objects.filter(unit=team)
            .filter(Q(start_date__isnull=True) | Q(start_date__lte=day))
            .filter(Q(end_date__isnull=True) | Q(end_date__gte=day)))


def profession_of(membership: StaffMembership) -> Profession:
    """The profession the fidelity scales count: the staffing detail, else the membership's own words."""
    detail: StaffingDetail | None = getattr(membership, "staffing_detail", None)
    if detail is not None:
        return Profession(detail.profession)
    words = membership.profession.strip().lower().replace("_", " ")
    return _PROFESSION_WORDS.get(words, Profession.OTHER_CLINICAL)


@dataclass(frozen=True)
class StaffLine:
    profession: Profession
    headcount: int
    fte: float
    counted_as_team_staff: bool

    @property
    def label(self) -> str:
        from helhet.teams.models import PROFESSION_LABELS

        return str(PROFESSION_LABELS[self.profession])


def staff_composition(team: ServiceUnit, day: dt.date) -> list[StaffLine]:
    """Staff today by profession (in Profession order), with headcount and FTE."""
    counts: dict[Profession, list[float]] = defaultdict(list)
    for membership in active_memberships(team, day).select_related("staffing_detail"):
        counts[profession_of(membership)].append(float(membership.fte))
    return [StaffLine(p, len(counts[p]), math.fsum(counts[p]), p not in NOT_COUNTED_AS_TEAM_STAFF)
            for p in Profession if p in counts]


def profession_labels() -> dict[str, str]:
    from helhet.teams.models import PROFESSION_LABELS

    return {p.value: str(label) for p, label in PROFESSION_LABELS.items()}


def team_members(team: ServiceUnit, day: dt.date) -> list[User]:
    """Clinicians and team leaders with a membership of the team on `day`: who may review it."""
    ids = active_memberships(team, day).values("user_id")
    return list(User.objects.filter(pk__in=ids, role__in=STAFF_ROLES).order_by("last_name", "username"))


def set_staffing_detail(membership: StaffMembership, *, profession: str, field_experience: bool = False
                        ) -> StaffingDetail:
    try:
        Profession(profession)
    except ValueError:
        raise ReviewRefused(_("Unknown profession %(profession)s.") % {"profession": profession}) from None
    detail, _created = StaffingDetail.objects.update_or_create(
        membership=membership, defaults={"profession": profession, "field_experience": field_experience})
    return detail


def update_team_details(*, user: User, team: ServiceUnit, catchment_adults: int | None,
                        staffing: Mapping[int, tuple[str, bool]]) -> None:
    """The team leader records the catchment population and each staff member's profession (audited).

    `staffing` maps a membership id of the team to (profession, field experience).
    """
    problem = ""
    memberships = {m.pk: m for m in active_memberships(team, dt.date.today())}
    if not has_team_role(user, team) or user.role != Role.TEAM_LEADER:
        problem = _("Only the team's leader can change the team's details.")
    elif catchment_adults is not None and catchment_adults < 0:
        problem = _("The number of adults cannot be negative.")
    elif set(staffing) - set(memberships):
        problem = _("A staff member is not in the team.")
    else:
        known = {p.value for p in Profession}
        if any(profession not in known for profession, _experience in staffing.values()):
            problem = _("Choose a profession for every staff member.")
    if problem:
        _audit_write(user, action="update", resource="team details", outcome="denied", purpose=problem,
                     detail={"team": team.code})
        raise ReviewRefused(problem)
    with transaction.atomic():
        TeamProfile.objects.update_or_create(unit=team, defaults={"catchment_adults": catchment_adults})
        for membership_id, (profession, experience) in staffing.items():
            StaffingDetail.objects.update_or_create(
                membership_id=membership_id, defaults={"profession": profession, "field_experience": experience})
        _audit_write(user, action="update", resource="team details",
                     detail={"team": team.code, "catchment_adults": catchment_adults,
                             "staff": {str(k): v[0] for k, v in staffing.items()}})


# --- figures from the team's own records ----------------------------------------------------


def caseload(team: ServiceUnit, day: dt.date) -> QuerySet[EpisodeOfCare]:
    """The team's responsible episodes on `day` (one person may in principle have two)."""
    return responsible_episodes(day).filter(unit=team)


def _month_starts(day: dt.date, months: int) -> list[dt.date]:
    """The first days of the `months` full calendar months before `day`'s month, oldest first."""
    first = day.replace(day=1)
    starts = []
    for _i in range(months):
        first = (first - dt.timedelta(days=1)).replace(day=1)
        starts.append(first)
    return starts[::-1]


@dataclass(frozen=True)
class FigureNotes:
    """How the figures were read, shown beside the suggestions."""

    contact_from: dt.date
    contact_to: dt.date
    contacts_recorded: int
    intake_months: tuple[dt.date, ...]
    admissions_from: dt.date


def team_figures(team: ServiceUnit, day: dt.date) -> tuple[TeamFigures, FigureNotes]:
    """TeamFigures from the team's records on `day`: caseload, staff FTE, contacts, intakes, admissions.

    Contacts are face-to-face (office or home visit) contacts in the 4 weeks up to `day`,
    one summary per client on the caseload, clients without a contact included. An
    encounter records how many staff were present, not who, so a client counts as seeing
    several staff (H2) only when one contact had two or more present: a lower bound.
    No recorded contacts at all gives no contact-based suggestion (not a score of 1).
    """
    client_ids = list(caseload(team, day).order_by().values_list("person_id", flat=True).distinct())
    staff: dict[Profession, float] = {line.profession: line.fte for line in staff_composition(team, day)}

    contact_from = day - dt.timedelta(days=CONTACT_PERIOD_DAYS - 1)
    approach_from = day - dt.timedelta(days=TEAM_APPROACH_DAYS - 1)
    rows = (Encounter.objects.filter(unit=team, kind=EncounterKind.CONTACT, mode__in=FACE_TO_FACE_MODES,
                                     start_date__gte=contact_from, start_date__lte=day,
                                     person_id__in=caseload(team, day).values("person_id"))
            .values("person_id")
            .annotate(n=Count("id"), minutes=Coalesce(Sum("minutes"), 0),
                      staff=Max("staff_count", filter=Q(start_date__gte=approach_from))))
    by_person = {row["person_id"]: row for row in rows}
    recorded = sum(row["n"] for row in by_person.values())
    contacts: list[ClientContacts] = []
    if recorded:
        for pid in client_ids:
            row = by_person.get(pid)
            contacts.append(ClientContacts(row["n"], row["minutes"], row["staff"] or 0) if row
                            else ClientContacts(0, 0, 0))

    months = _month_starts(day, INTAKE_MONTHS)
    starts = (EpisodeOfCare.objects.filter(unit=team, start_date__gte=months[0], start_date__lt=day.replace(day=1))
              .exclude(status=EpisodeStatus.CANCELLED).values_list("start_date", flat=True))
    per_month = {m: 0 for m in months}
    for start in starts:
        per_month[start.replace(day=1)] += 1

    admissions_from = day - dt.timedelta(days=ADMISSION_WINDOW_DAYS)
    admissions = (Encounter.objects.filter(kind=EncounterKind.ADMISSION, unit__inpatient=True,
                                           start_date__gte=admissions_from, start_date__lte=day,
                                           person_id__in=client_ids)
                  .values("id", "person_id", "start_date", "end_date"))
    # The team's contacts are matched to each admission in Python: two queries whatever the count.
    total, with_team = 0, 0
    admission_list = list(admissions)
    if admission_list:
        lead = dt.timedelta(days=INVOLVEMENT_LEAD_DAYS)
        team_contacts: dict[int, list[dt.date]] = defaultdict(list)
        for person_id, start in Encounter.objects.filter(
                unit=team, kind=EncounterKind.CONTACT, person_id__in={a["person_id"] for a in admission_list},
                start_date__gte=admissions_from - lead, start_date__lte=day).values_list("person_id", "start_date"):
            team_contacts[person_id].append(start)
        for admission in admission_list:
            total += 1
            until = admission["end_date"] or day
            if any(admission["start_date"] - lead <= c <= until for c in team_contacts[admission["person_id"]]):
                with_team += 1

    figures = TeamFigures(
        clients=len(client_ids), staff_fte=staff, client_contacts=contacts,
        contact_period_weeks=CONTACT_PERIOD_DAYS / 7 if contacts else None,
        monthly_intakes=[per_month[m] for m in months],
        hospital_admissions=total, admissions_with_team_involvement=with_team if total else None,
    )
    notes = FigureNotes(contact_from=contact_from, contact_to=day, contacts_recorded=recorded,
                        intake_months=tuple(months), admissions_from=admissions_from)
    return figures, notes


_EXPLANATIONS = {
    "small_caseload": gettext_noop("%(clients)s persons / %(team_staff_fte)s staff FTE (psychiatrist and "
                                   "administrative support not counted) = %(value)s persons per staff FTE"),
    "team_approach": gettext_noop("%(clients_seeing_several_staff)s of %(clients_summarised)s persons met more "
                                  "than one staff member face to face in 2 weeks = %(value)s %%"),
    "psychiatrist_on_staff": gettext_noop("%(fte)s psychiatrist FTE for %(clients)s persons = %(value)s FTE per "
                                          "100 persons"),
    "nurse_on_staff": gettext_noop("%(fte)s nurse FTE for %(clients)s persons = %(value)s FTE per 100 persons"),
    "substance_specialist_on_staff": gettext_noop(
        "%(fte)s substance use specialist FTE for %(clients)s persons = %(value)s FTE per 100 persons (DACTS "
        "counts staff with at least a year's training or experience in the field: check)"),
    "vocational_specialist_on_staff": gettext_noop(
        "%(fte)s employment specialist FTE for %(clients)s persons = %(value)s FTE per 100 persons (DACTS counts "
        "staff with at least a year's training or experience in the field: check)"),
    "program_size": gettext_noop("%(value)s team staff FTE (psychiatrist and administrative support not "
                                 "counted)"),
    "intake_rate": gettext_noop("Highest number of new persons in one month over %(months)s months: %(value)s"),
    "admission_responsibility": gettext_noop("The team had contact in %(admissions_with_team_involvement)s of "
                                             "%(hospital_admissions)s admissions = %(value)s %%"),
    "service_intensity": gettext_noop("%(face_to_face_minutes)s minutes face to face / %(clients_summarised)s "
                                      "persons / %(weeks)s weeks = %(value)s minutes per person per week"),
    "contact_frequency": gettext_noop("%(face_to_face_contacts)s face-to-face contacts / %(clients_summarised)s "
                                      "persons / %(weeks)s weeks = %(value)s contacts per person per week"),
}
UNVERIFIED_NOTE = gettext_noop("These cut-points are not yet checked against the published scale.")


def explain_suggestion(derivation: str | None, score: int, figures: Mapping[str, Any], verified: bool,
                       fallback: str) -> str:
    """The suggestion's figures in the reader's language (the pure core's explanation is English)."""
    template = _EXPLANATIONS.get(derivation or "")
    if template is None:
        return fallback
    values = {key: _number(value) for key, value in figures.items()}
    values["fte"] = next((values[k] for k in figures if k.endswith("_fte") and k != "team_staff_fte"), "")
    try:
        text = _(template) % values
    except (KeyError, TypeError, ValueError):
        return fallback
    text = _("%(figures)s, which gives %(score)s.") % {"figures": text, "score": score}
    return text if verified else f"{text} {_(UNVERIFIED_NOTE)}"


def _number(value: Any) -> str:
    if isinstance(value, float):
        text = f"{value:.2f}".rstrip("0").rstrip(".")
        return text.replace(".", ",") if _language() == "nb" else text
    return str(value)


def suggestions_for(team: ServiceUnit, scale: FidelityScale, day: dt.date
                    ) -> tuple[dict[str, Suggestion], TeamFigures, FigureNotes]:
    figures, notes = team_figures(team, day)
    return {s.item_id: s for s in suggest_scores(scale, figures)}, figures, notes


# --- the team profile ----------------------------------------------------------------------


@dataclass
class BoardRow:
    person: Person
    since: dt.date
    days: int
    reason: str
    note: str


@dataclass
class SomaticHealth:
    available: bool
    clients: int = 0
    checked: int = 0
    gp_contact: int = 0

    @property
    def checked_share(self) -> float | None:
        return self.checked / self.clients if self.clients else None

    @property
    def gp_share(self) -> float | None:
        return self.gp_contact / self.clients if self.clients else None


@dataclass
class TeamOverview:
    team: ServiceUnit
    profile: TeamProfile | None
    staff: list[StaffLine]
    clients: int
    intakes_12m: int
    discharges_12m: int
    board: list[BoardRow] | None  # None for ACT teams
    board_placements_12m: int
    somatic: SomaticHealth
    latest_review: FidelityReview | None
    reviews: list[FidelityReview] = field(default_factory=list)

    @property
    def total_fte(self) -> float:
        return math.fsum(line.fte for line in self.staff)

    @property
    def team_staff_fte(self) -> float:
        return math.fsum(line.fte for line in self.staff if line.counted_as_team_staff)

    @property
    def caseload_per_staff(self) -> float | None:
        return self.clients / self.team_staff_fte if self.team_staff_fte else None

    @property
    def intake_rate(self) -> float:
        return self.intakes_12m / 12

    @property
    def discharge_rate(self) -> float:
        return self.discharges_12m / 12

    @property
    def catchment_below_recommendation(self) -> bool:
        adults = self.profile.catchment_adults if self.profile else None
        return adults is not None and adults < RECOMMENDED_CATCHMENT_ADULTS


def somatic_health(team: ServiceUnit, day: dt.date, client_ids: Sequence[int]) -> SomaticHealth:
    """Share of the caseload with a somatic health check in the last 12 months, and with GP contact.

    GP contact: the person's latest check in the period answers that they saw their GP
    within the 12 months before it. Reads the assessment app's administrations when that
    app is installed; otherwise the figures are "not available".
    """
    try:
        administration = apps.get_model("assessment", "Administration")
    except LookupError:
        return SomaticHealth(available=False)
    latest: dict[int, tuple[dt.date, Any]] = {}
    rows = (administration.objects.filter(instrument_id=SOMATIC_INSTRUMENT, person_id__in=client_ids,
                                          administered_on__gt=day - dt.timedelta(days=365),
                                          administered_on__lte=day)
            .values_list("person_id", "administered_on", "answers"))
    for person_id, on, answers in rows:
        if person_id not in latest or on >= latest[person_id][0]:
            latest[person_id] = (on, answers)
    gp = sum(1 for _on, answers in latest.values()
             if isinstance(answers, dict) and answers.get(GP_CONTACT_ITEM) in GP_CONTACT_WITHIN_YEAR)
    return SomaticHealth(available=True, clients=len(client_ids), checked=len(latest), gp_contact=gp)


def board_now(user: User, team: ServiceUnit, day: dt.date) -> list[BoardRow]:
    """Who is on the FACT board today, through the access rules; the list shown is audited."""
    placements = list(
        BoardPlacement.objects.filter(team=team, since__lte=day)
        .filter(Q(until__isnull=True) | Q(until__gte=day))
        .filter(person__in=visible_persons(user, unit_ids=[team.pk]))
        .select_related("person").order_by("since", "id"))
    if placements:
        audit_person_list(user, [p.person.pid for p in placements], resource="FACT board",
                          detail={"team": team.code})
    return [BoardRow(p.person, p.since, (day - p.since).days, p.get_reason_display(), p.note) for p in placements]


def team_overview(user: User, team: ServiceUnit, day: dt.date) -> TeamOverview:
    year_ago = day - dt.timedelta(days=365)
    client_ids = list(caseload(team, day).order_by().values_list("person_id", flat=True).distinct())
    episodes = EpisodeOfCare.objects.filter(unit=team).exclude(status=EpisodeStatus.CANCELLED).aggregate(
        intakes=Count("id", filter=Q(start_date__gt=year_ago, start_date__lte=day)),
        discharges=Count("id", filter=Q(end_date__gt=year_ago, end_date__lte=day,
                                        status=EpisodeStatus.FINISHED)))
    is_fact = team.kind == UnitKind.FACT
    reviews = list(FidelityReview.objects.filter(team=team).order_by("review_date", "id"))
    return TeamOverview(
        team=team,
        profile=TeamProfile.objects.filter(unit=team).first(),
        staff=staff_composition(team, day),
        clients=len(client_ids),
        intakes_12m=episodes["intakes"],
        discharges_12m=episodes["discharges"],
        board=board_now(user, team, day) if is_fact else None,
        board_placements_12m=(BoardPlacement.objects.filter(team=team, since__gt=year_ago, since__lte=day).count()
                              if is_fact else 0),
        somatic=somatic_health(team, day, client_ids),
        latest_review=reviews[-1] if reviews else None,
        reviews=reviews,
    )


# --- the FACT board ------------------------------------------------------------------------


def _audit_write(user: User, *, action: str, resource: str, outcome: str = "allowed", purpose: str = "",
                 person_pid: str = "", detail: dict[str, Any] | None = None, channel: str = "web") -> None:
    actor, role = _actor(user)
    record_one(AuditEvent(actor=actor, actor_role=role, action=action, outcome=outcome, resource=resource[:120],
                          person_pid=person_pid, purpose=purpose[:200], channel=channel, detail=detail or {}))


def place_on_board(*, user: User, team: ServiceUnit, person: Person, since: dt.date, reason: str,
                   note: str = "") -> BoardPlacement:
    """Put a person (already opened through access.open_person) on a FACT team's board."""
    problem = ""
    if team.kind != UnitKind.FACT:
        problem = _("Only FACT teams have a shared-care board.")
    elif not has_team_role(user, team):
        problem = _(NO_TEAM_ROLE_MESSAGE)
    elif not caseload(team, since).filter(person=person).exists():
        problem = _("The person is not on the team's caseload on that day.")
    elif since > dt.date.today():
        problem = _("The date is in the future.")
    elif BoardPlacement.objects.filter(team=team, person=person, until__isnull=True).exists():
        problem = _("The person is on the board already.")
    elif reason not in {c for c, _label in BoardPlacement._meta.get_field("reason").choices or ()}:
        problem = _("Choose a reason.")
    if problem:
        _audit_write(user, action="create", resource="FACT board", outcome="denied", purpose=problem,
                     person_pid=person.pid, detail={"team": team.code})
        raise ReviewRefused(problem)
    with transaction.atomic():
        placement = BoardPlacement.objects.create(team=team, person=person, since=since, reason=reason,
                                                  note=note[:300], placed_by=user)
        _audit_write(user, action="create", resource="FACT board", person_pid=person.pid,
                     detail={"team": team.code, "since": since.isoformat(), "reason": reason})
    return placement


def take_off_board(*, user: User, team: ServiceUnit, person: Person, until: dt.date) -> BoardPlacement:
    placement = BoardPlacement.objects.filter(team=team, person=person, until__isnull=True).first()
    problem = ""
    if not has_team_role(user, team):
        problem = _(NO_TEAM_ROLE_MESSAGE)
    elif placement is None:
        problem = _("The person is not on the board.")
    elif until < placement.since or until > dt.date.today():
        problem = _("The end date must be between the start on the board and today.")
    if problem or placement is None:
        _audit_write(user, action="update", resource="FACT board", outcome="denied", purpose=problem,
                     person_pid=person.pid, detail={"team": team.code})
        raise ReviewRefused(problem)
    with transaction.atomic():
        placement.until = until
        placement.save(update_fields=["until"])
        _audit_write(user, action="update", resource="FACT board", person_pid=person.pid,
                     detail={"team": team.code, "until": until.isoformat()})
    return placement


# --- recording a review --------------------------------------------------------------------


def audit_refused_form(user: User, *, team: ServiceUnit, scale_id: str, errors: str) -> None:
    """A review form that did not even parse (no date, no reviewer) is refused and audited too."""
    _audit_write(user, action="create", resource=REVIEW_RESOURCE, outcome="denied", purpose="form errors",
                 detail={"team": team.code, "scale": scale_id, "errors": errors[:1000]})


def _suggestion_json(suggestions: Mapping[str, Suggestion]) -> dict[str, Any]:
    return {item_id: {"score": s.score, "figures": s.figures, "explanation": s.explanation,
                      "anchors_verified": s.anchors_verified} for item_id, s in suggestions.items()}


def _first_problem(scale: FidelityScale, scores: Mapping[str, Any], justifications: Mapping[str, str]) -> str:
    """The user's mistake in words they read (score_review checks the same again, in English, for the API)."""
    missing = [item.id for item in scale.items if item.id not in scores]
    if missing:
        return _("No score for item(s) %(items)s: give a score or mark them not rated.") % {
            "items": ", ".join(missing)}
    bad = [item.id for item in scale.items
           if scores[item.id] is not None and (isinstance(scores[item.id], bool)
                                               or not isinstance(scores[item.id], int)
                                               or not 1 <= scores[item.id] <= 5)]
    if bad:
        return _("The score must be a whole number from 1 to 5 for item(s) %(items)s.") % {"items": ", ".join(bad)}
    unjustified = [item.id for item in scale.items
                   if (item.justification_required or scores[item.id] is None)
                   and not (justifications.get(item.id) or "").strip()]
    if unjustified:
        return _("A justification is required for item(s) %(items)s (the scale requires one, or the item is "
                 "not rated).") % {"items": ", ".join(unjustified)}
    return ""


def record_review(
    *,
    user: User,
    team: ServiceUnit,
    scale_id: str,
    review_date: dt.date,
    reviewers: Sequence[User],
    scores: Mapping[str, Any],
    justifications: Mapping[str, str],
    suggestions: Mapping[str, Suggestion] | None = None,
    channel: str = "web",
) -> FidelityReview:
    """Score and store a fidelity review; ReviewRefused (audited, nothing saved) when anything does not fit.

    Refused: a user or reviewer without a role in the team, an unknown scale, a date in
    the future or one the team already has a review of this scale for, scores outside
    1-5, a missing justification where the scale requires one (or the item is not rated).
    """
    problem = ""
    result: FidelityResult | None = None
    scale: FidelityScale | None = None
    if not has_team_role(user, team) or team.kind not in TEAM_KINDS:
        problem = _(NO_TEAM_ROLE_MESSAGE)
    elif not reviewers:
        problem = _("Name at least one reviewer.")
    else:
        members = set(active_memberships(team, review_date).values_list("user_id", flat=True))
        members &= set(active_memberships(team, dt.date.today()).values_list("user_id", flat=True))
        outsiders = sorted(r.get_username() for r in reviewers
                           if r.pk not in members or r.role not in STAFF_ROLES)
        if outsiders:
            problem = _("Reviewer(s) without a role in the team: %(names)s.") % {"names": ", ".join(outsiders)}
    if not problem:
        try:
            scale = get_scale(scale_id)
        except ReviewRefused as exc:
            problem = str(exc)
    if not problem and review_date > dt.date.today():
        problem = _("The review date is in the future.")
    if not problem and FidelityReview.objects.filter(team=team, scale_id=scale_id, review_date=review_date).exists():
        problem = _("The team already has a review on this scale for that date.")
    if not problem and scale is not None:
        problem = _first_problem(scale, scores, justifications)
    if not problem and scale is not None:
        try:
            result = score_review(scale, dict(scores), {k: v for k, v in justifications.items() if v})
        except ReviewError as exc:
            problem = str(exc)
    detail = {"team": team.code, "scale": scale_id, "review_date": review_date.isoformat()}
    if problem or result is None or scale is None:
        _audit_write(user, action="create", resource=REVIEW_RESOURCE, outcome="denied", purpose=problem,
                     detail=detail, channel=channel)
        raise ReviewRefused(problem)
    try:
        with transaction.atomic():
            review = FidelityReview.objects.create(
                team=team, scale_id=scale.id, scale_version=scale.version, review_date=review_date,
                recorded_by=user, total_mean=result.total_mean, total_score=result.total_score,
                subscale_means=result.subscale_means, complete=result.complete,
                level_id=result.level.id if result.level else "",
                provisional_level_id=result.provisional_level.id if result.provisional_level else "",
                suggestions=_suggestion_json(suggestions or {}),
            )
            review.reviewers.set(reviewers)
            FidelityItemScore.objects.bulk_create([
                FidelityItemScore(review=review, item_id=item.item_id, subscale=item.subscale, position=index,
                                  score=item.score, justification=item.justification or "")
                for index, item in enumerate(result.items)])
            _audit_write(user, action="create", resource=REVIEW_RESOURCE,
                         detail={**detail, "review": review.pk, "total_mean": result.total_mean}, channel=channel)
    except IntegrityError:  # a concurrent review for the same day
        problem = _("The team already has a review on this scale for that date.")
        _audit_write(user, action="create", resource=REVIEW_RESOURCE, outcome="denied", purpose=problem,
                     detail=detail, channel=channel)
        raise ReviewRefused(problem) from None
    return review


# --- reading reviews -----------------------------------------------------------------------


def stored_result(review: FidelityReview, items: Iterable[FidelityItemScore], scale: FidelityScale | None
                  ) -> FidelityResult:
    """The review's stored scores as a FidelityResult (levels from the scale when it is still loaded)."""
    level = provisional = None
    if scale is not None:
        levels = {lv.id: lv for lv in scale.levels}
        level = levels.get(review.level_id)
        provisional = levels.get(review.provisional_level_id)
    return FidelityResult(
        scale_id=review.scale_id, scale_version=review.scale_version,
        items=tuple(ItemResult(i.item_id, i.subscale, i.score, i.justification or None) for i in items),
        subscale_means=dict(review.subscale_means), total_mean=review.total_mean, complete=review.complete,
        level=level, provisional_level=provisional,
    )


@dataclass
class ReportRow:
    item_id: str
    name: str
    subscale: str
    score: int | None
    justification: str
    previous: int | None
    change: int | None
    direction: str
    suggestion: dict[str, Any] | None
    explanation: str = ""


def _stored_explanation(derivation: str | None, stored: Mapping[str, Any] | None) -> str:
    if not stored:
        return ""
    return explain_suggestion(derivation, stored.get("score", 0), stored.get("figures", {}),
                              bool(stored.get("anchors_verified")), str(stored.get("explanation", "")))


@dataclass
class ReviewReport:
    review: FidelityReview
    scale: FidelityScale | None
    result: FidelityResult
    previous: FidelityReview | None
    rows: list[ReportRow]
    subscales: list[tuple[str, str, float | None, float | None]]  # id, name, mean, previous mean
    reviewer_names: list[str]

    @property
    def level_name(self) -> str:
        return _level_name(self.scale, self.review.level_id or self.review.provisional_level_id)


def _level_name(scale: FidelityScale | None, level_id: str) -> str:
    if not level_id:
        return ""
    language = _language()
    if scale is not None:
        for level in scale.levels:
            if level.id == level_id:
                return level.name.get(language)
    return level_id


def level_name(scale_id: str, level_id: str) -> str:
    return _level_name(available_scales().get(scale_id), level_id)


def _language() -> str:
    from django.utils.translation import get_language

    return "nb" if (get_language() or "nb").startswith("nb") else "en"


def review_report(review: FidelityReview) -> ReviewReport:
    """The review with item-by-item change since the team's previous review on the same scale."""
    scale = available_scales().get(review.scale_id)
    items = list(review.item_scores.all())
    result = stored_result(review, items, scale)
    previous = (FidelityReview.objects.filter(team_id=review.team_id, scale_id=review.scale_id)
                .filter(Q(review_date__lt=review.review_date) | Q(review_date=review.review_date, id__lt=review.pk))
                .order_by("-review_date", "-id").prefetch_related("item_scores").first())
    changes: dict[str, ItemChange] = {}
    previous_means: dict[str, float | None] = {}
    if previous is not None:
        before = stored_result(previous, previous.item_scores.all(), scale)
        changes = {c.item_id: c for c in compare_reviews(before, result)}
        previous_means = dict(previous.subscale_means)
    language = _language()
    names = {it.id: it.name.get(language) for it in scale.items} if scale else {}
    derivations = {it.id: it.derivation for it in scale.items} if scale else {}
    rows = []
    for item in items:
        change = changes.get(item.item_id)
        rows.append(ReportRow(
            item_id=item.item_id, name=names.get(item.item_id, item.item_id), subscale=item.subscale,
            score=item.score, justification=item.justification,
            previous=change.previous if change else None, change=change.change if change else None,
            direction=change.direction if change else "", suggestion=review.suggestions.get(item.item_id),
            explanation=_stored_explanation(derivations.get(item.item_id), review.suggestions.get(item.item_id))))
    subscales = []
    subscale_names = {s.id: s.name.get(language) for s in scale.subscales} if scale else {}
    for subscale_id, mean in review.subscale_means.items():
        subscales.append((subscale_id, subscale_names.get(subscale_id, subscale_id), mean,
                          previous_means.get(subscale_id)))
    reviewer_names = sorted(u.get_full_name() or u.get_username() for u in review.reviewers.all())
    return ReviewReport(review=review, scale=scale, result=result, previous=previous, rows=rows,
                        subscales=subscales, reviewer_names=reviewer_names)


# --- regional view -------------------------------------------------------------------------


@dataclass
class TeamSeries:
    team: ServiceUnit
    points: list[tuple[dt.date, float | None, str]]  # review date, total mean, level id


@dataclass
class RegionFidelity:
    region_name: str
    teams: list[TeamSeries]


def regional_fidelity(user: User, scale_id: str) -> list[RegionFidelity]:
    """Every team's reviews on the scale over time, grouped by region (the analyst's own region if set)."""
    reviews = (FidelityReview.objects.filter(scale_id=scale_id)
               .select_related("team__trust__region").order_by("review_date", "id"))
    if user.region_id is not None:
        reviews = reviews.filter(team__trust__region_id=user.region_id)
    regions: dict[str, dict[int, TeamSeries]] = defaultdict(dict)
    for review in reviews:
        trust = review.team.trust
        region = trust.region.name if trust is not None else _("No region")
        series = regions[region].setdefault(review.team_id, TeamSeries(review.team, []))
        series.points.append((review.review_date, review.total_mean, review.level_id))
    return [RegionFidelity(name, sorted(teams.values(), key=lambda s: s.team.name))
            for name, teams in sorted(regions.items())]


# --- export --------------------------------------------------------------------------------

EXPORT_COLUMNS = [
    "review_id", "team_code", "team_name", "team_kind", "trust", "region", "scale_id", "scale_version",
    "review_date", "reviewers", "total_mean", "total_score", "complete", "level", "item_id", "subscale",
    "score", "justification",
]


def reviews_for_export(*, user: User | None, team: ServiceUnit | None = None, region_code: str | None = None
                       ) -> QuerySet[FidelityReview]:
    """Reviews a user may export (their team's, or an analyst's region); user None = system (CLI)."""
    reviews = (FidelityReview.objects.select_related("team__trust__region")
               .prefetch_related("item_scores", "reviewers").order_by("team__code", "review_date", "id"))
    if team is not None:
        reviews = reviews.filter(team=team)
    if region_code:
        reviews = reviews.filter(team__trust__region__code=region_code)
    if user is not None and user.role == Role.ANALYST and user.region_id is not None:
        reviews = reviews.filter(team__trust__region_id=user.region_id)
    return reviews


def review_as_dict(review: FidelityReview) -> dict[str, Any]:
    trust = review.team.trust
    return {
        "review_id": review.pk, "team_code": review.team.code, "team_name": review.team.name,
        "team_kind": review.team.kind, "trust": trust.name if trust else "",
        "region": trust.region.code if trust else "", "scale_id": review.scale_id,
        "scale_version": review.scale_version, "review_date": review.review_date.isoformat(),
        "reviewers": sorted(u.get_full_name() or u.get_username() for u in review.reviewers.all()),
        "total_mean": review.total_mean, "total_score": review.total_score, "complete": review.complete,
        "level": review.level_id, "subscale_means": review.subscale_means,
        "items": [{"item_id": i.item_id, "subscale": i.subscale, "score": i.score,
                   "justification": i.justification} for i in review.item_scores.all()],
    }


def export_json(reviews: Iterable[FidelityReview]) -> str:
    return json.dumps({"reviews": [review_as_dict(r) for r in reviews]}, ensure_ascii=False, indent=2)


def export_csv(reviews: Iterable[FidelityReview]) -> str:
    """One row per item of each review, the review's figures repeated on each row."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for review in reviews:
        data = review_as_dict(review)
        head = [data[c] for c in EXPORT_COLUMNS[:14]]
        head[9] = "; ".join(data["reviewers"])
        head[10] = "" if data["total_mean"] is None else f"{data['total_mean']:.4f}"
        for item in data["items"]:
            writer.writerow([*head, item["item_id"], item["subscale"],
                             "" if item["score"] is None else item["score"], item["justification"]])
    return out.getvalue()


def audit_export(user: User | None, *, fmt: str, count: int, channel: str, scope: str) -> None:
    if user is None:
        record_one(system_event("fidelity export", "export", resource=REVIEW_RESOURCE,
                                detail={"format": fmt, "reviews": count, "scope": scope}))
    else:
        _audit_write(user, action="export", resource=REVIEW_RESOURCE, channel=channel,
                     detail={"format": fmt, "reviews": count, "scope": scope})
