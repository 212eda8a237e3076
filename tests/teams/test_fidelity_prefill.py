"""Pre-filled fidelity scores: hand-computed teams, every DACTS anchor edge, missing figures, refusals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from helhet.teams.fidelity import ScaleError, parse_scale, shipped_scales
from helhet.teams.prefill import (
    DACTS_ANCHORS,
    RULES,
    Anchors,
    ClientContacts,
    Profession,
    Suggestion,
    TeamFigures,
    TeamFiguresError,
    admission_responsibility,
    contact_frequency,
    intake_rate,
    nurse_on_staff,
    program_size,
    psychiatrist_on_staff,
    service_intensity,
    small_caseload,
    substance_specialist_on_staff,
    suggest_scores,
    team_approach,
    vocational_specialist_on_staff,
)

P = Profession


def synthetic_team() -> TeamFigures:
    """A made-up team: 95 clients, 10 FTE team staff plus a psychiatrist and a secretary."""
    return TeamFigures(
        clients=95,
        staff_fte={
            P.CASE_MANAGER: 5.0,
            P.NURSE: 2.0,
            P.SUBSTANCE_SPECIALIST: 1.0,
            P.VOCATIONAL_SPECIALIST: 1.0,
            P.TEAM_LEADER: 1.0,
            P.PSYCHIATRIST: 1.0,
            P.ADMINISTRATIVE: 0.5,
        },
        # 4 clients over 2 weeks: 540 minutes, 26 contacts; 3 of 4 saw more than one staff member.
        client_contacts=[
            ClientContacts(face_to_face_contacts=10, face_to_face_minutes=300, staff_seen_in_two_weeks=3),
            ClientContacts(face_to_face_contacts=8, face_to_face_minutes=180, staff_seen_in_two_weeks=2),
            ClientContacts(face_to_face_contacts=8, face_to_face_minutes=60, staff_seen_in_two_weeks=2),
            ClientContacts(face_to_face_contacts=0, face_to_face_minutes=0, staff_seen_in_two_weeks=0),
        ],
        contact_period_weeks=2,
        monthly_intakes=[4, 6, 3, 8, 2, 5],
        hospital_admissions=12,
        admissions_with_team_involvement=9,
    )


def by_item(suggestions: list[Suggestion]) -> dict[str, Suggestion]:
    return {s.item_id: s for s in suggestions}


# --- a hand-computed team ------------------------------------------------------------------


def test_hand_computed_team_against_dacts() -> None:
    got = by_item(suggest_scores(shipped_scales()["dacts"], synthetic_team()))
    assert {k: s.score for k, s in got.items()} == {
        "H1": 5,  # 95 / 10 FTE = 9.5 clients per staff member (<= 10)
        "H2": 4,  # 3 of 4 = 75% (64-89%)
        "H7": 5,  # 1.0 FTE / 95 clients = 1.05 per 100 (>= 1.00)
        "H8": 5,  # 2.0 / 95 = 2.11 per 100 (>= 2.00)
        "H9": 3,  # 1.0 / 95 = 1.05 per 100 (0.80-1.39)
        "H10": 3,  # likewise
        "H11": 5,  # 10 FTE team staff (>= 10)
        "O2": 4,  # highest monthly intake 8 (7-9)
        "O5": 4,  # 9 of 12 = 75% (65-94%)
        "S4": 3,  # 540 min / 4 clients / 2 weeks = 67.5 min a week (50-84)
        "S5": 4,  # 26 contacts / 4 clients / 2 weeks = 3.25 a week (3-4)
    }


def test_suggestions_carry_their_figures_and_explanation() -> None:
    team = synthetic_team()
    h1 = small_caseload(team)
    assert h1 == Suggestion(
        item_id="H1",
        score=5,
        figures={"clients": 95, "team_staff_fte": 10.0, "value": 9.5},
        explanation=h1.explanation if h1 else "",
        anchors_verified=True,
    )
    assert h1 is not None
    assert h1.explanation.startswith(
        "95 clients / 10 staff FTE (psychiatrist and administrative support not counted)"
    )
    assert "= 9.5 clients per staff FTE, which gives 5" in h1.explanation
    assert "not yet checked" not in h1.explanation

    h7 = psychiatrist_on_staff(team)
    assert h7 is not None and not h7.anchors_verified
    assert h7.figures == {"clients": 95, "psychiatrist_fte": 1.0, "value": pytest.approx(100 / 95, abs=1e-6)}
    assert "not yet checked against the published scale" in h7.explanation

    s4 = service_intensity(team)
    assert s4 is not None
    assert s4.figures == {"clients_summarised": 4, "weeks": 2, "face_to_face_minutes": 540, "value": 67.5}
    h9 = substance_specialist_on_staff(team)
    assert h9 is not None and "at least a year's training or experience" in h9.explanation


def test_rules_take_the_item_id_of_the_scale() -> None:
    suggestion = small_caseload(synthetic_team(), "T2")
    assert suggestion is not None and suggestion.item_id == "T2"


# --- every anchor edge ---------------------------------------------------------------------


def staff(clients: int, **fte: float) -> TeamFigures:
    return TeamFigures(clients=clients, staff_fte={P(k): v for k, v in fte.items()})


@pytest.mark.parametrize(
    ("clients", "fte", "score"),
    [
        (95, 10, 5), (10, 1, 5), (21, 2, 4), (11, 1, 4), (20, 1, 4), (41, 2, 3), (21, 1, 3),
        (34, 1, 3), (69, 2, 2), (35, 1, 2), (49, 1, 2), (99, 2, 1), (50, 1, 1), (200, 1, 1),
    ],
)  # fmt: skip
def test_h1_small_caseload_edges(clients: int, fte: float, score: int) -> None:
    # 21/2 = 10.5 and 41/2 = 20.5 and 69/2 = 34.5 and 99/2 = 49.5 fall between bands: the lower score
    suggestion = small_caseload(staff(clients, case_manager=fte))
    assert suggestion is not None and suggestion.score == score


def test_h1_leaves_out_psychiatrist_and_administrative_staff() -> None:
    team = staff(100, case_manager=9, psychiatrist=1, administrative=1)
    suggestion = small_caseload(team)
    assert suggestion is not None and suggestion.figures["team_staff_fte"] == 9 and suggestion.score == 4


def contacts_team(
    seen: list[int], minutes: list[int] | None = None, count: list[int] | None = None, weeks: float | None = 1
) -> TeamFigures:
    """Clients with the given distinct staff seen in 2 weeks, minutes and contact counts."""
    minutes = minutes or [0] * len(seen)
    count = count or [0] * len(seen)
    return TeamFigures(
        clients=len(seen),
        client_contacts=[ClientContacts(c, m, s) for s, m, c in zip(seen, minutes, count, strict=True)],
        contact_period_weeks=weeks,
    )


@pytest.mark.parametrize(
    ("several", "score"),
    [(0, 1), (9, 1), (10, 2), (36, 2), (37, 3), (63, 3), (64, 4), (89, 4), (90, 5), (100, 5)],
)
def test_h2_team_approach_edges(several: int, score: int) -> None:
    team = contacts_team([2] * several + [1] * (100 - several))
    suggestion = team_approach(team)
    assert suggestion is not None and suggestion.score == score
    assert suggestion.figures["clients_seeing_several_staff"] == several


def test_h2_one_staff_member_is_not_a_team() -> None:
    suggestion = team_approach(contacts_team([1, 1, 2]))
    assert (
        suggestion is not None
        and suggestion.figures["value"] == pytest.approx(33.333333)
        and suggestion.score == 2
    )


PER_100: list[tuple[Callable[..., Suggestion | None], str, list[tuple[float, int]]]] = [
    (psychiatrist_on_staff, "psychiatrist",
     [(0, 1), (0.09, 1), (0.10, 2), (0.39, 2), (0.40, 3), (0.69, 3), (0.70, 4), (0.99, 4), (1.0, 5), (1.5, 5)]),
    (nurse_on_staff, "nurse",
     [(0, 1), (0.19, 1), (0.20, 2), (0.79, 2), (0.80, 3), (1.39, 3), (1.40, 4), (1.99, 4), (2.0, 5), (3.0, 5)]),
    (substance_specialist_on_staff, "substance_specialist",
     [(0.19, 1), (0.20, 2), (0.79, 2), (0.80, 3), (1.39, 3), (1.40, 4), (1.99, 4), (2.0, 5)]),
    (vocational_specialist_on_staff, "vocational_specialist",
     [(0.19, 1), (0.20, 2), (0.79, 2), (0.80, 3), (1.39, 3), (1.40, 4), (1.99, 4), (2.0, 5)]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rule", "profession", "fte", "score"),
    [(rule, prof, fte, score) for rule, prof, edges in PER_100 for fte, score in edges],
)
def test_h7_to_h10_fte_per_100_clients_edges(
    rule: Callable[..., Suggestion | None], profession: str, fte: float, score: int
) -> None:
    # 100 clients, so the FTE is the FTE per 100 clients; a case manager so staffing is known
    suggestion = rule(staff(100, case_manager=5, **{profession: fte}))
    assert suggestion is not None and suggestion.score == score


def test_per_100_scales_with_the_caseload_and_ignores_float_noise() -> None:
    # 0.5 FTE psychiatrist for 50 clients = 1.0 per 100
    suggestion = psychiatrist_on_staff(staff(50, psychiatrist=0.5))
    assert suggestion is not None and suggestion.score == 5
    # 100 * 0.003 / 3 is 0.09999999999999999 in floats; it is 0.10 per 100 clients, the edge of 2
    suggestion = psychiatrist_on_staff(staff(3, psychiatrist=0.003))
    assert suggestion is not None and suggestion.figures["value"] == 0.1 and suggestion.score == 2


@pytest.mark.parametrize(
    ("fte", "score"),
    [(2.4, 1), (2.5, 2), (4.9, 2), (5.0, 3), (7.4, 3), (7.5, 4), (9.9, 4), (10.0, 5), (14, 5)],
)
def test_h11_program_size_edges(fte: float, score: int) -> None:
    suggestion = program_size(staff(80, case_manager=fte, psychiatrist=1, administrative=1))
    assert suggestion is not None and suggestion.score == score


@pytest.mark.parametrize(
    ("intakes", "score"),
    [
        ([3, 16, 2], 1),
        ([15], 2),
        ([13, 0], 2),
        ([12], 3),
        ([10], 3),
        ([9], 4),
        ([7], 4),
        ([6, 6], 5),
        ([0], 5),
    ],
)
def test_o2_intake_rate_edges(intakes: list[int], score: int) -> None:
    suggestion = intake_rate(TeamFigures(clients=60, monthly_intakes=intakes))
    assert suggestion is not None and suggestion.score == score
    assert suggestion.figures["highest_monthly_intake"] == max(intakes)


def test_o2_says_when_the_window_is_not_six_months() -> None:
    short = intake_rate(TeamFigures(clients=60, monthly_intakes=[3, 4]))
    full = intake_rate(synthetic_team())
    assert short is not None and "(DACTS looks at 6)" in short.explanation
    assert full is not None and "DACTS looks at 6" not in full.explanation


@pytest.mark.parametrize(
    ("admissions", "involved", "score"),
    [(20, 0, 1), (100, 4, 1), (20, 1, 2), (200, 69, 2), (20, 7, 3), (100, 64, 3), (20, 13, 4), (20, 18, 4),
     (20, 19, 5), (20, 20, 5)],
)  # fmt: skip
def test_o5_hospital_admissions_edges(admissions: int, involved: int, score: int) -> None:
    team = TeamFigures(clients=60, hospital_admissions=admissions, admissions_with_team_involvement=involved)
    suggestion = admission_responsibility(team)
    assert suggestion is not None and suggestion.score == score


@pytest.mark.parametrize(
    ("minutes", "score"),
    [(0, 1), (14, 1), (15, 2), (49, 2), (50, 3), (84, 3), (85, 4), (119, 4), (120, 5), (300, 5)],
)
def test_s4_intensity_edges(minutes: int, score: int) -> None:
    suggestion = service_intensity(contacts_team([1], minutes=[minutes]))
    assert suggestion is not None and suggestion.score == score


@pytest.mark.parametrize(
    ("contacts", "score"), [(0, 1), (9, 1), (10, 2), (19, 2), (20, 3), (29, 3), (30, 4), (39, 4), (40, 5)]
)
def test_s5_frequency_edges(contacts: int, score: int) -> None:
    # 10 clients over 1 week: contacts / 10 per client per week
    per_client = [contacts // 10 + (1 if i < contacts % 10 else 0) for i in range(10)]
    suggestion = contact_frequency(contacts_team([1] * 10, count=per_client))
    assert suggestion is not None and suggestion.score == score


def test_s4_s5_divide_by_the_weeks() -> None:
    team = contacts_team([1, 1], minutes=[240, 240], count=[8, 8], weeks=4)
    intensity, frequency = service_intensity(team), contact_frequency(team)
    assert intensity is not None and intensity.figures["value"] == 60 and intensity.score == 3
    assert frequency is not None and frequency.figures["value"] == 2 and frequency.score == 3


# --- missing figures: no suggestion --------------------------------------------------------


@pytest.mark.parametrize(
    "rule",
    [small_caseload, team_approach, psychiatrist_on_staff, nurse_on_staff, substance_specialist_on_staff,
     vocational_specialist_on_staff, program_size, intake_rate, admission_responsibility, service_intensity,
     contact_frequency],
)  # fmt: skip
def test_no_figures_no_suggestion(rule: Callable[..., Suggestion | None]) -> None:
    assert rule(TeamFigures(clients=50)) is None


def test_missing_pieces_give_no_suggestion() -> None:
    assert small_caseload(staff(0, case_manager=5)) is None  # no clients
    assert small_caseload(staff(50, psychiatrist=1)) is None  # no team staff counted
    assert psychiatrist_on_staff(staff(0, psychiatrist=1)) is None
    assert service_intensity(contacts_team([1, 2], weeks=None)) is None  # period unknown
    assert (
        admission_responsibility(
            TeamFigures(clients=50, hospital_admissions=0, admissions_with_team_involvement=0)
        )
        is None
    )
    assert admission_responsibility(TeamFigures(clients=50, hospital_admissions=4)) is None


def test_known_staffing_without_the_profession_scores_one() -> None:
    suggestion = psychiatrist_on_staff(staff(80, case_manager=8))
    assert suggestion is not None and suggestion.score == 1 and suggestion.figures["psychiatrist_fte"] == 0


def test_partial_figures_give_partial_suggestions() -> None:
    got = by_item(suggest_scores(shipped_scales()["dacts"], staff(60, case_manager=6, nurse=1)))
    assert sorted(got) == ["H1", "H10", "H11", "H7", "H8", "H9"]


# --- the rules and the scale file agree ----------------------------------------------------


def test_every_dacts_derivation_names_a_rule() -> None:
    dacts = shipped_scales()["dacts"]
    derived = {it.id: it.derivation for it in dacts.items if it.derivation}
    assert sorted(derived) == sorted(["H1", "H2", "H7", "H8", "H9", "H10", "H11", "O2", "O5", "S4", "S5"])
    assert set(derived.values()) <= set(RULES)
    assert set(derived) == set(DACTS_ANCHORS)


def test_unknown_derivation_is_a_scale_error() -> None:
    data: dict[str, Any] = {
        "id": "x", "name": "X", "version": "1", "licence": "test",
        "subscales": [{"id": "A", "name": {"en": "A", "nb": "A"}}],
        "levels": [{"id": "any", "name": {"en": "Any", "nb": "Alle"}, "min_mean": 1}],
        "items": [{"id": "A1", "name": {"en": "A1", "nb": "A1"}, "subscale": "A",
                   "justification_required": False, "derivation": "no_such_rule"}],
    }  # fmt: skip
    with pytest.raises(
        ScaleError, match="test-source: items \\(A1\\).derivation: unknown pre-fill rule 'no_such_rule'"
    ):
        suggest_scores(parse_scale(data, source="test-source"), synthetic_team())


def test_verified_anchors_are_only_those_checked() -> None:
    assert sorted(k for k, a in DACTS_ANCHORS.items() if a.verified) == ["H1", "H2"]


def test_anchors_must_run_in_order() -> None:
    with pytest.raises(ValueError, match="cut-points"):
        Anchors((10, 5, 20, 30), higher_is_better=True, unit="x", verified=False)
    with pytest.raises(ValueError, match="cut-points"):
        Anchors((10, 20, 30, 40), higher_is_better=False, unit="x", verified=False)


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"clients": -1}, "clients must be a whole number"),
        ({"clients": 9.5}, "clients must be a whole number"),
        ({"clients": True}, "clients must be a whole number"),
        ({"clients": 10, "staff_fte": {"nurse": -1}}, "staff_fte\\[nurse\\] must be a finite number"),
        (
            {"clients": 10, "staff_fte": {"nurse": float("nan")}},
            "staff_fte\\[nurse\\] must be a finite number",
        ),
        ({"clients": 10, "staff_fte": {"wizard": 1}}, "unknown profession 'wizard'"),
        ({"clients": 10, "contact_period_weeks": 0}, "contact_period_weeks must be above 0"),
        ({"clients": 10, "contact_period_weeks": -2}, "contact_period_weeks must be a finite number"),
        ({"clients": 10, "monthly_intakes": [3, -1]}, "monthly_intakes must be a whole number"),
        ({"clients": 10, "hospital_admissions": -1}, "hospital_admissions must be a whole number"),
        ({"clients": 10, "hospital_admissions": 3, "admissions_with_team_involvement": 4}, "must not exceed"),
        ({"clients": 10, "admissions_with_team_involvement": 1}, "must not exceed hospital_admissions"),
        ({"clients": 10, "client_contacts": [(1, 2, 3)]}, "client_contacts must hold ClientContacts"),
    ],
)
def test_team_figures_refuse_impossible_values(kwargs: dict[str, Any], problem: str) -> None:
    with pytest.raises(TeamFiguresError, match=problem):
        TeamFigures(**kwargs)


def test_client_contacts_refuse_negative_counts() -> None:
    with pytest.raises(TeamFiguresError, match="face_to_face_minutes"):
        ClientContacts(face_to_face_contacts=1, face_to_face_minutes=-5, staff_seen_in_two_weeks=1)


def test_team_figures_accept_profession_names_and_normalise() -> None:
    # Plain names, as a form or CSV import gives them, are turned into Profession members.
    names: dict[Any, float] = {"nurse": 1, "peer_specialist": 0.5}
    team = TeamFigures(clients=10, staff_fte=names, monthly_intakes=[1, 2])
    assert team.staff_fte == {P.NURSE: 1.0, P.PEER_SPECIALIST: 0.5}
    assert all(type(k) is Profession for k in team.staff_fte)
    assert team.fte(P.NURSE) == 1.0 and team.fte(P.GP) == 0
    assert team.monthly_intakes == (1, 2)
    assert issubclass(TeamFiguresError, ValueError)
