"""The team/unit dashboard and the drill-down to persons: published figures only, persons only with care."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from helhet.accounts.models import Role
from helhet.audit.models import AuditEntry
from helhet.organisations.models import HealthTrust, UnitKind
from helhet.pathways.models import Referral

PERIOD = "2025"
REJECTION = "rop-05a-referral-rejection"


def refer(builders, person, unit, *, status, received=dt.date(2025, 3, 3), days=7):
    return Referral.objects.create(person=person, to_unit=unit, status=status, sent_date=received,
                                   received_date=received, assessed_date=received + dt.timedelta(days=days))


@pytest.fixture
def world(builders):
    """Unit A: 12 referrals decided in 2025, 7 rejected (shown: 7/12). Unit B: 3 referrals (hidden).

    Unit C (10 referrals, 5 rejected), in the same trust, is the smallest sibling left to hide with B:
    the trust's total is shown, so without C, A would be hidden too (B = trust - A).
    """
    trust = HealthTrust.objects.order_by("code").first()
    unit = builders.make_unit(UnitKind.DPS, code="dps-a", trust=trust)
    small = builders.make_unit(UnitKind.DPS, code="dps-b", trust=trust)
    sibling = builders.make_unit(UnitKind.DPS, code="dps-c", trust=trust)
    for index in range(10):
        refer(builders, builders.make_person(family_name=f"Nabo{index}"), sibling,
              status="rejected" if index < 5 else "accepted")
    persons = []
    for index in range(12):
        person = builders.make_person(family_name=f"Henvist{index:02d}")
        refer(builders, person, unit, status="rejected" if index < 7 else "accepted")
        if index < 10:  # ten of them are still with the unit (a care relationship today)
            builders.make_episode(person, unit)
        persons.append(person)
    for index in range(3):
        person = builders.make_person(family_name=f"Liten{index}")
        refer(builders, person, small, status="rejected" if index == 0 else "accepted")
        builders.make_episode(person, small)
    leader = builders.make_user(Role.TEAM_LEADER, units=[unit], username="leder-a")
    return {"unit": unit, "small": small, "persons": persons, "leader": leader, "trust": trust}


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def row_html(content: str, indicator_id: str) -> str:
    start = content.index(f'id="indicator-{indicator_id}"')
    return content[start:content.index("</tr>", start)]


def test_team_leader_sees_value_counts_comparisons_and_target(world):
    response = client_for(world["leader"]).get(f"/indicators/unit/dps-a/?period={PERIOD}")
    assert response.status_code == 200
    content = response.content.decode()
    row = row_html(content, REJECTION)
    assert "58 %" in row and "7 / 12" in row  # 7 of 12 referrals rejected
    # The trust and the region hold units A, B and C (25 referrals, 13 rejected); Norway the same.
    assert row.count("52 %") == 3
    within = row_html(content, "rop-05c-assessment-within-recommended-time")
    assert "80 %" in within  # the national target is shown
    assert "<svg" in row  # the trend chart


def test_small_unit_shows_only_the_suppression_mark(builders, world):
    leader_b = builders.make_user(Role.TEAM_LEADER, units=[world["small"]])
    content = client_for(leader_b).get(f"/indicators/unit/dps-b/?period={PERIOD}").content.decode()
    row = row_html(content, REJECTION)
    cells = row.split('<td class="num value">', 1)[1].split("</td>", 1)[0]
    assert 'class="suppressed"' in cells
    assert "1 / 3" not in row and "33 %" not in row  # the raw figures never reach the page


def test_unavailable_indicators_are_listed_with_their_reason(world):
    content = client_for(world["leader"]).get(f"/indicators/unit/dps-a/?period={PERIOD}").content.decode()
    section = content[content.index('id="not-available"'):]
    # No fidelity review has been recorded, so team fidelity cannot be computed (and is not faked).
    assert 'data-indicator="rop-11a-team-fidelity-total"' in section
    assert 'id="indicator-rop-11a-team-fidelity-total"' not in content


def test_drill_down_lists_persons_with_a_care_relationship_and_is_audited(world):
    client = client_for(world["leader"])
    response = client.get(f"/indicators/unit/dps-a/{REJECTION}/persons/?period={PERIOD}&which=denominator")
    assert response.status_code == 200
    content = response.content.decode()
    shown = [p for p in world["persons"] if p.pid in content]
    assert len(shown) == 10  # two of the twelve are no longer with the unit
    assert all(p.pid not in content for p in world["persons"][10:])
    entry = AuditEntry.objects.filter(action="list").latest("seq")
    assert entry.actor == "leder-a" and set(entry.detail["persons"]) == {p.pid for p in shown}

    numerator = client.get(f"/indicators/unit/dps-a/{REJECTION}/persons/?period={PERIOD}&which=numerator")
    assert sum(p.pid in numerator.content.decode() for p in world["persons"]) == 7


def test_analyst_never_gets_a_person_list(builders, world):
    analyst = builders.make_user(Role.ANALYST)
    response = client_for(analyst).get(f"/indicators/unit/dps-a/{REJECTION}/persons/?period={PERIOD}")
    assert response.status_code == 403
    content = response.content.decode()
    assert "Analytikere ser bare publiserte tall" in content  # the clear message, in Norwegian
    assert all(p.pid not in content for p in world["persons"])


def test_staff_of_another_unit_cannot_open_the_dashboard_or_the_persons(builders, world):
    other = builders.make_user(Role.TEAM_LEADER, units=[world["small"]])
    client = client_for(other)
    assert client.get(f"/indicators/unit/dps-a/?period={PERIOD}").status_code == 403
    response = client.get(f"/indicators/unit/dps-a/{REJECTION}/persons/?period={PERIOD}")
    assert response.status_code == 403
    assert all(p.pid not in response.content.decode() for p in world["persons"])


def test_index_leads_a_team_leader_to_their_unit(world):
    response = client_for(world["leader"]).get("/indicators/")
    assert response.status_code == 302 and response["Location"] == "/indicators/unit/dps-a/"


def test_cached_dashboard_makes_a_fixed_number_of_queries(world, locked_queries):
    client = client_for(world["leader"])
    url = f"/indicators/unit/dps-a/?period={PERIOD}"
    client.get(url)  # computes and caches
    with locked_queries("indicators_unit_dashboard"):
        response = client.get(url)
    assert response.status_code == 200


def test_analyst_sees_the_unit_dashboard_without_person_links(builders, world):
    client_for(world["leader"]).get(f"/indicators/unit/dps-a/?period={PERIOD}")  # cached with the links
    analyst = builders.make_user(Role.ANALYST)
    content = client_for(analyst).get(f"/indicators/unit/dps-a/?period={PERIOD}").content.decode()
    assert "7 / 12" in content and 'class="drill"' not in content


def test_cached_results_are_recomputed_after_invalidation(builders, world):
    from helhet.indicators import dashboard

    client = client_for(world["leader"])
    url = f"/indicators/unit/dps-a/?period={PERIOD}"
    assert "7 / 12" in row_html(client.get(url).content.decode(), REJECTION)
    for index in range(3):
        refer(builders, builders.make_person(family_name=f"Sen{index}"), world["unit"], status="accepted")
    assert "7 / 12" in row_html(client.get(url).content.decode(), REJECTION)  # served from the cache
    dashboard.invalidate_cache()
    assert "7 / 15" in row_html(client.get(url).content.decode(), REJECTION)
