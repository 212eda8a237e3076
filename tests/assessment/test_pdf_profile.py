"""The integrated profile as PDF, from the same templates and charts as the page."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.test import Client
from pypdf import PdfReader

from helhet.accounts.models import Role
from helhet.assessment.library import get_instrument
from helhet.assessment.models import Mode
from helhet.assessment.services import record_administration
from helhet.audit.models import AuditEntry
from helhet.organisations.models import UnitKind

pytestmark = pytest.mark.django_db

TODAY = dt.date.today()


def _record(user, person, instrument_id, scores, days_ago):
    instrument = get_instrument(instrument_id)
    answers = {link: instrument.item_by_link[link].option_by_score[s].code
               for link, s in zip(instrument.scoring.items, scores, strict=True)}
    record_administration(user=user, person=person, instrument_id=instrument_id, answers=answers,
                          administered_on=TODAY - dt.timedelta(days=days_ago), mode=Mode.CLINICIAN)


@pytest.fixture
def setting(builders):
    unit = builders.make_unit(UnitKind.DPS)
    person = builders.make_person(given_name="Pia", family_name="Pdfsen")
    builders.make_episode(person, unit, start=TODAY - dt.timedelta(days=800))
    clinician = builders.make_user(Role.CLINICIAN, units=[unit])
    client = Client()
    client.force_login(clinician)
    return client, clinician, person, unit


def test_profile_pdf_has_the_scores_and_the_charts(setting, locked_queries):
    client, clinician, person, _unit = setting
    for days, score in ((400, 3), (250, 2), (100, 1)):
        _record(clinician, person, "phq-9", [score] * 8 + [0], days)
    _record(clinician, person, "living-conditions", [3] * 8, 30)
    with locked_queries("assessment_profile_pdf"):
        response = client.get(f"/assessment/{person.pid}/profile.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "Samlet profil" in text and "Pia Pdfsen" in text
    assert "PHQ-9" in text and "Pålitelig bedring" in text  # 24 → 8
    assert "Levekår" in text and "Moderat" in text or "3" in text
    entry = AuditEntry.objects.filter(person_pid=person.pid).latest("seq")
    assert entry.resource == "assessment profile PDF" and entry.actor == clinician.username


def test_profile_pdf_is_refused_without_care_relationship(setting, builders):
    client, _clinician, _person, _unit = setting
    stranger = builders.make_person(family_name="Fremmedsen")
    builders.make_episode(stranger, builders.make_unit(UnitKind.TSB))
    response = client.get(f"/assessment/{stranger.pid}/profile.pdf")
    assert response.status_code == 403 and b"%PDF" not in response.content
