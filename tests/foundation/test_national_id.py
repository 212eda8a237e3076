import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helhet.persons.nin import (
    InvalidNationalId,
    NationalIdKind,
    check_digits,
    make_synthetic_national_id,
    parse_national_id,
)


def test_check_digits_hand_computed():
    # 150781 234: k1 = 11 - (1*3+5*7+0*6+7*1+8*8+1*9+2*4+3*5+4*2) mod 11 = 11 - (149 mod 11) = 11 - 6 = 5
    #             k2 = 11 - (1*5+5*4+0*3+7*2+8*7+1*6+2*5+3*4+4*3+5*2) mod 11 = 11 - (145 mod 11) = 11 - 2 = 9
    assert check_digits("150781234") == "59"
    parsed = parse_national_id("15078123459")
    assert parsed.kind == NationalIdKind.FODSELSNUMMER
    assert parsed.birth_date == dt.date(1981, 7, 15)


def test_d_number_and_synthetic_number_kinds():
    d_number = "55078123" + "4"  # day 15 + 40
    parsed = parse_national_id(d_number + check_digits(d_number))
    assert parsed.kind == NationalIdKind.D_NUMBER and parsed.birth_date == dt.date(1981, 7, 15)
    synthetic = make_synthetic_national_id(dt.date(1990, 3, 2), 123)
    assert synthetic is not None
    parsed = parse_national_id(synthetic)
    assert parsed.kind == NationalIdKind.SYNTHETIC and parsed.birth_date == dt.date(1990, 3, 2)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("1507812340", "exactly 11 digits"),
        ("1507812340a", "exactly 11 digits"),
        ("15078123458", "check digits"),
        ("15078123449", "check digits"),
    ],
)
def test_invalid_numbers_give_the_reason(raw, reason):
    with pytest.raises(InvalidNationalId, match=reason):
        parse_national_id(raw)


def test_impossible_date_is_refused():
    # 31 February, with the first individual number that has check digits
    first_nine, digits = next((f"310281{i:03d}", d) for i in range(500) if (d := check_digits(f"310281{i:03d}")))
    with pytest.raises(InvalidNationalId, match="valid date"):
        parse_national_id(first_nine + digits)


@given(
    birth=st.dates(min_value=dt.date(1940, 1, 1), max_value=dt.date(2025, 12, 31)),
    individual=st.integers(0, 999),
    position=st.integers(0, 10),
    delta=st.integers(1, 9),
)
def test_any_single_digit_error_is_detected(birth, individual, position, delta):
    number = make_synthetic_national_id(birth, individual)
    if number is None:
        return
    try:
        parse_national_id(number)
    except InvalidNationalId:
        return  # the individual number does not fit the century: not a number we would issue
    changed = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1:]
    with pytest.raises(InvalidNationalId):
        parse_national_id(changed)
