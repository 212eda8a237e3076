"""Individual plan, coordinator, responsibility group, next of kin and evaluation points."""

from __future__ import annotations

import pytest

from helhet.pathways import services
from helhet.pathways.models import Coordinator, NextOfKinContact, ResponsibilityGroup
from helhet.pathways.services import PathwayError

from .conftest import TODAY, days_ago


def test_plan_status_sequence(world):
    kw = {"user": world.kommune, "pid": world.person.pid, "unit": "k-test"}
    with pytest.raises(PathwayError, match="Only an active plan can be revised"):
        services.record_plan_status(**kw, status="revised", status_date=days_ago(20))
    services.record_plan_status(**kw, status="offered", status_date=days_ago(20))
    services.record_plan_status(**kw, status="active", status_date=days_ago(10))
    with pytest.raises(PathwayError, match="cannot be older"):
        services.record_plan_status(**kw, status="revised", status_date=days_ago(15))
    assert services.record_plan_status(**kw, status="revised", status_date=days_ago(1)).status == "revised"
    with pytest.raises(PathwayError) as refused:
        services.record_plan_status(**kw, status="someday", status_date=days_ago(1))
    assert refused.value.field == "status"


def test_new_coordinator_ends_the_previous_one(world):
    kw = {"user": world.kommune, "pid": world.person.pid, "unit": "k-test"}
    services.assign_coordinator(**kw, name="Ola", start_date=days_ago(100))
    with pytest.raises(PathwayError, match="must start later"):
        services.assign_coordinator(**kw, name="Per", start_date=days_ago(100))
    with pytest.raises(PathwayError) as refused:
        services.assign_coordinator(**kw, name="  ", start_date=days_ago(1))
    assert refused.value.field == "name"
    services.assign_coordinator(**kw, name="Per", start_date=days_ago(10))
    ola, per = Coordinator.objects.order_by("start_date")
    assert ola.end_date == days_ago(11) and per.end_date is None


def test_group_is_established_with_its_first_meeting(world):
    kw = {"user": world.kommune, "pid": world.person.pid}
    services.record_group_meeting(**kw, held_on=days_ago(30), members=[{"name": "Kari", "role": "bruker"}])
    with pytest.raises(PathwayError, match="cannot be earlier"):
        services.record_group_meeting(**kw, held_on=days_ago(31))
    with pytest.raises(PathwayError, match="needs a name"):
        services.record_group_meeting(**kw, held_on=days_ago(3), members=[{"role": "lege"}])
    services.record_group_meeting(**kw, held_on=days_ago(2), summary="Bolig drøftet")
    group = ResponsibilityGroup.objects.get()
    assert group.established_on == days_ago(30) and group.meetings.count() == 2
    assert group.members == [{"name": "Kari", "role": "bruker", "unit": ""}]


def test_next_of_kin_contact_needs_consent(world):
    kw = {"user": world.kommune, "pid": world.person.pid, "contact_date": days_ago(1)}
    with pytest.raises(PathwayError) as refused:
        services.record_next_of_kin_contact(**kw, relation=" ")
    assert refused.value.field == "relation"
    services.record_next_of_kin_contact(**kw, relation="mor", unit="k-test")
    world.person.consent_next_of_kin = False
    world.person.save()
    with pytest.raises(PathwayError, match="not consented"):
        services.record_next_of_kin_contact(**kw, relation="mor")
    assert NextOfKinContact.objects.count() == 1


def test_evaluation_point_validation(world):
    episode = world.person.episodes.get()
    kw = {"user": world.kommune, "pid": world.person.pid}
    point = services.record_evaluation(**kw, evaluated_on=days_ago(1), episode_id=episode.pk, benefit=4,
                                       plan_update_needed=True)
    assert point.episode == episode
    for extra, field in (({"benefit": 6}, "benefit"), ({"episode_id": 999999}, "episode"),
                         ({"episode_id": episode.pk, "evaluated_on": days_ago(300)}, "date"),
                         ({"evaluated_on": TODAY.replace(year=TODAY.year + 1)}, "date")):
        with pytest.raises(PathwayError) as refused:
            services.record_evaluation(**{**kw, "evaluated_on": days_ago(1), **extra})
        assert refused.value.field == field
