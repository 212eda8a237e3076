"""Pre-fill for fidelity reviews: suggested item scores from a team's own figures.

Pure functions, no Django. Each rule turns plain team figures (caseload, staff
FTE by profession, contact summaries, admissions, intakes) into a Suggestion:
the score the DACTS anchors give, the figures behind it and a sentence saying how
it was reached. The reviewer confirms or overrides it; a suggestion is never a
rating by itself.

Anchors from the Dartmouth Assertive Community Treatment Scale (DACTS; Teague,
Bond & Drake 1998, public domain, as in SAMHSA's ACT EBP KIT 2008). The cut-points
of H1 and H2 were checked against a published copy of the scale (Maine's ACT
Fidelity Scale, 14-193 CMR ch. 2 app. 193-2-A; H1 also in the domain facts); the
others are carried with anchors_verified=False until someone checks them against
the DACTS text, and their explanations say so.

Between two bands (a ratio of 20.5 lies between "11-20" and "21-34") a figure gets
the lower score: a better score needs the figure the anchor names. Figures are
rounded to 6 decimals before they are compared, so float noise never moves an edge.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from helhet.teams.fidelity import FidelityScale, ScaleError


class Profession(StrEnum):
    PSYCHIATRIST = "psychiatrist"
    NURSE = "nurse"
    SUBSTANCE_SPECIALIST = "substance_specialist"  # rusfaglig spesialist
    VOCATIONAL_SPECIALIST = "vocational_specialist"  # jobbspesialist (IPS)
    PSYCHOLOGIST = "psychologist"
    SOCIAL_WORKER = "social_worker"
    PEER_SPECIALIST = "peer_specialist"  # erfaringskonsulent
    CASE_MANAGER = "case_manager"
    TEAM_LEADER = "team_leader"
    GP = "gp"
    OTHER_CLINICAL = "other_clinical"
    ADMINISTRATIVE = "administrative"


# DACTS protocol (H1, H11): the staff count leaves out the psychiatrist and administrative support.
# Unconfirmed: recalled from the SAMHSA 2008 protocol, not re-checked against its text.
NOT_COUNTED_AS_TEAM_STAFF = frozenset({Profession.PSYCHIATRIST, Profession.ADMINISTRATIVE})


class TeamFiguresError(ValueError):
    """A team figure is impossible (negative, more involved admissions than admissions ...)."""


def _count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TeamFiguresError(f"{what} must be a whole number 0 or more, got {value!r}")
    return value


def _amount(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise TeamFiguresError(f"{what} must be a finite number 0 or more, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class ClientContacts:
    """One client's face-to-face contacts with the team over the contact period.

    Give one per client on the caseload (or per client in the reviewer's chart
    sample), clients without any contact included, else the shares and means are
    too high.
    """

    face_to_face_contacts: int
    face_to_face_minutes: int
    staff_seen_in_two_weeks: int  # distinct staff with face-to-face contact in a 2-week window (DACTS H2)

    def __post_init__(self) -> None:
        _count(self.face_to_face_contacts, "face_to_face_contacts")
        _count(self.face_to_face_minutes, "face_to_face_minutes")
        _count(self.staff_seen_in_two_weeks, "staff_seen_in_two_weeks")


@dataclass(frozen=True)
class TeamFigures:
    """What a team knows about itself at review time. A figure left at its default is unknown,
    and the rules that need it make no suggestion."""

    clients: int  # clients on the caseload
    staff_fte: Mapping[Profession, float] = field(default_factory=dict)  # empty: staffing unknown
    client_contacts: Sequence[ClientContacts] = ()
    contact_period_weeks: float | None = None  # the period client_contacts covers (S4, S5)
    monthly_intakes: Sequence[int] = ()  # new clients per month; DACTS O2 looks at the last 6 months
    hospital_admissions: int | None = None  # psychiatric admissions of the team's clients
    admissions_with_team_involvement: int | None = None

    def __post_init__(self) -> None:
        _count(self.clients, "clients")
        staff: dict[Profession, float] = {}
        for key, fte in self.staff_fte.items():
            try:
                profession = Profession(key)
            except ValueError:
                raise TeamFiguresError(f"staff_fte: unknown profession {key!r}") from None
            staff[profession] = _amount(fte, f"staff_fte[{profession}]")
        object.__setattr__(self, "staff_fte", staff)
        for contacts in self.client_contacts:
            if not isinstance(contacts, ClientContacts):
                raise TeamFiguresError(f"client_contacts must hold ClientContacts, got {contacts!r}")
        object.__setattr__(self, "client_contacts", tuple(self.client_contacts))
        if (
            self.contact_period_weeks is not None
            and _amount(self.contact_period_weeks, "contact_period_weeks") == 0
        ):
            raise TeamFiguresError("contact_period_weeks must be above 0")
        object.__setattr__(
            self, "monthly_intakes", tuple(_count(n, "monthly_intakes") for n in self.monthly_intakes)
        )
        if self.hospital_admissions is not None:
            _count(self.hospital_admissions, "hospital_admissions")
        if self.admissions_with_team_involvement is not None:
            involved = _count(self.admissions_with_team_involvement, "admissions_with_team_involvement")
            if self.hospital_admissions is None or involved > self.hospital_admissions:
                raise TeamFiguresError(
                    "admissions_with_team_involvement must not exceed hospital_admissions "
                    f"({involved} > {self.hospital_admissions})"
                )

    def fte(self, profession: Profession) -> float:
        return self.staff_fte.get(profession, 0.0)

    @property
    def team_staff_fte(self) -> float:
        """FTE counted as team staff for DACTS H1 and H11 (see NOT_COUNTED_AS_TEAM_STAFF)."""
        return math.fsum(fte for p, fte in self.staff_fte.items() if p not in NOT_COUNTED_AS_TEAM_STAFF)


@dataclass(frozen=True)
class Suggestion:
    item_id: str
    score: int
    figures: dict[str, float | int | str]
    explanation: str
    anchors_verified: bool  # the cut-points were checked against a published copy of the scale


@dataclass(frozen=True)
class Anchors:
    """The cut-points between the five scores of one item.

    higher_is_better: `cut_points` are the lowest figures for scores 2, 3, 4, 5.
    Otherwise they are the highest figures for scores 2, 3, 4, 5.
    """

    cut_points: tuple[float, float, float, float]
    higher_is_better: bool
    unit: str
    verified: bool

    def __post_init__(self) -> None:
        steps = zip(self.cut_points, self.cut_points[1:], strict=False)
        if not all((a < b) if self.higher_is_better else (a > b) for a, b in steps):
            raise ValueError(f"cut-points must run from score 2 to score 5: {self.cut_points}")

    def score(self, figure: float) -> int:
        figure = round(figure, 6)
        if self.higher_is_better:
            return 1 + sum(1 for cut in self.cut_points if figure >= cut)
        return 1 + sum(1 for cut in self.cut_points if figure <= cut)

    def describe(self) -> str:
        c = [f"{cut:g}" for cut in self.cut_points]
        if self.higher_is_better:
            bands = f"1 below {c[0]}, 2 from {c[0]}, 3 from {c[1]}, 4 from {c[2]}, 5 from {c[3]}"
        else:
            bands = (
                f"5 at {c[3]} or less, 4 at {c[2]} or less, 3 at {c[1]} or less, 2 at {c[0]} or less, else 1"
            )
        note = "" if self.verified else " These cut-points are not yet checked against the published scale."
        return f"DACTS anchors ({self.unit}): {bands}.{note}"


# DACTS anchors (Teague, Bond & Drake 1998). verified=True only where checked against a published copy.
_UP, _DOWN = True, False  # higher_is_better
DACTS_ANCHORS: dict[str, Anchors] = {
    # H1: >=50 clients per staff member = 1, 35-49 = 2, 21-34 = 3, 11-20 = 4, <=10 = 5.
    "H1": Anchors((49, 34, 20, 10), _DOWN, unit="clients per staff FTE", verified=True),
    # H2: <10% = 1, 10-36% = 2, 37-63% = 3, 64-89% = 4, >=90% = 5.
    "H2": Anchors(
        (10, 37, 64, 90),
        _UP,
        unit="% of clients seen by more than one staff member in 2 weeks",
        verified=True,
    ),
    # H7: <0.10 FTE per 100 clients = 1, 0.10-0.39 = 2 (checked); 0.40-0.69, 0.70-0.99, >=1.00 (not checked).
    "H7": Anchors((0.10, 0.40, 0.70, 1.00), _UP, unit="psychiatrist FTE per 100 clients", verified=False),
    # H8-H10: <0.20 FTE per 100 clients = 1, 0.20-0.79, 0.80-1.39, 1.40-1.99, >=2.00 = 5.
    "H8": Anchors((0.20, 0.80, 1.40, 2.00), _UP, unit="nurse FTE per 100 clients", verified=False),
    "H9": Anchors(
        (0.20, 0.80, 1.40, 2.00), _UP, unit="substance abuse specialist FTE per 100 clients", verified=False
    ),
    "H10": Anchors(
        (0.20, 0.80, 1.40, 2.00), _UP, unit="vocational specialist FTE per 100 clients", verified=False
    ),
    # H11: <2.5 FTE = 1, 2.5-4.9, 5.0-7.4, 7.5-9.9, >=10 FTE = 5.
    "H11": Anchors((2.5, 5.0, 7.5, 10.0), _UP, unit="team staff FTE", verified=False),
    # O2: the highest monthly intake in the last 6 months; >15 = 1, 13-15, 10-12, 7-9, <=6 = 5.
    "O2": Anchors((15, 12, 9, 6), _DOWN, unit="highest number of new clients in a month", verified=False),
    # O5: <5% of admissions involve the team = 1, 5-34%, 35-64%, 65-94%, >=95% = 5.
    "O5": Anchors((5, 35, 65, 95), _UP, unit="% of admissions the team was involved in", verified=False),
    # S4: <15 minutes a week per client = 1, 15-49, 50-84, 85-119, >=2 hours = 5.
    "S4": Anchors(
        (15, 50, 85, 120), _UP, unit="minutes of face-to-face contact per client per week", verified=False
    ),
    # S5: <1 face-to-face contact a week per client = 1, 1-2, 2-3, 3-4, >=4 = 5.
    "S5": Anchors((1, 2, 3, 4), _UP, unit="face-to-face contacts per client per week", verified=False),
}


def _suggest(
    item_id: str, anchor_key: str, figure: float, figures: dict[str, float | int | str], how: str
) -> Suggestion:
    anchors = DACTS_ANCHORS[anchor_key]
    figure = round(figure, 6)
    score = anchors.score(figure)
    return Suggestion(
        item_id=item_id,
        score=score,
        figures={**figures, "value": figure},
        explanation=f"{how} = {figure:g} {anchors.unit}, which gives {score}. {anchors.describe()}",
        anchors_verified=anchors.verified,
    )


def small_caseload(figures: TeamFigures, item_id: str = "H1") -> Suggestion | None:
    """DACTS H1: clients per team staff FTE (psychiatrist and administrative support not counted)."""
    staff = figures.team_staff_fte
    if figures.clients == 0 or staff == 0:
        return None
    return _suggest(
        item_id,
        "H1",
        figures.clients / staff,
        {"clients": figures.clients, "team_staff_fte": staff},
        f"{figures.clients} clients / {staff:g} staff FTE (psychiatrist and administrative support not counted)",
    )


def team_approach(figures: TeamFigures, item_id: str = "H2") -> Suggestion | None:
    """DACTS H2: share of clients with face-to-face contact with more than one staff member in 2 weeks."""
    clients = len(figures.client_contacts)
    if clients == 0:
        return None
    several = sum(1 for c in figures.client_contacts if c.staff_seen_in_two_weeks > 1)
    return _suggest(
        item_id,
        "H2",
        100 * several / clients,
        {"clients_summarised": clients, "clients_seeing_several_staff": several},
        f"{several} of {clients} clients saw more than one staff member face to face in 2 weeks",
    )


def _per_100_clients(
    figures: TeamFigures, profession: Profession, item_id: str, anchor_key: str
) -> Suggestion | None:
    if figures.clients == 0 or not figures.staff_fte:
        return None
    fte = figures.fte(profession)
    how = f"{fte:g} {profession.value.replace('_', ' ')} FTE for {figures.clients} clients, per 100 clients"
    if profession in {Profession.SUBSTANCE_SPECIALIST, Profession.VOCATIONAL_SPECIALIST}:
        how += " (DACTS counts staff with at least a year's training or experience in the field: check)"
    return _suggest(
        item_id,
        anchor_key,
        100 * fte / figures.clients,
        {"clients": figures.clients, f"{profession.value}_fte": fte},
        how,
    )


def psychiatrist_on_staff(figures: TeamFigures, item_id: str = "H7") -> Suggestion | None:
    """DACTS H7: psychiatrist FTE per 100 clients."""
    return _per_100_clients(figures, Profession.PSYCHIATRIST, item_id, "H7")


def nurse_on_staff(figures: TeamFigures, item_id: str = "H8") -> Suggestion | None:
    """DACTS H8: nurse FTE per 100 clients."""
    return _per_100_clients(figures, Profession.NURSE, item_id, "H8")


def substance_specialist_on_staff(figures: TeamFigures, item_id: str = "H9") -> Suggestion | None:
    """DACTS H9: substance abuse specialist FTE per 100 clients."""
    return _per_100_clients(figures, Profession.SUBSTANCE_SPECIALIST, item_id, "H9")


def vocational_specialist_on_staff(figures: TeamFigures, item_id: str = "H10") -> Suggestion | None:
    """DACTS H10: vocational specialist FTE per 100 clients."""
    return _per_100_clients(figures, Profession.VOCATIONAL_SPECIALIST, item_id, "H10")


def program_size(figures: TeamFigures, item_id: str = "H11") -> Suggestion | None:
    """DACTS H11: team staff FTE (counted as for H1)."""
    if not figures.staff_fte:
        return None
    staff = figures.team_staff_fte
    return _suggest(
        item_id,
        "H11",
        staff,
        {"team_staff_fte": staff},
        "Team staff FTE (psychiatrist and administrative support not counted)",
    )


def intake_rate(figures: TeamFigures, item_id: str = "O2") -> Suggestion | None:
    """DACTS O2: the highest monthly intake over the months given (DACTS: the last 6)."""
    if not figures.monthly_intakes:
        return None
    months = len(figures.monthly_intakes)
    highest = max(figures.monthly_intakes)
    return _suggest(
        item_id,
        "O2",
        highest,
        {"months": months, "highest_monthly_intake": highest},
        f"Highest monthly intake over {months} month(s)" + ("" if months == 6 else " (DACTS looks at 6)"),
    )


def admission_responsibility(figures: TeamFigures, item_id: str = "O5") -> Suggestion | None:
    """DACTS O5: share of the clients' psychiatric admissions the team was involved in."""
    total, involved = figures.hospital_admissions, figures.admissions_with_team_involvement
    if not total or involved is None:
        return None
    return _suggest(
        item_id,
        "O5",
        100 * involved / total,
        {"hospital_admissions": total, "admissions_with_team_involvement": involved},
        f"The team was involved in {involved} of {total} admissions",
    )


