import pytest
from django.db import connection

from helhet.persons.models import Person
from helhet.persons.nin import InvalidNationalId
from helhet.persons.pseudonyms import decrypt_nin, nin_lookup_hash
from helhet.persons.services import PersonError, create_person, find_by_national_id


def _register(builders, **overrides):
    fields = dict(national_id=builders.synthetic_national_id(1979), given_name="Ola", family_name="Testesen",
                  sex="male", municipality_number="4601")
    fields.update(overrides)
    return create_person(**fields)


def test_national_id_is_encrypted_and_found_by_keyed_hash(builders):
    number = builders.synthetic_national_id(1979)
    person = _register(builders, national_id=number)
    assert person.pid.startswith("P-") and len(person.pid) == 10
    assert person.birth_year == 1979
    with connection.cursor() as cursor:
        cursor.execute("SELECT nin_encrypted, nin_hash FROM persons_person WHERE id = %s", [person.pk])
        encrypted, lookup = cursor.fetchone()
    assert number not in encrypted and number not in lookup
    assert decrypt_nin(encrypted) == number
    assert find_by_national_id(number) == person


def test_lookup_hash_depends_on_the_key(settings):
    first = nin_lookup_hash("15078123459")
    settings.HELHET_NIN_HASH_KEY = "another key"
    assert nin_lookup_hash("15078123459") != first


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"national_id": "12345678901"}, InvalidNationalId, "check digits"),
        ({"national_id": "1234"}, InvalidNationalId, "11 digits"),
        ({"municipality_number": "9999"}, PersonError, "unknown municipality"),
        ({"sex": "x"}, PersonError, "unknown sex"),
        ({"municipality_number": "0301", "district": "Atlantis"}, PersonError, "unknown district"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(builders, overrides, error, message):
    before = Person.objects.count()
    with pytest.raises(error, match=message):
        _register(builders, **overrides)
    assert Person.objects.count() == before


def test_duplicate_person_is_refused(builders):
    number = builders.synthetic_national_id(1985)
    _register(builders, national_id=number)
    with pytest.raises(PersonError, match="already registered"):
        _register(builders, national_id=number, given_name="Other")
    assert Person.objects.filter(nin_hash=nin_lookup_hash(number)).count() == 1


def test_oslo_district_gives_catchment_trust(builders):
    person = _register(builders, municipality_number="0301", district="Grünerløkka")
    assert person.district.catchment_trust.name == "Lovisenberg Diakonale Sykehus"
