"""The engine's public API: bad input, scopes, strata, suppression, persons behind a number."""

from __future__ import annotations

import datetime as dt

import pytest

from helhet.accounts.access import AccessDenied
from helhet.accounts.models import Role
from helhet.audit.models import AuditEntry
from helhet.indicators import engine
from helhet.indicators.definitions import STRATIFIERS
from helhet.organisations.models import HealthTrust, Municipality, UnitKind
from helhet.pathways.models import Referral

D = dt.date
pytestmark = pytest.mark.django_db
REJECTION = "rop-05a-referral-rejection"


@pytest.fixture
def referrals(builders):
    """Two DPS units in different trusts; 12 decided referrals to one (3 rejected), 2 to the other (1)."""
    trusts = list(HealthTrust.objects.select_related("region").order_by("code"))
    first = next(t for t in trusts if t.region_id != trusts[-1].region_id)
    big = builders.make_unit(UnitKind.DPS, code="dps-big", trust=first)
    small = builders.make_unit(UnitKind.DPS, code="dps-small", trust=trusts[-1])
    oslo = Municipality.objects.get(number="0301")
    persons = []
    for index in range(14):
        unit = big if index < 12 else small
        rejected = index in (0, 1, 2, 12)
        person = builders.make_person(sex="female" if index % 2 else "male", birth_year=1990 if index < 7 else 1960,
                                      immigrant_background="immigrant" if index == 3 else None)
        Referral.objects.create(person=person, to_unit=unit, status="rejected" if rejected else "accepted",
                                sent_date=D(2025, 4, 1), received_date=D(2025, 4, 1), assessed_date=D(2025, 4, 8),
                                rejection_reason="wrong_level" if rejected else "")
        persons.append(person)
    return {"big": big, "small": small, "persons": persons, "trusts": (first, trusts[-1]), "oslo": oslo}


def test_unknown_values_are_refused_with_the_valid_ones_listed(referrals):
    with pytest.raises(engine.IndicatorError, match="unknown indicator 'rop-99'.*rop-05a-referral-rejection"):
        engine.evaluate("2025", indicator_ids=["rop-99"])
    with pytest.raises(engine.IndicatorError, match="not a period.*2025-Q1"):
        engine.evaluate("last year")
    with pytest.raises(engine.IndicatorError, match="unknown stratifier 'colour'.*region, trust") as caught:
        engine.evaluate("2025", by=["sex", "colour"])
    assert caught.value.valid == STRATIFIERS
    with pytest.raises(engine.IndicatorError, match="unknown unit 'nope'.*dps-big"):
        engine.evaluate("2025", engine.Scope("unit", "nope"))
    with pytest.raises(engine.IndicatorError, match="not a scope"):
        engine.Scope.parse("county:03")
    assert engine.Scope.parse("unit:dps-big") == engine.Scope("unit", "dps-big")


def test_strata_add_up_to_the_total_for_every_stratifier(referrals):
    [found] = engine.evaluate("2025", by="all", indicator_ids=[REJECTION])
    assert (found.numerator, found.denominator) == (4, 14)
    assert set(found.strata) == set(STRATIFIERS)
    for name, strata in found.strata.items():
        assert sum(s.denominator for s in strata) == 14, name
        assert sum(s.numerator or 0 for s in strata) == 4, name
    sex = {s.key: (s.numerator, s.denominator) for s in found.strata["sex"]}
    assert sex == {"male": (3, 7), "female": (1, 7)}
    age = {s.key: s.denominator for s in found.strata["age"]}
    assert age == {"35-44": 7, "55-66": 7}  # age reached in 2025: 35 and 65
    immigrant = {s.key: s.denominator for s in found.strata["immigrant"]}
    assert immigrant == {"immigrant": 1, "unknown": 13}
    team = {s.key: (s.numerator, s.denominator, s.label) for s in found.strata["team"]}
    assert team["dps-small"] == (1, 2, referrals["small"].name)
    assert {s.key for s in found.strata["trust"]} == {t.code for t in referrals["trusts"]}
    centrality = {s.key: s.denominator for s in found.strata["centrality"]}
    assert centrality == {str(referrals["oslo"].centrality_class): 14}


def test_scopes_filter_to_the_unit_trust_region_and_municipality(referrals):
    def total(scope):
        [found] = engine.evaluate("2025", scope, indicator_ids=[REJECTION])
        return found.numerator, found.denominator

    big_trust, small_trust = referrals["trusts"]
    assert total(engine.Scope("unit", "dps-big")) == (3, 12)
    assert total(engine.Scope("trust", small_trust.code)) == (1, 2)
    assert total(engine.Scope("region", big_trust.region.code)) == (3, 12)
    assert total(engine.Scope("municipality", "0301")) == (4, 14)
    assert total(engine.Scope("municipality", "5001")) == (0, 0)


def test_published_results_never_show_small_cells(referrals):
    [shown] = engine.published("2025", by=["team", "sex"], indicator_ids=[REJECTION])
    # 4 rejected of 14: the total's numerator is below 5, so it is hidden, and its rate with it.
    assert shown.total.suppressed and shown.total.numerator is None and shown.total.rate is None
    assert shown.value is None
    for rows in shown.strata.values():
        for row in rows:
            assert row.cell.suppressed  # every stratum has fewer than 5 rejections
    [lenient] = engine.published("2025", by="team", indicator_ids=[REJECTION], threshold=2)
    assert lenient.total.numerator == 4 and lenient.total.denominator == 14
    team = {row.stratum: row.cell for row in lenient.strata["team"]}
    # dps-small: 1 rejected of 2 is small; dps-big must then be hidden too (else 4 - 3 gives it away).
    assert team["dps-small"].suppressed and team["dps-big"].suppressed
    with pytest.raises(engine.IndicatorError):
        engine.published("2025", threshold=0)


