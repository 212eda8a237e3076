"""Suppression linked across levels: a unit's count cannot be found from its trust's total.

A trust holds unit A (12 referrals decided in 2025, 7 rejected) and unit B (3, 1 rejected).
Table by table, B is hidden and A is shown (7/12) on its dashboard, while the trust's
dashboard shows 8/15: B = 8/15 - 7/12 = 1/3. Linked, A is hidden wherever it is published
(its dashboard, the by-team tables of the trust, the region and the country, the CLI, FHIR),
and the trust's total stays shown.
"""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.test import Client

from helhet.accounts.models import Role
from helhet.fhir.models import ApiClient
from helhet.indicators import engine
from helhet.organisations.models import HealthTrust, Municipality, UnitKind
from helhet.pathways.models import Referral

pytestmark = pytest.mark.django_db
REJECTION = "rop-05a-referral-rejection"
PERIOD = "2025"


def refer(builders, unit, count: int, rejected: int, *, municipality: str = "0301") -> None:
    for index in range(count):
        day = dt.date(2025, 5, 2)
        Referral.objects.create(person=builders.make_person(municipality=municipality), to_unit=unit,
                                status="rejected" if index < rejected else "accepted", sent_date=day,
                                received_date=day, assessed_date=day + dt.timedelta(days=4))


@pytest.fixture
def trust_world(builders):
    trust = HealthTrust.objects.select_related("region").order_by("code").first()
    a = builders.make_unit(UnitKind.DPS, code="dps-a", trust=trust)
    b = builders.make_unit(UnitKind.DPS, code="dps-b", trust=trust)
    refer(builders, a, 12, 7)
    refer(builders, b, 3, 1)
    return {"trust": trust, "a": a, "b": b}


def one(scope: engine.Scope, by: str | list[str] | None = None, **kwargs) -> engine.PublishedResult:
    [result] = engine.published(PERIOD, scope, by=by, indicator_ids=[REJECTION], **kwargs)
    return result


def hidden_strata(result: engine.PublishedResult, by: str) -> set[str]:
    return {row.stratum for row in result.strata[by] if row.cell.suppressed}


def test_per_table_suppression_alone_would_give_the_small_unit_away(trust_world):
    # The leak the linking closes: each result suppressed on its own.
    [unit_a] = engine.evaluate(PERIOD, engine.Scope("unit", "dps-a"), indicator_ids=[REJECTION])
    [trust] = engine.evaluate(PERIOD, engine.Scope("trust", trust_world["trust"].code), indicator_ids=[REJECTION])
    shown_a, shown_trust = engine.publish_result(unit_a).total, engine.publish_result(trust).total
    assert (shown_a.numerator, shown_a.denominator) == (7, 12)
    assert (shown_trust.numerator - shown_a.numerator, shown_trust.denominator - shown_a.denominator) == (1, 3)


def test_the_sibling_is_hidden_at_every_level_and_the_trust_stays_shown(trust_world):
    trust = trust_world["trust"]
    assert one(engine.Scope("unit", "dps-a")).total.suppressed
    assert one(engine.Scope("unit", "dps-a")).total.reason == "complementary"
    assert one(engine.Scope("unit", "dps-b")).total.reason == "small_denominator"
    shown = one(engine.Scope("trust", trust.code), "team")
    assert (shown.total.numerator, shown.total.denominator) == (8, 15)
    assert hidden_strata(shown, "team") == {"dps-a", "dps-b"}
    assert hidden_strata(one(engine.Scope("region", trust.region.code), "team"), "team") == {"dps-a", "dps-b"}
    assert hidden_strata(one(engine.NATIONAL, "team"), "team") == {"dps-a", "dps-b"}
    # The country by every linked stratifier is its own pattern's input: the same pattern.
    everything = one(engine.NATIONAL, list(engine.LINKED_STRATIFIERS))
    assert hidden_strata(everything, "team") == {"dps-a", "dps-b"} and not everything.total.suppressed
    # The trust is the region's and the country's only one with referrals: nothing to hide there.
    assert hidden_strata(one(engine.NATIONAL, "trust"), "trust") == set()
    assert not one(engine.Scope("region", trust.region.code)).total.suppressed


