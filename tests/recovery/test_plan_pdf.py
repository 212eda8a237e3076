"""The plan printed for the person: a PDF in Norwegian from the person's own page template, no staff notes."""

from __future__ import annotations

import datetime as dt
import io

from django.test import Client
from pypdf import PdfReader

from helhet.recovery import services

TODAY = dt.date.today()


def _text(response) -> str:
    reader = PdfReader(io.BytesIO(response.content))
    return " ".join(page.extract_text() for page in reader.pages)


def test_the_plan_pdf_renders_in_norwegian_without_staff_notes(world):
    plan = services.create_plan(user=world.clinician, person=world.person, created_on=TODAY - dt.timedelta(days=40),
                                staff_note="STAFFPLANNOTE")
    goal = services.add_goal(user=world.clinician, person=world.person, plan=plan, data={
        "text": "Ha en fast jobb", "life_area": "work", "level_expected": "Jobber to dager i uka",
        "helpers": "IPS-veileder: finne arbeidsgiver", "staff_note": "STAFFGOALNOTE"})
    services.record_review(user=world.clinician, person=world.person, plan=plan, reviewed_on=TODAY,
                           ratings={goal.pk: 2})
    services.add_comment(user=world.clinician, person=world.person, plan=plan, text="STAFFCOMMENT", staff_only=True)
    client = Client()
    client.force_login(world.clinician)
    client.cookies["django_language"] = "en"  # the PDF is Norwegian whatever the clinician's page language
    response = client.get(f"/recovery/{world.person.pid}/pdf/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = _text(response)
    for expected in ("Min bedringsplan", "Ha en fast jobb", "Jobber to dager i uka", "IPS-veileder",
                     "Mine mål", "Målskåren din", "70"):
        assert expected in text, expected
    for secret in ("STAFFPLANNOTE", "STAFFGOALNOTE", "STAFFCOMMENT", "Propose", "Foreslå et nytt mål"):
        assert secret not in text, secret


def test_the_person_prints_their_own_plan(world):
    services.add_goal(user=world.service_user, person=world.person, plan=None,
                      data={"text": "Sove bedre", "life_area": "health"})
    client = Client()
    client.force_login(world.service_user)
    response = client.get(f"/recovery/{world.person.pid}/pdf/")
    assert response.status_code == 200
    assert "Sove bedre" in _text(response)


def test_no_plan_no_pdf(world):
    client = Client()
    client.force_login(world.clinician)
    assert client.get(f"/recovery/{world.person.pid}/pdf/").status_code == 400
