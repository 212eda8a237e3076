"""The PDF report: same figures as the page, charts, a methods section; for the CLI and the download."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.test import Client
from pypdf import PdfReader

from helhet.accounts.models import Role
from helhet.indicators import engine
from helhet.indicators.report import render_report
from helhet.organisations.models import HealthTrust, UnitKind
from helhet.pathways.models import Referral


@pytest.fixture
def world(builders):
    trust = HealthTrust.objects.order_by("code").first()
    unit = builders.make_unit(UnitKind.FACT, code="fact-r", trust=trust)
    for index in range(10):
        person = builders.make_person(family_name=f"Rapport{index:02d}")
        day = dt.date(2025, 2, 3)
        Referral.objects.create(person=person, to_unit=unit, status="rejected" if index < 5 else "accepted",
                                sent_date=day, received_date=day, assessed_date=day + dt.timedelta(days=4))
        builders.make_episode(person, unit)
    return {"unit": unit, "leader": builders.make_user(Role.TEAM_LEADER, units=[unit])}


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_unit_report_has_figures_charts_and_methods(world):
    pdf = render_report(engine.Scope("unit", "fact-r"), "2025", language="nb")
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    assert "Kvalitetsindikatorer: " + world["unit"].name in text
    assert "Avviste henvisninger" in text and "50 %" in text and "5 / 10" in text
    assert "Metode" in text and "Prikking" in text and "Periode: 2025" in text
    assert "Ikke tilgjengelig" in text  # the unavailable indicators are listed
    assert all(f"Rapport{index:02d}" not in text for index in range(10))


def test_report_in_english_and_unknown_scope(world):
    text = pdf_text(render_report(engine.Scope("unit", "fact-r"), "2025", language="en"))
    assert "Methods" in text and "Rejected referrals" in text
    with pytest.raises(engine.IndicatorError) as error:
        render_report(engine.Scope("unit", "no-such-unit"), "2025")
    assert "fact-r" in error.value.valid


def test_report_download_from_the_page(world):
    client = Client()
    client.force_login(world["leader"])
    response = client.get("/indicators/unit/fact-r/report.pdf?period=2025")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="indicators-unit-fact-r-2025.pdf"'
    assert "Avviste henvisninger" in pdf_text(response.content)


def test_analyst_report_is_stratified(builders, world):
    client = Client()
    client.force_login(builders.make_user(Role.ANALYST))
    response = client.get("/indicators/national/report.pdf?period=2025&by=age")
    assert response.status_code == 200
    text = pdf_text(response.content)
    assert "Etter aldersgruppe" in text and "Resultater av behandlingen" in text
