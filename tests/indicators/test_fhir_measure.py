"""FHIR Measure and MeasureReport: definitions, summary and stratified reports, suppression, bad input."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from fhir.resources.R4B.measure import Measure
from fhir.resources.R4B.measurereport import MeasureReport

from helhet.accounts.models import Role
from helhet.fhir.models import ApiClient
from helhet.indicators import engine
from helhet.organisations.models import UnitKind
from helhet.pathways.models import Referral

pytestmark = pytest.mark.django_db
REJECTION = "rop-05a-referral-rejection"


@pytest.fixture
def api(builders):
    user = builders.make_user(Role.ANALYST)
    _client, token = ApiClient.issue(name="indicator-test-system", user=user)
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def referrals(builders):
    """30 decided referrals to one unit, 10 rejected: 15 women (6 rejected), 15 men (4 rejected)."""
    unit = builders.make_unit(UnitKind.DPS, code="dps-fhir")
    for index in range(30):
        person = builders.make_person(sex="female" if index < 15 else "male")
        rejected = index < 6 or 15 <= index < 19
        Referral.objects.create(person=person, to_unit=unit, status="rejected" if rejected else "accepted",
                                sent_date=dt.date(2025, 2, 1), received_date=dt.date(2025, 2, 1),
                                assessed_date=dt.date(2025, 2, 10), rejection_reason="wrong_level" if rejected else "")
    return unit


def population(group: dict, code: str) -> dict:
    return next(p for p in group["population"] if p["code"]["coding"][0]["code"] == code)


def test_every_indicator_is_a_valid_measure(api):
    bundle = api.get("/fhir/Measure", {"_count": 100}).json()
    assert bundle["total"] == len(engine.definitions())
    for entry in bundle["entry"]:
        Measure.model_validate(entry["resource"])
    measure = api.get(f"/fhir/Measure/{REJECTION}").json()
    assert measure["scoring"]["coding"][0]["code"] == "proportion"
    assert [p["code"]["coding"][0]["code"] for p in measure["group"][0]["population"]] == [
        "initial-population", "denominator", "numerator"]
    median = api.get("/fhir/Measure/rop-05b-days-to-assessment").json()
    assert median["scoring"]["coding"][0]["code"] == "continuous-variable"
    assert api.get("/fhir/Measure/rop-nope").status_code == 404
    assert api.get("/fhir/Measure", {"title": "referral"}).json()["total"] >= 2


def test_measure_report_summary_and_stratified(api, referrals):
    response = api.get("/fhir/MeasureReport", {"measure": REJECTION, "period": "2025", "subject": "unit:dps-fhir",
                                                "stratifier": "sex"})
    assert response.status_code == 200, response.content
    [entry] = response.json()["entry"]
    report = entry["resource"]
    MeasureReport.model_validate(report)
    group = report["group"][0]
    assert population(group, "numerator")["count"] == 10 and population(group, "denominator")["count"] == 30
    assert group["measureScore"]["value"] == pytest.approx(1 / 3)
    assert report["period"] == {"start": "2025-01-01", "end": "2025-12-31"}
    strata = {s["value"]["coding"][0]["code"]: s for s in group["stratifier"][0]["stratum"]}
    assert set(strata) == {"female", "male"}
    # Men: 4 rejected is a small cell: masked, its rate too, and women masked as its complement.
    for sex in ("male", "female"):
        assert "count" not in population(strata[sex], "numerator")
        assert strata[sex]["measureScore"]["extension"][0]["valueCode"] == "masked"


def test_evaluate_measure_gives_one_report(api, referrals):
    response = api.get("/fhir/Measure/$evaluate-measure", {"measure": f"Measure/{REJECTION}",
                                                           "periodStart": "2025-01-01", "periodEnd": "2025-03-31"})
    assert response.status_code == 200, response.content
    report = response.json()
    MeasureReport.model_validate(report)
    assert population(report["group"][0], "denominator")["count"] == 30
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "measure", "valueString": REJECTION}, {"name": "period", "valueString": "2025-Q2"}]}
    response = api.post("/fhir/Measure/$evaluate-measure", body, content_type="application/fhir+json")
    assert response.status_code == 200
    group = response.json()["group"][0]
    assert "count" not in population(group, "denominator")  # no referrals in Q2: 0 is small too


def test_unavailable_measure_is_reported_without_numbers(api, referrals):
    report = api.get("/fhir/Measure/$evaluate-measure",
                     {"measure": "rop-06b-housing-at-discharge", "period": "2025"}).json()
    MeasureReport.model_validate(report)
    assert any("housing" in e.get("valueString", "") for e in report["extension"])
    assert "population" not in report["group"][0]


@pytest.mark.parametrize(("params", "message"), [
    ({"measure": "rop-nope", "period": "2025"}, "unknown indicator"),
    ({"measure": REJECTION, "period": "soon"}, "not a period"),
    ({"measure": REJECTION}, "period is required"),
    ({"measure": REJECTION, "period": "2025", "subject": "unit:nope"}, "unknown unit"),
    ({"measure": REJECTION, "period": "2025", "subject": "Patient/P-123"}, "not a scope"),
    ({"measure": REJECTION, "period": "2025", "stratifier": "colour"}, "unknown stratifier"),
    ({"measure": REJECTION, "period": "2025", "colour": "x"}, "unknown search parameter"),
])
def test_bad_input_is_an_operation_outcome_listing_valid_values(api, params, message):
    response = api.get("/fhir/MeasureReport", params)
    assert response.status_code == 400
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert message in outcome["issue"][0]["diagnostics"]


def test_periods_given_as_dates_must_be_whole_months(api):
    response = api.get("/fhir/Measure/$evaluate-measure",
                       {"measure": REJECTION, "periodStart": "2025-01-05", "periodEnd": "2025-03-31"})
    assert response.status_code == 400 and "first day of a month" in response.json()["issue"][0]["diagnostics"]


def test_a_token_is_required(client):
    assert client.get("/fhir/Measure").status_code == 401