def test_unavailable_indicators_say_why_and_carry_no_numbers(referrals):
    results = {r.indicator_id: r for r in engine.published("2025")}
    assert len(results) == len(engine.definitions())
    housing = results["rop-06b-housing-at-discharge"]
    assert not housing.available and "housing" in housing.reason and housing.total.numerator is None


def test_trend_is_one_published_total_per_period(referrals):
    trend = engine.trend(REJECTION, ["2024", "2025"], threshold=1)
    # No referrals in 2024: a denominator of 0 is below any threshold, so hidden too.
    assert [(str(r.period), r.total.numerator, r.total.denominator) for r in trend] == [
        ("2024", None, None), ("2025", 4, 14)]
    with pytest.raises(engine.IndicatorError):
        engine.trend("rop-nope", ["2025"])


def test_persons_behind_only_with_a_care_relationship_and_audited(builders, referrals):
    big = referrals["big"]
    rejected = referrals["persons"][:3]
    for person in referrals["persons"][:2]:  # a care relationship with two of the three rejected
        builders.make_episode(person, big, start=D(2025, 4, 8))
    builders.make_episode(referrals["persons"][5], big, start=D(2025, 4, 8))  # accepted: not in the numerator
    clinician = builders.make_user(Role.CLINICIAN, units=[big])
    shown = engine.persons_behind(clinician, REJECTION, "2025", engine.Scope("unit", "dps-big"))
    assert sorted(p.pid for p in shown) == sorted(p.pid for p in rejected[:2])
    entry = AuditEntry.objects.filter(action="list").latest("seq")
    assert sorted(entry.detail["persons"]) == sorted(p.pid for p in shown)
    assert entry.resource == f"indicator:{REJECTION}"
    everyone = engine.persons_behind(clinician, REJECTION, "2025", engine.Scope("unit", "dps-big"),
                                     which="denominator")
    assert len(everyone) == 3


@pytest.mark.parametrize("role", [Role.ANALYST, Role.ADMINISTRATOR, Role.SERVICE_USER])
def test_analysts_and_others_never_get_person_lists(builders, referrals, role):
    user = builders.make_user(role)
    with pytest.raises(AccessDenied):
        engine.persons_behind(user, REJECTION, "2025")


def test_snapshots_are_reused_until_forgotten(builders, referrals):
    [first] = engine.evaluate("2025", by="sex", indicator_ids=[REJECTION], cached=True)
    Referral.objects.create(person=builders.make_person(), to_unit=referrals["big"], status="rejected",
                            sent_date=D(2025, 5, 1), received_date=D(2025, 5, 1), assessed_date=D(2025, 5, 2),
                            rejection_reason="other")
    [again] = engine.evaluate("2025", by="sex", indicator_ids=[REJECTION], cached=True)
    assert (again.numerator, again.denominator) == (first.numerator, first.denominator) == (4, 14)
    assert again.strata == first.strata
    [fresh] = engine.evaluate("2025", by="sex", indicator_ids=[REJECTION])
    assert (fresh.numerator, fresh.denominator) == (5, 15)
    [expired] = engine.evaluate("2025", by="sex", indicator_ids=[REJECTION], cached=True,
                                max_age=dt.timedelta(0))
    assert expired.denominator == 15
    assert engine.forget_snapshots() == 1
    [published] = engine.published("2025", indicator_ids=[REJECTION], cached=True)
    assert published.total.numerator == 5


def test_many_indicators_at_once_match_one_at_a_time(referrals, builders):
    from helhet.pathways.models import Coordinator, IndividualPlan

    for index, person in enumerate(referrals["persons"][:6]):
        builders.make_episode(person, referrals["big"], start=D(2024, 1, 1))
        builders.make_episode(person, referrals["small"], start=D(2024, 6 if index % 2 else 2, 1))
        IndividualPlan.objects.create(person=person, status="active", status_date=D(2025, 1, 1))
        if index < 4:
            Coordinator.objects.create(person=person, name="K", start_date=D(2025, 1, 1))
    together = {r.indicator_id: r for r in engine.evaluate("2025", by="team")}  # latest units in a temporary table
    for indicator_id in ("rop-04a-individual-plan-offered", "rop-04c-coordinator", REJECTION):
        [alone] = engine.evaluate("2025", by="team", indicator_ids=[indicator_id])
        assert together[indicator_id].available and alone.available
        assert together[indicator_id].strata == alone.strata
        assert (together[indicator_id].numerator, together[indicator_id].denominator) == (
            alone.numerator, alone.denominator)
    # Attributed to the most recently started of the two services.
    teams = {s.key: s.denominator for s in together["rop-04c-coordinator"].strata["team"]}
    assert teams == {"dps-small": 6}


def test_grouping_sets_and_union_all_give_the_same_strata(referrals, monkeypatch):
    from django.db import connection

    if connection.vendor not in engine.GROUPING_SETS_VENDORS:
        pytest.skip("this database aggregates with UNION ALL only")
    one_pass = engine.evaluate("2025", by="all", indicator_ids=[REJECTION])
    monkeypatch.setattr(engine, "GROUPING_SETS_VENDORS", ())
    assert engine.evaluate("2025", by="all", indicator_ids=[REJECTION]) == one_pass
