"""Admissions, discharges and contacts: overlaps, order of dates, future dates, housing at discharge."""

from __future__ import annotations

import pytest

from helhet.pathways import services
from helhet.pathways.models import Encounter, EncounterKind
from helhet.pathways.services import PathwayError

from .conftest import TODAY, days_ago


@pytest.fixture
def ward_world(world):
    world.builders.make_episode(world.person, world.ward, start=days_ago(60))
    return world


def admit(world, day, **extra):
    return services.record_admission(user=world.ward_user, pid=world.person.pid, unit="ward-test", admitted_on=day,
                                     **extra)


def test_admission_and_discharge_with_housing(ward_world):
    admission = admit(ward_world, days_ago(30))
    assert admission.episode is not None and admission.episode.unit == ward_world.ward
    services.record_discharge(user=ward_world.ward_user, pid=ward_world.person.pid, admission_id=admission.pk,
                              discharged_on=days_ago(10), housing="temporary")
    admission.refresh_from_db()
    assert (admission.end_date, admission.housing_at_discharge) == (days_ago(10), "temporary")


def test_discharge_before_admission_and_in_the_future_are_refused(ward_world):
    admission = admit(ward_world, days_ago(30))
    for day, text in ((days_ago(31), "cannot be before the admission"), (TODAY.replace(year=TODAY.year + 1),
                                                                         "future")):
        with pytest.raises(PathwayError, match=text):
            services.record_discharge(user=ward_world.ward_user, pid=ward_world.person.pid,
                                      admission_id=admission.pk, discharged_on=day, housing="permanent")
    with pytest.raises(PathwayError) as refused:
        services.record_discharge(user=ward_world.ward_user, pid=ward_world.person.pid, admission_id=admission.pk,
                                  discharged_on=days_ago(3), housing="")
    assert refused.value.field == "housing"
    admission.refresh_from_db()
    assert admission.end_date is None


def test_overlapping_admissions_in_the_same_ward_are_refused(ward_world):
    first = admit(ward_world, days_ago(30), discharged_on=days_ago(20), housing="permanent")
    with pytest.raises(PathwayError, match="overlaps"):
        admit(ward_world, days_ago(25))
    with pytest.raises(PathwayError, match="overlaps"):  # a stay that would end inside the earlier one
        admit(ward_world, days_ago(40), discharged_on=days_ago(20), housing="none")
    admit(ward_world, days_ago(45), discharged_on=days_ago(31), housing="none")  # before: fine
    open_stay = admit(ward_world, days_ago(10))
    with pytest.raises(PathwayError, match="overlaps"):
        admit(ward_world, days_ago(5))
    assert Encounter.objects.filter(kind=EncounterKind.ADMISSION).count() == 3
    assert first.pk and open_stay.end_date is None


def test_admission_needs_an_inpatient_unit_of_ones_own(world):
    with pytest.raises(PathwayError, match="not an inpatient unit"):
        services.record_admission(user=world.kommune, pid=world.person.pid, unit="k-test", admitted_on=days_ago(1))
    with pytest.raises(PathwayError, match="do not work in"):
        services.record_admission(user=world.kommune, pid=world.person.pid, unit="ward-test",
                                  admitted_on=days_ago(1))
    with pytest.raises(PathwayError, match="Unknown unit"):
        services.record_admission(user=world.kommune, pid=world.person.pid, unit="nowhere", admitted_on=days_ago(1))


def test_contact_validation(world):
    contact = services.record_contact(user=world.kommune, pid=world.person.pid, unit="k-test",
                                      contact_date=days_ago(1), mode="home_visit", staff_count=2, minutes=45)
    assert contact.episode is not None and contact.kind == EncounterKind.CONTACT
    for kwargs, field in (({"mode": "telepathy"}, "mode"), ({"staff_count": 0}, "staff_count"),
                          ({"minutes": 5000}, "minutes"), ({"contact_date": TODAY.replace(year=TODAY.year + 1)},
                                                           "date")):
        with pytest.raises(PathwayError) as refused:
            services.record_contact(**{"user": world.kommune, "pid": world.person.pid, "unit": "k-test",
                                       "contact_date": days_ago(1), "mode": "phone", **kwargs})
        assert refused.value.field == field
    assert Encounter.objects.count() == 1