def test_a_third_unit_is_the_complement_instead_when_it_is_smaller(builders, trust_world):
    refer(builders, builders.make_unit(UnitKind.DPS, code="dps-c", trust=trust_world["trust"]), 10, 5)
    assert one(engine.Scope("unit", "dps-c")).total.suppressed
    shown = one(engine.Scope("unit", "dps-a")).total
    assert (shown.numerator, shown.denominator) == (7, 12)
    assert hidden_strata(one(engine.Scope("trust", trust_world["trust"].code), "team"), "team") == {"dps-b", "dps-c"}


def test_a_fresh_result_gets_a_fresh_pattern(builders, trust_world):
    # Cached national results from before B grew would still hide A; fresh ones must not.
    assert one(engine.Scope("unit", "dps-a"), cached=True).total.suppressed
    refer(builders, trust_world["b"], 10, 5)  # B: 13 referrals, 6 rejected: nothing small any more
    shown = one(engine.Scope("unit", "dps-a")).total
    assert (shown.numerator, shown.denominator) == (7, 12)


def test_items_of_the_trust_in_no_unit_of_its_own_are_linked_as_its_residual(builders):
    # A municipal service (no trust) with 3 referrals of persons in the trust's catchment: the trust's
    # total counts them, so A (the trust's only unit) would give them away.
    trust = HealthTrust.objects.order_by("code").first()
    local = Municipality.objects.filter(catchment_trust=trust).order_by("number").first()
    a = builders.make_unit(UnitKind.DPS, code="dps-a", trust=trust)
    municipal = builders.make_unit(UnitKind.MUNICIPAL, code="kommune-x", municipalities=[local.number])
    refer(builders, a, 12, 7, municipality=local.number)
    refer(builders, municipal, 3, 1, municipality=local.number)
    shown = one(engine.Scope("trust", trust.code), "team")
    assert (shown.total.numerator, shown.total.denominator) == (8, 15)
    assert hidden_strata(shown, "team") == {"dps-a", "kommune-x"}
    assert one(engine.Scope("unit", "dps-a")).total.suppressed
    assert one(engine.Scope("unit", "kommune-x")).total.suppressed
    assert hidden_strata(one(engine.NATIONAL, "team"), "team") == {"dps-a", "kommune-x"}


def test_cli_shows_the_linked_suppression(trust_world):
    out = io.StringIO()
    call_command("indicators", "--period", PERIOD, "--scope", f"trust:{trust_world['trust'].code}", "--by", "team",
                 "--indicator", REJECTION, "--format", "json", stdout=out)
    rows = {(r["stratifier"], r["stratum"]): r for r in json.loads(out.getvalue()) if r["table"] == "indicator"}
    assert rows[("", "")]["numerator"] == 8 and rows[("", "")]["suppressed"] is False
    for unit in ("dps-a", "dps-b"):
        assert rows[("team", unit)]["suppressed"] is True and rows[("team", unit)]["numerator"] is None
    out = io.StringIO()
    call_command("indicators", "--period", PERIOD, "--scope", "unit:dps-a", "--indicator", REJECTION,
                 "--format", "json", stdout=out)
    total = json.loads(out.getvalue())[0]
    assert total["suppressed"] is True and total["numerator"] is None and total["value"] is None


def test_fhir_measure_report_of_the_unit_is_masked(builders, trust_world):
    _client, token = ApiClient.issue(name="linked-test", user=builders.make_user(Role.ANALYST))
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = api.get("/fhir/MeasureReport", {"measure": REJECTION, "period": PERIOD, "subject": "unit:dps-a"})
    assert response.status_code == 200, response.content
    group = response.json()["entry"][0]["resource"]["group"][0]
    assert group["measureScore"]["extension"][0]["valueCode"] == "masked"
    assert all("count" not in population for population in group["population"])


def test_the_unit_dashboard_shows_the_mark_and_the_trust_its_figure(builders, trust_world):
    leader = builders.make_user(Role.TEAM_LEADER, units=[trust_world["a"]])
    client = Client()
    client.force_login(leader)
    content = client.get(f"/indicators/unit/dps-a/?period={PERIOD}").content.decode()
    start = content.index(f'id="indicator-{REJECTION}"')
    row = content[start:content.index("</tr>", start)]
    value = row.split('<td class="num value">', 1)[1].split("</td>", 1)[0]
    assert 'class="suppressed"' in value
    assert "7 / 12" not in row and "58 %" not in row
    assert "53 %" in row  # the trust (8 of 15), shown as its comparison
