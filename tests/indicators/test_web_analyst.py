"""Analyst dashboards (country, region, trust), stratified; and the bad-input pages listing valid values."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from helhet.accounts.models import Role
from helhet.organisations.models import HealthRegion, HealthTrust, UnitKind
from helhet.pathways.models import Referral

PERIOD = "2025"
REJECTION = "rop-05a-referral-rejection"


@pytest.fixture
def world(builders):
    """One trust: 10 women (6 rejected) and 3 men (1 rejected) referred in 2025."""
    trust = HealthTrust.objects.select_related("region").order_by("code").first()
    unit = builders.make_unit(UnitKind.DPS, code="dps-s", trust=trust)
    persons = []
    for index in range(13):
        sex = "female" if index < 10 else "male"
        person = builders.make_person(sex=sex, family_name=f"Strata{index:02d}")
        rejected = index < 6 or index == 10
        day = dt.date(2025, 5, 5)
        Referral.objects.create(person=person, to_unit=unit, status="rejected" if rejected else "accepted",
                                sent_date=day, received_date=day, assessed_date=day + dt.timedelta(days=9))
        builders.make_episode(person, unit)
        persons.append(person)
    analyst = builders.make_user(Role.ANALYST, username="analytiker-n")
    return {"trust": trust, "region": trust.region, "analyst": analyst, "persons": persons}


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def strata_block(content: str, indicator_id: str) -> str:
    start = content.index(f'class="ind-strata" data-indicator="{indicator_id}"')
    return content[start:content.index("</table>", start)]


def test_national_dashboard_stratified_by_sex_hides_small_and_complementary_cells(world):
    response = client_for(world["analyst"]).get(f"/indicators/national/?period={PERIOD}&by=sex")
    assert response.status_code == 200
    content = response.content.decode()
    block = strata_block(content, REJECTION)
    assert "Kvinne" in block and "Mann" in block
    # Men: 1 of 3 is small, and hiding it alone would let 7 - 6 reveal it: the women's row is hidden too.
    assert "6 / 10" not in block and "1 / 3" not in block
    assert block.count('class="suppressed"') >= 2
    assert "7 / 13" in block  # the total is published
    assert all(p.pid not in content and p.family_name not in content for p in world["persons"])


def test_region_and_trust_dashboards_with_outcome_and_strategy_sections(world):
    client = client_for(world["analyst"])
    region = client.get(f"/indicators/region/{world['region'].code}/?period={PERIOD}")
    assert region.status_code == 200
    content = region.content.decode()
    assert 'id="outcomes"' in content and 'id="strategy"' in content
    assert world["trust"].name in content[content.index('id="strategy"'):]  # per trust within the region
    trust = client.get(f"/indicators/trust/{world['trust'].code}/?period={PERIOD}&by=municipality")
    assert trust.status_code == 200
    assert "54 %" in trust.content.decode()  # 7 of 13


def test_regional_analyst_is_kept_to_their_region(builders, world):
    other = HealthRegion.objects.exclude(pk=world["region"].pk).order_by("code").first()
    analyst = builders.make_user(Role.ANALYST, region=other)
    client = client_for(analyst)
    assert client.get(f"/indicators/region/{world['region'].code}/").status_code == 403
    assert client.get(f"/indicators/region/{other.code}/?period={PERIOD}").status_code == 200
    assert client.get("/indicators/").headers["Location"] == f"/indicators/region/{other.code}/"


def test_team_leaders_do_not_get_analyst_dashboards(builders, world):
    leader = builders.make_user(Role.TEAM_LEADER)
    assert client_for(leader).get("/indicators/national/").status_code == 403


@pytest.mark.parametrize(("url", "status", "listed"), [
    ("/indicators/national/?period=2025-13", 400, "2025-Q1"),
    ("/indicators/national/?period=last-year", 400, "2024"),
    ("/indicators/national/?by=shoe-size", 400, "immigrant"),
    ("/indicators/national/?indicator=rop-99-nothing", 404, REJECTION),
    ("/indicators/region/nowhere/", 404, "Helse"),
    ("/indicators/trust/nowhere/", 404, "<code>"),
    ("/indicators/national/table.docx", 404, "xlsx"),
])
def test_bad_input_lists_the_valid_values(world, url, status, listed):
    response = client_for(world["analyst"]).get(url)
    assert response.status_code == status
    content = response.content.decode()
    assert 'class="valid-values"' in content and listed in content


def test_unknown_unit_and_indicator_for_a_team_leader(builders, world):
    unit = builders.make_unit(UnitKind.ACT, code="act-mine")
    leader = builders.make_user(Role.TEAM_LEADER, units=[unit])
    client = client_for(leader)
    response = client.get("/indicators/unit/no-such-unit/")
    assert response.status_code == 404 and "act-mine" in response.content.decode()
    response = client.get("/indicators/unit/act-mine/rop-99-nothing/persons/")
    assert response.status_code == 404 and REJECTION in response.content.decode()
    response = client.get(f"/indicators/unit/act-mine/{REJECTION}/persons/?which=everyone")
    assert response.status_code == 400 and "denominator" in response.content.decode()


def test_strategy_section_lists_missing_coverage_data_and_act_fact_availability(builders, world):
    from helhet.organisations.models import Municipality

    served = Municipality.objects.filter(catchment_trust=world["trust"]).order_by("number").first()
    in_catchment = Municipality.objects.filter(catchment_trust__region=world["region"]).count()
    team = builders.make_unit(UnitKind.ACT, code="act-strategy", trust=world["trust"],
                              municipalities=[served.number])
    closed = builders.make_unit(UnitKind.FACT, code="fact-closed", trust=world["trust"],
                                municipalities=[served.number])
    closed.active = False
    closed.save()
    content = client_for(world["analyst"]).get(f"/indicators/national/?period={PERIOD}").content.decode()
    strategy = content[content.index('id="strategy"'):content.index('id="not-available"')]
    # No screening, assessment, somatic or plan data in this world: listed as not available, no figures.
    assert "Kartlegging av rusmiddelbruk" in strategy and "ikke tilgjengelig" in strategy
    act_fact = strategy[strategy.index("Tilgang til ACT/FACT"):]
    region_row = act_fact[act_fact.index(world["region"].name):].split("</tr>", 1)[0]
    assert team.trust.region == world["region"]
    cells = [cell.split("</td>")[0] for cell in region_row.split('<td class="num">')[1:]]
    assert cells[0] == "1"  # the active ACT team; the closed FACT team does not count
    assert cells[1] == f"1 / {in_catchment}"
