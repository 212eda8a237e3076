"""The integrated profile on the person page: four domains, latest score, band, date, trend chart, reliable change."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.test import Client

from helhet.accounts.models import Role
from helhet.assessment.library import get_instrument
from helhet.assessment.models import Mode
from helhet.assessment.profile import build_profile
from helhet.assessment.scoring import ChangeStatus
from helhet.assessment.services import record_administration
from helhet.organisations.models import UnitKind

pytestmark = pytest.mark.django_db

TODAY = dt.date.today()


@pytest.fixture
def care(builders):
    unit = builders.make_unit(UnitKind.ACT)
    person = builders.make_person(given_name="Per", family_name="Profilsen", sex="male")
    builders.make_episode(person, unit, start=TODAY - dt.timedelta(days=900))
    clinician = builders.make_user(Role.CLINICIAN, units=[unit])
    client = Client()
    client.force_login(clinician)
    return SimpleNamespace(unit=unit, person=person, clinician=clinician, client=client)


def record(care, instrument_id, scores, days_ago, *, person=None):
    instrument = get_instrument(instrument_id)
    answers = {link: instrument.item_by_link[link].option_by_score[s].code
               for link, s in zip(instrument.scoring.items, scores, strict=True) if s is not None}
    return record_administration(user=care.clinician, person=person or care.person, instrument_id=instrument_id,
                                 answers=answers, administered_on=TODAY - dt.timedelta(days=days_ago),
                                 mode=Mode.CLINICIAN)


def _trend(profile, instrument_id):
    for domain in profile.domains:
        for trend in domain.trends:
            if trend.instrument.id == instrument_id:
                return domain, trend
    raise AssertionError(f"no trend for {instrument_id}")


def test_four_domains_side_by_side_with_latest_score_band_and_date(care):
    record(care, "phq-9", [3, 3, 2, 2, 2, 2, 2, 2, 2], 200)  # 20 severe
    record(care, "phq-9", [1, 1, 1, 1, 1, 1, 1, 1, 0], 10)  # 8 mild: reliable improvement (−12 ≥ 6)
    record(care, "audit", [4, 3, 3, 2, 2, 2, 2, 2, 2, 2], 150)
    record(care, "living-conditions", [5, 3, 3, 2, 4, 3, 2, 1], 30)
    body = care.client.get(f"/persons/{care.person.pid}/").content.decode()
    profile = body.split('id="profile"', 1)[1]
    for heading in ("Rusmiddelbruk", "Psykisk helse", "Somatisk helse", "Levekår"):
        assert heading in profile
    phq9 = profile.split('data-instrument="phq-9"', 1)[1].split("</article>", 1)[0]
    assert '<dd class="latest-score">8</dd>' in phq9 and '<dd class="latest-band">Mild</dd>' in phq9
    assert (TODAY - dt.timedelta(days=10)).strftime("%d.%m.%Y") in phq9
    assert "Pålitelig bedring" in phq9 and "<svg" in phq9
    assert "Pålitelig bedring" in phq9.split("<svg", 1)[1]  # marked in the chart too
    lc = profile.split('data-instrument="living-conditions"', 1)[1].split("</article>", 1)[0]
    assert "2,88" in lc  # mean of 5,3,3,2,4,3,2,1 = 23/8
    assert "Minst ett livsområde er rødt" in lc  # the red-area flag of the latest administration
    assert "Ingen kartlegginger ennå." in profile  # somatic health has none


def test_reliable_deterioration_and_no_change(care):
    record(care, "gad-7", [0, 1, 0, 1, 0, 1, 0], 300)  # 3
    record(care, "gad-7", [1, 1, 1, 1, 1, 1, 1], 200)  # 7: +4 ≥ deterioration threshold 4
    record(care, "phq-9", [1, 1, 1, 1, 1, 1, 1, 1, 0], 300)  # 8
    record(care, "phq-9", [1, 1, 1, 1, 1, 1, 1, 1, 1], 100)  # 9
    profile = build_profile(care.person)
    _domain, gad = _trend(profile, "gad-7")
    assert gad.change is not None and gad.change.status == ChangeStatus.DETERIORATED
    assert [p.change for p in gad.points] == [None, ChangeStatus.DETERIORATED]
    assert "Pålitelig forverring" in str(gad.chart)
    _domain, phq = _trend(profile, "phq-9")
    assert phq.change is not None and phq.change.status == ChangeStatus.NO_RELIABLE_CHANGE
    assert phq.flags == ["Tanker om død eller selvskading (spørsmål 9 > 0) – følg opp med klinisk vurdering av "
                         "selvmordsrisiko"]


def test_absent_total_is_shown_as_absent_with_its_reason(care):
    record(care, "phq-9", [2, 2, 2, 2, 2, 2, 2, 2, 0], 100)
    record(care, "phq-9", [2, None, 2, 2, 2, 2, 2, 2, 0], 5)
    body = care.client.get(f"/persons/{care.person.pid}/").content.decode()
    phq9 = body.split('data-instrument="phq-9"', 1)[1].split("</article>", 1)[0]
    assert '<span class="absent">mangler</span>' in phq9 and "1 scored item unanswered (phq9-2)" in phq9
    assert "Endring kan ikke beregnes" in phq9
    _domain, trend = _trend(build_profile(care.person), "phq-9")
    assert trend.latest.value is None  # never a silent 0


def test_somatic_health_trend_is_bmi(care):
    instrument_id = "somatic-health"
    for days, weight in ((300, 95.0), (20, 88.0)):
        record_administration(user=care.clinician, person=care.person, instrument_id=instrument_id,
                              answers={"soma-weight": weight, "soma-height": 180.0, "soma-systolic": 150},
                              administered_on=TODAY - dt.timedelta(days=days), mode=Mode.CLINICIAN)
    domain, trend = _trend(build_profile(care.person), instrument_id)
    assert domain.code == "somatic_health" and trend.part == "bmi"
    assert [p.value for p in trend.points] == [29.3, 27.2]
    assert trend.latest.band == "Overvekt (25–29,9)"


def _long_history(care):
    for days in range(30, 600, 20):
        record(care, "phq-9", [2] * 9, days)
        record(care, "gad-7", [1] * 7, days)
        record(care, "audit", [1] * 8 + [2, 0], days)
        record(care, "living-conditions", [2] * 8, days)


def test_profile_panel_query_count_is_locked_whatever_the_history(care, locked_queries, rf):
    from helhet.assessment.panels import profile

    request = rf.get("/")
    request.user = care.clinician
    record(care, "phq-9", [1] * 9, 20)
    with locked_queries("assessment_profile_panel"):
        profile(request, care.person, None)
    _long_history(care)
    with locked_queries("assessment_profile_panel"):
        context = profile(request, care.person, None)
    assert context["profile"].administrations == 1 + 4 * 29


def test_person_page_query_count_does_not_grow_with_the_history(care, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    record(care, "phq-9", [1] * 9, 20)
    care.client.get(f"/persons/{care.person.pid}/")  # warm the session and caches
    with CaptureQueriesContext(connection) as few:
        care.client.get(f"/persons/{care.person.pid}/")
    _long_history(care)
    with CaptureQueriesContext(connection) as many:
        response = care.client.get(f"/persons/{care.person.pid}/")
    assert len(many) == len(few)
    assert response.content.decode().count('class="profile-trend"') == 4


def test_profile_panel_hides_the_new_assessment_link_from_the_service_user(care, builders):
    record(care, "phq-9", [1] * 9, 20)
    own = builders.make_user(Role.SERVICE_USER, person=care.person)
    client = Client()
    client.force_login(own)
    body = client.get(f"/persons/{care.person.pid}/").content.decode()
    assert 'data-instrument="phq-9"' in body
    assert f"/assessment/{care.person.pid}/\"" not in body
