"""A clinician picks an instrument, fills it in and sees the total, band, cut-off readings and flags at once."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.test import Client

from helhet.accounts.models import Role
from helhet.assessment.library import get_instrument
from helhet.assessment.models import Administration, Mode, ScoreObservation
from helhet.audit.models import AuditEntry
from helhet.organisations.models import UnitKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def ward(builders):
    unit = builders.make_unit(UnitKind.DPS)
    person = builders.make_person(given_name="Kari", family_name="Skjemasen", sex="female")
    builders.make_episode(person, unit)
    clinician = builders.make_user(Role.CLINICIAN, units=[unit])
    client = Client()
    client.force_login(clinician)
    return SimpleNamespace(unit=unit, person=person, clinician=clinician, client=client)


def _post(instrument_id: str, scores, *, day: dt.date | None = None) -> dict[str, str]:
    """Form data giving these item scores to the instrument's scored items (None: left unanswered)."""
    instrument = get_instrument(instrument_id)
    data = {"administered_on": (day or dt.date.today()).isoformat()}
    for link_id, score in zip(instrument.scoring.items, scores, strict=True):
        if score is not None:
            data[f"item_{link_id}"] = instrument.item_by_link[link_id].option_by_score[score].code
    return data


def _fill(ward, instrument_id, scores, person=None, **kwargs):
    person = person or ward.person
    return ward.client.post(f"/assessment/{person.pid}/new/{instrument_id}/", _post(instrument_id, scores, **kwargs))


def test_instrument_list_and_form_come_from_the_library_in_norwegian(ward):
    body = ward.client.get(f"/assessment/{ward.person.pid}/").content.decode()
    for instrument_id in ("audit", "audit-c", "dudit", "phq-9", "gad-7", "scl-10", "living-conditions",
                          "somatic-health", "pathway-evaluation"):
        assert f"/assessment/{ward.person.pid}/new/{instrument_id}/" in body
    form = ward.client.get(f"/assessment/{ward.person.pid}/new/phq-9/").content.decode()
    assert "Lite interesse for eller glede av å gjøre ting" in form
    assert "Nesten hver dag" in form and 'name="item_phq9-9"' in form
    assert 'name="administered_on"' in form


def test_form_follows_an_english_language_choice(ward):
    ward.client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    form = ward.client.get(f"/assessment/{ward.person.pid}/new/phq-9/").content.decode()
    assert "Little interest or pleasure in doing things" in form and "Nearly every day" in form


def test_phq9_total_band_and_caseness_shown_at_once(ward):
    response = _fill(ward, "phq-9", [1, 1, 2, 2, 1, 1, 1, 2, 0])
    administration = Administration.objects.get(person=ward.person)
    assert response.status_code == 302
    assert response["Location"] == f"/assessment/{ward.person.pid}/results/{administration.pk}/"
    assert administration.mode == Mode.CLINICIAN and administration.recorded_by == ward.clinician
    assert administration.unit == ward.unit
    page = ward.client.get(response["Location"]).content.decode()
    assert '<span class="score-big" id="score">11</span>' in page
    assert "Moderat" in page  # band 10–14
    assert "Klinisk nivå (≥10)" in page and "Positiv" in page
    assert "Tanker om død eller selvskading" not in page  # item 9 = 0: no flag
    total = ScoreObservation.objects.get(administration=administration, part="total")
    assert (total.value, total.band, total.caseness) == (11.0, "moderate", True)


def test_phq9_item_9_above_zero_raises_the_flag(ward):
    response = _fill(ward, "phq-9", [0, 0, 0, 0, 0, 0, 0, 0, 1])
    page = ward.client.get(response["Location"]).content.decode()
    assert 'role="alert">Tanker om død eller selvskading (spørsmål 9 &gt; 0)' in page
    assert '<span class="score-big" id="score">1</span>' in page and "Minimal" in page


