"""The team's figures from its records and the pre-fill they give, against the hand-computed team in conftest."""

from __future__ import annotations

import datetime as dt

import pytest

from helhet.audit.models import AuditEntry
from helhet.teams import services
from helhet.teams.fidelity import shipped_scales
from helhet.teams.prefill import Profession

from .conftest import TeamWorld


def test_staff_composition_by_profession(world: TeamWorld) -> None:
    lines = {line.profession: (line.headcount, line.fte) for line in services.staff_composition(world.team,
                                                                                              world.today)}
    assert lines == {
        Profession.PSYCHIATRIST: (1, 0.5), Profession.NURSE: (2, 2.0), Profession.SUBSTANCE_SPECIALIST: (1, 1.0),
        Profession.CASE_MANAGER: (1, 1.0), Profession.TEAM_LEADER: (1, 1.0),
    }  # the nurse whose membership ended 10 days ago is not counted


def test_team_figures_by_hand(world: TeamWorld) -> None:
    figures, notes = services.team_figures(world.team, world.today)
    assert figures.clients == 10
    assert figures.team_staff_fte == 5.0 and figures.fte(Profession.PSYCHIATRIST) == 0.5
    # 10 summaries, clients without contact included; the phone call and the 45-day-old contact do not count
    assert len(figures.client_contacts) == 10 and notes.contacts_recorded == 3
    assert sum(c.face_to_face_contacts for c in figures.client_contacts) == 3
    assert sum(c.face_to_face_minutes for c in figures.client_contacts) == 150
    assert sorted(c.staff_seen_in_two_weeks for c in figures.client_contacts)[-2:] == [0, 2]
    assert figures.contact_period_weeks == 4
    # all 10 started 100 days ago: one month of the last six full months has 10 intakes
    assert len(figures.monthly_intakes) == 6 and max(figures.monthly_intakes) == 10
    assert sum(figures.monthly_intakes) == (10 if (world.today - dt.timedelta(days=100)).replace(day=1)
                                            >= notes.intake_months[0] else 0)
    assert figures.hospital_admissions == 2 and figures.admissions_with_team_involvement == 1


def test_suggested_scores_by_hand(world: TeamWorld) -> None:
    suggestions, _figures, _notes = services.suggestions_for(world.team, shipped_scales()["dacts"], world.today)
    got = {item_id: s.score for item_id, s in suggestions.items()}
    assert got == {
        "H1": 5,  # 10 clients / 5 FTE = 2 per staff member (<= 10)
        "H2": 2,  # 1 of 10 clients saw two staff = 10 %
        "H7": 5,  # 0.5 psychiatrist FTE for 10 clients = 5 per 100
        "H8": 5,  # 2 nurse FTE / 10 clients = 20 per 100
        "H9": 5,  # 1 substance specialist FTE / 10 clients = 10 per 100
        "H10": 1,  # no vocational specialist
        "H11": 3,  # 5.0 team staff FTE
        "O2": 3,  # highest monthly intake 10
        "O5": 3,  # involved in 1 of 2 admissions = 50 %
        "S4": 1,  # 150 minutes / 10 clients / 4 weeks = 3.75 minutes a week
        "S5": 1,  # 3 contacts / 10 clients / 4 weeks = 0.075 a week
    }
    assert suggestions["H1"].figures == {"clients": 10, "team_staff_fte": 5.0, "value": 2.0}
    assert suggestions["S4"].figures["value"] == pytest.approx(3.75)


def test_no_recorded_contacts_gives_no_contact_suggestions(builders, world: TeamWorld) -> None:  # type: ignore[no-untyped-def]
    from helhet.pathways.models import Encounter

    Encounter.objects.filter(unit=world.team).delete()
    suggestions, figures, notes = services.suggestions_for(world.team, shipped_scales()["dacts"], world.today)
    assert notes.contacts_recorded == 0 and figures.client_contacts == ()
    assert not {"H2", "S4", "S5"} & set(suggestions)
    assert figures.hospital_admissions == 2 and figures.admissions_with_team_involvement == 0
    assert suggestions["O5"].score == 1


def test_team_overview_by_hand(world: TeamWorld) -> None:
    overview = services.team_overview(world.leader, world.team, world.today)
    assert overview.clients == 10
    assert overview.intakes_12m == 10 and overview.discharges_12m == 1
    assert overview.caseload_per_staff == 2.0 and overview.total_fte == 5.5
    assert overview.catchment_below_recommendation  # 30,000 < 40,000 adults
    assert overview.board is not None and [row.person for row in overview.board] == [world.clients[3]]
    assert overview.board[0].days == 20
    assert overview.board_placements_12m == 2
    somatic = overview.somatic
    assert somatic.available
    assert (somatic.clients, somatic.checked, somatic.gp_contact) == (10, 2, 1)
    assert somatic.checked_share == 0.2 and somatic.gp_share == 0.1


def test_the_board_list_is_audited(world: TeamWorld) -> None:
    services.team_overview(world.leader, world.team, world.today)
    entry = AuditEntry.objects.filter(resource="FACT board", action="list").latest("seq")
    assert entry.actor == world.leader.username and entry.detail["persons"] == [world.clients[3].pid]


def test_act_team_has_no_board(builders) -> None:  # type: ignore[no-untyped-def]
    from helhet.organisations.models import UnitKind

    team = builders.make_unit(UnitKind.ACT)
    leader = builders.make_user("team_leader", units=[team])
    overview = services.team_overview(leader, team, dt.date.today())
    assert overview.board is None and overview.clients == 0
    # a membership without a profession counts as other clinical staff: 0 clients per 1 FTE
    assert overview.caseload_per_staff == 0.0
    assert [(line.profession, line.fte) for line in overview.staff] == [(Profession.OTHER_CLINICAL, 1.0)]
    assert overview.somatic.checked_share is None


def test_every_suggestion_is_explained_in_norwegian(world: TeamWorld) -> None:
    from django.utils import translation

    suggestions, _figures, _notes = services.suggestions_for(world.team, shipped_scales()["dacts"], world.today)
    derivations = {item.id: item.derivation for item in shipped_scales()["dacts"].items}
    with translation.override("nb"):
        texts = {item_id: services.explain_suggestion(derivations[item_id], s.score, s.figures, s.anchors_verified,
                                                      s.explanation) for item_id, s in suggestions.items()}
    assert all(text != suggestions[item_id].explanation for item_id, text in texts.items())  # no fallback
    assert texts["O5"] == ("Teamet hadde kontakt ved 1 av 2 innleggelser = 50 %, som gir 3. Disse grenseverdiene "
                           "er ennå ikke kontrollert mot den publiserte skalaen.")
    assert texts["S4"].startswith("150 minutter ansikt til ansikt / 10 personer / 4 uker = 3,75 minutter")
    assert texts["H7"].startswith("0,5 årsverk psykiater for 10 personer = 5 årsverk per 100 personer")
    with translation.override("en"):
        english = services.explain_suggestion("small_caseload", 5, suggestions["H1"].figures, True, "fallback")
    assert english == ("10 persons / 5 staff FTE (psychiatrist and administrative support not counted) = 2 persons "
                       "per staff FTE, which gives 5.")
    assert services.explain_suggestion("no_such_rule", 3, {}, True, "fallback") == "fallback"
