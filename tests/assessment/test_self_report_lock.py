"""Locked self-report mode: the tablet shows only the questionnaire, and returns to the login page when done."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.test import Client

from helhet.accounts.middleware import SELF_REPORT_SESSION_KEY
from helhet.accounts.models import Role
from helhet.assessment.library import get_instrument
from helhet.assessment.models import Administration, Mode
from helhet.organisations.models import UnitKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def tablet(builders):
    unit = builders.make_unit(UnitKind.FACT)
    person = builders.make_person(given_name="Ola", family_name="Nettbrettsen", sex="male")
    builders.make_episode(person, unit)
    clinician = builders.make_user(Role.CLINICIAN, units=[unit])
    client = Client()
    client.force_login(clinician)
    base = f"/assessment/{person.pid}"
    return SimpleNamespace(person=person, clinician=clinician, client=client, unit=unit,
                           start=f"{base}/tablet/gad-7/", form=f"{base}/self-report/gad-7/",
                           stop=f"{base}/self-report/gad-7/stop/")


def _answers(scores):
    instrument = get_instrument("gad-7")
    return {f"item_{link}": instrument.item_by_link[link].option_by_score[s].code
            for link, s in zip(instrument.scoring.items, scores, strict=True)}


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_handing_over_locks_the_session_to_the_one_form(tablet):
    response = tablet.client.post(tablet.start)
    assert response.status_code == 302 and response["Location"] == tablet.form
    assert tablet.client.session[SELF_REPORT_SESSION_KEY] == tablet.form
    page = tablet.client.get(tablet.form).content.decode()
    assert "Følt deg nervøs, engstelig eller på tuppa" in page and "Send svarene mine" in page
    # Nothing but the questionnaire: no menu, no person data, no language switch, no clinician name.
    assert 'class="topbar"' not in page and "Nettbrettsen" not in page and tablet.person.pid not in page.split(
        "<form", 1)[0]
    assert tablet.clinician.username not in page
    assert 'name="administered_on"' not in page


def test_any_other_page_logs_out_and_returns_to_the_login(tablet):
    tablet.client.post(tablet.start)
    response = tablet.client.get(f"/persons/{tablet.person.pid}/")
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert not _logged_in(tablet.client)
    assert tablet.client.get(tablet.form).status_code == 302  # the form itself now needs a new login


def test_submitting_stores_a_self_report_and_logs_out(tablet):
    tablet.client.post(tablet.start)
    response = tablet.client.post(tablet.form, _answers([2, 2, 1, 1, 0, 1, 2]))
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert not _logged_in(tablet.client)
    administration = Administration.objects.get(person=tablet.person)
    assert administration.mode == Mode.SELF_REPORT and administration.recorded_by == tablet.clinician
    total = administration.observations.get(part="total")
    assert total.value == 9.0 and total.caseness is True  # GAD-7 ≥8: caseness
    login_page = tablet.client.get("/login/").content.decode()
    assert "Takk! Svarene dine er lagret." in login_page


def test_a_bad_answer_stays_in_the_locked_form(tablet):
    tablet.client.post(tablet.start)
    data = _answers([1] * 7)
    data["item_gad7-2"] = "9"
    response = tablet.client.post(tablet.form, data)
    assert response.status_code == 400 and _logged_in(tablet.client)
    assert tablet.client.session[SELF_REPORT_SESSION_KEY] == tablet.form
    assert not Administration.objects.exists()


def test_stopping_saves_nothing_and_logs_out(tablet):
    tablet.client.post(tablet.start)
    response = tablet.client.post(tablet.stop)
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert not _logged_in(tablet.client) and not Administration.objects.exists()


def test_the_form_is_only_reachable_through_the_hand_over(tablet):
    response = tablet.client.get(tablet.form)
    assert response.status_code == 302 and response["Location"].endswith("/new/gad-7/")
    assert tablet.client.get(tablet.start).status_code == 405  # handing over is a POST


def test_lock_is_refused_for_a_person_without_care_relationship(tablet, builders):
    stranger = builders.make_person()
    builders.make_episode(stranger, builders.make_unit(UnitKind.TSB))
    response = tablet.client.post(f"/assessment/{stranger.pid}/tablet/gad-7/")
    assert response.status_code == 403
    assert SELF_REPORT_SESSION_KEY not in tablet.client.session