def _contact_rate(figures: TeamFigures) -> tuple[int, float] | None:
    clients = len(figures.client_contacts)
    if clients == 0 or figures.contact_period_weeks is None:
        return None
    return clients, figures.contact_period_weeks


def service_intensity(figures: TeamFigures, item_id: str = "S4") -> Suggestion | None:
    """DACTS S4: mean minutes of face-to-face contact per client per week."""
    rate = _contact_rate(figures)
    if rate is None:
        return None
    clients, weeks = rate
    minutes = sum(c.face_to_face_minutes for c in figures.client_contacts)
    return _suggest(
        item_id,
        "S4",
        minutes / (clients * weeks),
        {"clients_summarised": clients, "weeks": weeks, "face_to_face_minutes": minutes},
        f"{minutes} minutes face to face / {clients} clients / {weeks:g} weeks",
    )


def contact_frequency(figures: TeamFigures, item_id: str = "S5") -> Suggestion | None:
    """DACTS S5: mean face-to-face contacts per client per week."""
    rate = _contact_rate(figures)
    if rate is None:
        return None
    clients, weeks = rate
    contacts = sum(c.face_to_face_contacts for c in figures.client_contacts)
    return _suggest(
        item_id,
        "S5",
        contacts / (clients * weeks),
        {"clients_summarised": clients, "weeks": weeks, "face_to_face_contacts": contacts},
        f"{contacts} face-to-face contacts / {clients} clients / {weeks:g} weeks",
    )


Rule = Callable[[TeamFigures, str], Suggestion | None]

# The names a scale file's item may give as its "derivation".
RULES: dict[str, Rule] = {
    "small_caseload": small_caseload,
    "team_approach": team_approach,
    "psychiatrist_on_staff": psychiatrist_on_staff,
    "nurse_on_staff": nurse_on_staff,
    "substance_specialist_on_staff": substance_specialist_on_staff,
    "vocational_specialist_on_staff": vocational_specialist_on_staff,
    "program_size": program_size,
    "intake_rate": intake_rate,
    "admission_responsibility": admission_responsibility,
    "service_intensity": service_intensity,
    "contact_frequency": contact_frequency,
}


def suggest_scores(scale: FidelityScale, figures: TeamFigures) -> list[Suggestion]:
    """Suggestions for every item of the scale that names a pre-fill rule and has the figures it needs."""
    suggestions = []
    for item in scale.items:
        if item.derivation is None:
            continue
        rule = RULES.get(item.derivation)
        if rule is None:
            raise ScaleError(
                f"{scale.source}: items ({item.id}).derivation: unknown pre-fill rule {item.derivation!r}"
            )
        suggestion = rule(figures, item.id)
        if suggestion is not None:
            suggestions.append(suggestion)
    return suggestions