def test_missing_item_gives_an_absent_total_with_the_reason_never_zero(ward):
    response = _fill(ward, "phq-9", [3, 3, None, 3, 3, 3, 3, 3, 0])
    page = ward.client.get(response["Location"]).content.decode()
    assert 'id="score-absent"' in page and 'id="score"' not in page
    assert "1 scored item unanswered (phq9-3)" in page
    total = ScoreObservation.objects.get(administration__person=ward.person, part="total")
    assert total.value is None and "unanswered" in total.absent_reason


def test_audit_sex_specific_cutoff_reading_for_a_woman(ward):
    # Total 6: increased risk for women (≥6), not for men (≥8); only the woman's reading is shown.
    response = _fill(ward, "audit", [2, 1, 1, 0, 0, 0, 1, 1, 0, 0])
    page = ward.client.get(response["Location"]).content.decode()
    cutoffs = page.split('id="cutoffs"', 1)[1].split("</table>", 1)[0]
    assert 'data-sex="female"' in cutoffs and 'data-sex="male"' not in cutoffs
    woman = cutoffs.split('data-sex="female"', 1)[1].split("</tr>", 1)[0]
    assert "<td>kvinner</td>" in woman and "≥ 6" in woman and "Positiv" in woman


def test_audit_step_up_rule_flags_whatever_the_total(ward):
    # Item 9 (injury) scored 4: one intervention level up, although the total (4) is in zone I.
    response = _fill(ward, "audit", [0, None, None, None, None, None, None, None, 4, 0])
    page = ward.client.get(response["Location"]).content.decode()
    step_up = get_instrument("audit").scoring.flags[0].display.nb
    assert step_up in page.replace("&gt;", ">").replace("&lt;", "<").replace("&#x27;", "'")
    assert '<span class="score-big" id="score">4</span>' in page  # items 2–8 skipped by the WHO rule


def test_unknown_sex_shows_both_readings(ward, builders):
    person = builders.make_person(sex="unknown")
    builders.make_episode(person, ward.unit)
    response = _fill(ward, "dudit", [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], person=person)
    page = ward.client.get(response["Location"]).content.decode()
    cutoffs = page.split('id="cutoffs"', 1)[1].split("</table>", 1)[0]
    # DUDIT 2: positive for women (≥2), not for men (≥6); both readings, and a note saying why.
    woman = cutoffs.split('data-sex="female"', 1)[1].split("</tr>", 1)[0]
    man = cutoffs.split('data-sex="male"', 1)[1].split("</tr>", 1)[0]
    assert "Positiv" in woman and "Negativ" in man
    assert "begge vurderingene" in page


def test_future_date_is_a_form_error_and_nothing_is_stored(ward):
    response = _fill(ward, "gad-7", [1] * 7, day=dt.date.today() + dt.timedelta(days=2))
    assert response.status_code == 400
    assert "Datoen kan ikke være i fremtiden." in response.content.decode()
    assert not Administration.objects.exists()


def test_answer_not_in_the_instrument_is_a_form_error(ward):
    data = _post("gad-7", [1] * 7)
    data["item_gad7-1"] = "7"
    response = ward.client.post(f"/assessment/{ward.person.pid}/new/gad-7/", data)
    assert response.status_code == 400
    assert not Administration.objects.exists() and not ScoreObservation.objects.exists()


def test_unknown_instrument_is_404(ward):
    assert ward.client.get(f"/assessment/{ward.person.pid}/new/no-such/").status_code == 404


def test_somatic_form_takes_numbers_and_shows_bmi(ward):
    data = {"administered_on": dt.date.today().isoformat(), "item_soma-weight": "80", "item_soma-height": "180",
            "item_soma-systolic": "150", "item_soma-diastolic": "85"}
    response = ward.client.post(f"/assessment/{ward.person.pid}/new/somatic-health/", data)
    page = ward.client.get(response["Location"]).content.decode()
    assert "24,7 kg/m2" in page  # 80 / 1.8² = 24.69
    assert "Blodtrykk 140/90 mmHg eller høyere" in page
    bad = ward.client.post(f"/assessment/{ward.person.pid}/new/somatic-health/", {**data, "item_soma-height": "20"})
    assert bad.status_code == 400 and Administration.objects.count() == 1


