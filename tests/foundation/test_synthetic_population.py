import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from helhet.pathways.models import EpisodeOfCare, responsible_episodes
from helhet.persons.models import Condition, Person
from helhet.persons.nin import NationalIdKind, parse_national_id
from helhet.persons.pseudonyms import decrypt_nin
from helhet.synth.service import generate_population

TODAY = dt.date(2026, 6, 1)


def _snapshot():
    return list(Person.objects.order_by("pid").values_list("pid", "given_name", "family_name", "birth_year", "sex",
                                                           "municipality_id"))


def test_population_is_realistic(refdata):
    summary = generate_population(persons=400, seed=7, today=TODAY, show_progress=False)
    assert summary.counts["persons"] == 400
    persons = list(Person.objects.all())
    assert len({p.municipality_id for p in persons}) > 50
    assert {p.sex for p in persons} == {"male", "female"}
    assert all(18 <= TODAY.year - p.birth_year <= 86 for p in persons)
    assert any(p.immigrant_background == "immigrant" for p in persons)
    assert Condition.objects.filter(kind="substance").values("person").distinct().count() == 400
    assert Condition.objects.filter(kind="mental").values("person").distinct().count() == 400
    kinds = set(EpisodeOfCare.objects.values_list("unit__kind", flat=True))
    assert kinds == {"municipal", "dps", "tsb", "ward", "act", "fact"} or kinds >= {"municipal", "dps", "tsb"}
    assert responsible_episodes(TODAY).count() > 200
    number = decrypt_nin(persons[0].nin_encrypted)
    assert parse_national_id(number).kind == NationalIdKind.SYNTHETIC  # never a possible real number


def test_same_seed_same_population(refdata):
    generate_population(persons=60, seed=11, today=TODAY, show_progress=False)
    first = _snapshot()
    generate_population(persons=60, seed=11, today=TODAY, replace=True, show_progress=False)
    assert _snapshot() == first
    generate_population(persons=60, seed=12, today=TODAY, replace=True, show_progress=False)
    assert _snapshot() != first


def test_refuses_to_add_to_an_existing_population(refdata):
    call_command("synth", "--persons", "5", "--no-progress")
    with pytest.raises(CommandError, match="--replace"):
        call_command("synth", "--persons", "5", "--no-progress")
    with pytest.raises(CommandError, match="at least 1"):
        call_command("synth", "--persons", "0", "--replace", "--no-progress")