def test_saving_is_audited_as_a_create_by_the_clinician(ward):
    _fill(ward, "phq-9", [0] * 9)
    entry = AuditEntry.objects.filter(person_pid=ward.person.pid, action="create").latest("seq")
    assert entry.actor == ward.clinician.username and entry.outcome == "allowed"


def test_person_without_care_relationship_is_refused_and_nothing_stored(ward, builders):
    stranger = builders.make_person()
    builders.make_episode(stranger, builders.make_unit(UnitKind.TSB))
    response = _fill(ward, "phq-9", [1] * 9, person=stranger)
    assert response.status_code == 403
    assert not Administration.objects.exists()
    assert AuditEntry.objects.filter(person_pid=stranger.pid, outcome="denied").exists()


def test_service_user_may_not_fill_in_for_themselves(ward, builders):
    own = builders.make_user(Role.SERVICE_USER, person=ward.person)
    client = Client()
    client.force_login(own)
    assert client.get(f"/assessment/{ward.person.pid}/new/phq-9/").status_code == 403
    assert client.post(f"/assessment/{ward.person.pid}/new/phq-9/", _post("phq-9", [1] * 9)).status_code == 403
    assert not Administration.objects.exists()


def test_result_of_another_persons_administration_is_404(ward, builders):
    response = _fill(ward, "phq-9", [1] * 9)
    other = builders.make_person()
    builders.make_episode(other, ward.unit)
    administration_id = response["Location"].rstrip("/").rsplit("/", 1)[1]
    assert ward.client.get(f"/assessment/{other.pid}/results/{administration_id}/").status_code == 404


def test_form_and_result_pages_have_locked_query_counts(ward, locked_queries):
    with locked_queries("assessment_fill_in"):
        ward.client.get(f"/assessment/{ward.person.pid}/new/audit/")
    response = _fill(ward, "audit", [2, 1, 1, 0, 0, 0, 1, 1, 0, 0])
    with locked_queries("assessment_result"):
        ward.client.get(response["Location"])


def test_every_assessment_url_refuses_a_person_without_care_relationship_for_every_role(ward, builders):
    from helhet.assessment.services import record_administration

    other_unit = builders.make_unit(UnitKind.TSB)
    victim = builders.make_person(given_name="Victima", family_name="Utenforsen")
    builders.make_episode(victim, other_unit)
    insider = builders.make_user(Role.CLINICIAN, units=[other_unit])
    administration = record_administration(
        user=insider, person=victim, instrument_id="gad-7", answers=dict.fromkeys(
            get_instrument("gad-7").scoring.items, "3"), administered_on=dt.date.today(), mode=Mode.CLINICIAN)
    urls = [f"/assessment/{victim.pid}/", f"/assessment/{victim.pid}/new/gad-7/",
            f"/assessment/{victim.pid}/results/{administration.pk}/", f"/assessment/{victim.pid}/tablet/gad-7/",
            f"/assessment/{victim.pid}/self-report/gad-7/", f"/assessment/{victim.pid}/self-report/gad-7/stop/",
            f"/assessment/{victim.pid}/profile.pdf"]
    users = [ward.clinician, builders.make_user(Role.TEAM_LEADER, units=[ward.unit]),
             builders.make_user(Role.ANALYST), builders.make_user(Role.ADMINISTRATOR, is_superuser=True),
             builders.make_user(Role.SERVICE_USER, person=ward.person), None]
    for user in users:
        for url in urls:
            for method in ("get", "post"):
                client = Client()
                if user is not None:
                    client.force_login(user)
                response = getattr(client, method)(url)
                assert response.status_code in (302, 403, 404, 405), (user, method, url)
                assert b"Utenforsen" not in response.content and b"%PDF" not in response.content
    assert Administration.objects.filter(person=victim).count() == 1
